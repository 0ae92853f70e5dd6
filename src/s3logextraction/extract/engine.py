"""`extract`: plan batches of new log objects, run gawk on them in parallel, commit each one.

Only this coordinating thread writes the state DB.  A STOP file or a first SIGINT/SIGTERM stops
scheduling and drains the batches in flight; a second signal kills them and exits at once
(uncommitted work is discarded, committed work is untouched).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from ..cache import Cache, storage_errors
from ..gawk import gawk_path
from ..ips.index import open_indexer
from ..progress import progress_bar
from ..sources import LogObject, discover_local
from .journal import commit_batch
from .plan import pending_objects, plan_batches
from .runner import BatchResult, ChildProcesses, run_batch

BatchHook = Callable[[Cache, BatchResult], None]


@dataclass
class ExtractReport:
    """What one `extract` run did; `stopped` is True when it drained on request."""

    objects_total: int = 0
    objects_done: int = 0
    objects_remaining: int = 0
    batches: int = 0
    log_bytes: int = 0
    lines_read: int = 0
    lines_kept: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    stopped: bool = False

    def add(self, result: BatchResult) -> None:
        self.batches += 1
        self.objects_done += len(result.objects)
        self.log_bytes += result.log_bytes
        self.lines_read += result.lines_read
        self.lines_kept += result.lines_kept
        self.rejected.update(result.rejected_by_reason)

    def summary(self) -> str:
        rate = self.log_bytes / self.seconds / 1e6 if self.seconds > 0 else 0.0
        rejected = ", ".join(f"{reason} {count}" for reason, count in sorted(self.rejected.items())) or "none"
        state = "stopped on request" if self.stopped else "done"
        return (
            f"extract {state}: {self.objects_done} log objects in {self.batches} batches, "
            f"{self.lines_read} lines read, {self.lines_kept} kept, {sum(self.rejected.values())} rejected "
            f"({rejected}), {self.log_bytes / 1e6:.1f} MB at {rate:.1f} MB/s; {self.objects_remaining} objects remain"
        )


class StopSignals:
    """First SIGINT/SIGTERM: drain like `stop`.  Second: kill the children and exit with 130."""

    def __init__(self, children: ChildProcesses) -> None:
        self.children = children
        self.requested = False
        self.previous: dict[int, Any] = {}

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            self.children.kill_all()
            sys.stderr.write("aborted: batches in flight discarded, committed work kept\n")
            os._exit(130)
        self.requested = True
        sys.stderr.write("stopping: finishing the batches in flight (signal again to abort)\n")

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self.handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def new_batch_ids() -> Callable[[], str]:
    prefix = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 10**9:09d}-{os.getpid()}"
    counter = iter(range(1_000_000_000))
    return lambda: f"{prefix}-{next(counter):06d}"


def extract(
    log_dir: Path,
    *,
    cache: Path,
    workers: int = 1,
    limit: int | None = None,
    batch_bytes: int = 64 * 1024 * 1024,
    batch_files: int = 2000,
    operations: Sequence[str] = ("REST.GET.OBJECT",),
    index: bool = True,
    password: str | None = None,
    show_progress: bool | None = None,
) -> ExtractReport:
    """Extracts every not-yet-committed log object under `log_dir` into shards of `cache`.

    With `index` (the default) every committed batch is indexed at once (and shards a killed run
    left unindexed are indexed first), so no raw IP outlives the run in the clear.  A wrong
    password is refused before anything is written.
    """
    gawk_path()
    started = time.monotonic()
    objects = discover_local(log_dir)
    children = ChildProcesses()
    with (
        StopSignals(children) as signals,
        Cache.open_for_writing(cache, command="extract") as opened,
        storage_errors(what=opened.paths.root),
    ):
        opened.paths.stop.unlink(missing_ok=True)
        after_commit: BatchHook | None = None
        if index:
            indexer = open_indexer(opened, password=password)
            indexer.index_pending(show_progress=False)
            after_commit = lambda _cache, result: indexer.index_batch(result.batch_id)  # noqa: E731
        todo = pending_objects(objects, committed=opened.committed_objects(), limit=limit)
        batches = plan_batches(todo, batch_bytes=batch_bytes, batch_files=batch_files)
        report = ExtractReport(objects_total=len(objects))
        report.stopped = run_batches(
            opened,
            batches=batches,
            workers=workers,
            operations=operations,
            children=children,
            report=report,
            stop_requested=lambda: signals.requested or opened.paths.stop.exists(),
            after_commit=after_commit,
            show_progress=show_progress,
        )
        report.objects_remaining = len(pending_objects(objects, committed=opened.committed_objects(), limit=None))
        opened.paths.stop.unlink(missing_ok=True)
    report.seconds = time.monotonic() - started
    return report


def run_batches(
    cache: Cache,
    *,
    batches: list[list[LogObject]],
    workers: int,
    operations: Sequence[str],
    children: ChildProcesses,
    report: ExtractReport,
    stop_requested: Callable[[], bool],
    after_commit: BatchHook | None,
    show_progress: bool | None,
) -> bool:
    """Schedules batches on `workers` threads and commits each as it finishes; True if stopped."""
    next_id = new_batch_ids()
    queue = list(reversed(batches))
    in_flight: set[Future[BatchResult]] = set()
    stopped = False
    total = sum(log_object.size for batch in batches for log_object in batch)
    with (
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gawk") as pool,
        progress_bar(total=total, unit="B", description="extract", enabled=show_progress) as bar,
    ):
        try:
            while queue or in_flight:
                if stop_requested():
                    stopped = stopped or bool(queue)
                    queue.clear()
                while queue and len(in_flight) < workers:
                    batch = queue.pop()
                    in_flight.add(
                        pool.submit(
                            run_batch,
                            batch_id=next_id(),
                            objects=batch,
                            staging=cache.paths.staging,
                            operations=operations,
                            children=children,
                        )
                    )
                if not in_flight:
                    break
                done, in_flight = wait(in_flight, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    commit_batch(cache, result)
                    if after_commit is not None:
                        after_commit(cache, result)
                    report.add(result)
                    bar.update(result.log_bytes)
                    bar.set_postfix(kept=report.lines_kept, rejected=sum(report.rejected.values()), refresh=False)
        except BaseException:
            queue.clear()
            children.kill_all()
            raise
    return stopped
