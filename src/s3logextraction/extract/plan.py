"""Which log objects a run extracts, and in which batches (many objects per gawk process)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from ..sources import LogObject

DAY_NS = 86_400 * 10**9
Committed = tuple[int, int | None]  # a committed log object's size and modification time (None: not recorded)
BATCHES_PER_WORKER = 4
SMALLEST_BALANCED_BATCH = 4 * 1024 * 1024  # each batch costs a gawk start, a shard and a commit


@dataclass
class Plan:
    """The listing sorted out as it streams by: what is extracted now, and why the rest waits
    (counts so far; `changed` holds the current chunk's changed objects until they are recorded)."""

    settle_from_ns: int
    retry_failed: bool = False
    limit: int | None = None
    seen: int = 0
    todo: int = 0
    todo_bytes: int = 0
    committed: int = 0
    changed: list[tuple[LogObject, Committed]] = field(default_factory=list)
    changed_total: int = 0
    settling: int = 0
    failed_earlier: int = 0
    over_limit: int = 0

    def sort_out(
        self,
        objects: Iterable[LogObject],
        *,
        committed: Mapping[str, Committed],
        failed: Mapping[str, tuple[int, int | None]],
    ) -> list[LogObject]:
        """The objects of one chunk to extract now.  Sorts them by identity (their name):
        committed ones are never extracted again (one whose size or modification time changed
        since is reported: an object replaced by another of the same size is a change too); one
        modified at or after `settle_from_ns` may still be written (or, on S3, its day may still
        be delivered) and waits; one that failed waits until its size or mtime changes or
        `retry_failed`; past `limit` new objects, the rest wait."""
        todo: list[LogObject] = []
        self.changed = []
        for log_object in objects:
            self.seen += 1
            known = committed.get(log_object.name)
            if known is not None:
                self.committed += 1
                if not same_object(log_object, known):
                    self.changed.append((log_object, known))
            elif log_object.mtime_ns >= self.settle_from_ns:
                self.settling += 1
            elif not self.retry_failed and failed.get(log_object.name) == (log_object.size, log_object.mtime_ns):
                self.failed_earlier += 1
            elif self.limit is not None and self.todo >= self.limit:
                self.over_limit += 1
            else:
                todo.append(log_object)
                self.todo += 1
                self.todo_bytes += log_object.size
        self.changed_total += len(self.changed)
        return todo


def same_object(log_object: LogObject, committed: Committed | None) -> bool:
    """Whether a listed object is the one committed under its name (same size, and same mtime
    where the commit recorded one)."""
    if committed is None:
        return False
    size, mtime_ns = committed
    return size == log_object.size and (mtime_ns is None or mtime_ns == log_object.mtime_ns)


def settle_from(*, now_ns: int, settle_seconds: float, settle_days: int) -> int:
    """The instant from which objects wait: `settle_seconds` back from now, or with `settle_days`
    N, the start of the Nth newest UTC day (today counts as the first) if that is earlier."""
    cutoff = now_ns - int(settle_seconds * 1e9)
    if settle_days > 0:
        cutoff = min(cutoff, (now_ns // DAY_NS - (settle_days - 1)) * DAY_NS)
    return cutoff


def plan_batches(objects: Iterable[LogObject], *, batch_bytes: int, batch_files: int) -> Iterator[list[LogObject]]:
    """Consecutive objects grouped until a batch reaches `batch_bytes` or `batch_files`.

    Keeping input order (names sort by time) makes a batch's shard hold one stretch of time.
    """
    current: list[LogObject] = []
    size = 0
    for log_object in objects:
        current.append(log_object)
        size += log_object.size
        if size >= batch_bytes or len(current) >= batch_files:
            yield current
            current, size = [], 0
    if current:
        yield current


def stream_batches(
    objects: Iterator[LogObject], *, batch_bytes: int, batch_files: int, workers: int
) -> Iterator[list[LogObject]]:
    """The batches of a stream of objects.  The first `BATCHES_PER_WORKER` batches per worker are
    looked at before the first is cut: when the stream ends within them (a night), batches are
    made smaller so that every worker has work to the end (`balanced_batch_bytes`); a backfill
    gets full batches without its listing being held."""
    ahead = workers * BATCHES_PER_WORKER
    head: list[LogObject] = []
    size = 0
    for log_object in objects:
        head.append(log_object)
        size += log_object.size
        if size >= batch_bytes * ahead or len(head) >= batch_files * ahead:
            chosen = batch_bytes
            break
    else:
        chosen = balanced_batch_bytes(head, batch_bytes=batch_bytes, workers=workers)
    yield from plan_batches(itertools.chain(head, objects), batch_bytes=chosen, batch_files=batch_files)


def balanced_batch_bytes(objects: Iterable[LogObject], *, batch_bytes: int, workers: int) -> int:
    """The batch size used: `batch_bytes`, or less when the work would otherwise come in too few
    batches to keep every worker busy to the end (a night's 30 MB in one batch runs on one core,
    and 5 batches on 2 workers leave one idle for the last):  at least `BATCHES_PER_WORKER`
    batches per worker, none made smaller than 4 MB for it.  One worker has no one to wait for."""
    if workers <= 1:
        return batch_bytes
    total = sum(log_object.size for log_object in objects)
    share = -(-total // (workers * BATCHES_PER_WORKER))
    return min(batch_bytes, max(SMALLEST_BALANCED_BATCH, share))
