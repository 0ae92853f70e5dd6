"""Where log objects come from: a `LogSource` lists `LogObject`s and reads them."""

from pathlib import Path

from .base import GZIP_MAGIC, Listing, LogObject, LogSource, decompressed
from .local import LocalFolder


def open_source(location: Path | str) -> LogSource:
    """The source behind a command-line location (a local folder today)."""
    return LocalFolder(Path(location))


__all__ = ["GZIP_MAGIC", "Listing", "LocalFolder", "LogObject", "LogSource", "decompressed", "open_source"]
