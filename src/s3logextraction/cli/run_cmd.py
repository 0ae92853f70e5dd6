"""`run`: every stage in order, the one command the nightly CRON job needs."""

from typing import Annotated

import typer

from ..config import load_settings
from ..errors import FindingsError, PartialError
from ..pipeline import run
from ..share import Layout
from .extract_cmd import check_complete, extract_options, extraction_flags, log_source
from .ip_cmd import geolocation_of
from .options import (
    ApiUrlOption,
    BatchSizeOption,
    CacheOption,
    EndpointUrlOption,
    ExecutorOption,
    ExtractModeOption,
    FullListingOption,
    InventoryOption,
    LevelOption,
    LimitOption,
    LogSourceArgument,
    MappingOption,
    OperationsOption,
    PrivacyRoundingOption,
    PrivacyThresholdOption,
    RetryFailedOption,
    SchedulerOption,
    SettleDaysOption,
    SettleOption,
    WorkersOption,
)
from .share_cmd import share_target
from .signals import drain_on_first_signal
from .summarize_cmd import publish_options


def run_command(
    log_dir: LogSourceArgument,
    cache: CacheOption = None,
    workers: WorkersOption = None,
    level: LevelOption = 1,
    limit: LimitOption = None,
    batch_size: BatchSizeOption = None,
    operations: OperationsOption = None,
    settle_seconds: SettleOption = None,
    settle_days: SettleDaysOption = None,
    endpoint_url: EndpointUrlOption = None,
    inventory: InventoryOption = None,
    executor: ExecutorOption = None,
    scheduler: SchedulerOption = None,
    retry_failed: RetryFailedOption = False,
    full_listing: FullListingOption = False,
    privacy_threshold: PrivacyThresholdOption = None,
    privacy_rounding: PrivacyRoundingOption = None,
    mode: ExtractModeOption = None,
    api_url: ApiUrlOption = None,
    mapping: MappingOption = None,
    share: Annotated[
        str | None,
        typer.Option(
            "--share",
            help="Last, commit and push the summaries to this git repository (see `share`).",
            show_default=False,
        ),
    ] = None,
    share_layout: Annotated[
        Layout | None,
        typer.Option(
            "--share-layout",
            help="With --share: default, or access-summaries (the tree DANDI's dashboard reads; see `share`).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Every stage in order, each doing only new work: the one command the nightly CRON job needs.

    Every stage in order (extract with indexing, ip regions, ip coordinates, summaries, totals, report,
    share), each doing only new work, under one lock, then the quick cache check (`validate cache --quick`,
    line counts and footers of this run's batches only: a problem is listed and exits 1); a geolocation
    service that stops is reported (exit 3) after the summaries are published; stops at the first failing
    stage with its exit code; a `stop` (or a first Ctrl+C) drains the extraction and ends the run before its
    next stage
    """
    extraction = extraction_flags(
        cache=cache, workers=workers, batch_size=batch_size, operations=operations, settle_seconds=settle_seconds,
        settle_days=settle_days, endpoint_url=endpoint_url, inventory=inventory, executor=executor,
        scheduler=scheduler, mode=mode,
    )  # fmt: skip
    settings = load_settings(
        extraction
        | {
            "privacy_threshold": privacy_threshold,
            "privacy_rounding": privacy_rounding,
            "dandi_api_url": api_url,
            "dandi_mapping": mapping,
            "share_git": share,
            "share_layout": share_layout,
        }
    )
    with drain_on_first_signal() as stop_event:
        report = run(
            log_source(log_dir, settings),
            cache=settings.cache,
            extraction=extract_options(settings, limit=limit, retry_failed=retry_failed, full_listing=full_listing),
            publishing=publish_options(settings, level=level),
            geolocation=geolocation_of(settings),
            share=share_target(settings),
            stop=stop_event,
        )
    typer.echo(report.extract.summary(), err=True)
    for done in (report.regions, report.coordinates):
        if done is not None:
            typer.echo(done.summary(), err=True)
    if report.summaries is None:
        typer.echo(f"run stopped on request before {report.stopped_before}; run again to finish", err=True)
        return
    typer.echo(report.summaries.summary(), err=True)
    typer.echo(f"summaries are in {report.summaries.summaries}")
    if report.report is not None:
        typer.echo(f"report is {report.report.folder / 'index.html'}")
    if report.shared is not None:
        typer.echo(report.shared.summary(), err=True)
    if report.cache_check is not None:
        for problem in report.cache_check.problems:
            typer.echo(problem, err=True)
        typer.echo(report.cache_check.summary(), err=True)
        if not report.cache_check.clean:
            raise FindingsError(f"the cache check found {len(report.cache_check.problems)} problems (listed above)")
    check_complete(report.extract)
    if report.partial:
        raise PartialError("; ".join(report.partial))
