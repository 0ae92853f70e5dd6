"""`validate cache`: is the cache what its state DB says it is, and does it hold no raw IP?

Read-only and lock-free (a writer would delete orphans on start, hiding them): every committed
batch has its one shard file and no other file sits in `shards/`; each shard is readable and holds
as many rows as its batch recorded; every ip_id in a shard is in the IP index; lines per log object
add up to the batch's lines read; files are 0600 and folders 0700; and no raw IP of the index
appears in clear text in any file (shards and store tables are decoded first, everything else is
scanned as bytes).  Problems name files and batches, never an IP.

The quick check (`run` ends with it) reads no row: file names against the DB, modes, and the
Parquet footers (row count, ip_id range) of the batches committed since a given time.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..arrow import feather, pa, pc, pq
from ..cache import Cache, CachePaths, reader
from ..errors import storage_errors
from ..extract.committed import committed_objects, lines_by_batch
from ..ips.keys import existing_keys
from ..progress import progress_bar

PRIVATE_FILE, PRIVATE_FOLDER = 0o600, 0o700
IP_SHAPED = re.compile(
    rb"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9])|(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}"
)
IP_CHARACTERS = frozenset(bytes([byte]) for byte in b"0123456789abcdefABCDEF.:")
SCAN_CHUNK = 16 << 20
SHARE = "share"


@dataclass
class CacheCheck:
    root: Path
    quick: bool
    shards: int = 0
    files: int = 0
    ips: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # not problems: what was found and why it is fine

    @property
    def clean(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        what = "quick cache check" if self.quick else "cache check"
        scope = f"{self.shards} shards, {self.files} files"
        if not self.quick:
            scope += f", {self.ips} indexed IPs looked for in clear text"
        verdict = "clean" if self.clean else f"{len(self.problems)} problems"
        return f"{what} of {self.root}: {verdict} ({scope})"


@dataclass(frozen=True)
class Batch:
    batch_id: str
    shard_format: str
    lines_kept: int


def validate_cache(
    *, cache: Path, quick: bool = False, password: str | None = None, show_progress: bool | None = None
) -> CacheCheck:
    """Every check (reading every shard and decoding the IP index to look for raw IPs, which needs
    the key), or with `quick` only those that read no row."""
    paths = CachePaths.of(cache)
    with reader(paths) as db, storage_errors(what=paths.root):
        if quick:
            return quick_checks(paths, db, since="")
        keys = existing_keys(db, password=password, where=paths.root)
        check = CacheCheck(root=paths.root, quick=False)
        batches = committed(db)
        check.problems += shard_files(paths, batches) + line_counts(db)
        ids = pa.array([row[0] for row in db.execute("SELECT ip_id FROM ips")], pa.int64())
        raw = {keys.unseal(bytes(sealed)) for (sealed,) in db.execute("SELECT sealed FROM ips")}
        check.ips = len(raw)
        present = [batch for batch in batches if shard_file(paths, batch).exists()]
        in_keys: set[bytes] = set()
        with progress_bar(total=len(present), unit="shard", description="check shards", enabled=show_progress) as bar:
            for batch in present:
                check.problems += shard_rows(paths, batch, ids=ids, raw=raw, in_keys=in_keys)
                bar.update(1)
        check.shards = len(present)
        decoded_shards = {shard_file(paths, batch) for batch in present if batch.shard_format == "parquet"}
        for path, hits in raw_ips(paths.root, raw, done=decoded_shards).items():
            check.problems += clear_ips(path, hits=[hit for hit in hits if hit not in in_keys], root=paths.root)
            check.notes += object_data(path, hits=[hit for hit in hits if hit in in_keys], root=paths.root)
        check.notes += object_data(paths.shards, hits=sorted(in_keys), root=paths.root)
        modes, check.files = private_modes(paths.root)
        check.problems += modes
    return check


def quick_check(opened: Cache, *, since: str) -> CacheCheck:
    """The quick check in a cache the caller holds, as `run` does at its end (line counts and
    footers of the batches committed at or after `since` only)."""
    return quick_checks(opened.paths, opened.db, since=since)


def quick_checks(paths: CachePaths, db: sqlite3.Connection, *, since: str) -> CacheCheck:
    """Names against the DB, modes, and the lines and Parquet footers (row count, ip_id range) of
    the batches committed at or after `since`."""
    check = CacheCheck(root=paths.root, quick=True)
    batches = committed(db)
    check.problems += shard_files(paths, batches) + line_counts(db, since=since)
    recent = {row[0] for row in db.execute("SELECT batch_id FROM batches WHERE committed_at >= ?", (since,))}
    top = db.execute("SELECT max(ip_id) FROM ips").fetchone()[0] or 0
    for batch in batches:
        if batch.batch_id in recent and batch.shard_format == "parquet" and shard_file(paths, batch).exists():
            check.problems += footer(paths, batch, top=top)
    check.shards = len(batches)
    modes, check.files = private_modes(paths.root)
    check.problems += modes
    return check


def committed(db: sqlite3.Connection) -> list[Batch]:
    return [Batch(*row) for row in db.execute("SELECT batch_id, format, lines_kept FROM batches ORDER BY batch_id")]


def shard_file(paths: CachePaths, batch: Batch) -> Path:
    return paths.shard(batch_id=batch.batch_id, shard_format=batch.shard_format)


def shard_files(paths: CachePaths, batches: list[Batch]) -> list[str]:
    """Each committed batch has its shard; `shards/` holds nothing else."""
    expected = {shard_file(paths, batch).name: batch for batch in batches}
    present = {entry.name for entry in os.scandir(paths.shards)} if paths.shards.is_dir() else set()
    problems = [
        f"batch {batch.batch_id}: its shard shards/{name} is missing (run `reset extraction` and extract again)"
        for name, batch in sorted(expected.items())
        if name not in present
    ]
    problems += [
        f"orphan file shards/{name}: no committed batch names it (the next extract removes it)"
        for name in sorted(present - expected.keys())
    ]
    problems += [
        f"batch {batch.batch_id}: shards/{shard_file(paths, batch).name} holds raw IPs in clear text "
        "(a version 1 shard: run `update ip indexes`)"
        for batch in batches
        if batch.shard_format == "tsv" and shard_file(paths, batch).name in present
    ]
    return problems


def line_counts(db: sqlite3.Connection, *, since: str = "") -> list[str]:
    """A batch's lines read equal the lines of its log objects (for the batches committed at or
    after `since`: a night's check reads the night's log objects, not the archive's)."""
    batches = db.execute("SELECT batch_id, lines_read FROM batches WHERE committed_at >= ?", (since,)).fetchall()
    if not batches:
        return []
    first = min(batch for batch, _ in batches) if since else ""
    lines = lines_by_batch(committed_objects(db, batches_from=first))
    return [
        f"batch {batch}: {read} lines read, but its log objects hold {lines.get(batch, 0)}"
        for batch, read in sorted(batches)
        if read != lines.get(batch, 0)
    ]


def unreadable(name: str, error: Exception) -> str:
    return f"shards/{name} is unreadable ({type(error).__name__}): run `reset extraction` and extract again"


def footer(paths: CachePaths, batch: Batch, *, top: int) -> list[str]:
    """Row count and ip_id range from the Parquet footer alone."""
    path = shard_file(paths, batch)
    try:
        metadata = pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowException) as error:
        return [unreadable(path.name, error)]
    problems = []
    if metadata.num_rows != batch.lines_kept:
        problems.append(f"batch {batch.batch_id}: shard has {metadata.num_rows} rows, the DB says {batch.lines_kept}")
    column = metadata.schema.to_arrow_schema().get_field_index("ip_id")
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(column).statistics
        if stats is not None and stats.has_min_max and (stats.min < 1 or stats.max > top):
            problems.append(f"batch {batch.batch_id}: shard has ip_ids outside the IP index")
            break
    return problems


def shard_rows(paths: CachePaths, batch: Batch, *, ids: pa.Array, raw: set[bytes], in_keys: set[bytes]) -> list[str]:
    """The whole shard read (every page decoded): row count, ip_ids against the index, and no raw
    IP in its text columns but the object keys.  A key is object data, named by whoever stored
    the object, not a requester's address: the indexed IPs a key spells are added to `in_keys`,
    and their copies elsewhere (asset paths in the summaries, keys in the aggregate store) are
    notes, not problems."""
    path = shard_file(paths, batch)
    if batch.shard_format != "parquet":
        return []
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as error:
        return [unreadable(path.name, error)]
    problems = []
    if table.num_rows != batch.lines_kept:
        problems.append(f"batch {batch.batch_id}: shard has {table.num_rows} rows, the DB says {batch.lines_kept}")
    distinct = pc.unique(table["ip_id"])
    unknown = pc.sum(pc.invert(pc.is_in(distinct, value_set=ids))).as_py() or 0
    if unknown:
        problems.append(f"batch {batch.batch_id}: {unknown} ip_ids of its shard are not in the IP index")
    in_keys.update(token for token in text_tokens(table.select(["key"])) if token in raw)
    others = [name for name in table.column_names if name != "key"]
    problems += clear_ips(
        path, hits=[token for token in text_tokens(table.select(others)) if token in raw], root=paths.root
    )
    return problems


def clear_ips(path: Path, *, hits: Sequence[bytes], root: Path) -> list[str]:
    return [f"{shown(path, root=root)} holds {len(hits)} raw IPs in clear text"] if hits else []


def object_data(path: Path, *, hits: Sequence[bytes], root: Path) -> list[str]:
    return (
        [f"{shown(path, root=root)} holds {len(hits)} IP-shaped values in object keys (object data, not requesters)"]
        if hits
        else []
    )


def shown(path: Path, *, root: Path) -> str:
    """`path` relative to the cache, a file of the published set named through `summaries/` (the
    path readers use) rather than its generation folder."""
    relative = path.relative_to(root)
    link = CachePaths(root).summaries
    if len(relative.parts) > 2 and link.is_symlink() and relative.parts[:2] == Path(os.readlink(link)).parts:
        return Path("summaries", *relative.parts[2:]).as_posix()
    return relative.as_posix()


def walk(root: Path, *, top: bool = True) -> Iterator[os.DirEntry[str]]:
    """Every entry under `root`, symlinks not followed, except inside `share/` (0700 itself): its
    clones are git working trees of the published, public files, with git's own modes and
    compressed objects."""
    with os.scandir(root) as entries:
        for entry in entries:
            yield entry
            if entry.is_dir(follow_symlinks=False) and not (top and entry.name == SHARE):
                yield from walk(Path(entry.path), top=False)


def private_modes(root: Path) -> tuple[list[str], int]:
    """Files 0600 and folders 0700 (or stricter): nothing in the cache is readable by others."""
    problems, files = [], 0
    for entry in walk(root):
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            continue
        folder = stat.S_ISDIR(mode)
        files += not folder
        expected = PRIVATE_FOLDER if folder else PRIVATE_FILE
        if stat.S_IMODE(mode) & ~expected:
            kind = "folder" if folder else "file"
            relative = shown(Path(entry.path), root=root)
            problems.append(
                f"{kind} {relative} has mode {stat.S_IMODE(mode):04o} (expected {expected:04o} or stricter)"
            )
    return problems, files


def raw_ips(root: Path, raw: set[bytes], *, done: set[Path]) -> dict[Path, list[bytes]]:
    """Files (other than the shards in `done`, already checked) holding an indexed IP in clear
    text, with each occurrence."""
    found: dict[Path, list[bytes]] = {}
    if not raw:
        return found
    for entry in walk(root):
        path = Path(entry.path)
        if entry.is_file(follow_symlinks=False) and path not in done:
            table = decoded(path)
            tokens = text_tokens(table) if table is not None else byte_tokens(path)
            hits = [token for token in tokens if token in raw]
            if hits:
                found[path] = hits
    return found


def text_tokens(table: pa.Table) -> Iterator[bytes]:
    """IP-shaped tokens in the text columns of a table (Parquet and Arrow pages are compressed:
    only decoded values can show an IP)."""
    for column in table.itercolumns():
        values = column.combine_chunks()
        if pa.types.is_dictionary(values.type):
            values = values.dictionary
        if pa.types.is_string(values.type) or pa.types.is_binary(values.type):
            for value in values.to_pylist():
                if value is not None:
                    yield from IP_SHAPED.findall(value.encode() if isinstance(value, str) else value)


def byte_tokens(path: Path) -> Iterator[bytes]:
    """IP-shaped tokens in a file's bytes, read in chunks; a chunk is cut only outside a run of
    IP characters, so no token is split (or read as a shorter IP)."""
    with path.open("rb") as handle:
        tail = b""
        while chunk := handle.read(SCAN_CHUNK):
            data = tail + chunk
            cut = len(data)
            if len(chunk) == SCAN_CHUNK:
                while cut > 0 and data[cut - 1 : cut] in IP_CHARACTERS:
                    cut -= 1
            yield from IP_SHAPED.findall(data[:cut])
            tail = data[cut:]
        yield from IP_SHAPED.findall(tail)


def decoded(path: Path) -> pa.Table | None:
    """A Parquet or Arrow IPC file's table, None for any other file."""
    try:
        if path.suffix == ".parquet":
            return pq.read_table(path)
        if path.suffix == ".arrow":
            return feather.read_table(path)
    except (OSError, pa.ArrowException):
        return None
    return None
