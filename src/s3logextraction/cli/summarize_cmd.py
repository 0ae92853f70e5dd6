"""`update summaries`, `update totals` and `run`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..config import Settings, load_settings, resolve_workers
from ..pipeline import run
from ..summarize import update_summaries, update_totals
from ..summarize.privacy import Privacy
from .errors import reports_errors
from .options import CacheOption, LevelOption, ModeOption, PrivacyRoundingOption, PrivacyThresholdOption, WorkersOption


def privacy_of(settings: Settings) -> Privacy:
    return Privacy(threshold=settings.privacy_threshold, rounding=settings.privacy_rounding)


def names(text: str | None) -> list[str]:
    return [name for name in (text or "").split(",") if name]


@reports_errors
def summaries_command(
    cache: CacheOption = None,
    mode: ModeOption = "generic",
    level: LevelOption = 1,
    pick: Annotated[str | None, typer.Option("--pick", help="Only these datasets (comma-separated).")] = None,
    skip: Annotated[str | None, typer.Option("--skip", help="Not these datasets (comma-separated).")] = None,
    privacy_threshold: PrivacyThresholdOption = None,
    privacy_rounding: PrivacyRoundingOption = None,
) -> None:
    """Write per-dataset (generic) or archive-wide (archive) summaries from the indexed shards."""
    settings = load_settings(cache=cache, privacy_threshold=privacy_threshold, privacy_rounding=privacy_rounding)
    report = update_summaries(
        cache=settings.cache, mode=mode, level=level, pick=names(pick), skip=names(skip), privacy=privacy_of(settings)
    )
    typer.echo(f"{report.files_written} files written in {report.summaries}", err=True)


@reports_errors
def totals_command(
    cache: CacheOption = None,
    mode: ModeOption = "generic",
    level: LevelOption = 1,
    privacy_threshold: PrivacyThresholdOption = None,
    privacy_rounding: PrivacyRoundingOption = None,
) -> None:
    """Write totals.json (generic) or archive_totals.json (archive)."""
    settings = load_settings(cache=cache, privacy_threshold=privacy_threshold, privacy_rounding=privacy_rounding)
    report = update_totals(cache=settings.cache, mode=mode, level=level, privacy=privacy_of(settings))
    typer.echo(f"{report.files_written} files written in {report.summaries}", err=True)


@reports_errors
def run_command(
    log_dir: Annotated[Path, typer.Argument(help="Folder of raw S3 log objects.")],
    cache: CacheOption = None,
    workers: WorkersOption = None,
    level: LevelOption = 1,
    privacy_threshold: PrivacyThresholdOption = None,
    privacy_rounding: PrivacyRoundingOption = None,
) -> None:
    """Every stage in order, each doing only new work: the one command the nightly CRON job needs."""
    settings = load_settings(
        cache=cache, workers=workers, privacy_threshold=privacy_threshold, privacy_rounding=privacy_rounding
    )
    report = run(
        log_dir,
        cache=settings.cache,
        privacy=privacy_of(settings),
        level=level,
        workers=resolve_workers(settings.workers),
        batch_bytes=settings.batch_size,
        batch_files=settings.batch_files,
        operations=settings.operations,
        password=settings.password.get_secret_value() if settings.password else None,
    )
    typer.echo(report.extract.summary(), err=True)
    typer.echo(
        f"summaries: {report.summaries.datasets} datasets, {report.summaries.files_written} files changed", err=True
    )
    typer.echo(f"summaries are in {report.summaries.summaries}")
