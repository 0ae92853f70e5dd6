"""Batch planning: many log objects per gawk process, bounded by bytes and by argv length."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..sources import LogObject


def plan_batches(objects: Iterable[LogObject], *, batch_bytes: int, batch_files: int) -> list[list[LogObject]]:
    """Consecutive objects grouped until a batch reaches `batch_bytes` or `batch_files`.

    Keeping input order (names sort by time) makes a batch's shard hold one stretch of time.
    """
    batches: list[list[LogObject]] = []
    current: list[LogObject] = []
    size = 0
    for log_object in objects:
        current.append(log_object)
        size += log_object.size
        if size >= batch_bytes or len(current) >= batch_files:
            batches.append(current)
            current, size = [], 0
    if current:
        batches.append(current)
    return batches


def pending_objects(
    objects: Sequence[LogObject], *, committed: set[tuple[str, int]], limit: int | None
) -> list[LogObject]:
    """Objects not yet committed (by name and size), at most `limit` of them."""
    todo = [log_object for log_object in objects if (log_object.name, log_object.size) not in committed]
    return todo if limit is None else todo[:limit]
