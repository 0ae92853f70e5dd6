"""Where log objects come from: a `LogSource` lists `LogObject`s and reads them (base.py; local.py,
s3.py and inventory.py are the sources, fifo.py streams their bytes to gawk)."""

from .base import GZIP_MAGIC, Chunk, Listing, LogObject, LogSource, Seal, Start, decompressed, name_group
from .local import LocalFolder
from .location import open_source

__all__ = [
    "GZIP_MAGIC",
    "Chunk",
    "Listing",
    "LocalFolder",
    "LogObject",
    "LogSource",
    "Seal",
    "Start",
    "decompressed",
    "name_group",
    "open_source",
]
