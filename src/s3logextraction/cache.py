"""One cache directory: its paths, its lock and the state DB (the single source of truth).

Opening a cache for writing takes the lock (a second writer exits with code 75) and removes work
that no committed batch names: anything in staging/, and shard files the DB does not list in their
current format.  Every file is created 0600 and every folder 0700 explicitly (the process umask
is left alone).  Readers (`status`, `stop`, `ip show`) open the DB read-only and never take the
lock; the lock is an open-file-description lock, so probing it (F_OFD_GETLK) never holds it and
can never make a starting writer fail.

The DB records its schema version in `PRAGMA user_version`.  An older cache is migrated in one
transaction when a writer opens it; a cache written by a newer version is refused.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import re
import sqlite3
import stat
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .errors import DiskError, InputError, LockedError, S3LogExtractionError, disk_error, storage_errors

SCHEMA_VERSION = 9
PathLike = str | os.PathLike[str]  # what the library takes for a path: a str as well as a Path
TABLES = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE batches (
    batch_id TEXT PRIMARY KEY,
    format TEXT NOT NULL CHECK (format IN ('tsv', 'parquet')),
    committed_at TEXT NOT NULL,
    log_bytes INTEGER NOT NULL,
    lines_read INTEGER NOT NULL,
    lines_kept INTEGER NOT NULL,
    lines_rejected INTEGER NOT NULL,
    bytes_sent INTEGER NOT NULL
);
CREATE TABLE rejects (
    batch_id TEXT NOT NULL REFERENCES batches(batch_id),
    log_object TEXT NOT NULL,
    line INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX rejects_batch ON rejects(batch_id);
CREATE TABLE kept_by_status (
    batch_id TEXT NOT NULL REFERENCES batches(batch_id),
    status TEXT NOT NULL,
    lines INTEGER NOT NULL,
    bytes_sent INTEGER NOT NULL,
    PRIMARY KEY (batch_id, status)
);
CREATE TABLE ips (
    ip_id INTEGER PRIMARY KEY,
    digest BLOB NOT NULL UNIQUE,
    sealed BLOB NOT NULL
);
CREATE TABLE user_agents (
    user_agent_id INTEGER PRIMARY KEY,
    text TEXT NOT NULL UNIQUE
);
CREATE TABLE ip_regions (
    ip_id INTEGER PRIMARY KEY REFERENCES ips(ip_id),
    region TEXT NOT NULL
);
CREATE TABLE runs (
    run_id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT
);
"""
# Version 2: a log object's identity is its name alone (AWS names are unique); lines skipped by
# reason, objects that failed and objects that changed after their commit are recorded.
VERSION_2 = """
CREATE TABLE log_objects (
    name TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER,
    batch_id TEXT NOT NULL REFERENCES batches(batch_id),
    lines INTEGER NOT NULL
);
CREATE INDEX log_objects_batch ON log_objects(batch_id);
CREATE TABLE skipped_lines (
    batch_id TEXT NOT NULL REFERENCES batches(batch_id),
    reason TEXT NOT NULL,
    lines INTEGER NOT NULL,
    PRIMARY KEY (batch_id, reason)
);
CREATE TABLE failed_objects (
    name TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER,
    reason TEXT NOT NULL,
    failed_at TEXT NOT NULL
);
CREATE TABLE changed_objects (
    name TEXT PRIMARY KEY,
    committed_size INTEGER NOT NULL,
    seen_size INTEGER NOT NULL,
    seen_at TEXT NOT NULL
);
"""
# From version 1 (no user_version; log objects keyed by name and size).  A name committed twice
# under two sizes was counted twice by version 1; the first commit is kept.
MIGRATE_1_TO_2 = f"""
ALTER TABLE log_objects RENAME TO log_objects_v1;
DROP INDEX IF EXISTS log_objects_batch;
{VERSION_2}
INSERT OR IGNORE INTO log_objects (name, size, mtime_ns, batch_id, lines)
    SELECT name, size, NULL, batch_id, lines FROM log_objects_v1 ORDER BY batch_id;
DROP TABLE log_objects_v1;
"""

# Version 3: each region label keeps its source (provider and data version) and date; regions
# have coordinates.
VERSION_3 = """
ALTER TABLE ip_regions ADD COLUMN source TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE ip_regions ADD COLUMN classified_at TEXT NOT NULL DEFAULT '1970-01-01T00:00:00Z';
CREATE INDEX ip_regions_age ON ip_regions(classified_at);
CREATE TABLE region_coordinates (
    region TEXT PRIMARY KEY,
    latitude REAL NOT NULL,
    longitude REAL NOT NULL,
    source TEXT NOT NULL
);
"""
# Version 4: DANDI attribution, content id (blob or Zarr id) -> dandiset and path per version, as
# the DANDI API or a mapping file gave it; the dandisets' `modified` of the last API walk.
DANDI_ASSET_COLUMNS = """
    content_id TEXT NOT NULL,
    dandiset_id TEXT NOT NULL,
    path TEXT NOT NULL,
    version TEXT NOT NULL,
    version_modified TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (content_id, dandiset_id, version)
"""
VERSION_4 = f"""
CREATE TABLE dandi_dandisets (
    dandiset_id TEXT PRIMARY KEY,
    modified TEXT NOT NULL
);
CREATE TABLE dandi_assets ({DANDI_ASSET_COLUMNS});
CREATE INDEX dandi_assets_dandiset ON dandi_assets(dandiset_id);
"""
# Version 5: the batches folded into the summaries' aggregate store.
VERSION_5 = """
CREATE TABLE aggregated_batches (batch_id TEXT PRIMARY KEY);
"""
# Version 6: DANDI attribution clustered by content id (WITHOUT ROWID), so resolving the requested
# ids is one B-tree walk per id rather than an index search plus a row fetch.
VERSION_6 = f"""
DROP INDEX dandi_assets_dandiset;
ALTER TABLE dandi_assets RENAME TO dandi_assets_v5;
CREATE TABLE dandi_assets ({DANDI_ASSET_COLUMNS}) WITHOUT ROWID;
CREATE INDEX dandi_assets_dandiset ON dandi_assets(dandiset_id);
INSERT INTO dandi_assets SELECT * FROM dandi_assets_v5;
DROP TABLE dandi_assets_v5;
"""
# Version 7: local folders whose every file is committed, with their inode change time when they
# were sealed; a listing skips them while that time holds (extract/seals.py).
VERSION_7 = """
CREATE TABLE sealed_folders (
    folder TEXT PRIMARY KEY,
    ctime_ns INTEGER NOT NULL,
    objects INTEGER NOT NULL
) WITHOUT ROWID;
"""

# Version 9: committed log objects of a name group a run is done with move from rows into one
# compressed record per group (extract/committed.py); `last_batch` is its newest batch.  A run's
# first step moves the rows an older version left.
VERSION_9 = """
CREATE TABLE object_groups (
    grp TEXT PRIMARY KEY,
    objects INTEGER NOT NULL,
    last_batch TEXT NOT NULL,
    record BLOB NOT NULL
) WITHOUT ROWID;
"""


def mask_stored_agents(connection: sqlite3.Connection) -> None:
    """Version 8: changed objects keep both modification times (an object replaced by one of the
    same size is a change), and user agents are stored with the addresses they quote masked (`<ip>`).  Agents an
    older version stored verbatim are masked in place; one whose masked text another agent
    already has keeps its id (shards name it) with its id added to the text, so the table stays
    unique and no address remains."""
    from .addresses import AGENT_PREFILTER, masked_agent

    pattern = re.compile(AGENT_PREFILTER.encode())
    rows = connection.execute("SELECT user_agent_id, text FROM user_agents").fetchall()
    connection.execute("ALTER TABLE changed_objects ADD COLUMN committed_mtime_ns INTEGER")
    connection.execute("ALTER TABLE changed_objects ADD COLUMN seen_mtime_ns INTEGER")
    taken = {text if isinstance(text, bytes) else text.encode() for _, text in rows}
    for agent_id, text in rows:
        raw = text if isinstance(text, bytes) else text.encode()
        if not pattern.search(raw) or (masked := masked_agent(raw)) == raw:
            continue
        if masked in taken:
            masked += f" (agent {agent_id})".encode()
        taken.add(masked)
        connection.execute("UPDATE user_agents SET text = ? WHERE user_agent_id = ?", (masked, agent_id))


# How each version gets to the next: the script (or function) and the version it leaves (a new DB:
# all tables).
MIGRATIONS: dict[int, tuple[str | Callable[[sqlite3.Connection], None], int]] = {
    0: (TABLES + VERSION_2, 2),
    1: (MIGRATE_1_TO_2, 2),
    2: (VERSION_3, 3),
    3: (VERSION_4, 4),
    4: (VERSION_5, 5),
    5: (VERSION_6, 6),
    6: (VERSION_7, 7),
    7: (mask_stored_agents, 8),
    8: (VERSION_9, 9),
}

SHARD_SUFFIXES = {"tsv": ".tsv", "parquet": ".parquet"}
FILE_MODE = 0o600
FOLDER_MODE = 0o700


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def meta_value(db: sqlite3.Connection, name: str) -> bytes | None:
    """A value of the state DB's `meta` table (None when unset)."""
    row = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    return None if row is None else bytes(row[0])


SUMMARY_INPUTS = "summary_inputs"


def rows_for(db: sqlite3.Connection, *, select: str, column: str, keys: Sequence[Any]) -> Iterator[Any]:
    """The rows of `select` (SELECT ... FROM a table) whose `column` is one of `keys`, asked 500
    keys at a time (SQLite bounds the values one statement binds): the cost follows the keys
    asked about, not the table's size."""
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        yield from db.execute(f"{select} WHERE {column} IN ({','.join('?' * len(chunk))})", chunk)


def vacuum_when_sparse(db: sqlite3.Connection, *, floor: int = 64 * 1024 * 1024) -> bool:
    """Gives the free pages back to the file system (VACUUM) when they are more than half the
    state DB and more than `floor` bytes: the rows a migration or a long run moved into compact
    records leave pages free that later commits would take years to fill."""
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    free, total = db.execute("PRAGMA freelist_count").fetchone()[0], db.execute("PRAGMA page_count").fetchone()[0]
    if free * page_size <= floor or free * 2 <= total:
        return False
    db.execute("VACUUM")
    return True


def touch_summary_inputs(db: sqlite3.Connection) -> None:
    """Marks, inside the transaction that changes them, that inputs of the summaries other than
    shards (region labels, coordinates, dataset attribution) changed: the next summaries run
    publishes again instead of finding nothing to do."""
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (SUMMARY_INPUTS, os.urandom(8).hex().encode()))


def summary_inputs(db: sqlite3.Connection) -> str:
    """The token `touch_summary_inputs` last wrote ("" before any)."""
    return (meta_value(db, SUMMARY_INPUTS) or b"").decode()


def fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sync_filesystem(path: Path) -> None:
    """Flushes every written file of the file system holding `path` (syncfs(2)): one call where
    a thousand small files would each need an fsync.  Falls back to fsync of `path` itself."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(descriptor) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error), str(path))
    except AttributeError:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def create_private(path: str | os.PathLike[str]) -> int:
    """A new file opened for writing, 0600 whatever the umask (O_EXCL: never an old file)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.fchmod(descriptor, FILE_MODE)
    return descriptor


@contextlib.contextmanager
def replaced(target: Path, *, private: bool = True, durable: bool = False) -> Iterator[BinaryIO]:
    """A handle on a staged copy of `target` (`.NAME.tmp` beside it) that replaces it whole when
    the block ends; if the block fails, `target` is untouched and the staged copy is gone.
    `private`: 0600 whatever the umask (else the umask decides); `durable`: fsynced first."""
    staged = target.with_name(f".{target.name}.tmp")
    staged.unlink(missing_ok=True)
    descriptor = create_private(staged) if private else os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(staged, target)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise


def is_fifo(path: Path) -> bool:
    return stat.S_ISFIFO(path.lstat().st_mode)


def fifo_order(path: Path) -> tuple[str, int]:
    """FIFOs are named `<batch>.<n>.fifo` and read by gawk in the order of n."""
    batch, _, number = path.name.removesuffix(".fifo").rpartition(".")
    return (batch, int(number)) if number.isdigit() else (path.name, 0)


def release_readers(fifos: list[Path]) -> None:
    """A gawk left by a killed run waits in open() on one of its FIFOs, for a writer that died with
    the run, and would wait forever (it runs in its own process group, so the kill spared it).
    Opening each FIFO for writing without blocking, and closing it, hands such a reader an empty
    object; it goes on to the next and, past the last, ends (its output pipe is gone).  Passes
    repeat until two in a row find no reader (at most a second).  Only the lock holder calls this:
    no live run is reading these FIFOs."""
    quiet = 0
    for _ in range(200 if fifos else 0):
        if quiet == 2:
            return
        released = False
        for fifo in fifos:
            try:
                descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: nobody is reading it
                continue
            os.close(descriptor)
            released = True
        quiet = 0 if released else quiet + 1
        time.sleep(0.005)


def make_private_folder(path: str | os.PathLike[str]) -> None:
    os.makedirs(path, mode=FOLDER_MODE, exist_ok=True)
    os.chmod(path, FOLDER_MODE)


@dataclass(frozen=True)
class CachePaths:
    root: Path

    @classmethod
    def of(cls, root: PathLike) -> CachePaths:
        return cls(Path(root).expanduser().absolute())

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
    def aggregates(self) -> Path:
        """The summaries' aggregate store (see summarize/store.py)."""
        return self.root / "aggregates"

    @property
    def ip_database(self) -> Path:
        """The MaxMind-format file `update ip database` keeps (DB-IP City Lite)."""
        return self.root / "geo" / "dbip-city-lite.mmdb"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def stop(self) -> Path:
        return self.root / "STOP"

    def shard(self, *, batch_id: str, shard_format: str) -> Path:
        return self.shards / f"{batch_id}{SHARD_SUFFIXES[shard_format]}"

    def require(self) -> None:
        """Readers need an existing cache: a typo must not look like an empty one."""
        if not self.state.is_file():
            raise InputError(f"no cache at {self.root}")


def schema_version(connection: sqlite3.Connection) -> int:
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if version == 0 and connection.execute("SELECT count(*) FROM sqlite_master WHERE name = 'batches'").fetchone()[0]:
        return 1
    return version


def check_version(version: int, *, path: Path) -> None:
    if version > SCHEMA_VERSION:
        raise S3LogExtractionError(
            f"the cache {path.parent} was written by a newer s3logextraction (schema {version}, this one reads up to "
            f"{SCHEMA_VERSION}); upgrade s3logextraction"
        )


def migrate(connection: sqlite3.Connection, *, path: Path) -> None:
    """Brings the schema to SCHEMA_VERSION in one transaction (a fresh DB gets every table)."""
    version = schema_version(connection)
    check_version(version, path=path)
    if version == SCHEMA_VERSION:
        return
    with transaction(connection):
        if schema_version(connection) != version:
            return  # another writer migrated it first
        while version < SCHEMA_VERSION:
            script, version = MIGRATIONS[version]
            if callable(script):
                script(connection)
                continue
            for statement in split_statements(script):
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def split_statements(script: str) -> list[str]:
    """`executescript` would COMMIT first; statements run one by one stay inside the transaction."""
    return [statement.strip() for statement in script.split(";") if statement.strip()]


def create_database(path: Path) -> None:
    """A new state DB with every table, built under a temporary name and renamed into place, so a
    reader never sees a DB without its schema."""
    staged = path.with_name(f".{path.name}.{os.getpid()}.new")
    staged.unlink(missing_ok=True)
    os.close(create_private(staged))
    connection = sqlite3.connect(staged, isolation_level=None)
    try:
        migrate(connection, path=staged)
    finally:
        connection.close()
    os.rename(staged, path)


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection in WAL mode (readers such as `status` never block the writer)."""
    if read_only:
        # a URI: `#`, `?` and `%` in the path are percent-encoded, or SQLite would read another path
        location = f"file:{urllib.parse.quote(os.fspath(path))}?mode=ro"
        connection = sqlite3.connect(location, uri=True, timeout=30, isolation_level=None)
        check_version(schema_version(connection), path=path)
    else:
        if not path.exists():
            create_database(path)
        connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        migrate(connection, path=path)
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


@contextlib.contextmanager
def reader(paths: CachePaths) -> Iterator[sqlite3.Connection]:
    """A read-only connection to an existing, current cache (no lock, no write)."""
    paths.require()
    with storage_errors(what=paths.root):
        connection = connect(paths.state, read_only=True)
        if schema_version(connection) != SCHEMA_VERSION:
            connection.close()
            raise S3LogExtractionError(
                f"the cache {paths.root} uses an older format; run `s3logextraction extract` (or any update "
                "command) once to upgrade it"
            )
        try:
            yield connection
        finally:
            connection.close()


@contextlib.contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT; on any exception rolled back, if a transaction is still open
    (SQLite may already have rolled back itself, e.g. on a full disk)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
        raise


class FileLock(ctypes.Structure):
    """struct flock, for the open-file-description locks (F_OFD_SETLK / F_OFD_GETLK)."""

    _fields_ = [
        ("l_type", ctypes.c_short),
        ("l_whence", ctypes.c_short),
        ("l_start", ctypes.c_int64),
        ("l_len", ctypes.c_int64),
        ("l_pid", ctypes.c_int),
    ]


def whole_file(kind: int) -> bytes:
    return bytes(FileLock(kind, os.SEEK_SET, 0, 0, 0))


def lock_holder(paths: CachePaths) -> dict[str, Any]:
    """What the lock file says of its holder: pid, since (UTC) and command."""
    try:
        holder = json.loads(paths.lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"pid": None, "since": None, "command": None}
    return holder if isinstance(holder, dict) else {"pid": None, "since": None, "command": None}


def describe_holder(holder: dict[str, Any]) -> str:
    if holder.get("pid") is None:
        return "another process"
    return f"pid {holder.get('pid')} ({holder.get('command')}, since {holder.get('since')})"


def running_holder(paths: CachePaths) -> dict[str, Any] | None:
    """The lock holder when a run holds the lock now, else None (a dead holder's lock is free).
    F_OFD_GETLK only asks; it never takes the lock, so it cannot get in a writer's way."""
    try:
        descriptor = os.open(paths.lock, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        answer = FileLock.from_buffer_copy(fcntl.fcntl(descriptor, fcntl.F_OFD_GETLK, whole_file(fcntl.F_WRLCK)))
    finally:
        os.close(descriptor)
    if answer.l_type == fcntl.F_UNLCK:
        return None
    return lock_holder(paths)


class Cache:
    """An open cache directory.  Use `Cache.open_for_writing` as a context manager."""

    def __init__(self, root: PathLike) -> None:
        self.paths = CachePaths.of(root)
        self._lock_fd: int | None = None
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            with storage_errors(what=self.paths.root):
                self._db = connect(self.paths.state)
        return self._db

    @classmethod
    @contextlib.contextmanager
    def open_for_writing(cls, root: PathLike, *, command: str, create: bool = False) -> Iterator[Cache]:
        """The cache, locked.  Only commands that extract (`create`) may create a new cache; every
        other one needs an existing cache, so a typo in a path never produces an empty one."""
        cache = cls(root)
        if not create:
            cache.paths.require()
        cache.create()
        cache.acquire_lock(command=command)
        try:
            with storage_errors(what=cache.paths.root):
                cache.remove_uncommitted()
            yield cache
        finally:
            cache.close()

    def create(self) -> None:
        try:
            for folder in (self.paths.root, self.paths.shards, self.paths.staging):
                make_private_folder(folder)
        except (FileExistsError, NotADirectoryError):
            raise DiskError(f"cannot use {self.paths.root} as a cache: it is a file, not a folder") from None
        except OSError as error:
            raise disk_error(error, what=self.paths.root) from None

    def acquire_lock(self, *, command: str) -> None:
        try:
            descriptor = os.open(self.paths.lock, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as error:
            raise disk_error(error, what=self.paths.lock) from None
        try:
            fcntl.fcntl(descriptor, fcntl.F_OFD_SETLK, whole_file(fcntl.F_WRLCK))
        except OSError:
            os.close(descriptor)
            holder = describe_holder(lock_holder(self.paths))
            raise LockedError(
                f"the cache {self.paths.root} is in use by {holder}; try again when it has finished"
            ) from None
        try:
            os.fchmod(descriptor, FILE_MODE)
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, json.dumps({"pid": os.getpid(), "since": utc_now(), "command": command}).encode(), 0)
        except OSError as error:
            os.close(descriptor)
            raise disk_error(error, what=self.paths.lock) from None
        self._lock_fd = descriptor

    def close(self) -> None:
        """Releases the lock; work left in staging/ was never committed, so it goes first."""
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                self.clear_staging()
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
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
        release_readers(sorted((path for path in self.paths.staging.iterdir() if is_fifo(path)), key=fifo_order))
        for leftover in self.paths.staging.iterdir():
            if leftover.is_dir() and not leftover.is_symlink():
                for inner in sorted(leftover.rglob("*"), reverse=True):
                    inner.rmdir() if inner.is_dir() and not inner.is_symlink() else inner.unlink()
                leftover.rmdir()
            else:
                leftover.unlink(missing_ok=True)

    def setting(self, name: str) -> str | None:
        value = meta_value(self.db, name)
        return None if value is None else value.decode()
