"""Stopping a run gracefully: the STOP file that `stop` writes, and the request a run polls.

A STOP file counts for a run when it was written after the run's process started, so a `stop`
issued while a run is still starting is never lost, and an old STOP left by a `stop` with
nothing running never stops a later run (it is removed as stale).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cache import CachePaths, PathLike, create_private, running_holder


def process_started_at() -> float:
    """When this process started (Unix time), from /proc; now where /proc is not there."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(
            float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
        )
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()
    return boot + ticks / os.sysconf("SC_CLK_TCK")


class StopRequest:
    """Polled by a run between batches and between stages: an event set by the caller (the CLI's
    signal handler) or a STOP file written since the process started."""

    def __init__(self, paths: CachePaths, *, event: threading.Event | None = None) -> None:
        self.paths = paths
        self.event = event or threading.Event()
        self.since = process_started_at()

    def clear_stale(self) -> None:
        try:
            if self.paths.stop.stat().st_mtime < self.since:
                self.paths.stop.unlink(missing_ok=True)
        except FileNotFoundError:
            pass

    def requested(self) -> bool:
        if self.event.is_set():
            return True
        try:
            return self.paths.stop.stat().st_mtime >= self.since
        except FileNotFoundError:
            return False

    def acknowledge(self) -> None:
        """The run has stopped: the request is done with."""
        self.paths.stop.unlink(missing_ok=True)


@dataclass
class StopOutcome:
    was_running: bool
    drained: bool
    holder: dict[str, Any] | None
    seconds: float


def stop(*, cache: PathLike, timeout: float = 600.0, poll: float = 0.2) -> StopOutcome:
    """Writes STOP, then waits for the lock to be released.  With no run holding the lock, STOP
    stays for a run that is starting now (a later run ignores it as stale)."""
    paths = CachePaths.of(cache)
    paths.require()
    paths.stop.unlink(missing_ok=True)
    descriptor = create_private(paths.stop)
    try:
        os.write(descriptor, f"requested at {time.time():.0f} by pid {os.getpid()}\n".encode())
    finally:
        os.close(descriptor)
    holder = running_holder(paths)
    if holder is None:
        return StopOutcome(was_running=False, drained=True, holder=None, seconds=0.0)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if running_holder(paths) is None:
            paths.stop.unlink(missing_ok=True)
            return StopOutcome(was_running=True, drained=True, holder=holder, seconds=time.monotonic() - started)
        time.sleep(poll)
    return StopOutcome(was_running=True, drained=False, holder=holder, seconds=time.monotonic() - started)
