"""`run`: every stage that exists, in order, each doing only new work (the nightly CRON command).

The cache is locked once for all stages, so no other writer slips in between them and a `stop`
always finds the run: a stop request drains the extraction and ends the run before its next
stage.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cache import Cache
from .datasets import check_level
from .errors import S3LogExtractionError
from .extract import ExtractReport, StopRequest, as_source, extract_into
from .sources import LogSource
from .summarize import EVERYTHING, SummaryReport, publish_into
from .summarize.privacy import Privacy


@dataclass
class RunReport:
    extract: ExtractReport
    summaries: SummaryReport | None
    stopped_before: str | None = None


def run(
    source: Path | str | LogSource,
    *,
    cache: Path,
    privacy: Privacy | None = None,
    level: int = 1,
    stop: threading.Event | None = None,
    **extract_options: Any,
) -> RunReport:
    """extract (with indexing), then summaries, totals, archive summaries and archive totals from
    one pass over the shards.

    Stops at the first failing stage: its error propagates with its exit code and names the stage.
    """
    check_level(level)
    rules = privacy or Privacy()
    with stage("extract"):
        logs = as_source(source)
        listing = logs.list()
    with Cache.open_for_writing(cache, command="run", create=True) as opened:
        request = StopRequest(opened.paths, event=stop)
        with stage("extract"):
            extracted = extract_into(opened, source=logs, listing=listing, stop=request, **extract_options)
        if request.requested():
            request.acknowledge()
            return RunReport(extract=extracted, summaries=None, stopped_before="summaries")
        with stage("summaries"):
            published = publish_into(opened, outputs=EVERYTHING, level=level, privacy=rules)
        return RunReport(extract=extracted, summaries=published)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Names the failing stage in its one-line error; the error keeps its class (and exit code)."""
    try:
        yield
    except S3LogExtractionError as error:
        error.args = (f"{name}: {error}",)
        raise
