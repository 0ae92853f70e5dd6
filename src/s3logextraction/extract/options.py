"""What one extraction is told, as one typed object built once (from the settings and flags by
the CLI, or by a library caller) and passed down: nothing below re-reads or re-checks it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ..errors import UsageError
from ..operations import DEFAULT_OPERATIONS, ExtractMode, check_operations

DEFAULT_SETTLE_SECONDS = 600.0
DEFAULT_BATCH_BYTES = 64 * 1024 * 1024
DEFAULT_BATCH_FILES = 2000


class ExecutorName(StrEnum):
    """Where batches are parsed (extract/executors.py)."""

    local = "local"
    dask = "dask"


@dataclass(frozen=True, kw_only=True)
class ExtractOptions:
    """`workers` gawk processes at a time; at most `limit` new log objects; batches of up to
    `batch_bytes` and `batch_files`; the kept `operations`; objects modified in the last
    `settle_seconds` (in a folder), or on the newest `settle_days` UTC days (None: the source's),
    wait for a later run; `retry_failed` retries objects that failed and did not change; `mode`
    keeps every key (generic) or DANDI's assets; `executor` parses here or on the Dask cluster at
    `scheduler`; `password` seals the IP index (None: the key file); `full_listing` lists every
    object of an S3 source, not only the days after those committed (extract/resume.py)."""

    workers: int = 1
    limit: int | None = None
    batch_bytes: int = DEFAULT_BATCH_BYTES
    batch_files: int = DEFAULT_BATCH_FILES
    operations: tuple[str, ...] = field(default=DEFAULT_OPERATIONS)
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    settle_days: int | None = None
    retry_failed: bool = False
    mode: ExtractMode = ExtractMode.generic
    executor: ExecutorName = ExecutorName.local
    scheduler: str | None = None
    password: str | None = field(default=None, repr=False)
    full_listing: bool = False

    def __post_init__(self) -> None:
        """The library's one check of what a Python caller passes (the CLI's values were checked
        by the settings model already); text forms become their types."""
        if self.workers < 1:
            raise UsageError(f"workers must be at least 1 (got {self.workers})")
        if self.limit is not None and self.limit < 0:
            raise UsageError(f"limit must be 0 or more (got {self.limit})")
        if self.batch_bytes < 1 or self.batch_files < 1:
            raise UsageError("the batch size must be positive")
        object.__setattr__(self, "operations", check_operations(self.operations))
        object.__setattr__(self, "mode", ExtractMode(self.mode))
        object.__setattr__(self, "executor", ExecutorName(self.executor))
