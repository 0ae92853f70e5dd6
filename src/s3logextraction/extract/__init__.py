"""Extraction: batch planning, the gawk runner, the commit journal and graceful stop."""

from .engine import ExtractReport, as_source, extract, extract_into
from .journal import reset_extraction
from .options import ExecutorName, ExtractOptions
from .resume import listing_for
from .stop import StopOutcome, StopRequest, stop

__all__ = [
    "ExecutorName",
    "ExtractOptions",
    "ExtractReport",
    "StopOutcome",
    "StopRequest",
    "as_source",
    "extract",
    "extract_into",
    "listing_for",
    "reset_extraction",
    "stop",
]
