"""What every source of log objects provides: a sorted listing and a way to read each object.

Identity is the object's name relative to the source root, in the escaped-bytes text form of
`s3logextraction.text` (AWS names are unique), so the same objects reached from another folder,
or later from S3, are never counted twice.  Gzip is recognised by its magic bytes, never by a
suffix (AWS log object names have none).
"""

from __future__ import annotations

import itertools
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

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


@dataclass(frozen=True)
class Folder:
    """A folder a listing read: its change time when it was read, and whether it held regular,
    non-hidden files only (no subfolder, nothing passed over), as a folder must to be sealed."""

    ctime_ns: int
    files_only: bool


@dataclass
class Listing:
    """The log objects of a source, sorted by name, and what was passed over, by reason; for a
    local folder also the folders read (by escaped relative name, "" for the root, "2024/01/02/"
    below it), the objects of the sealed folders not read, and when the listing started."""

    objects: list[LogObject] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    folders: dict[str, Folder] = field(default_factory=dict)
    sealed_objects: int = 0
    started_ns: int = 0


class LogSource(Protocol):
    """A folder of log objects, local or remote.  `settle_days` is how many of the newest UTC
    days wait for a later run unless the caller says otherwise (AWS delivers logs late);
    `appear_whole` says an object is never seen half-written (S3), so no settle time applies;
    `read_ahead` is how many objects to fetch ahead of the one gawk reads (0: none)."""

    settle_days: int
    appear_whole: bool
    read_ahead: int

    def describe(self) -> str: ...

    def list(self, *, sealed: Mapping[str, Seal] | None = None) -> Listing:
        """Every log object, except those of `sealed` folders that did not change since (a local
        folder's; other sources list everything)."""
        ...

    def open(self, log_object: LogObject) -> BinaryIO:
        """The object's bytes as stored (compressed or not)."""
        ...

    def local_path(self, log_object: LogObject) -> str | None:
        """A path gawk can read directly (a plain local file), or None when the bytes must be
        streamed to it (gzip, remote); raises OSError when the object cannot be read at all."""
        ...


def decompressed(stream: BinaryIO) -> Iterator[bytes]:
    """The plain bytes of a log object: gunzipped (every member) when it starts with the gzip
    magic.  A truncated or corrupt gzip object raises EOFError or zlib.error."""
    first = stream.read(CHUNK)
    chunks = itertools.chain([first], iter(lambda: stream.read(CHUNK), b""))
    if not first.startswith(GZIP_MAGIC):
        yield from chunks
        return
    member = zlib.decompressobj(GZIP_WBITS)
    fed = False
    for chunk in chunks:
        while chunk:
            yield member.decompress(chunk)
            fed = True
            if not member.eof:
                break
            chunk = member.unused_data
            member = zlib.decompressobj(GZIP_WBITS)
            fed = False
    if fed:
        raise EOFError("compressed file ended before the end-of-stream marker was reached")
