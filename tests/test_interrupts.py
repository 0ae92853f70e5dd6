"""Ctrl+C in a terminal: SIGINT reaches the whole foreground process group, gawk children included.

The first one drains like `stop` (exit 0, batches in flight committed); a second one aborts
(exit 130, committed work kept).  The commands run in their own session, as under a terminal,
and the signal goes to the process group, as a terminal sends it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from s3logextraction import ExtractOptions, extract, status

from .conftest import gawk_left_on
from .test_extract import (
    assert_consistent,
    assert_no_committed_shard_missing,
    expected_per_key,
    per_key,
    shard_rows,
)

SCRIPT = str(Path(sys.executable).with_name("s3logextraction"))
ABORTED = "error: aborted: batches in flight discarded, committed work kept"


def committed(cache: Path) -> int:
    if not (cache / "state.sqlite").exists():
        return 0
    return int(status(cache=cache)["log_objects"])


class Terminal:
    """A command in its own session, as under a terminal, with its stderr read as it comes."""

    def __init__(self, command: str, logs: Path, cache: Path) -> None:
        self.process = subprocess.Popen(
            [SCRIPT, command, str(logs), "--cache", str(cache), "--workers", "2", "--batch-size", "2M"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def ctrl_c(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + 30
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None and time.monotonic() < deadline, f"no {text!r}: {self.lines}"
            time.sleep(0.001)

    def finish(self) -> tuple[int, str]:
        code = self.process.wait(timeout=60)
        self.reader.join(10)
        return code, "".join(self.lines)


def wait_for_a_commit(cache: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while committed(cache) == 0:
        assert process.poll() is None and time.monotonic() < deadline, "ended before its first commit"
        time.sleep(0.002)


@pytest.mark.parametrize("command", ["extract", "run"])
def test_one_ctrl_c_to_the_process_group_drains(
    medium_corpus: tuple[Path, dict[str, Any]], tmp_path: Path, command: str
) -> None:
    logs, truth = medium_corpus
    cache = tmp_path / "cache"
    terminal = Terminal(command, logs, cache)
    wait_for_a_commit(cache, terminal.process)
    terminal.ctrl_c()
    code, stderr = terminal.finish()
    assert code == 0, stderr
    assert "gawk failed" not in stderr and "stopped on request" in stderr
    if command == "run":
        assert "run stopped on request before ip regions" in stderr
        assert not (cache / "summaries").exists()
    assert 0 < committed(cache) < truth["log_objects"]
    assert_consistent(cache)
    extract(logs, cache=cache, options=ExtractOptions(workers=2))
    assert per_key(shard_rows(cache)) == expected_per_key(truth)


@pytest.mark.parametrize("command", ["extract", "run"])
def test_two_ctrl_c_abort_with_130(medium_corpus: tuple[Path, dict[str, Any]], tmp_path: Path, command: str) -> None:
    logs, truth = medium_corpus
    cache = tmp_path / "cache"
    terminal = Terminal(command, logs, cache)
    wait_for_a_commit(cache, terminal.process)
    terminal.ctrl_c()
    terminal.wait_for("stopping: finishing the")
    terminal.ctrl_c()
    code, stderr = terminal.finish()
    assert code == 130, stderr
    assert stderr.strip().splitlines()[-1] == ABORTED
    assert committed(cache) < truth["log_objects"]
    assert_no_committed_shard_missing(cache)
    extract(logs, cache=cache, options=ExtractOptions(workers=2))
    assert per_key(shard_rows(cache)) == expected_per_key(truth)
    assert status(cache=cache)["lines_read"] == truth["lines"]
    assert_consistent(cache)


def test_a_gawk_left_waiting_on_a_fifo_by_a_killed_run_is_released(
    small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path, gawk: str
) -> None:
    """What a SIGKILL leaves: a gawk in its own process group, blocked opening the next FIFO of
    its batch, whose writer died with the run.  The next run's cleanup hands it empty objects, so
    it ends instead of waiting forever."""
    logs, _ = small_corpus
    cache = tmp_path / "cache"
    extract(logs, cache=cache, options=ExtractOptions(workers=1, limit=1))
    fifos = [cache / "staging" / f"20260101T000000-000000000-1-000001.{number}.fifo" for number in range(3)]
    for fifo in fifos:
        os.mkfifo(fifo, 0o600)
    orphan = subprocess.Popen(
        [gawk, "{ n++ }", *map(str, fifos)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(0.2)
    assert orphan.poll() is None and gawk_left_on(cache, patience=0) == [orphan.pid]  # blocked on the first
    extract(logs, cache=cache, options=ExtractOptions(workers=1))  # opening the cache clears staging
    assert orphan.wait(timeout=10) == 0 and gawk_left_on(cache) == []
    assert list((cache / "staging").iterdir()) == []
