"""`update summaries`, `update totals` and `run`."""

from pathlib import Path
from typing import Annotated

import typer

from ..agents import CounterRules
from ..config import Settings, load_settings
from ..datasets.dandi import DandiSource
from ..errors import FindingsError, PartialError
from ..pipeline import run
from ..summarize import Mode, update_summaries, update_totals
from ..summarize.privacy import Privacy
from .extract_cmd import check_complete, extraction_options, extraction_settings, log_source
from .ip_cmd import geolocation_of
from .options import (
    ApiUrlOption,
    BatchSizeOption,
    CacheOption,
    EndpointUrlOption,
    ExecutorOption,
    ExtractModeOption,
    InventoryOption,
    LevelOption,
    LimitOption,
    LogSourceArgument,
    MappingOption,
    ModeOption,
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


def privacy_of(settings: Settings) -> Privacy:
    return Privacy(threshold=settings.privacy_threshold, rounding=settings.privacy_rounding)


def counter_of(settings: Settings) -> CounterRules:
    return CounterRules(machine_clients=tuple(settings.counter_machine_clients))


def names(text: str | None) -> list[str]:
    return [name for name in (text or "").split(",") if name]


def chosen_mode(settings: Settings, mode: Mode | None) -> Mode:
    """The flag, else the cache's kind from the `mode` setting (generic or dandi)."""
    return mode if mode is not None else Mode(settings.mode.value)


def publishing_settings(
    *, cache: Path | None, threshold: int | None, rounding: int | None, api_url: str | None, mapping: str | None
) -> Settings:
    """The settings of `update summaries` and `update totals`, flags on top."""
    return load_settings(
        cache=cache,
        privacy_threshold=threshold,
        privacy_rounding=rounding,
        dandi_api_url=api_url,
        dandi_mapping=mapping,
    )


def dandi_of(settings: Settings) -> DandiSource:
    return DandiSource(api_url=settings.dandi_api_url, mapping=settings.dandi_mapping)


def summaries_command(
    cache: CacheOption = None,
    mode: ModeOption = None,
    level: LevelOption = 1,
    pick: Annotated[str | None, typer.Option("--pick", help="Only these datasets (comma-separated).")] = None,
    skip: Annotated[str | None, typer.Option("--skip", help="Not these datasets (comma-separated).")] = None,
    privacy_threshold: PrivacyThresholdOption = None,
    privacy_rounding: PrivacyRoundingOption = None,
    api_url: ApiUrlOption = None,
    mapping: MappingOption = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Recompute the aggregate store from every shard first.")
    ] = False,
) -> None:
    """Write per-dataset (generic), per-dandiset (dandi) or archive-wide (archive) summaries."""
    settings = publishing_settings(
        cache=cache, threshold=privacy_threshold, rounding=privacy_rounding, api_url=api_url, mapping=mapping
    )
    with drain_on_first_signal():
        report = update_summaries(
            cache=settings.cache,
            mode=chosen_mode(settings, mode),
            dandi=dandi_of(settings),
            level=level,
            pick=names(pick),
            skip=names(skip),
            privacy=privacy_of(settings),
            counter=counter_of(settings),
            rebuild=rebuild,
        )
    typer.echo(report.summary(), err=True)


def totals_command(
    cache: CacheOption = None,
    mode: ModeOption = None,
    level: LevelOption = 1,
    privacy_threshold: PrivacyThresholdOption = None,
    privacy_rounding: PrivacyRoundingOption = None,
    api_url: ApiUrlOption = None,
    mapping: MappingOption = None,
) -> None:
    """Write totals.json (generic: over datasets; dandi: over dandisets) or archive_totals.json."""
    settings = publishing_settings(
        cache=cache, threshold=privacy_threshold, rounding=privacy_rounding, api_url=api_url, mapping=mapping
    )
    with drain_on_first_signal():
        report = update_totals(
            cache=settings.cache,
            mode=chosen_mode(settings, mode),
            level=level,
            privacy=privacy_of(settings),
            counter=counter_of(settings),
            dandi=dandi_of(settings),
        )
    typer.echo(report.summary(), err=True)


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
) -> None:
    """Every stage in order, each doing only new work: the one command the nightly CRON job needs."""
    settings = extraction_settings(
        cache=cache,
        workers=workers,
        batch_size=batch_size,
        operations=operations,
        settle_seconds=settle_seconds,
        settle_days=settle_days,
        s3_endpoint_url=endpoint_url,
        s3_inventory=inventory,
        executor=executor,
        dask_scheduler=scheduler,
        privacy_threshold=privacy_threshold,
        privacy_rounding=privacy_rounding,
        mode=mode,
        dandi_api_url=api_url,
        dandi_mapping=mapping,
        share_git=share,
    )
    rules = privacy_of(settings)
    with drain_on_first_signal() as stop_event:
        report = run(
            log_source(log_dir, settings),
            cache=settings.cache,
            privacy=rules,
            counter=counter_of(settings),
            level=level,
            stop=stop_event,
            geolocation=geolocation_of(settings),
            dandi=dandi_of(settings),
            share=share_target(settings),
            **extraction_options(settings, limit=limit, retry_failed=retry_failed),
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
