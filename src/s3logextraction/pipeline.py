"""`run`: every stage that exists, in order, each doing only new work (the nightly CRON command)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import S3LogExtractionError
from .extract import ExtractReport, extract
from .summarize import EVERYTHING, SummaryReport, publish
from .summarize.privacy import Privacy


@dataclass
class RunReport:
    extract: ExtractReport
    summaries: SummaryReport


def run(
    log_dir: Path, *, cache: Path, privacy: Privacy | None = None, level: int = 1, **extract_options: Any
) -> RunReport:
    """extract (with indexing), then summaries, totals, archive summaries and archive totals from
    one pass over the shards.

    Stops at the first failing stage: its error propagates with its exit code.
    """
    with stage("extract"):
        extracted = extract(log_dir, cache=cache, **extract_options)
    with stage("summaries"):
        published = publish(cache=cache, outputs=EVERYTHING, level=level, privacy=privacy)
    return RunReport(extract=extracted, summaries=published)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Names the failing stage in its one-line error; the exit code stays the stage's own."""
    try:
        yield
    except S3LogExtractionError as error:
        raise type(error)(f"{name}: {error}", exit_code=error.exit_code) from None
