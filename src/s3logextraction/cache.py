"""One cache directory: its paths, its lock and the state DB (the single source of truth).

Opening a cache for writing takes the lock (a second writer exits with code 75), sets a 0077
umask so every file is created 0600 and every folder 0700, and removes work that no committed
batch names: anything in staging/, and shard files the DB does not list in their current format.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DiskError, LockedError, S3LogExtractionError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    format TEXT NOT NULL CHECK (format IN ('tsv', 'parquet')),
    committed_at TEXT NOT NULL,
    log_bytes INTEGER NOT NULL,
    lines_read INTEGER NOT NULL,
    lines_kept INTEGER NOT NULL,
    lines_rejected INTEGER NOT NULL,
    bytes_sent INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS log_objects (
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    batch_id TEXT NOT NULL REFERENCES batches(batch_id),
    lines INTEGER NOT NULL,
    PRIMARY KEY (name, size)
);
CREATE INDEX IF NOT EXISTS log_objects_batch ON log_objects(batch_id);
CREATE TABLE IF NOT EXISTS rejects (
    batch_id TEXT NOT NULL REFERENCES batches(batch_id),
    log_object TEXT NOT NULL,
    line INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rejects_batch ON rejects(batch_id);
CREATE TABLE IF NOT EXISTS kept_by_status (
    batch_id TEXT NOT NULL REFERENCES batches(batch_id),
    status TEXT NOT NULL,
    lines INTEGER NOT NULL,
    bytes_sent INTEGER NOT NULL,
    PRIMARY KEY (batch_id, status)
);
CREATE TABLE IF NOT EXISTS ips (
    ip_id INTEGER PRIMARY KEY,
    digest BLOB NOT NULL UNIQUE,
    sealed BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS user_agents (
    user_agent_id INTEGER PRIMARY KEY,
    text TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS ip_regions (
    ip_id INTEGER PRIMARY KEY REFERENCES ips(ip_id),
    region TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT
);
"""

SHARD_SUFFIXES = {"tsv": ".tsv", "parquet": ".parquet"}


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def disk_error(error: OSError, *, what: Path | str) -> S3LogExtractionError:
    """Turns an OSError into the one-line error an operator sees, naming the file."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return DiskError(f"no space left writing {what}: free some space and run again (committed work is kept)")
    return S3LogExtractionError(f"cannot write {what}: {error.strerror or error}")


@contextlib.contextmanager
def storage_errors(*, what: Path) -> Iterator[None]:
    """Turns a full disk or a failing DB file under `what` into a one-line error."""
    try:
        yield
    except sqlite3.OperationalError as error:
        if "full" in str(error):
            raise DiskError(
                f"no space left writing {what}: free some space and run again (committed work is kept)"
            ) from None
        raise S3LogExtractionError(f"state DB {what}: {error}") from None
    except OSError as error:
        if isinstance(error, (BlockingIOError, InterruptedError)):
            raise
        raise disk_error(error, what=getattr(error, "filename", None) or what) from None


@dataclass(frozen=True)
class CachePaths:
    root: Path

    @property
    def state(self) -> Path:
        return self.root / "state.sqlite"

    @property
    def shards(self) -> Path:
        return self.root / "shards"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def summaries(self) -> Path:
        return self.root / "summaries"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def stop(self) -> Path:
        return self.root / "STOP"

    def shard(self, *, batch_id: str, shard_format: str) -> Path:
        return self.shards / f"{batch_id}{SHARD_SUFFIXES[shard_format]}"


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection in WAL mode (readers such as `status` never block the writer)."""
    if read_only:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, isolation_level=None)
    else:
        connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(SCHEMA)
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


@contextlib.contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def lock_holder(paths: CachePaths) -> dict[str, Any]:
    """What the lock file says of its holder: pid, since (UTC) and command."""
    try:
        holder = json.loads(paths.lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"pid": None, "since": None, "command": None}
    return holder if isinstance(holder, dict) else {"pid": None, "since": None, "command": None}


def describe_holder(holder: dict[str, Any]) -> str:
    return f"pid {holder.get('pid')} ({holder.get('command')}, since {holder.get('since')})"


def running_holder(paths: CachePaths) -> dict[str, Any] | None:
    """The lock holder when a run holds the lock now, else None (a dead holder's lock is free)."""
    if not paths.lock.exists():
        return None
    descriptor = os.open(paths.lock, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return lock_holder(paths)
    finally:
        os.close(descriptor)
    return None


class Cache:
    """An open cache directory.  Use `Cache.open_for_writing` as a context manager."""

    def __init__(self, root: Path) -> None:
        self.paths = CachePaths(root.expanduser().absolute())
        self._lock_fd: int | None = None
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = connect(self.paths.state)
        return self._db

    @classmethod
    @contextlib.contextmanager
    def open_for_writing(cls, root: Path, *, command: str) -> Iterator[Cache]:
        cache = cls(root)
        cache.create()
        cache.acquire_lock(command=command)
        try:
            cache.remove_uncommitted()
            yield cache
        finally:
            cache.close()

    def create(self) -> None:
        os.umask(0o077)
        try:
            for folder in (self.paths.root, self.paths.shards, self.paths.staging):
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise disk_error(error, what=self.paths.root) from None

    def acquire_lock(self, *, command: str) -> None:
        descriptor = os.open(self.paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            holder = describe_holder(lock_holder(self.paths))
            raise LockedError(
                f"the cache {self.paths.root} is in use by {holder}; try again when it has finished"
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, json.dumps({"pid": os.getpid(), "since": utc_now(), "command": command}).encode())
        self._lock_fd = descriptor

    def close(self) -> None:
        """Releases the lock; work left in staging/ was never committed, so it goes first."""
        if self._lock_fd is not None:
            self.clear_staging()
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock_fd is not None:
            os.ftruncate(self._lock_fd, 0)
            os.close(self._lock_fd)
            self._lock_fd = None

    def remove_uncommitted(self) -> None:
        """Deletes staging leftovers and shard files that no committed batch names in that format."""
        self.clear_staging()
        committed = {
            self.paths.shard(batch_id=batch_id, shard_format=shard_format).name
            for batch_id, shard_format in self.db.execute("SELECT batch_id, format FROM batches")
        }
        for shard in self.paths.shards.iterdir():
            if shard.name not in committed:
                shard.unlink()

    def clear_staging(self) -> None:
        for leftover in self.paths.staging.iterdir():
            leftover.unlink(missing_ok=True)

    def committed_objects(self) -> set[tuple[str, int]]:
        return {(name, size) for name, size in self.db.execute("SELECT name, size FROM log_objects")}
