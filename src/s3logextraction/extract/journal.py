"""The commit: the indexed Parquet shard renamed into shards/ (fsynced), then one transaction
records the batch, its log objects, its counts, the new IP and agent ids and the objects that
failed.

A crash before the transaction leaves a shard no batch names (deleted by the next run); after
it, the batch and all its log objects are done.  Nothing is ever half-committed, and the only
file written holds ids, never a raw IP.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

from ..cache import Cache, PathLike, transaction, utc_now
from ..errors import storage_errors
from ..ips.index import Indexer
from ..sources import LogObject
from .plan import Committed
from .runner import BatchResult


def commit_batch(cache: Cache, result: BatchResult, *, indexer: Indexer) -> float:
    """Commits one batch; returns the seconds spent indexing (the benchmark's indexing cost)."""
    with storage_errors(what=cache.paths.root):
        if not result.objects:
            with transaction(cache.db) as db:
                record_failures(db, result.failed)
            return 0.0
        started = time.perf_counter()
        indexed = indexer.index(result.rows)
        indexing = time.perf_counter() - started
        shard = cache.paths.shard(batch_id=result.batch_id, shard_format="parquet")
        indexer.write_shard(indexed, target=shard)
        try:
            with transaction(cache.db) as db:
                indexer.store(db, indexed)
                record_batch(db, result)
                record_failures(db, result.failed)
        except (sqlite3.Error, OSError):
            shard.unlink(missing_ok=True)  # the commit failed: no batch names it
            raise
        indexer.remember(indexed)
        return indexing


def record_batch(db: sqlite3.Connection, result: BatchResult) -> None:
    db.execute(
        "INSERT INTO batches VALUES (?, 'parquet', ?, ?, ?, ?, ?, ?)",
        (
            result.batch_id,
            utc_now(),
            result.log_bytes,
            result.lines_read,
            result.lines_kept,
            len(result.rejects),
            result.bytes_sent,
        ),
    )
    db.executemany(
        "INSERT INTO log_objects VALUES (?, ?, ?, ?, ?)",
        [
            (log_object.name, log_object.size, log_object.mtime_ns, result.batch_id,
             result.lines_per_object.get(log_object.name, 0))
            for log_object in result.objects
        ],
    )  # fmt: skip
    db.executemany("DELETE FROM failed_objects WHERE name = ?", [(o.name,) for o in result.objects])
    db.executemany(
        "INSERT INTO rejects VALUES (?, ?, ?, ?)",
        [(result.batch_id, name, line, reason) for name, line, reason in result.rejects],
    )
    db.executemany(
        "INSERT INTO kept_by_status VALUES (?, ?, ?, ?)",
        [(result.batch_id, status, lines, sent) for status, (lines, sent) in result.kept_by_status.items()],
    )
    db.executemany(
        "INSERT INTO skipped_lines VALUES (?, ?, ?)",
        [(result.batch_id, reason, lines) for reason, lines in result.skipped.items()],
    )


def record_failures(db: sqlite3.Connection, failed: Sequence[tuple[LogObject, str]]) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO failed_objects VALUES (?, ?, ?, ?, ?)",
        [(log_object.name, log_object.size, log_object.mtime_ns, reason, utc_now()) for log_object, reason in failed],
    )


def record_changes(cache: Cache, changed: Sequence[tuple[LogObject, Committed]]) -> None:
    """Objects whose size or mtime differs from what they were committed with: reported, never
    counted again."""
    with transaction(cache.db) as db:
        db.executemany(
            "INSERT OR REPLACE INTO changed_objects VALUES (?, ?, ?, ?, ?, ?)",
            [
                (log_object.name, size, log_object.size, utc_now(), mtime_ns, log_object.mtime_ns)
                for log_object, (size, mtime_ns) in changed
            ],
        )


def reset_extraction(*, cache: PathLike) -> int:
    """Forgets every committed batch and deletes its shard (the IP index is kept, so ids stay
    stable); returns the number of batches removed.  The recorded mode and operations go too, and
    the sealed folders (their files are no longer committed)."""
    with Cache.open_for_writing(cache, command="reset extraction") as opened, storage_errors(what=opened.paths.root):
        with transaction(opened.db) as db:
            removed = db.execute("SELECT count(*) FROM batches").fetchone()[0]
            for table in ("rejects", "kept_by_status", "skipped_lines", "log_objects", "batches",
                          "failed_objects", "changed_objects", "aggregated_batches", "sealed_folders",
                          "object_groups"):  # fmt: skip
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM meta WHERE name IN ('operations', 'mode', 'aggregate_generation')")
        for shard in opened.paths.shards.iterdir():
            shard.unlink()
    return int(removed)
