"""Raw IPs never touch the disk in the clear, whenever a run is killed, and the key file is
created exactly once however many first runs start together."""

from __future__ import annotations

import gzip
import os
import random
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from s3logextraction import ExtractOptions, extract, status
from s3logextraction.errors import WrongKeyError
from s3logextraction.ips.keys import existing_keys, key_file, split_secret

from .conftest import age, gawk_left_on
from .test_extract import expected_per_key, per_key, shard_rows

SCRIPT = str(Path(sys.executable).with_name("s3logextraction"))


def input_ips(logs: Path) -> set[bytes]:
    """The remote IP (fifth field) of every line of every object, gzip objects included."""
    found: set[bytes] = set()
    for path in logs.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            found.update(fields[4] for line in data.splitlines() if len(fields := line.split(b" ")) > 4)
    return {ip for ip in found if ip.count(b".") == 3 or b":" in ip}


def files_holding(folder: Path, needles: set[bytes]) -> list[tuple[str, bytes]]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits += [(str(path), needle) for needle in needles if needle in data]
    return hits


@pytest.fixture(scope="module")
def mixed_logs(small_corpus: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small corpus with every third object gzip-compressed (those reach gawk through FIFOs)."""
    logs, _ = small_corpus
    copy = Path(shutil.copytree(logs, tmp_path_factory.mktemp("mixed") / "logs"))
    for number, path in enumerate(sorted(p for p in copy.rglob("*") if p.is_file())):
        if number % 3 == 0:
            path.write_bytes(gzip.compress(path.read_bytes()))
    return age(copy)


@pytest.mark.parametrize("trial", range(12))
def test_sigkill_at_any_instant_leaves_no_raw_ip_on_disk(
    mixed_logs: Path, small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path, trial: int
) -> None:
    _, truth = small_corpus
    ips = input_ips(mixed_logs)
    assert len(ips) > 100
    cache = tmp_path / "cache"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    environment = {**os.environ, "TMPDIR": str(scratch)}
    process = subprocess.Popen(
        [SCRIPT, "extract", str(mixed_logs), "--cache", str(cache), "--workers", "2", "--batch-size", "200K"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(random.Random(trial).uniform(0.2, 1.5))
    process.kill()
    process.wait()
    assert files_holding(cache, ips) == []
    assert files_holding(scratch, ips) == []
    extract(mixed_logs, cache=cache, options=ExtractOptions(workers=2))
    assert per_key(shard_rows(cache)) == expected_per_key(truth)
    assert files_holding(cache, ips) == []
    assert gawk_left_on(cache) == []  # the killed run's gawk children, released from their FIFOs


def test_some_kills_land_while_batches_are_in_flight(mixed_logs: Path, tmp_path: Path) -> None:
    """Guards the test above: a kill lands between commits, with work (and FIFOs) in flight."""
    cache = tmp_path / "cache"
    process = subprocess.Popen(
        [SCRIPT, "extract", str(mixed_logs), "--cache", str(cache), "--workers", "2", "--batch-size", "200K"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not (cache / "state.sqlite").exists() or status(cache=cache)["log_objects"] == 0:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.005)
    process.kill()
    process.wait()
    assert status(cache=cache)["log_objects"] > 0
    assert files_holding(cache, input_ips(mixed_logs)) == []
    extract(mixed_logs, cache=cache, options=ExtractOptions(workers=2))  # releases what the kill left waiting on FIFOs
    assert gawk_left_on(cache) == []


def test_ten_first_runs_at_once_share_one_key_file(mixed_logs: Path, tmp_path: Path) -> None:
    processes = [
        subprocess.Popen(
            [SCRIPT, "extract", str(mixed_logs), "--cache", str(tmp_path / f"cache{n}"), "--limit", "3"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for n in range(10)
    ]
    errors = [process.communicate()[1].decode() for process in processes]
    assert [process.returncode for process in processes] == [0] * 10, errors
    secret = bytes.fromhex(key_file().read_text().strip())
    assert len(secret) == 32
    assert not [path for path in key_file().parent.iterdir() if path.name != key_file().name and "key" in path.name]
    stranger = split_secret(b"")
    for n in range(10):
        db = sqlite3.connect(tmp_path / f"cache{n}" / "state.sqlite")
        keys = existing_keys(db, password=None, where=tmp_path)
        assert keys == split_secret(secret)
        sealed = [bytes(row[0]) for row in db.execute("SELECT sealed FROM ips")]
        assert sealed and all(keys.unseal(value) for value in sealed)
        with pytest.raises(WrongKeyError):
            stranger.unseal(sealed[0])
        db.close()


def test_gawk_rows_never_reach_a_file_system(
    small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gawk: str
) -> None:
    """gawk's stdout holds raw IPs: it must be memory (a memfd), never a file on a disk,
    not even an unlinked one (its blocks would keep the IPs).  A gawk wrapper first on PATH records
    what its stdout is."""
    logs, truth = small_corpus
    seen = tmp_path / "stdout-of-gawk"
    wrapper = tmp_path / "bin" / "gawk"
    wrapper.parent.mkdir()
    wrapper.write_text(
        f'#!/bin/sh\nout=$(readlink /proc/$$/fd/1)\necho "$out" >> {shlex.quote(str(seen))}\n'
        f'exec {shlex.quote(gawk)} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    extract(logs, cache=tmp_path / "cache", options=ExtractOptions(workers=2))
    targets = seen.read_text().splitlines()
    assert len(targets) >= 2 and all(target.startswith("/memfd:") for target in targets), targets
    assert per_key(shard_rows(tmp_path / "cache")) == expected_per_key(truth)
