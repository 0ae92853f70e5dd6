"""Sealed folders: a night reads the folders that changed, not the archive's years of day folders.

A local folder that held only regular, non-hidden files, every one committed with its current
size, is sealed with its inode change time (ctime).  An entry added to, removed from or renamed in
a folder moves its ctime, so a later listing that finds the same ctime skips the folder unread
and counts its objects.  AWS's date-partitioned layout (`YYYY/MM/DD/`) gives each day a folder,
so once a day is committed a night no longer stats its files, and the committed names it looks up
are those of the folders it read, not the whole `log_objects` table.

A folder is sealed only when its ctime is older than the start of the listing by the settle time,
and by at least `SEAL_FLOOR_SECONDS` (more than the coarsest file-system clock tick): a file added
within the same tick as the folder's last change would leave its ctime as it was.  A sealed folder
no longer shows a committed file rewritten in place (its folder's ctime does not move): that file
is not reported as changed.  `reset extraction` removes the seals with the batches.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..cache import Cache, CachePaths, PathLike, connect, schema_version, transaction
from ..errors import storage_errors
from ..sources import Chunk, Seal
from .plan import Committed, same_object

SEAL_FLOOR_SECONDS = 2.0
SEALS_SINCE_VERSION = 7


def read_seals(root: PathLike) -> dict[str, Seal]:
    """The seals of the cache at `root`: none without a cache, or in one not yet migrated."""
    paths = CachePaths.of(root)
    if not paths.state.exists():
        return {}
    with storage_errors(what=paths.root):
        db = connect(paths.state, read_only=True)
        try:
            if schema_version(db) < SEALS_SINCE_VERSION:
                return {}
            rows = db.execute("SELECT folder, ctime_ns, objects FROM sealed_folders").fetchall()
        finally:
            db.close()
    return {folder: Seal(ctime_ns=ctime_ns, objects=objects) for folder, ctime_ns, objects in rows}


def chunk_seal(
    chunk: Chunk, *, committed: Mapping[str, Committed], started_ns: int, settle_seconds: float
) -> tuple[str, int, int] | None:
    """(folder, ctime_ns, objects) when the local folder of `chunk` can be sealed: files only,
    each committed before this run with its current size, and unchanged since well before the
    listing started."""
    before = started_ns - int(max(settle_seconds, SEAL_FLOOR_SECONDS) * 1e9)
    if chunk.ctime_ns is None or not chunk.files_only or chunk.ctime_ns >= before:
        return None
    if not all(same_object(log_object, committed.get(log_object.name)) for log_object in chunk.objects):
        return None
    return (chunk.folder, chunk.ctime_ns, len(chunk.objects))


def record_seals(cache: Cache, seals: list[tuple[str, int, int]]) -> None:
    if seals:
        with transaction(cache.db) as db:
            db.executemany("INSERT OR REPLACE INTO sealed_folders VALUES (?, ?, ?)", seals)
