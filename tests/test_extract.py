"""The extraction engine with real gawk, real SQLite and real processes (killed, stopped, limited)."""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from s3logextraction import ExtractOptions, extract, status
from s3logextraction.cache import Cache
from s3logextraction.cli import app
from s3logextraction.extract.plan import balanced_batch_bytes, stream_batches
from s3logextraction.ips.keys import existing_keys
from s3logextraction.sources import LogObject

from .conftest import age, cli, fill

SCRIPT = str(Path(sys.executable).with_name("s3logextraction"))


def shard_rows(cache: Path) -> list[tuple[str, ...]]:
    """(timestamp, key, operation, status, bytes_sent, object_size, ip_id, agent id) for every row of
    every committed shard (the DB names them), and only those."""
    db = sqlite3.connect(cache / "state.sqlite")
    batches = db.execute("SELECT batch_id, format FROM batches").fetchall()
    db.close()
    rows: list[tuple[str, ...]] = []
    for batch, kind in batches:
        assert kind == "parquet"
        for row in pq.read_table(cache / "shards" / f"{batch}.parquet").to_pylist():
            stamp = row["timestamp"].strftime("%Y-%m-%dT%H:%M:%SZ")
            values = (row["key"], row["operation"], row["status"], row["bytes_sent"], row["object_size"])
            rows.append((stamp, *map(str, values), str(row["ip_id"]), str(row["user_agent_id"])))
    return rows


def ips_and_agents(cache: Path) -> tuple[dict[str, str], dict[str, str]]:
    """ip_id -> IP (unsealed with the cache's key) and agent id -> agent, as shard_rows writes ids."""
    db = sqlite3.connect(cache / "state.sqlite")
    keys = existing_keys(db, password=None, where=cache)
    ips = {
        str(ip_id): keys.unseal(bytes(sealed)).decode() for ip_id, sealed in db.execute("SELECT ip_id, sealed FROM ips")
    }
    agents = {
        str(ident): bytes(text).decode() for ident, text in db.execute("SELECT user_agent_id, text FROM user_agents")
    }
    db.close()
    return ips, agents


def resolved_rows(cache: Path) -> list[tuple[str, ...]]:
    """shard_rows with the ids replaced by what they stand for (ids depend on commit order)."""
    ips, agents = ips_and_agents(cache)
    return sorted((*row[:6], ips[row[6]], agents[row[7]]) for row in shard_rows(cache))


def per_key(rows: list[tuple[str, ...]]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {"kept": 0, "kept_bytes": 0})
    for row in rows:
        totals[row[1]]["kept"] += 1
        totals[row[1]]["kept_bytes"] += int(row[4])
    return dict(totals)


def expected_per_key(truth: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {
        key: {"kept": value["kept"], "kept_bytes": value["kept_bytes"]}
        for key, value in truth["per_key"].items()
        if value["kept"]
    }


def assert_no_committed_shard_missing(cache: Path) -> None:
    """Right after a kill or an abort: every committed batch has its shard (a shard renamed in just
    before the kill, with no batch naming it, is an orphan the next run deletes)."""
    db = sqlite3.connect(cache / "state.sqlite")
    committed = {f"{batch}.{kind}" for batch, kind in db.execute("SELECT batch_id, format FROM batches")}
    db.close()
    assert committed <= {path.name for path in (cache / "shards").iterdir()}


def assert_consistent(cache: Path) -> None:
    """Staging is empty after a run and shards/ holds exactly the committed batches."""
    db = sqlite3.connect(cache / "state.sqlite")
    committed = {f"{batch}.{kind}" for batch, kind in db.execute("SELECT batch_id, format FROM batches")}
    db.close()
    assert {path.name for path in (cache / "shards").iterdir()} == committed
    assert list((cache / "staging").iterdir()) == []


def test_serial_and_parallel_agree_with_ground_truth(small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    logs, truth = small_corpus
    serial = extract(logs, cache=tmp_path / "serial", options=ExtractOptions(workers=1, batch_bytes=500_000))
    parallel = extract(logs, cache=tmp_path / "parallel", options=ExtractOptions(workers=2, batch_bytes=300_000))
    assert serial.batches > 5 and parallel.batches > serial.batches
    assert resolved_rows(tmp_path / "serial") == resolved_rows(tmp_path / "parallel")
    assert per_key(shard_rows(tmp_path / "serial")) == expected_per_key(truth)
    figures = status(cache=tmp_path / "parallel")
    assert figures["log_objects"] == truth["log_objects"]
    assert figures["lines_read"] == truth["lines"]
    assert figures["lines_rejected"] == truth["truncated_lines"]
    assert figures["kept_by_status"] == truth["kept_per_status"]
    assert figures["lines_kept"] == sum(truth["kept_per_status"].values())
    assert figures["bytes_sent"] == sum(value["kept_bytes"] for value in truth["per_key"].values())
    assert figures["lines_kept"] + figures["lines_skipped"] + figures["lines_rejected"] == truth["lines"]
    assert figures["running"] is None and figures["pending_index"] == 0
    assert_consistent(tmp_path / "parallel")


def test_rerun_and_moved_folder_extract_nothing_new(small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    logs, truth = small_corpus
    cache = tmp_path / "cache"
    first = extract(logs, cache=cache, options=ExtractOptions(workers=2))
    assert first.objects_done == truth["log_objects"]
    assert extract(logs, cache=cache, options=ExtractOptions(workers=2)).objects_done == 0
    moved = age(Path(shutil.copytree(logs, tmp_path / "elsewhere" / "logs")))
    again = extract(moved, cache=cache, options=ExtractOptions(workers=2))
    assert (again.objects_done, again.objects_remaining) == (0, 0)
    assert per_key(shard_rows(cache)) == expected_per_key(truth)


def test_limit_and_gzip_objects(small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    logs, truth = small_corpus
    copy = Path(shutil.copytree(logs, tmp_path / "logs"))
    for number, path in enumerate(sorted(copy.rglob("*-*-*-*"))):
        if number % 2 and path.is_file():
            path.write_bytes(gzip.compress(path.read_bytes()))
    age(copy)
    cache = tmp_path / "cache"
    partial = extract(copy, cache=cache, options=ExtractOptions(workers=2, limit=7))
    assert partial.objects_done == 7 and partial.objects_remaining == truth["log_objects"] - 7
    extract(copy, cache=cache, options=ExtractOptions(workers=2))
    assert per_key(shard_rows(cache)) == expected_per_key(truth)
    assert_consistent(cache)


def start_extract(logs: Path, cache: Path, *extra: str, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SCRIPT, "extract", str(logs), "--cache", str(cache), "--workers", "2", "--batch-size", "40K", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def committed_objects(cache: Path) -> int:
    if not (cache / "state.sqlite").exists():
        return 0
    return int(status(cache=cache)["log_objects"])


@pytest.mark.parametrize("trial", range(10))
def test_sigkill_at_a_random_moment_loses_and_doubles_nothing(
    small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path, trial: int
) -> None:
    logs, truth = small_corpus
    cache = tmp_path / "cache"
    moment = random.Random(trial).uniform(0.3, 2.0)
    process = start_extract(logs, cache)
    time.sleep(moment)
    process.kill()
    process.wait()
    killed_at = committed_objects(cache)
    report = extract(logs, cache=cache, options=ExtractOptions(workers=2))
    assert report.objects_done + killed_at == truth["log_objects"]
    assert per_key(shard_rows(cache)) == expected_per_key(truth)
    assert status(cache=cache)["lines_read"] == truth["lines"]
    assert_consistent(cache)


def test_some_kills_land_mid_run(small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """Guards the kill test itself: the corpus is big enough that a kill lands between commits."""
    logs, truth = small_corpus
    cache = tmp_path / "cache"
    process = start_extract(logs, cache)
    deadline = time.monotonic() + 30
    while committed_objects(cache) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.kill()
    process.wait()
    assert 0 < committed_objects(cache) < truth["log_objects"]


def wait_for_first_commit(cache: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while committed_objects(cache) == 0:
        assert process.poll() is None and time.monotonic() < deadline, "extract ended before the first commit"
        time.sleep(0.01)


def test_stop_from_another_process_drains_and_rerun_finishes(
    small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    logs, truth = small_corpus
    cache = tmp_path / "cache"
    process = start_extract(logs, cache, "--batch-size", "10K")
    wait_for_first_commit(cache, process)
    stopped = cli("stop", "--cache", str(cache), "--timeout", "60")
    _, stderr = process.communicate(timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped pid" in stopped.stdout and "committed" in stopped.stdout
    assert process.returncode == 0
    assert "stopped on request" in stderr
    assert committed_objects(cache) < truth["log_objects"]
    assert not (cache / "STOP").exists()
    extract(logs, cache=cache, options=ExtractOptions(workers=2))
    assert per_key(shard_rows(cache)) == expected_per_key(truth)
    assert_consistent(cache)


def test_first_sigint_drains_second_aborts(small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    logs, truth = small_corpus
    cache = tmp_path / "cache"
    process = start_extract(logs, cache, "--batch-size", "10K")
    wait_for_first_commit(cache, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0 and "stopped on request" in stderr, stderr
    committed = committed_objects(cache)
    process = start_extract(logs, cache, "--batch-size", "1M")
    deadline = time.monotonic() + 30
    while committed_objects(cache) == committed:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.005)
    process.send_signal(signal.SIGTERM)
    assert process.stderr is not None
    seen = []  # the second signal goes once the first one's handler has run (`stopping:`)
    while not any("stopping:" in line for line in seen):
        line = process.stderr.readline()
        assert line, f"ended without draining: {seen}"
        seen.append(line)
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=60)
    stderr = "".join(seen) + rest
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "error: aborted: batches in flight discarded, committed work kept"
    extract(logs, cache=cache, options=ExtractOptions(workers=2))
    assert per_key(shard_rows(cache)) == expected_per_key(truth)
    assert_consistent(cache)


def test_stop_without_a_run_is_kept_for_a_starting_run_and_stale_for_a_later_one(
    small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    logs, truth = small_corpus
    cache = tmp_path / "cache"
    assert cli("stop", "--cache", str(cache)).returncode == 66, "no cache there: nothing to stop"
    extract(logs, cache=cache, options=ExtractOptions(workers=1, limit=1))
    result = cli("stop", "--cache", str(cache))
    assert result.returncode == 0 and "no extraction is running" in result.stdout
    assert (cache / "STOP").exists()
    time.sleep(1.1)
    later = cli("extract", str(logs), "--cache", str(cache), "--workers", "2")
    assert later.returncode == 0 and "stopped" not in later.stderr, later.stderr
    assert status(cache=cache)["log_objects"] == truth["log_objects"]
    assert not (cache / "STOP").exists()


def test_second_writer_exits_75_naming_the_holder(small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    logs, _ = small_corpus
    with Cache.open_for_writing(tmp_path / "cache", command="extract", create=True):
        result = cli("extract", str(logs), "--cache", str(tmp_path / "cache"))
        figures = json.loads(cli("status", "--cache", str(tmp_path / "cache"), "--json").stdout)
    assert result.returncode == 75
    assert f"pid {os.getpid()}" in result.stderr and result.stderr.count("\n") == 1
    assert figures["running"]["pid"] == os.getpid()
    assert cli("extract", str(logs), "--cache", str(tmp_path / "cache")).returncode == 0


@pytest.mark.parametrize("leave", [0, 8_000, 40_000, 120_000, 400_000])
def test_full_disk_is_one_line_and_nothing_half_committed(
    small_corpus: tuple[Path, dict[str, Any]], small_disk: Path, leave: int
) -> None:
    """The disk fills at a different point for each amount left free: the parser's meta file, the
    Parquet shard, the SQLite commit (WAL)."""
    logs, truth = small_corpus
    cache = small_disk / "cache"
    extract(logs, cache=cache, options=ExtractOptions(workers=1, limit=3))
    filler = fill(small_disk, leave=leave)
    result = subprocess.run(
        [SCRIPT, "extract", str(logs), "--cache", str(cache), "--batch-size", "256K", "--workers", "2"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 73, result.stderr
    assert result.stderr.startswith("error: no space left") and result.stderr.count("\n") == 1
    filler.unlink()
    assert_consistent(cache)
    extract(logs, cache=cache, options=ExtractOptions(workers=2))
    assert per_key(shard_rows(cache)) == expected_per_key(truth)
    assert status(cache=cache)["lines_read"] == truth["lines"]
    assert_consistent(cache)


def test_missing_log_folder_fails_before_creating_anything(tmp_path: Path) -> None:
    result = cli("extract", str(tmp_path / "nope"), "--cache", str(tmp_path / "cache"))
    assert result.returncode == 66 and "does not exist" in result.stderr


def test_reset_extraction_asks_then_starts_over(small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    logs, truth = small_corpus
    cache = tmp_path / "cache"
    extract(logs, cache=cache, options=ExtractOptions(workers=2))
    runner = CliRunner()
    refused = runner.invoke(app, ["reset", "extraction", "--cache", str(cache)], input="n\n")
    assert refused.exit_code != 0 and status(cache=cache)["log_objects"] == truth["log_objects"]
    done = runner.invoke(app, ["reset", "extraction", "--cache", str(cache), "--yes"])
    assert done.exit_code == 0 and status(cache=cache)["log_objects"] == 0
    assert extract(logs, cache=cache, options=ExtractOptions(workers=2)).objects_done == truth["log_objects"]


def test_cache_files_are_private(small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    logs, _ = small_corpus
    cache = tmp_path / "cache"
    extract(logs, cache=cache, options=ExtractOptions(workers=2, limit=5))
    for path in [cache, *cache.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_bundled_examples_extract_to_their_ground_truth(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[1] / "examples"
    truth = json.loads((examples / "ground_truth.json").read_text())
    result = cli("extract", str(examples / "logs"), "--cache", str(tmp_path / "cache"), "--settle-seconds", "0")
    assert result.returncode == 0, result.stderr
    assert per_key(shard_rows(tmp_path / "cache")) == expected_per_key(truth)
    assert status(cache=tmp_path / "cache")["pending_index"] == 0


MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("sizes", "workers", "expected_bytes", "expected_batches"),
    [
        ([3 * MIB] * 10, 2, 4 * MIB, 5),  # a 30 MiB night: 5 batches (each closes past 4 MiB), not 1 for 1 core
        ([3 * MIB] * 10, 1, 64 * MIB, 1),  # one worker waits for no one
        ([10 * MIB] * 30, 2, 300 * MIB // 8, 8),  # 300 MiB: 37.5 MiB, so a batch holds 4 objects (the last 2)
        ([32 * MIB] * 32, 2, 64 * MIB, 16),  # 1 GiB: the full 64 MiB batches already give 8 per worker
        ([MIB] * 3, 4, 4 * MIB, 1),  # never below 4 MiB for it
    ],
)
def test_batches_are_sized_so_every_worker_is_busy_to_the_end(
    sizes: list[int], workers: int, expected_bytes: int, expected_batches: int
) -> None:
    objects = [LogObject(name=f"log-{at:03d}", size=size, mtime_ns=0, location="") for at, size in enumerate(sizes)]
    chosen = balanced_batch_bytes(objects, batch_bytes=64 * MIB, workers=workers)
    assert chosen == expected_bytes
    batches = list(stream_batches(iter(objects), batch_bytes=64 * MIB, batch_files=2000, workers=workers))
    assert len(batches) == expected_batches, "the streaming planner cuts the same batches"
    assert [item for batch in batches for item in batch] == objects
