"""`update summaries`, `update totals` and `run`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..config import Settings, load_settings
from ..errors import PartialError
from ..pipeline import run
from ..summarize import Mode, update_summaries, update_totals
from ..summarize.privacy import Privacy
from .extract_cmd import check_complete, extraction_options, extraction_settings
from .ip_cmd import geolocation_of
from .options import (
    BatchSizeOption,
    CacheOption,
    LevelOption,
    LimitOption,
    ModeOption,
    OperationsOption,
    PrivacyRoundingOption,
    PrivacyThresholdOption,
    RetryFailedOption,
    SettleOption,
    WorkersOption,
)
from .signals import drain_on_first_signal


def privacy_of(settings: Settings) -> Privacy:
    return Privacy(threshold=settings.privacy_threshold, rounding=settings.privacy_rounding)


def names(text: str | None) -> list[str]:
    return [name for name in (text or "").split(",") if name]


def summaries_command(
    cache: CacheOption = None,
    mode: ModeOption = Mode.generic,
    level: LevelOption = 1,
    pick: Annotated[str | None, typer.Option("--pick", help="Only these datasets (comma-separated).")] = None,
    skip: Annotated[str | None, typer.Option("--skip", help="Not these datasets (comma-separated).")] = None,
    privacy_threshold: PrivacyThresholdOption = None,
    privacy_rounding: PrivacyRoundingOption = None,
) -> None:
    """Write per-dataset (generic) or archive-wide (archive) summaries from the indexed shards."""
    settings = load_settings(cache=cache, privacy_threshold=privacy_threshold, privacy_rounding=privacy_rounding)
    with drain_on_first_signal():
        report = update_summaries(
            cache=settings.cache,
            mode=mode,
            level=level,
            pick=names(pick),
            skip=names(skip),
            privacy=privacy_of(settings),
        )
    typer.echo(f"{report.files_written} files written in {report.summaries}", err=True)


def totals_command(
    cache: CacheOption = None,
    mode: ModeOption = Mode.generic,
    level: LevelOption = 1,
    privacy_threshold: PrivacyThresholdOption = None,
    privacy_rounding: PrivacyRoundingOption = None,
) -> None:
    """Write totals.json (generic) or archive_totals.json (archive)."""
    settings = load_settings(cache=cache, privacy_threshold=privacy_threshold, privacy_rounding=privacy_rounding)
    with drain_on_first_signal():
        report = update_totals(cache=settings.cache, mode=mode, level=level, privacy=privacy_of(settings))
    typer.echo(f"{report.files_written} files written in {report.summaries}", err=True)


def run_command(
    log_dir: Annotated[Path, typer.Argument(help="Folder of raw S3 log objects.")],
    cache: CacheOption = None,
    workers: WorkersOption = None,
    level: LevelOption = 1,
    limit: LimitOption = None,
    batch_size: BatchSizeOption = None,
    operations: OperationsOption = None,
    settle_seconds: SettleOption = None,
    retry_failed: RetryFailedOption = False,
    privacy_threshold: PrivacyThresholdOption = None,
    privacy_rounding: PrivacyRoundingOption = None,
) -> None:
    """Every stage in order, each doing only new work: the one command the nightly CRON job needs."""
    settings = extraction_settings(
        cache=cache,
        workers=workers,
        batch_size=batch_size,
        operations=operations,
        settle_seconds=settle_seconds,
        privacy_threshold=privacy_threshold,
        privacy_rounding=privacy_rounding,
    )
    rules = privacy_of(settings)
    with drain_on_first_signal() as stop_event:
        report = run(
            log_dir,
            cache=settings.cache,
            privacy=rules,
            level=level,
            stop=stop_event,
            geolocation=geolocation_of(settings),
            **extraction_options(settings, limit=limit, retry_failed=retry_failed),
        )
    typer.echo(report.extract.summary(), err=True)
    for done in (report.regions, report.coordinates):
        if done is not None:
            typer.echo(done.summary(), err=True)
    if report.summaries is None:
        typer.echo(f"run stopped on request before {report.stopped_before}; run again to finish", err=True)
        return
    typer.echo(
        f"summaries: {report.summaries.datasets} datasets, {report.summaries.files_written} files changed", err=True
    )
    typer.echo(f"summaries are in {report.summaries.summaries}")
    check_complete(report.extract)
    if report.partial:
        raise PartialError("; ".join(report.partial))
