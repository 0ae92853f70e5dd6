"""`update summaries` and `update totals`."""

from pathlib import Path
from typing import Annotated

import typer

from ..agents import CounterRules
from ..config import Settings, load_settings
from ..datasets.dandi import DandiSource
from ..summarize import Mode, PublishOptions, update_summaries, update_totals
from ..summarize.privacy import Privacy
from .options import (
    ApiUrlOption,
    CacheOption,
    LevelOption,
    MappingOption,
    ModeOption,
    PrivacyRoundingOption,
    PrivacyThresholdOption,
)
from .signals import drain_on_first_signal


def publish_options(settings: Settings, *, level: int) -> PublishOptions:
    """The publishing options, built once from the settings (and the flags in them)."""
    return PublishOptions(
        level=level,
        privacy=Privacy(threshold=settings.privacy_threshold, rounding=settings.privacy_rounding),
        counter=CounterRules(machine_clients=tuple(settings.counter_machine_clients)),
        dandi=DandiSource(api_url=settings.dandi_api_url, mapping=settings.dandi_mapping),
    )


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
        {
            "cache": cache,
            "privacy_threshold": threshold,
            "privacy_rounding": rounding,
            "dandi_api_url": api_url,
            "dandi_mapping": mapping,
        }
    )


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
    """Write per-dataset (generic), per-dandiset (dandi) or archive-wide (archive) summaries.

    `summaries/<dataset>/by_day.tsv`, `by_asset.tsv`, `by_region.tsv`, `requester_count.tsv`,
    `counter_by_month.tsv` (generic: datasets by key prefix; dandi: dandisets, plus
    `by_asset_type_per_week.tsv` and `by_asset_per_week.tsv`) or `summaries/archive/...` (archive). The
    default mode is the `mode` setting
    """
    settings = publishing_settings(
        cache=cache, threshold=privacy_threshold, rounding=privacy_rounding, api_url=api_url, mapping=mapping
    )
    with drain_on_first_signal():
        report = update_summaries(
            cache=settings.cache,
            mode=chosen_mode(settings, mode),
            options=publish_options(settings, level=level),
            pick=names(pick),
            skip=names(skip),
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
    """Write totals.json (generic: over datasets; dandi: over dandisets) or archive_totals.json.

    `summaries/totals.json` (over datasets or dandisets) or `summaries/archive_totals.json`
    """
    settings = publishing_settings(
        cache=cache, threshold=privacy_threshold, rounding=privacy_rounding, api_url=api_url, mapping=mapping
    )
    with drain_on_first_signal():
        report = update_totals(
            cache=settings.cache,
            mode=chosen_mode(settings, mode),
            options=publish_options(settings, level=level),
        )
    typer.echo(report.summary(), err=True)
