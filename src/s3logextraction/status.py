"""`status`: where a cache stands, read without taking the lock (safe while a run is going).

Every line read is accounted for: lines_read = lines_kept + lines_skipped (by reason) +
lines_rejected (by reason).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from .cache import CachePaths, PathLike, meta_value, reader, running_holder
from .datasets.dandi import recorded_source
from .errors import UsageError
from .extract.committed import committed_count, committed_lookup
from .extract.standing import recorded_standing
from .geodata import LABEL_CLASSES, is_place, label_class
from .sources.s3 import S3Location, inventory_listing


def grouped(db: sqlite3.Connection, query: str) -> dict[str, int]:
    return {str(name): int(count) for name, count in db.execute(query).fetchall()}


def status(*, cache: PathLike, inventory: PathLike | None = None) -> dict[str, Any]:
    """The figures `status --json` prints; keys are stable for scripts and monitoring.  With
    `inventory` (a local copy of the S3 Inventory of the bucket the cache was extracted from),
    also how many of the log objects it lists are committed."""
    paths = CachePaths.of(cache)
    with reader(paths) as db:
        batches, read, kept, rejected, sent = db.execute(
            "SELECT count(*), total(lines_read), total(lines_kept), total(lines_rejected), total(bytes_sent) "
            "FROM batches"
        ).fetchone()
        skipped = grouped(db, "SELECT reason, sum(lines) FROM skipped_lines GROUP BY reason ORDER BY reason")
        settings = {str(name): bytes(value).decode() for name, value in db.execute(
            "SELECT name, value FROM meta WHERE name IN ('operations', 'mode')"
        )}  # fmt: skip
        source = meta_value(db, "source")
        sealed_folders, sealed_objects = db.execute(
            "SELECT count(*), coalesce(sum(objects), 0) FROM sealed_folders"
        ).fetchone()
        running = running_holder(paths)
        figures = {
            "cache": str(paths.root),
            "source": source.decode() if source else None,
            "log_objects": committed_count(db),
            "batches": batches,
            "lines_read": int(read),
            "lines_kept": int(kept),
            "lines_skipped": sum(skipped.values()),
            "skipped_by_reason": skipped,
            "lines_rejected": int(rejected),
            "rejected_by_reason": grouped(db, "SELECT reason, count(*) FROM rejects GROUP BY reason ORDER BY reason"),
            "bytes_sent": int(sent),
            "kept_by_status": grouped(
                db, "SELECT status, sum(lines) FROM kept_by_status GROUP BY status ORDER BY status"
            ),
            "failed_objects": [
                {"name": name, "size": size, "reason": reason, "failed_at": when}
                for name, size, reason, when in db.execute(
                    "SELECT name, size, reason, failed_at FROM failed_objects ORDER BY name"
                )
            ],
            "changed_objects": [
                {
                    "name": name,
                    "committed_size": committed,
                    "seen_size": seen,
                    "seen_at": when,
                    "committed_mtime_ns": committed_mtime,
                    "seen_mtime_ns": seen_mtime,
                }
                for name, committed, seen, when, committed_mtime, seen_mtime in db.execute(
                    "SELECT name, committed_size, seen_size, seen_at, committed_mtime_ns, seen_mtime_ns "
                    "FROM changed_objects ORDER BY name"
                )
            ],
            "operations": settings.get("operations"),
            "mode": settings.get("mode"),
            "sealed_folders": {"folders": sealed_folders, "log_objects": sealed_objects},
            "dandi_attribution": recorded_source(db),
            "pending_index": db.execute("SELECT count(*) FROM batches WHERE format = 'tsv'").fetchone()[0],
            "ips": ip_figures(db),
            "regions": region_figures(db),
            "running": running,
            "progress": recorded_standing(db) if running else None,
        }
        if inventory is not None:
            figures["inventory"] = inventory_progress(db, source=figures["source"], inventory=Path(inventory))
        return figures


def inventory_progress(db: sqlite3.Connection, *, source: str | None, inventory: Path) -> dict[str, Any]:
    if not source or not source.startswith("s3://"):
        raise UsageError("--inventory: this cache was not extracted from an s3:// source, so no inventory applies")
    total = done = 0
    for chunk in inventory_listing(inventory, location=S3Location.parse(source)):
        committed, _ = committed_lookup(db, [log_object.name for log_object in chunk.objects])
        total += len(chunk.objects)
        done += len(committed)
    return {"log_objects": total, "committed": done, "percent": round(100 * done / total, 2) if total else 100.0}


def ip_figures(db: sqlite3.Connection) -> dict[str, Any]:
    """IPs indexed and classified, per label class, and the data each label came from."""
    by_class = dict.fromkeys(LABEL_CLASSES, 0)
    for label, count in db.execute("SELECT region, count(*) FROM ip_regions GROUP BY region"):
        by_class[label_class(label)] += count
    return {
        "indexed": db.execute("SELECT count(*) FROM ips").fetchone()[0],
        "classified": sum(by_class.values()),
        "by_class": by_class,
        "sources": grouped(db, "SELECT source, count(*) FROM ip_regions GROUP BY source ORDER BY source"),
    }


def region_figures(db: sqlite3.Connection) -> dict[str, Any]:
    """Region labels in use, with and without coordinates (the map shows only the first)."""
    labels = [label for (label,) in db.execute("SELECT DISTINCT region FROM ip_regions ORDER BY region")]
    placed = {label for (label,) in db.execute("SELECT region FROM region_coordinates")}
    return {
        "labels": len(labels),
        "with_coordinates": sum(label in placed for label in labels),
        "without_coordinates": [label for label in labels if label not in placed and is_place(label)],
    }
