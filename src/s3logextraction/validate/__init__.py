"""Checks before and after extraction: `validate logs` (the parser contract over real log
objects) and `validate cache` (the cache against its state DB, with no raw IP in it)."""

from __future__ import annotations

from .cache import CacheCheck, quick_check, validate_cache
from .logs import LogCheck, validate_logs

__all__ = ["CacheCheck", "LogCheck", "quick_check", "validate_cache", "validate_logs"]
