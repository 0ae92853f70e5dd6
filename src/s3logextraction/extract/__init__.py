"""Extraction: batch planning, the gawk runner, the commit journal and graceful stop."""

from .engine import ExtractReport, extract
from .journal import reset_extraction
from .stop import StopOutcome, stop

__all__ = ["ExtractReport", "StopOutcome", "extract", "reset_extraction", "stop"]
