"""The source behind a command-line location."""

import os
from pathlib import Path

from ..errors import UsageError
from .base import LogSource
from .local import LocalFolder


def open_source(
    location: str | os.PathLike[str], *, endpoint_url: str | None = None, inventory: Path | None = None
) -> LogSource:
    """`s3://BUCKET/PREFIX` (listed live, or from a local copy of its S3 Inventory) or a local
    folder."""
    if isinstance(location, str) and location.startswith("s3://"):
        from .s3 import S3Bucket  # boto3 is loaded only for an S3 source

        return S3Bucket(location, endpoint_url=endpoint_url, inventory=inventory)
    if endpoint_url is not None or inventory is not None:
        raise UsageError("--endpoint-url and --inventory apply to an s3:// source only")
    return LocalFolder(Path(location))
