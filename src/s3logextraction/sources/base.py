"""What every source of log objects provides: a sorted listing and a way to read each object.

Identity is the object's name relative to the source root, in the escaped-bytes text form of
`s3logextraction.text` (AWS names are unique), so the same objects reached from another folder,
or later from S3, are never counted twice.  Gzip is recognised by its magic bytes, never by a
suffix (AWS log object names have none); so are bzip2, xz and zstd, which operators recompress
archives with.
"""

from __future__ import annotations

import bz2
import itertools
import lzma
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol, cast

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20
GZIP_WBITS = 16 + zlib.MAX_WBITS


@dataclass(frozen=True)
class LogObject:
    """One raw log object: identity `name`, its size and modification time, and `location`
    (where its source reads it: a file path for a local folder)."""

    name: str
    size: int
    mtime_ns: int
    location: str  # a str, not a Path: building 100,000 Path objects costs more than listing them


@dataclass(frozen=True)
class Seal:
    """A folder of a local source whose every entry was a committed log object: while its inode
    change time (which any entry added, removed or renamed moves) stays `ctime_ns`, a listing
    does not read it again, and counts its `objects`."""

    ctime_ns: int
    objects: int


DAY_AT_START = re.compile(r"\d{4}-\d{2}-\d{2}")


def name_group(name: str) -> str:
    """The group of a log object's name: its folder, and in it the day its name starts with
    (AWS names start with their delivery time): the unit a listing hands on and the state DB
    keeps committed objects in.  A date-partitioned layout has one group per day folder, a flat
    one a group per day."""
    cut = name.rfind("/") + 1
    day = DAY_AT_START.match(name, cut)
    return name[: day.end()] if day else name[:cut]


@dataclass(frozen=True)
class Start:
    """Where a listing of the names under `prefix` (relative, "" for all) can start: after
    `after`, which sorts before every name that can still be new (S3 lists keys in order)."""

    prefix: str
    after: str


@dataclass
class Chunk:
    """The log objects of one folder (or of one day of a flat folder), sorted by name: what a
    listing hands on at a time.  For a local folder also its change time when it was read, and
    whether it held regular, non-hidden files only (no subfolder, nothing passed over), as a
    folder must to be sealed; an S3 prefix has neither (`ctime_ns` None)."""

    folder: str
    objects: list[LogObject]
    ctime_ns: int | None = None
    files_only: bool = False


class Listing:
    """The log objects of a source, chunk by chunk in name order, as the source lists them: a
    backfill of millions of objects holds one chunk at a time, and its first batch starts once
    the first chunk is listed.  The first chunk is read when the listing is made, so a wrong
    source fails before anything else happens.  Iterated once; what was passed over (by
    reason), the folders read (by escaped relative name, "" for the root) and the objects of
    the sealed folders not read add up as it goes, and `finished` says it went to the end."""

    def __init__(self, chunks: Callable[[Listing], Iterator[Chunk]], *, started_ns: int) -> None:
        self.skipped: Counter[str] = Counter()
        self.folders: dict[str, Folder] = {}
        self.sealed_objects = 0
        self.started_ns = started_ns
        self.listed_objects = 0
        self.listed_bytes = 0
        self.finished = False
        self._chunks = chunks(self)  # the source's walk, which adds to what this listing counts
        self._first = next(self._chunks, None)

    def __iter__(self) -> Iterator[Chunk]:
        first, self._first = self._first, None
        for chunk in itertools.chain([] if first is None else [first], self._chunks):
            self.listed_objects += len(chunk.objects)
            self.listed_bytes += sum(log_object.size for log_object in chunk.objects)
            yield chunk
        self.finished = True

    def objects(self) -> list[LogObject]:
        """Every log object at once (for a sample or a test, not for a backfill)."""
        return [log_object for chunk in self for log_object in chunk.objects]


@dataclass(frozen=True)
class Folder:
    """A folder a listing read: its change time when it was read, and whether it held regular,
    non-hidden files only."""

    ctime_ns: int
    files_only: bool


class LogSource(Protocol):
    """A folder of log objects, local or remote.  `settle_days` is how many of the newest UTC
    days wait for a later run unless the caller says otherwise (AWS delivers logs late);
    `appear_whole` says an object is never seen half-written (S3), so no settle time applies;
    `read_ahead` is how many objects to fetch ahead of the one gawk reads (0: none)."""

    settle_days: int
    appear_whole: bool
    read_ahead: int

    def describe(self) -> str: ...

    def list(self, *, sealed: Mapping[str, Seal] | None = None, starts: Sequence[Start] = ()) -> Listing:
        """Every log object, except those of `sealed` folders that did not change since (a local
        folder's) and, under the prefix of each of `starts`, those named up to its `after` (an S3
        night's; a local folder lists everything it does not skip as sealed)."""
        ...

    def survey(self, *, sealed: Mapping[str, Seal] | None = None) -> int | None:
        """How many objects `list` will hand on, counted without reading their details (a local
        folder's entries); None when only the listing itself can tell (S3)."""
        ...

    def open(self, log_object: LogObject) -> BinaryIO:
        """The object's bytes as stored (compressed or not)."""
        ...

    def local_path(self, log_object: LogObject) -> str | None:
        """A path gawk can read directly (a plain local file), or None when the bytes must be
        streamed to it (gzip, remote); raises OSError when the object cannot be read at all."""
        ...

    def unchanged(self, log_object: LogObject) -> bool:
        """Whether the object still has the size and modification time it was listed with (asked
        once gawk has read it: a file that grew meanwhile was read with more than was listed)."""
        ...


class BrokenObject(ValueError):
    """A log object whose bytes are not a text log: a corrupt or truncated compressed stream, or
    a binary object (an unknown compression, a stray tarball).  It fails alone, is listed in
    `status`, and is never committed as rejected lines."""


def compression_of(head: bytes) -> str | None:
    """The compression a log object's first bytes announce (by magic bytes, never by suffix)."""
    for name, (magic, _) in COMPRESSIONS.items():
        if head.startswith(magic) and (name != "bzip2" or head[3:4].isdigit()):
            return name
    return None


def not_a_log(head: bytes) -> str | None:
    """Why plain bytes starting with `head` are not a text log (None when they may be one): the
    magic of a format this tool does not read, or more control bytes than text has.  A log line
    holding a NUL byte is still a log: one bad line is a rejected line, not a failed object."""
    for name, magic, offset in FOREIGN_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return f"binary object ({name}), not a text log"
    sample = head[:SNIFF_BYTES]
    controls = sum(1 for byte in sample if byte in CONTROL_BYTES)
    if sample and controls * 10 > len(sample):
        return "binary object, not a text log"
    return None


def decompressed(stream: BinaryIO) -> Iterator[bytes]:
    """The plain bytes of a log object: decompressed (every member or frame, one after the other)
    when it starts with the magic of gzip, bzip2, xz or zstd.  Raises BrokenObject when the stream
    is corrupt or truncated, or when the plain bytes are not a text log."""
    first = stream.read(CHUNK)
    chunks = itertools.chain([first], iter(lambda: stream.read(CHUNK), b""))
    kind = compression_of(first)
    plain = chunks if kind is None else members(chunks, kind=kind)
    checked = False
    for piece in plain:
        if not checked and piece:
            checked = True
            if (reason := not_a_log(piece)) is not None:
                raise BrokenObject(reason)
        yield piece


def members(chunks: Iterator[bytes], *, kind: str) -> Iterator[bytes]:
    """The decompressed bytes of consecutive `kind` streams (gzip members, bzip2 and xz streams,
    zstd frames, as parallel compressors and `cat` of compressed files make them)."""
    start = COMPRESSIONS[kind][1]
    member = start()
    fed = False
    try:
        for chunk in chunks:
            while chunk:
                yield member.decompress(chunk)
                fed = True
                if not member.eof:
                    break
                chunk = member.unused_data
                member = start()
                fed = False
    except BrokenObject:
        raise
    except Exception as error:  # each library has its own error class (zlib.error, OSError, LZMAError, ZstdError)
        raise BrokenObject(f"corrupt {kind} object ({error})") from None
    if fed:
        raise BrokenObject(f"truncated {kind} object")


def zstd_stream() -> Decompressor:
    import zstandard  # a dependency, imported when a zstd object is met

    return cast(Decompressor, zstandard.ZstdDecompressor().decompressobj())


class Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes) -> bytes: ...


COMPRESSIONS: dict[str, tuple[bytes, Callable[[], Decompressor]]] = {
    "gzip": (GZIP_MAGIC, lambda: zlib.decompressobj(GZIP_WBITS)),
    "bzip2": (b"BZh", bz2.BZ2Decompressor),
    "xz": (b"\xfd7zXZ\x00", lzma.LZMADecompressor),
    "zstd": (b"\x28\xb5\x2f\xfd", zstd_stream),
}
# Formats a log object could be by mistake, with their magic bytes and where they stand.
FOREIGN_MAGIC = (
    ("zip", b"PK\x03\x04", 0),
    ("7-Zip", b"7z\xbc\xaf\x27\x1c", 0),
    ("lz4", b"\x04\x22\x4d\x18", 0),
    ("lzip", b"LZIP", 0),
    ("compress", b"\x1f\x9d", 0),
    ("Parquet", b"PAR1", 0),
    ("tar", b"ustar", 257),
)
SNIFF_BYTES = 4096
CONTROL_BYTES = frozenset([*range(0, 9), 11, 12, *range(14, 32), 127])
