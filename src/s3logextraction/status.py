"""`status`: where a cache stands, read without taking the lock (safe while a run is going)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .cache import CachePaths, connect, running_holder


def status(*, cache: Path) -> dict[str, Any]:
    """The figures `status --json` prints; keys are stable for scripts and monitoring."""
    paths = CachePaths(cache.expanduser().absolute())
    holder = running_holder(paths)
    figures: dict[str, Any] = {
        "cache": str(paths.root),
        "log_objects": 0,
        "batches": 0,
        "lines_read": 0,
        "lines_kept": 0,
        "lines_rejected": 0,
        "rejected_by_reason": {},
        "bytes_sent": 0,
        "kept_by_status": {},
        "pending_index": 0,
        "running": holder,
    }
    if not paths.state.exists():
        return figures
    db = connect(paths.state, read_only=True)
    if db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'kept_by_status'").fetchone()[0] == 0:
        db.close()
        return figures  # a first run is creating the schema right now
    try:
        figures["log_objects"] = db.execute("SELECT count(*) FROM log_objects").fetchone()[0]
        batches, read, kept, rejected, sent = db.execute(
            "SELECT count(*), total(lines_read), total(lines_kept), total(lines_rejected), total(bytes_sent) "
            "FROM batches"
        ).fetchone()
        figures.update(
            batches=batches,
            lines_read=int(read),
            lines_kept=int(kept),
            lines_rejected=int(rejected),
            bytes_sent=int(sent),
        )
        figures["rejected_by_reason"] = dict(
            db.execute("SELECT reason, count(*) FROM rejects GROUP BY reason ORDER BY reason").fetchall()
        )
        figures["kept_by_status"] = {
            status: int(lines)
            for status, lines in db.execute(
                "SELECT status, sum(lines) FROM kept_by_status GROUP BY status ORDER BY status"
            ).fetchall()
        }
        figures["pending_index"] = db.execute("SELECT count(*) FROM batches WHERE format = 'tsv'").fetchone()[0]
    finally:
        db.close()
    return figures
