"""Backfills at archive scale: the listing streams (the first batch commits while later folders
are still unlisted), committed objects move into compact per-group records, and kills, stops and
reruns along the streaming path lose and double nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from s3logextraction import ExtractOptions, extract, status
from s3logextraction.cache import CachePaths, reader
from s3logextraction.sources import Chunk, LocalFolder, Seal, name_group

from .conftest import age, as_version_8, cli, committed_of, killed_at_event
from .test_extract import assert_consistent, shard_rows, wait_for_first_commit
from .test_summaries import line

DAYS = 12
PER_DAY = 25


def day_folders(root: Path, *, days: int = DAYS, per_day: int = PER_DAY) -> tuple[Path, Counter[str]]:
    """`days` date-partitioned folders of `per_day` one-line objects, each naming its own key; the
    expected kept requests per key."""
    expected: Counter[str] = Counter()
    for day in range(1, days + 1):
        folder = root / "2019" / "02" / f"{day:02d}"
        folder.mkdir(parents=True)
        for number in range(per_day):
            key = f"ds/day{day:02d}/object{number:03d}"
            name = f"2019-02-{day:02d}-{number // 60:02d}-{number % 60:02d}-00-{day * 1000 + number:016X}"
            ip = f"192.0.2.{number % 7 + 1}"
            (folder / name).write_text(line(day=day, key=key, status=200, sent=10, ip=ip) + "\n")
            expected[key] += 1
    return age(root), expected


def kept_per_key(cache: Path) -> Counter[str]:
    return Counter(row[1] for row in shard_rows(cache))


def check_state(cache: Path, *, objects: int) -> None:
    """Every object committed once, in a record (a finished run leaves no row behind)."""
    committed = committed_of(cache)
    assert len(committed) == objects == status(cache=cache)["log_objects"]
    db = sqlite3.connect(cache / "state.sqlite")
    try:
        assert db.execute("SELECT count(*) FROM log_objects").fetchone()[0] == 0
        groups = {group for (group,) in db.execute("SELECT grp FROM object_groups")}
    finally:
        db.close()
    assert groups == {name_group(name) for name in committed}
    assert_consistent(cache)


class HeldListing(LocalFolder):
    """A local folder whose listing, once its first chunk is handed on, waits for the first
    commit in `cache` (at most a minute), and says whether it saw it."""

    def __init__(self, root: Path, *, cache: Path) -> None:
        super().__init__(root)
        self.cache = cache
        self.saw_a_commit = False

    def walk(self, top: os.stat_result, *, seals: Mapping[str, Seal], listing: object) -> Iterator[Chunk]:
        chunks = super().walk(top, seals=seals, listing=listing)  # type: ignore[arg-type]
        yield next(chunks)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self.saw_a_commit:
            self.saw_a_commit = (self.cache / "state.sqlite").exists() and status(cache=self.cache)["batches"] > 0
            time.sleep(0.05)
        yield from chunks


def test_the_first_batch_commits_while_the_listing_is_still_going(tmp_path: Path) -> None:
    logs, expected = day_folders(tmp_path / "logs")
    cache = tmp_path / "cache"
    source = HeldListing(logs, cache=cache)
    report = extract(source, cache=cache, options=ExtractOptions(workers=1, batch_files=5, settle_seconds=0))
    assert source.saw_a_commit, "the first batch waited for the whole listing"
    assert report.objects_done == DAYS * PER_DAY and kept_per_key(cache) == expected
    check_state(cache, objects=DAYS * PER_DAY)


def test_objects_are_extracted_in_name_order(tmp_path: Path) -> None:
    logs, _ = day_folders(tmp_path / "logs", days=4)
    cache = tmp_path / "cache"
    extract(logs, cache=cache, options=ExtractOptions(workers=1, batch_files=7, settle_seconds=0))
    committed = committed_of(cache)
    batches = [committed[name].batch_id for name in sorted(committed)]
    assert batches == sorted(batches), "one worker commits the objects in the order of their names"
    assert len(set(batches)) == -(-4 * PER_DAY // 7)


@pytest.mark.parametrize("at", [1, 6, 17, 30])
def test_a_backfill_killed_at_a_commit_then_rerun_counts_everything_once(
    tmp_path: Path, at: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S3LOGEXTRACTION_BATCH_FILES", "7")  # batches across day folders
    logs, expected = day_folders(tmp_path / "logs")
    cache = tmp_path / "cache"
    arguments = ("extract", str(logs), "--cache", str(cache), "--workers", "2", "--settle-seconds", "0")
    killed = killed_at_event(*arguments, at=at, paths=("shards",), ops=("rename", "replace"))
    assert killed.returncode == -9, killed.stderr
    assert len(committed_of(cache)) < DAYS * PER_DAY
    rerun = cli(*arguments)
    assert rerun.returncode == 0, rerun.stderr
    assert kept_per_key(cache) == expected
    check_state(cache, objects=DAYS * PER_DAY)


def test_a_backfill_stopped_then_rerun_counts_everything_once(tmp_path: Path) -> None:
    logs, expected = day_folders(tmp_path / "logs")
    cache = tmp_path / "cache"
    stop = threading.Event()

    def stop_after_first_commit() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (cache / "state.sqlite").exists() and status(cache=cache)["batches"] > 0:
                break
            time.sleep(0.01)
        stop.set()

    threading.Thread(target=stop_after_first_commit, daemon=True).start()
    options = ExtractOptions(workers=1, batch_files=3, settle_seconds=0)
    first = extract(logs, cache=cache, options=options, stop=stop)
    assert first.stopped and 0 < first.objects_done < DAYS * PER_DAY
    assert "remain" in first.summary()
    second = extract(logs, cache=cache, options=options)
    assert first.objects_done + second.objects_done == DAYS * PER_DAY
    assert kept_per_key(cache) == expected
    check_state(cache, objects=DAYS * PER_DAY)


def test_committed_objects_take_less_than_64_bytes_each(tmp_path: Path) -> None:
    logs, _ = day_folders(tmp_path / "logs", days=4, per_day=500)
    cache = tmp_path / "cache"
    extract(logs, cache=cache, options=ExtractOptions(workers=2, settle_seconds=0))
    check_state(cache, objects=2000)
    db = sqlite3.connect(cache / "state.sqlite")
    stored = db.execute("SELECT sum(length(grp) + length(record) + 24) FROM object_groups").fetchone()[0]
    db.close()
    assert stored / 2000 < 40, f"{stored / 2000:.1f} bytes an object in the records"


def test_an_older_cache_moves_its_rows_into_records_and_extracts_nothing_again(tmp_path: Path) -> None:
    logs, expected = day_folders(tmp_path / "logs", days=3)
    cache = tmp_path / "cache"
    extract(logs, cache=cache, options=ExtractOptions(settle_seconds=0))
    db = sqlite3.connect(cache / "state.sqlite")
    as_version_8(db)
    db.commit()
    assert db.execute("SELECT count(*) FROM log_objects").fetchone()[0] == 3 * PER_DAY
    db.close()
    again = extract(logs, cache=cache, options=ExtractOptions(settle_seconds=0))
    assert (again.objects_done, again.objects_total) == (0, 3 * PER_DAY)
    assert kept_per_key(cache) == expected
    check_state(cache, objects=3 * PER_DAY)


def test_a_changed_object_is_found_in_its_record(tmp_path: Path) -> None:
    logs, _ = day_folders(tmp_path / "logs", days=2)
    cache = tmp_path / "cache"
    extract(logs, cache=cache, options=ExtractOptions(settle_seconds=0))
    changed = next((logs / "2019" / "02" / "02").iterdir())
    before = changed.stat()
    changed.write_text(changed.read_text() * 2)
    os.utime(changed, ns=(before.st_atime_ns, before.st_mtime_ns))  # a copy that kept the time
    again = extract(logs, cache=cache, options=ExtractOptions(settle_seconds=0))
    assert (again.objects_done, again.objects_changed) == (0, 1)
    (reported,) = status(cache=cache)["changed_objects"]
    assert reported["name"] == f"2019/02/02/{changed.name}"
    assert reported["seen_size"] == 2 * reported["committed_size"]


SLOW_GAWK = """\
#!/bin/sh
sleep 0.4
exec {real} "$@"
"""


def test_status_during_a_run_shows_where_it_stands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs, _ = day_folders(tmp_path / "logs", days=4)
    wrapper = tmp_path / "bin" / "gawk"
    wrapper.parent.mkdir()
    real = subprocess.run(["sh", "-c", "command -v gawk"], capture_output=True, text=True, check=True).stdout.strip()
    wrapper.write_text(textwrap.dedent(SLOW_GAWK.format(real=real)))
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("S3LOGEXTRACTION_BATCH_FILES", "5")
    cache = tmp_path / "cache"
    command = [sys.executable, "-m", "s3logextraction", "extract", str(logs), "--cache", str(cache)]
    process = subprocess.Popen(
        [*command, "--workers", "1", "--settle-seconds", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_first_commit(cache, process)
    deadline = time.monotonic() + 30
    progress = None
    while progress is None or progress["objects_done"] < 10:
        assert time.monotonic() < deadline and process.poll() is None, "the run ended before status saw it"
        shown = cli("status", "--cache", str(cache), "--json")
        assert shown.returncode == 0, shown.stderr
        progress = json.loads(shown.stdout)["progress"]
        time.sleep(0.2)
    assert progress["objects_to_do"] == 4 * PER_DAY and progress["listing_finished"]
    assert progress["bytes_done"] > 0 and progress["objects_per_second"] > 0 and progress["eta_seconds"] is not None
    text = cli("status", "--cache", str(cache))
    assert "running:" in text.stdout and f"of {4 * PER_DAY} objects" in text.stdout
    process.communicate(timeout=120)
    assert process.returncode == 0
    with reader(CachePaths.of(cache)) as db:
        assert db.execute("SELECT count(*) FROM meta WHERE name = 'progress'").fetchone()[0] == 0
    assert status(cache=cache)["progress"] is None


def openblas_threads(*, configured: bool) -> int:
    """Threads of a fresh process once pyarrow (and with it numpy) is imported."""
    code = (
        "import os; from s3logextraction.cli import configure_process; "
        + ("configure_process(); " if configured else "")
        + "import pyarrow; print(len(os.listdir('/proc/self/task')))"
    )
    environment = {name: value for name, value in os.environ.items() if name != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS starts no pool on one core")
def test_the_command_line_keeps_openblas_off_the_parser_s_cores() -> None:
    """numpy's OpenBLAS starts a spinning thread per core when pyarrow imports it; the command line's
    process settings keep it to the calling thread, so gawk keeps its cores."""
    assert openblas_threads(configured=True) < openblas_threads(configured=False)
