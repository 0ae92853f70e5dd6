"""Shared fixtures: real gawk, real SQLite, an isolated config/cache home per test."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s3logextraction.testing import generate_benchmark

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parent / "corpus"
EXAMPLES = ROOT / "examples"
HOUR = 3600


def age(folder: Path, *, seconds: float = HOUR) -> Path:
    """Sets every file under `folder` to have been modified `seconds` ago: logs written by a test
    are otherwise younger than the settle time and left for a later run."""
    moment = time.time() - seconds
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (moment, moment), follow_symlinks=False)
    return folder


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own XDG config and cache dirs, and no S3LOGEXTRACTION_* from outside."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    for name in list(os.environ):
        if name.startswith(("S3LOGEXTRACTION_", "S3_LOG_EXTRACTION_")) or name in (
            "IPINFO_API_KEY",
            "OPENCAGE_API_KEY",
        ):
            monkeypatch.delenv(name)
    return home


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """An empty bare git repository, as `share` pushes to."""
    if shutil.which("git") is None:
        pytest.fail("git must be installed for the tests (apt-get install git)")
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(bare)], check=True)
    return bare


@pytest.fixture(scope="session")
def gawk() -> str:
    found = shutil.which("gawk")
    assert found, "gawk must be installed for the tests (apt-get install gawk)"
    return found


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The project's own edge-case corpus (tests/corpus), always present."""
    return CORPUS


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 16 MB file system (tmpfs) that tests fill up: ENOSPC as a full disk gives it."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root): " + done.stderr.decode().strip())
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, *, leave: int) -> Path:
    """Fills `disk` up to `leave` free bytes with one file (removed to free the space again)."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with filler.open("ab") as handle:
        handle.write(b"\0" * max(0, free - leave))
    return filler


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """About 6 MB of generated logs in 200 objects, with the generator's ground truth."""
    directory = tmp_path_factory.mktemp("small_corpus")
    generate_benchmark(directory, size=6_000_000, seed=11, file_size=30_000, keys=400, ips=500)
    return age(directory / "logs"), json.loads((directory / "ground_truth.json").read_text())


@pytest.fixture(scope="session")
def medium_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """About 24 MB in 120 objects: long enough that a signal lands while batches are in flight."""
    directory = tmp_path_factory.mktemp("medium_corpus")
    generate_benchmark(directory, size=24_000_000, seed=5, file_size=200_000, keys=400, ips=500)
    return age(directory / "logs"), json.loads((directory / "ground_truth.json").read_text())


def gawk_left_on(cache: Path, *, patience: float = 5.0) -> list[int]:
    """Pids of gawk processes still naming `cache` (its staging FIFOs) after `patience` seconds:
    a killed run's gawk children must not wait forever once the next run has cleared staging."""
    import psutil

    deadline = time.monotonic() + patience
    while True:
        left = []
        for process in psutil.process_iter(["name", "cmdline"]):
            if process.info["name"] == "gawk" and any(str(cache) in part for part in process.info["cmdline"] or []):
                left.append(process.pid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def cli(
    *args: str, env: dict[str, str] | None = None, check: bool = False, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """The installed console script in a real subprocess."""
    script = Path(sys.executable).with_name("s3logextraction")
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=env, check=check, **kwargs)


# The CLI in a fresh interpreter that kills itself (SIGKILL) at the KILL_AT-th file event whose
# path contains one of KILL_PATHS; KILL_OPS picks the events: rename, replace, link (by target)
# and create (os.open with O_CREAT).  KILL_AT=0 kills nothing and prints "events N" at exit, so a
# test can draw a point among all of them.  The kill then lands, by construction, in the stage
# that writes those paths.
KILL_AT_EVENT = """
import atexit, os, signal, sys
at, marks, ops = int(os.environ["KILL_AT"]), os.environ["KILL_PATHS"].split(","), os.environ["KILL_OPS"].split(",")
seen = 0
def event(path):
    global seen
    if any(mark in os.fspath(path) for mark in marks):
        seen += 1
        if seen == at:
            os.kill(os.getpid(), signal.SIGKILL)
def patch(name):
    real = getattr(os, name)
    def patched(source, target, *args, **kwargs):
        event(target)
        return real(source, target, *args, **kwargs)
    setattr(os, name, patched)
for name in ("rename", "replace", "link"):
    if name in ops:
        patch(name)
if "create" in ops:
    real_open = os.open
    def opened(path, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            event(path)
        return real_open(path, flags, *args, **kwargs)
    os.open = opened
if at == 0:
    atexit.register(lambda: print("events", seen, file=sys.stderr))
from s3logextraction.cli import main
main(sys.argv[1:])
"""


def killed_at_event(
    *args: str, at: int, paths: tuple[str, ...], ops: tuple[str, ...]
) -> subprocess.CompletedProcess[str]:
    """The CLI run with `args`, killed at its `at`-th matching file event (0: counted only)."""
    environment = {**os.environ, "KILL_AT": str(at), "KILL_PATHS": ",".join(paths), "KILL_OPS": ",".join(ops)}
    return subprocess.run([sys.executable, "-c", KILL_AT_EVENT, *args], env=environment, capture_output=True, text=True)


def events_counted(result: subprocess.CompletedProcess[str]) -> int:
    return int(result.stderr.strip().splitlines()[-1].removeprefix("events "))


def as_version_8(db: sqlite3.Connection) -> None:
    """A cache as version 8 left it: its committed objects as rows, no records (a test of a
    migration from an older version starts from there)."""
    from s3logextraction.extract.committed import decode

    for group, record in db.execute("SELECT grp, record FROM object_groups").fetchall():
        db.executemany(
            "INSERT INTO log_objects VALUES (?, ?, ?, ?, ?)",
            [(item.name, item.size, item.mtime_ns, item.batch_id, item.lines) for item in decode(group, record)],
        )
    db.execute("DROP TABLE object_groups")
    db.execute("PRAGMA user_version = 8")


def committed_of(cache: Path) -> dict[str, Any]:
    """The committed log objects of a cache by name (rows and records alike)."""
    from s3logextraction.extract.committed import committed_objects

    db = sqlite3.connect(cache / "state.sqlite")
    try:
        return {item.name: item for item in committed_objects(db)}
    finally:
        db.close()
