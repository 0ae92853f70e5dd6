"""`extract --executor dask`: a real LocalCluster, and a real `dask scheduler` + `dask worker`
started as separate processes on loopback; only the client commits, results equal the local pool."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s3logextraction import ExtractOptions, extract, status

from .conftest import cli
from .test_extract import (
    SCRIPT,
    assert_consistent,
    committed_objects,
    expected_per_key,
    per_key,
    resolved_rows,
    shard_rows,
    wait_for_first_commit,
)
from .test_s3 import PARTITIONED, aws_environment, bucket, endpoint, server

pytest.importorskip("distributed", reason="the [dask] extra is not installed")
DASK = str(Path(sys.executable).with_name("dask"))
__all__ = ["aws_environment", "bucket", "server"]  # fixtures test_s3 defines, used here too


def test_a_local_dask_cluster_gives_what_the_local_pool_gives(
    small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    logs, truth = small_corpus
    done = cli("extract", str(logs), "--cache", str(tmp_path / "dask"), "--executor", "dask", "--batch-size", "300K")
    assert done.returncode == 0, done.stderr
    assert "Scheduler" not in done.stderr and "worker" not in done.stderr.lower()  # Dask's own INFO lines stay quiet
    extract(logs, cache=tmp_path / "local", options=ExtractOptions(workers=2, batch_bytes=300_000))
    assert resolved_rows(tmp_path / "dask") == resolved_rows(tmp_path / "local")
    assert per_key(shard_rows(tmp_path / "dask")) == expected_per_key(truth)
    assert status(cache=tmp_path / "dask")["lines_read"] == truth["lines"]
    assert_consistent(tmp_path / "dask")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """A scheduler and one worker (no nanny, no memory limit: no spilling), each its own process
    in its own session, every port on loopback; yields the scheduler's address."""
    scheduler_file = tmp_path / "scheduler.json"
    loopback = ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"]
    scheduler = subprocess.Popen(
        [DASK, "scheduler", "--port", "0", "--scheduler-file", str(scheduler_file), *loopback],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not scheduler_file.exists():
        assert time.monotonic() < deadline and scheduler.poll() is None, "the Dask scheduler did not start"
        time.sleep(0.1)
    worker = subprocess.Popen(
        [
            DASK,
            "worker",
            "--scheduler-file",
            str(scheduler_file),
            "--nthreads",
            "2",
            "--memory-limit",
            "0",
            "--no-nanny",
            *loopback,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=tmp_path,
    )
    try:
        yield json.loads(scheduler_file.read_text())["address"]
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=30)


def test_an_existing_cluster_parses_s3_logs_and_only_the_client_commits(
    cluster: str, server: Any, bucket: str, small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """The tasks go to another process (the source, an S3 bucket, travels without its client);
    the worker never sees the cache."""
    _, truth = small_corpus
    cache = tmp_path / "cache"
    source = f"s3://{bucket}/{PARTITIONED}"
    done = cli(
        "extract", source, "--cache", str(cache), "--endpoint-url", endpoint(server), "--settle-days", "0",
        "--executor", "dask", "--scheduler", cluster, "--workers", "2", "--batch-size", "300K",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert per_key(shard_rows(cache)) == expected_per_key(truth)
    assert status(cache=cache)["lines_read"] == truth["lines"]
    assert_consistent(cache)


def test_stop_drains_a_dask_run_and_the_rerun_completes(
    medium_corpus: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    logs, truth = medium_corpus
    cache = tmp_path / "cache"
    command = [SCRIPT, "extract", str(logs), "--cache", str(cache), "--executor", "dask", "--batch-size", "200K"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_first_commit(cache, process)
    stopped = cli("stop", "--cache", str(cache), "--timeout", "120")
    assert stopped.returncode == 0, stopped.stderr
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0 and "stopped on request" in stderr, stderr
    assert 0 < committed_objects(cache) < truth["log_objects"]
    rerun = cli("extract", str(logs), "--cache", str(cache), "--executor", "dask")
    assert rerun.returncode == 0, rerun.stderr
    assert per_key(shard_rows(cache)) == expected_per_key(truth)
    assert_consistent(cache)


def test_an_unreachable_scheduler_is_one_line(small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    logs, _ = small_corpus
    environment = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"}
    done = cli(
        "extract", str(logs), "--cache", str(tmp_path / "cache"), "--executor", "dask",
        "--scheduler", "tcp://127.0.0.1:9", env=environment,
    )  # fmt: skip
    assert done.returncode == 69, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert (
        last.startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:9")
        and "Traceback" not in done.stderr
    )
    assert committed_objects(tmp_path / "cache") == 0


def test_without_the_extra_dask_says_how_to_install_it(
    small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    logs, _ = small_corpus
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "distributed.py").write_text("raise ImportError('blocked for this test')\n")
    done = cli(
        "extract", str(logs), "--cache", str(tmp_path / "cache"), "--executor", "dask",
        env={**os.environ, "PYTHONPATH": str(blocker)},
    )  # fmt: skip
    assert done.returncode == 69 and "pip install 's3logextraction[dask]'" in done.stderr
