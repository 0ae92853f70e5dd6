"""`extract`: plan batches of new log objects, run gawk on them in parallel, commit each one.

Only this coordinating thread writes the state DB.  A stop request (the caller's event, set by
the CLI on a first Ctrl+C or SIGTERM, or a STOP file from `stop`) stops scheduling and drains
the batches in flight.  Any exception (a second Ctrl+C arrives as KeyboardInterrupt) kills the
gawk processes, starts no new one and discards uncommitted work; committed work is untouched.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field

from ..arrow import import_now
from ..cache import Cache, PathLike, meta_value, rows_for, transaction, vacuum_when_sparse
from ..errors import ConfigError, storage_errors
from ..gawk import gawk_path
from ..ips.exclude import excluded_ips
from ..ips.index import Indexer, open_indexer
from ..sources import Chunk, Listing, LogObject, LogSource, open_source
from .ahead import Peekable, ReadAhead
from .committed import GroupTracker, committed_lookup, compact_all
from .executors import batch_executor
from .journal import commit_batch, record_changes
from .options import ExecutorName, ExtractOptions
from .plan import Plan, settle_from, stream_batches
from .resume import listing_for
from .runner import BatchResult, ChildProcesses, ParserOptions
from .seals import chunk_seal, read_seals, record_seals
from .standing import Standing
from .stop import StopRequest

log = logging.getLogger("s3logextraction")
LISTING_AHEAD = 4  # chunks listed ahead of the planning: a few day folders


@dataclass
class ExtractReport:
    """What one `extract` run did; `stopped` is True when it drained on request."""

    objects_total: int = 0
    objects_done: int = 0
    objects_remaining: int = 0
    objects_settling: int = 0
    objects_changed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    failed_earlier: int = 0
    files_skipped: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    log_bytes: int = 0
    lines_read: int = 0
    lines_kept: int = 0
    lines_skipped: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    index_seconds: float = 0.0
    stopped: bool = False
    listing_finished: bool = True

    def add(self, result: BatchResult) -> None:
        self.batches += bool(result.objects)
        self.objects_done += len(result.objects)
        self.log_bytes += result.log_bytes
        self.lines_read += result.lines_read
        self.lines_kept += result.lines_kept
        self.lines_skipped.update(result.skipped)
        self.rejected.update(result.rejected_by_reason)
        self.failed += [(log_object.name, reason) for log_object, reason in result.failed]

    def summary(self) -> str:
        rate = self.log_bytes / self.seconds / 1e6 if self.seconds > 0 else 0.0
        rejected = ", ".join(f"{reason} {count}" for reason, count in sorted(self.rejected.items())) or "none"
        state = "stopped on request" if self.stopped else "done"
        parts = [
            f"extract {state}: {self.objects_done} log objects in {self.batches} batches, "
            f"{self.lines_read} lines read, {self.lines_kept} kept, {sum(self.lines_skipped.values())} skipped, "
            f"{sum(self.rejected.values())} rejected ({rejected}), {self.log_bytes / 1e6:.1f} MB at {rate:.1f} MB/s; "
            f"{self.objects_remaining} objects remain"
            + ("" if self.listing_finished else " (and those of the folders not listed yet)")
        ]
        if self.failed:
            parts.append(f"{len(self.failed)} objects failed (see `status`)")
        if self.failed_earlier:
            parts.append(f"{self.failed_earlier} failed earlier and unchanged (`--retry-failed` retries them)")
        if self.objects_settling:
            parts.append(f"{self.objects_settling} too recent (still settling), left for a later run")
        if self.objects_changed:
            parts.append(f"{self.objects_changed} changed after their commit, not counted again (see `status`)")
        if self.files_skipped:
            why = ", ".join(f"{reason} {count}" for reason, count in sorted(self.files_skipped.items()))
            parts.append(f"{sum(self.files_skipped.values())} files skipped ({why})")
        return "; ".join(parts)


def new_batch_ids() -> Callable[[], str]:
    prefix = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 10**9:09d}-{os.getpid()}"
    counter = iter(range(1_000_000_000))
    return lambda: f"{prefix}-{next(counter):06d}"


def record_settings(cache: Cache, *, operations: Sequence[str], mode: str) -> None:
    """A cache holds one set of kept operations and one mode: mixing them would publish numbers
    that mean nothing.  The first run records them; a later run with others is refused."""
    wanted = {"operations": ",".join(operations), "mode": mode}
    recorded = {name: cache.setting(name) for name in wanted}
    for name, value in wanted.items():
        if recorded[name] is not None and recorded[name] != value:
            raise ConfigError(
                f"this cache was extracted with {name} {recorded[name]}, not {value}; run `s3logextraction reset "
                f"extraction` first to extract again with {value}"
            )
    missing = [(name, value.encode()) for name, value in wanted.items() if recorded[name] is None]
    if missing:
        with transaction(cache.db) as db:
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", missing)


def record_source(cache: Cache, source: LogSource) -> None:
    """The source last extracted from: `status` names it, and compares an S3 Inventory with it."""
    described = source.describe().encode()
    if meta_value(cache.db, "source") != described:
        with transaction(cache.db) as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('source', ?)", (described,))


def extract(
    source: PathLike | LogSource,
    *,
    cache: PathLike,
    options: ExtractOptions | None = None,
    stop: threading.Event | None = None,
    show_progress: bool | None = None,
) -> ExtractReport:
    """Extracts every not-yet-committed log object of `source` (a folder, `s3://BUCKET/PREFIX`
    or any `LogSource`) into indexed shards of `cache`, as `options` say (see ExtractOptions;
    objects still settling wait for a later run).

    Each batch's rows are indexed in memory and committed as one Parquet shard in the same
    transaction as the batch, so no raw IP is ever written in the clear.  A wrong password is
    refused before anything is written.  Setting `stop` drains the batches in flight.
    """
    logs = as_source(source)
    listing = listing_for(logs, cache=cache, options=options or ExtractOptions())
    with Cache.open_for_writing(cache, command="extract", create=True) as opened:
        request = StopRequest(opened.paths, event=stop)
        report = extract_into(
            opened, source=logs, listing=listing, stop=request, options=options, show_progress=show_progress
        )
        if report.stopped:
            request.acknowledge()
        return report


def as_source(source: PathLike | LogSource) -> LogSource:
    return open_source(source) if isinstance(source, (str, os.PathLike)) else source


def extract_into(
    opened: Cache,
    *,
    source: LogSource,
    listing: Listing,
    stop: StopRequest,
    options: ExtractOptions | None = None,
    show_progress: bool | None = None,
) -> ExtractReport:
    """`extract` in a cache the caller has opened (and locked), as `run` does for all its stages;
    `listing` is the source's listing, begun before the cache was opened (a wrong folder fails
    before anything is created).  The listing streams: each chunk is planned as it comes, and
    batches start while later folders are still being listed."""
    started = time.monotonic()
    chosen = options or ExtractOptions()
    gawk_path()
    stop.clear_stale()
    with storage_errors(what=opened.paths.root):
        record_settings(opened, operations=chosen.operations, mode=chosen.mode)
        indexer = open_indexer(opened, password=chosen.password)  # a wrong password is refused before any write
        record_source(opened, source)
        parser = ParserOptions(
            operations=chosen.operations,
            mode=chosen.mode,
            excluded=excluded_ips(opened.db, password=chosen.password),
        )
        indexer.convert_pending(show_progress=False)
        with transaction(opened.db) as db:
            compact_all(db)  # rows a killed run, or an older version, left
        plan = Plan(
            settle_from_ns=settle_from(
                now_ns=time.time_ns(),
                settle_seconds=0 if source.appear_whole else chosen.settle_seconds,
                settle_days=source.settle_days if chosen.settle_days is None else chosen.settle_days,
            ),
            retry_failed=chosen.retry_failed,
            limit=chosen.limit,
        )
        report = ExtractReport(files_skipped=listing.skipped)
        groups = GroupTracker()
        with (
            ReadAhead(listing, depth=LISTING_AHEAD) as chunks,
            Standing(
                opened, plan=plan, listing=listing, expected=survey(source, cache=opened), enabled=show_progress
            ) as standing,
        ):
            planned = planned_objects(
                opened, chunks=chunks, plan=plan, groups=groups, started_ns=listing.started_ns,
                settle_seconds=chosen.settle_seconds,
            )  # fmt: skip
            report.stopped = run_batches(
                opened,
                source=source,
                batches=stream_batches(
                    planned, batch_bytes=chosen.batch_bytes, batch_files=chosen.batch_files, workers=chosen.workers
                ),
                workers=chosen.workers,
                parser=parser,
                indexer=indexer,
                report=report,
                stop=stop,
                standing=standing,
                groups=groups,
                executor=chosen.executor,
                scheduler=chosen.scheduler,
            )
        with transaction(opened.db) as db:
            compact_all(db)
        vacuum_when_sparse(opened.db)
    report.objects_total = listing.listed_objects + listing.sealed_objects
    report.objects_settling = plan.settling
    report.objects_changed = plan.changed_total
    report.failed_earlier = plan.failed_earlier
    report.listing_finished = listing.finished
    report.objects_remaining = plan.todo + plan.over_limit - report.objects_done - len(report.failed)
    report.seconds = time.monotonic() - started
    log.debug("extract of %s finished", source.describe())
    return report


def planned_objects(
    cache: Cache,
    *,
    chunks: Iterable[Chunk],
    plan: Plan,
    groups: GroupTracker,
    started_ns: int,
    settle_seconds: float,
) -> Iterator[LogObject]:
    """The objects to extract, chunk by chunk as the listing hands them on: each chunk's
    committed objects looked up by name (a night asks about its days, not the history), the
    changed ones recorded, a local folder whose files were all committed before sealed."""
    for chunk in chunks:
        names = [log_object.name for log_object in chunk.objects]
        committed, with_rows = committed_lookup(cache.db, names)
        failed = {
            name: (size, mtime)
            for name, size, mtime in rows_for(
                cache.db, select="SELECT name, size, mtime_ns FROM failed_objects", column="name", keys=names
            )
        }
        todo = plan.sort_out(chunk.objects, committed=committed, failed=failed)
        if plan.changed:
            record_changes(cache, plan.changed)
        seal = chunk_seal(chunk, committed=committed, started_ns=started_ns, settle_seconds=settle_seconds)
        if seal is not None:
            record_seals(cache, [seal])
        groups.planned(todo)
        groups.compact_done(cache.db, also=with_rows)
        yield from todo


def survey(source: LogSource, *, cache: Cache) -> Future[int | None]:
    """The source's count of what its listing will hand on, made in a thread of its own (a
    folder walk without a stat per file): the progress bar's total, once it is known.  Only an
    estimate: a survey that fails leaves the total unknown, never the run."""
    seals = read_seals(cache.paths.root)
    counted: Future[int | None] = Future()

    def count() -> None:
        try:
            counted.set_result(source.survey(sealed=seals))
        except Exception:
            counted.set_result(None)

    threading.Thread(target=count, name="survey", daemon=True).start()
    return counted


def run_batches(
    cache: Cache,
    *,
    source: LogSource,
    batches: Iterator[list[LogObject]],
    workers: int,
    parser: ParserOptions,
    indexer: Indexer,
    report: ExtractReport,
    stop: StopRequest,
    standing: Standing,
    groups: GroupTracker,
    executor: ExecutorName | str = ExecutorName.local,
    scheduler: str | None = None,
) -> bool:
    """Schedules batches, `workers` at a time, on the executor and commits each as it finishes
    (here, whatever the executor); True if stopped."""
    queue = Peekable(batches)
    if not queue:
        return False
    next_id = new_batch_ids()
    in_flight: set[Future[BatchResult]] = set()
    children = ChildProcesses()
    stopped = False
    with batch_executor(
        executor=executor, workers=workers, scheduler=scheduler, staging=cache.paths.staging, children=children
    ) as submit:
        done: set[Future[BatchResult]] = set()
        try:
            while queue or in_flight or done:
                if queue and stop.requested():
                    log.warning(
                        "stopping: finishing the %d batches in flight (interrupt again to abort)", len(in_flight)
                    )
                    stopped = True
                    queue.clear()
                while queue and len(in_flight) < workers:
                    in_flight.add(submit(batch_id=next_id(), objects=queue.pop(), source=source, parser=parser))
                import_now()  # while the first batches' gawk runs: they need pyarrow only once it ends
                for future in done:  # once the freed workers have their next batch: no parser waits for a commit
                    result = future.result()
                    report.index_seconds += commit_batch(cache, result, indexer=indexer)
                    report.add(result)
                    groups.finished([*result.objects, *(log_object for log_object, _ in result.failed)])
                    groups.compact_done(cache.db)
                    standing.update(objects=report.objects_done + len(report.failed), log_bytes=report.log_bytes)
                done = set()
                if in_flight:
                    done, in_flight = wait(in_flight, timeout=0.2, return_when=FIRST_COMPLETED)
        except BaseException:
            queue.clear()
            children.kill_all()
            for future in in_flight:  # a Dask task not started yet is dropped; a running one is discarded
                future.cancel()
            raise
    return stopped
