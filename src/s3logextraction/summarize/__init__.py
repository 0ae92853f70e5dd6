"""`update summaries` and `update totals`: the published figures, recomputed from indexed shards."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc

from ..cache import Cache, storage_errors
from ..errors import ConfigError
from .aggregate import Aggregates, aggregate
from .privacy import Privacy
from .publish import write_archive_summaries, write_archive_totals, write_dataset_summaries, write_totals

log = logging.getLogger("s3logextraction")
MODES = ("generic", "archive")


@dataclass
class SummaryReport:
    datasets: int
    files_written: int
    summaries: Path
    pending_index: int


def chosen_datasets(aggregates: Aggregates, *, pick: Sequence[str], skip: Sequence[str]) -> list[str]:
    every = sorted(pc.unique(aggregates.by_day["dataset"]).to_pylist())
    return [name for name in every if (not pick or name in pick) and name not in skip]


def load(cache: Cache, *, level: int) -> tuple[Aggregates, int]:
    rows = cache.db.execute("SELECT batch_id, format FROM batches ORDER BY batch_id").fetchall()
    shards = [cache.paths.shard(batch_id=batch, shard_format=kind) for batch, kind in rows if kind == "parquet"]
    pending = sum(1 for _, kind in rows if kind != "parquet")
    if pending:
        log.warning("%d shards wait for `update ip indexes` and are not counted yet", pending)
    return aggregate(shards=shards, db=cache.db, level=level), pending


def check_mode(mode: str, level: int) -> None:
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if level < 1:
        raise ConfigError("--level must be at least 1")


def publish(
    *,
    cache: Path,
    outputs: Sequence[tuple[str, str]],
    level: int = 1,
    pick: Sequence[str] = (),
    skip: Sequence[str] = (),
    privacy: Privacy | None = None,
) -> SummaryReport:
    """Aggregates the shards once and writes each (what, mode) of `outputs`, what being
    "summaries" or "totals"; `pick`/`skip` restrict the per-dataset summaries rewritten."""
    for _, mode in outputs:
        check_mode(mode, level)
    rules = privacy or Privacy()
    with Cache.open_for_writing(cache, command="update summaries") as opened, storage_errors(what=opened.paths.root):
        aggregates, pending = load(opened, level=level)
        root = opened.paths.summaries
        every = chosen_datasets(aggregates, pick=(), skip=())
        picked = chosen_datasets(aggregates, pick=pick, skip=skip)
        writers = {
            ("summaries", "generic"): lambda: write_dataset_summaries(
                aggregates, root=root, datasets=picked, privacy=rules
            ),
            ("summaries", "archive"): lambda: write_archive_summaries(aggregates, root=root, privacy=rules),
            ("totals", "generic"): lambda: write_totals(aggregates, root=root, datasets=every, privacy=rules),
            ("totals", "archive"): lambda: write_archive_totals(aggregates, root=root, privacy=rules),
        }
        written = sum(writers[output]() for output in outputs)
        return SummaryReport(datasets=len(every), files_written=written, summaries=root, pending_index=pending)


def update_summaries(
    *,
    cache: Path,
    mode: str = "generic",
    level: int = 1,
    pick: Sequence[str] = (),
    skip: Sequence[str] = (),
    privacy: Privacy | None = None,
) -> SummaryReport:
    """Writes summaries/<dataset>/*.tsv (generic) or summaries/archive/*.tsv (archive)."""
    return publish(cache=cache, outputs=[("summaries", mode)], level=level, pick=pick, skip=skip, privacy=privacy)


def update_totals(
    *, cache: Path, mode: str = "generic", level: int = 1, privacy: Privacy | None = None
) -> SummaryReport:
    """Writes summaries/totals.json (generic) or summaries/archive_totals.json (archive)."""
    return publish(cache=cache, outputs=[("totals", mode)], level=level, privacy=privacy)


EVERYTHING = [("summaries", "generic"), ("totals", "generic"), ("summaries", "archive"), ("totals", "archive")]
