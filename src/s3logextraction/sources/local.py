"""Log objects in a local folder, flat or in the date-partitioned AWS layout."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

# AWS names log objects YYYY-MM-DD-HH-MM-SS-UNIQUESTRING (the unique part is hex in practice).
LOG_OBJECT_NAME = re.compile(r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-Za-z]+(\.gz)?")


@dataclass(frozen=True)
class LogObject:
    """One raw log object.  `name` is relative to the source root (posix), so moving the folder
    or reading the same logs from another root never changes its identity (name, size)."""

    name: str
    size: int
    path: str  # a str, not a Path: building 100,000 Path objects costs more than listing them


def discover_local(root: Path) -> list[LogObject]:
    """Every log object under `root`, sorted by name (AWS names sort by time)."""
    if not root.exists():
        raise InputError(f"{root}: log folder does not exist")
    if not root.is_dir():
        raise InputError(f"{root}: not a folder")
    found: list[LogObject] = []
    pending = [(str(root), "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as error:
            raise InputError(f"{folder}: cannot list ({error.strerror})") from None
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                pending.append((entry.path, f"{prefix}{entry.name}/"))
            elif LOG_OBJECT_NAME.fullmatch(entry.name) and entry.is_file():
                found.append(LogObject(name=prefix + entry.name, size=entry.stat().st_size, path=entry.path))
    found.sort(key=lambda log_object: log_object.name)
    return found
