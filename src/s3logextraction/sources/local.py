"""Log objects in a local folder, flat or in the date-partitioned AWS layout.

Every regular, non-hidden file under the root is a log object: AWS names need no extension and
operators rename things, so nothing is skipped for its name.  Symlinked folders are followed
once (a loop is detected and reported).  Names are bytes end to end: a name with a tab, a newline
or invalid UTF-8 becomes escaped text for its identity and is read by its exact bytes.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError
from ..text import escape_bytes, escape_text
from .base import (
    SNIFF_BYTES,
    BrokenObject,
    Chunk,
    Folder,
    Listing,
    LogObject,
    Seal,
    Start,
    compression_of,
    not_a_log,
)


class LocalFolder:
    """A folder of log objects on a local (or mounted) file system."""

    settle_days = 0  # a local copy is made of what was delivered; only `settle_seconds` applies
    appear_whole = False  # a file may still be being written or copied
    read_ahead = 0  # the page cache and the disk's own read-ahead do it

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().absolute()

    def describe(self) -> str:
        return escape_text(str(self.root))

    def list(self, *, sealed: Mapping[str, Seal] | None = None, starts: Sequence[Start] = ()) -> Listing:
        """Every log object under the root, folder by folder in name order (a folder's files,
        sorted, then its subfolders; AWS names sort by time), except in the `sealed` folders whose
        change time is still the one they were sealed with: a night reads the folders that
        changed, not the archive's years of day folders.  `starts` do not apply: a seal does that
        job here."""
        top = self.root_stat()
        return Listing(lambda listing: self.walk(top, seals=sealed or {}, listing=listing), started_ns=time.time_ns())

    def root_stat(self) -> os.stat_result:
        try:
            top = os.stat(self.root)
        except FileNotFoundError:
            raise InputError(f"{self.describe()}: log folder does not exist") from None
        except OSError as error:
            raise InputError(f"{self.describe()}: log folder cannot be read ({error.strerror})") from None
        if not stat.S_ISDIR(top.st_mode):
            raise InputError(f"{self.describe()}: not a folder")
        return top

    def walk(self, top: os.stat_result, *, seals: Mapping[str, Seal], listing: Listing) -> Iterator[Chunk]:
        visited = {(top.st_dev, top.st_ino)}
        pending = [(os.fsencode(self.root), b"", top.st_ctime_ns)]
        while pending:
            folder, prefix, ctime_ns = pending.pop()
            name = escape_bytes(prefix)
            seal = seals.get(name)
            if seal is not None and seal.ctime_ns == ctime_ns:
                listing.sealed_objects += seal.objects
                continue
            try:
                entries = list(os.scandir(folder))
            except OSError:
                listing.skipped["unreadable folder"] += 1
                continue
            objects: list[LogObject] = []
            subfolders: list[tuple[bytes, bytes, int]] = []
            skipped_before = listing.skipped.total()
            for entry in entries:
                add_entry(
                    entry, prefix=prefix, objects=objects, subfolders=subfolders, listing=listing, visited=visited
                )
            files_only = not subfolders and listing.skipped.total() == skipped_before
            listing.folders[name] = Folder(ctime_ns=ctime_ns, files_only=files_only)
            objects.sort(key=lambda log_object: log_object.name)
            pending += sorted(subfolders, key=lambda item: escape_bytes(item[1]), reverse=True)
            if objects:
                yield Chunk(folder=name, objects=objects, ctime_ns=ctime_ns, files_only=files_only)

    def survey(self, *, sealed: Mapping[str, Seal] | None = None) -> int | None:
        """The entries that are not folders in the folders a listing will read: read from the
        folders alone (no stat of each file), so it is done long before the listing."""
        seals = sealed or {}
        count = 0
        pending = [(os.fsencode(self.root), b"")]
        seen: set[tuple[int, int]] = set()
        while pending:
            folder, prefix = pending.pop()
            try:
                info = os.stat(folder)
                if (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
                seal = seals.get(escape_bytes(prefix))
                if seal is not None and seal.ctime_ns == info.st_ctime_ns:
                    continue
                with os.scandir(folder) as entries:
                    for entry in entries:
                        if entry.name.startswith(b"."):
                            continue
                        if entry.is_dir():
                            pending.append((entry.path, prefix + entry.name + b"/"))
                        else:
                            count += 1
            except OSError:
                continue
        return count

    def open(self, log_object: LogObject) -> BinaryIO:
        return open(log_object.location, "rb")

    def local_path(self, log_object: LogObject) -> str | None:
        """The path itself, unless the object is compressed (it is then streamed, decompressed,
        to gawk); BrokenObject when it is not a text log.  A bare os.open/os.read: for 100,000
        small objects the opens are the cost."""
        descriptor = os.open(log_object.location, os.O_RDONLY)
        try:
            head = os.read(descriptor, SNIFF_BYTES)
        finally:
            os.close(descriptor)
        if compression_of(head) is not None:
            return None
        if (reason := not_a_log(head)) is not None:
            raise BrokenObject(reason)
        return log_object.location

    def unchanged(self, log_object: LogObject) -> bool:
        try:
            info = os.stat(log_object.location)
        except OSError:
            return False
        return info.st_size == log_object.size and info.st_mtime_ns == log_object.mtime_ns


def add_entry(
    entry: os.DirEntry[bytes],
    *,
    prefix: bytes,
    objects: list[LogObject],
    subfolders: list[tuple[bytes, bytes, int]],
    listing: Listing,
    visited: set[tuple[int, int]],
) -> None:
    if entry.name.startswith(b"."):
        listing.skipped["hidden"] += 1
        return
    try:
        info = entry.stat()  # follows a symlink
    except OSError:
        listing.skipped["broken link"] += 1
        return
    if stat.S_ISDIR(info.st_mode):
        identity = (info.st_dev, info.st_ino)
        if identity in visited:
            listing.skipped["folder seen twice (symlink loop)"] += 1
            return
        visited.add(identity)
        subfolders.append((entry.path, prefix + entry.name + b"/", info.st_ctime_ns))
    elif stat.S_ISREG(info.st_mode):
        objects.append(
            LogObject(
                name=escape_bytes(prefix + entry.name),
                size=info.st_size,
                mtime_ns=info.st_mtime_ns,
                location=os.fsdecode(entry.path),
            )
        )
    else:
        listing.skipped["not a regular file"] += 1
