"""The commit: shard renamed into shards/ (fsynced), then one transaction records the batch.

A crash before the transaction leaves a shard no batch names (deleted by the next run); after
it, the batch and all its log objects are done.  Nothing is ever half-committed.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..cache import Cache, disk_error, fsync_directory, storage_errors, transaction, utc_now
from .runner import BatchResult


def commit_batch(cache: Cache, result: BatchResult) -> None:
    target = cache.paths.shard(batch_id=result.batch_id, shard_format="tsv")
    try:
        os.rename(result.shard, target)
        fsync_directory(cache.paths.shards)
    except OSError as error:
        raise disk_error(error, what=target) from None
    objects = [
        (log_object.name, log_object.size, result.batch_id, result.lines_per_object.get(log_object.name, 0))
        for log_object in result.objects
    ]
    try:
        with transaction(cache.db) as db:
            db.execute(
                "INSERT INTO batches VALUES (?, 'tsv', ?, ?, ?, ?, ?, ?)",
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
            db.executemany("INSERT INTO log_objects VALUES (?, ?, ?, ?)", objects)
            db.executemany(
                "INSERT INTO rejects VALUES (?, ?, ?, ?)",
                [(result.batch_id, name, line, reason) for name, line, reason in result.rejects],
            )
            db.executemany(
                "INSERT INTO kept_by_status VALUES (?, ?, ?, ?)",
                [(result.batch_id, status, lines, sent) for status, (lines, sent) in result.kept_by_status.items()],
            )
    except OSError as error:
        raise disk_error(error, what=cache.paths.state) from None


def reset_extraction(*, cache: Path) -> int:
    """Forgets every committed batch and deletes its shard (the IP index is kept, so ids stay
    stable); returns the number of batches removed."""
    with Cache.open_for_writing(cache, command="reset extraction") as opened, storage_errors(what=opened.paths.root):
        with transaction(opened.db) as db:
            removed = db.execute("SELECT count(*) FROM batches").fetchone()[0]
            for table in ("rejects", "kept_by_status", "log_objects", "batches"):
                db.execute(f"DELETE FROM {table}")
        for shard in opened.paths.shards.iterdir():
            shard.unlink()
    return int(removed)
