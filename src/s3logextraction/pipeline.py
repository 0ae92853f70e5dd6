"""`run`: every stage that exists, in order, each doing only new work (the nightly CRON command).

The cache is locked once for all stages, so no other writer slips in between them and a `stop`
always finds the run: a stop request drains the extraction and ends the run before its next
stage.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from .cache import Cache, PathLike, utc_now
from .errors import PartialError, S3LogExtractionError
from .extract import ExtractOptions, ExtractReport, StopRequest, as_source, extract_into, listing_for
from .geolocate import Geolocation, coordinates_into, regions_into
from .ips.coordinates import CoordinatesReport
from .ips.regions import RegionsReport
from .report import ReportResult, report_available, report_into
from .share import ShareReport, ShareTarget, share_into
from .sources import LogSource
from .summarize import Mode, PublishOptions, SummaryReport, everything, publish_into
from .validate import CacheCheck, quick_check

T = TypeVar("T")


@dataclass
class RunReport:
    extract: ExtractReport
    summaries: SummaryReport | None
    stopped_before: str | None = None
    regions: RegionsReport | None = None
    coordinates: CoordinatesReport | None = None
    shared: ShareReport | None = None
    report: ReportResult | None = None
    cache_check: CacheCheck | None = None
    partial: list[str] = field(default_factory=list)


def run(
    source: PathLike | LogSource,
    *,
    cache: PathLike,
    extraction: ExtractOptions | None = None,
    publishing: PublishOptions | None = None,
    geolocation: Geolocation | None = None,
    share: ShareTarget | None = None,
    stop: threading.Event | None = None,
) -> RunReport:
    """extract (with indexing), then summaries, totals, archive summaries and archive totals from
    one pass over the shards, then the report (with the `[report]` extra), the share, and the
    quick cache check (`validate cache --quick`, footers of this run's shards only).

    Stops at the first failing stage: its error propagates with its exit code and names the stage.
    The publish is in the extraction's mode (generic datasets, or DANDI's dandisets).
    """
    extracting = extraction or ExtractOptions()
    with stage("extract"):
        logs = as_source(source)
        listing = listing_for(logs, cache=cache, options=extracting)
    with Cache.open_for_writing(cache, command="run", create=True) as opened:
        started = utc_now()
        request = StopRequest(opened.paths, event=stop)
        with stage("extract"):
            extracted = extract_into(opened, source=logs, listing=listing, stop=request, options=extracting)
        report = RunReport(extract=extracted, summaries=None)
        places = geolocation or Geolocation()
        password = extracting.password
        if stopped(request, report, before="ip regions"):
            return report
        report.regions = kept_when_partial(
            "ip regions", lambda: regions_into(opened, geolocation=places, password=password), report=report
        )
        if stopped(request, report, before="ip coordinates"):
            return report
        report.coordinates = kept_when_partial(
            "ip coordinates", lambda: coordinates_into(opened, geolocation=places), report=report
        )
        if stopped(request, report, before="summaries"):
            return report
        with stage("summaries"):
            report.summaries = publish_into(opened, outputs=everything(Mode(extracting.mode.value)), options=publishing)
        if report_available():  # the [report] extra
            with stage("report"):
                report.report = report_into(opened)
        if share is not None:
            report.shared = kept_when_partial("share", lambda: share_into(opened, target=share), report=report)
        with stage("cache check"):
            report.cache_check = quick_check(opened, since=started)
        return report


def stopped(request: StopRequest, report: RunReport, *, before: str) -> bool:
    """A stop request ends the run before the stage `before` (the request is then done)."""
    if not request.requested():
        return False
    request.acknowledge()
    report.stopped_before = before
    return True


def kept_when_partial(name: str, action: Callable[[], T], *, report: RunReport) -> T | None:
    """Runs a stage that talks to a service (geolocation, the git remote); a service that stopped
    is noted and the night goes on."""
    with stage(name):
        try:
            return action()
        except PartialError as error:
            report.partial.append(f"{name}: {error}")
            return None


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Names the failing stage in its one-line error; the error keeps its class (and exit code)."""
    try:
        yield
    except S3LogExtractionError as error:
        error.args = (f"{name}: {error}",)
        raise
