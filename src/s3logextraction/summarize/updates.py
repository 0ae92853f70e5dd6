"""`update summaries` and `update totals`: the published figures, recomputed from indexed shards."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

from ..agents import CounterRules
from ..arrow import pa, pc
from ..cache import Cache, PathLike, meta_value, summary_inputs, transaction
from ..datasets import dataset_folder
from ..datasets.dandi import DandiSource, attribution_token, dandi_places
from ..errors import storage_errors
from .aggregate import Aggregates, Attribute, Memo, aggregate, generic_attribution
from .options import PublishOptions
from .publish import (
    Files,
    archive_summaries,
    archive_totals,
    attribution_file,
    coordinates_file,
    dataset_summaries,
    publish_files,
    totals,
    weekly_summaries,
)
from .store import fold_plan, memo_path, update_store

log = logging.getLogger("s3logextraction")
PUBLISHED = "published_summaries"  # meta: the fingerprint, dataset count and file count of the last publish


class Mode(StrEnum):
    """What a summaries or totals command writes: per dataset (generic: datasets by key prefix;
    dandi: dandisets by blob and Zarr id) or archive-wide."""

    generic = "generic"
    dandi = "dandi"
    archive = "archive"


@dataclass
class SummaryReport:
    datasets: int
    files_written: int
    summaries: Path
    pending_index: int
    shards_aggregated: int = 0
    up_to_date: bool = False

    def summary(self) -> str:
        if self.up_to_date:
            where = f"{self.datasets} datasets, 0 files changed in {self.summaries}"
            return f"summaries: {where} (nothing new since the last publish)"
        return (
            f"summaries: {self.datasets} datasets, {self.files_written} files changed in {self.summaries} "
            f"({self.shards_aggregated} new shards aggregated)"
        )


def chosen_datasets(aggregates: Aggregates, *, pick: Sequence[str], skip: Sequence[str]) -> list[str]:
    every = sorted(pc.unique(aggregates.by_day["dataset"]).to_pylist())
    return [name for name in every if (not pick or name in pick) and name not in skip]


def load(cache: Cache, *, level: int, dandi: bool, rebuild: bool, counter: CounterRules | None = None) -> Aggregates:
    """The aggregate store brought up to date (new shards only, or all with `rebuild`), then
    attributed: with `dandi`, to dandisets (from the attribution brought up to date before), else
    by key prefix.  Memory the fold and the group-bys freed is handed back to the system after
    each (pyarrow's allocator would keep it, and it would count in the peak of the next step)."""
    store = update_store(cache, counter=counter, rebuild=rebuild)
    pa.default_memory_pool().release_unused()
    attribute: Attribute
    if dandi:
        memo = Memo(path=memo_path(cache), token=f"dandi {attribution_token(cache.db)}")
        attribute = partial(dandi_places, db=cache.db)
    else:
        memo = Memo(path=memo_path(cache), token=f"generic level {level}")
        attribute = generic_attribution(level)
    aggregates = aggregate(store=store, db=cache.db, attribute=attribute, weekly=dandi, memo=memo)
    del store
    pa.default_memory_pool().release_unused()
    return aggregates


def fingerprint(opened: Cache, *, settings: dict[str, Any]) -> str | None:
    """What the published files are a function of: the store generation (None while shards wait
    to be folded), the other inputs' token and the settings.  The same fingerprint as at the last
    publish, with the published files all there, means there is nothing to do."""
    from ..appinfo import __version__

    plan = fold_plan(opened)
    if plan.todo or plan.generation is None:
        return None
    state = {"version": __version__, "generation": plan.generation, "inputs": summary_inputs(opened.db), **settings}
    return json.dumps(state, sort_keys=True)


def published_state(opened: Cache) -> dict[str, Any]:
    value = meta_value(opened.db, PUBLISHED)
    return json.loads(value) if value else {}


def file_count(root: Path) -> int:
    return sum(len(names) for _, _, names in os.walk(root))


def publish(
    *,
    cache: PathLike,
    outputs: Sequence[tuple[str, Mode]],
    options: PublishOptions | None = None,
    pick: Sequence[str] = (),
    skip: Sequence[str] = (),
    rebuild: bool = False,
) -> SummaryReport:
    """Folds new shards into the aggregate store and writes each (what, mode) of `outputs`, what
    being "summaries" or "totals"; `pick`/`skip` restrict the per-dataset summaries rewritten."""
    with Cache.open_for_writing(cache, command="update summaries") as opened:
        return publish_into(opened, outputs=outputs, options=options, pick=pick, skip=skip, rebuild=rebuild)


def publish_into(
    opened: Cache,
    *,
    outputs: Sequence[tuple[str, Mode]],
    options: PublishOptions | None = None,
    pick: Sequence[str] = (),
    skip: Sequence[str] = (),
    rebuild: bool = False,
) -> SummaryReport:
    """`publish` in a cache the caller has opened (and locked), as `run` does.  Datasets are
    dandisets when an output is in DANDI mode (attribution from the options' DANDI source, by
    default the DANDI API), else key prefixes of the options' level."""
    chosen = options or PublishOptions()
    per_dataset_mode = dandi_or_generic(opened, outputs=outputs)
    with storage_errors(what=opened.paths.root):
        pending = opened.db.execute("SELECT count(*) FROM batches WHERE format != 'parquet'").fetchone()[0]
        if pending:
            log.warning("%d shards of an older version wait for `update ip indexes` and are not counted yet", pending)
        if per_dataset_mode == Mode.dandi:
            # before anything is written (a failing API changes nothing); the totals and the archive
            # reuse the attribution the summaries were published with unless a source is given
            refreshing = ("summaries", Mode.dandi) in outputs
            (chosen.dandi or DandiSource()).refresh(opened.db, reuse=not refreshing)
        settings = {"outputs": [list(output) for output in outputs], "level": chosen.level, "pick": sorted(pick),
                    "skip": sorted(skip), "privacy": [chosen.privacy.threshold, chosen.privacy.rounding],
                    "counter": chosen.counter.token}  # fmt: skip
        last = published_state(opened)
        before = None if rebuild else fingerprint(opened, settings=settings)
        if before and last.get("fingerprint") == before and file_count(opened.paths.summaries) == last.get("files"):
            return SummaryReport(
                datasets=last["datasets"],
                files_written=0,
                summaries=opened.paths.summaries,
                pending_index=pending,
                up_to_date=True,
            )
        aggregates = load(
            opened, level=chosen.level, dandi=per_dataset_mode == Mode.dandi, rebuild=rebuild, counter=chosen.counter
        )
        every = chosen_datasets(aggregates, pick=(), skip=())
        picked = chosen_datasets(aggregates, pick=pick, skip=skip)
        files: Files = {}
        for what, mode in outputs:
            if what == "summaries" and mode != Mode.archive:
                files |= dataset_summaries(aggregates, datasets=picked, privacy=chosen.privacy)
                files |= weekly_summaries(aggregates, datasets=picked, privacy=chosen.privacy)
            elif what == "summaries":
                files |= archive_summaries(aggregates, privacy=chosen.privacy)
            elif mode != Mode.archive:
                files |= totals(aggregates, datasets=every, privacy=chosen.privacy)
            else:
                files |= archive_totals(aggregates, privacy=chosen.privacy)
        files |= coordinates_file(opened.db) | attribution_file(opened.db)
        live = {dataset_folder(name) for name in every} if ("summaries", per_dataset_mode) in outputs else None
        written = publish_files(root=opened.paths.summaries, files=files, live_folders=live)
        state = {"fingerprint": fingerprint(opened, settings=settings), "datasets": len(every),
                 "files": file_count(opened.paths.summaries)}  # fmt: skip
        with transaction(opened.db):
            opened.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (PUBLISHED, json.dumps(state).encode()))
        return SummaryReport(
            datasets=len(every),
            files_written=written,
            summaries=opened.paths.summaries,
            pending_index=pending,
            shards_aggregated=aggregates.shards_aggregated,
        )


def dandi_or_generic(opened: Cache, *, outputs: Sequence[tuple[str, Mode]]) -> Mode:
    """How keys are attributed: to dandisets when an output is in DANDI mode, or when only archive
    outputs are asked of a cache extracted in DANDI mode (its archive files include the bytes per
    week and asset type, which need asset paths); else by key prefix."""
    if any(mode == Mode.dandi for _, mode in outputs):
        return Mode.dandi
    if all(mode == Mode.archive for _, mode in outputs) and opened.setting("mode") == Mode.dandi.value:
        return Mode.dandi
    return Mode.generic


def publish_coordinates(opened: Cache) -> int:
    """Rewrites region_codes_to_coordinates.yaml alone (after `update ip coordinates`)."""
    with storage_errors(what=opened.paths.root):
        return publish_files(
            root=opened.paths.summaries,
            files=coordinates_file(opened.db),
            live_folders=None,
        )


def update_summaries(
    *,
    cache: PathLike,
    mode: Mode = Mode.generic,
    options: PublishOptions | None = None,
    pick: Sequence[str] = (),
    skip: Sequence[str] = (),
    rebuild: bool = False,
) -> SummaryReport:
    """Writes summaries/<dataset>/*.tsv (generic, dandi) or summaries/archive/*.tsv (archive);
    `rebuild` recomputes the aggregate store from every shard first."""
    return publish(
        cache=cache, outputs=[("summaries", Mode(mode))], options=options, pick=pick, skip=skip, rebuild=rebuild
    )


def update_totals(
    *, cache: PathLike, mode: Mode = Mode.generic, options: PublishOptions | None = None
) -> SummaryReport:
    """Writes summaries/totals.json (generic: over datasets; dandi: over dandisets) or
    summaries/archive_totals.json (archive)."""
    return publish(cache=cache, outputs=[("totals", Mode(mode))], options=options)


def everything(mode: Mode = Mode.generic) -> list[tuple[str, Mode]]:
    """What `run` publishes: per dataset in `mode` (generic or dandi), then archive-wide."""
    return [("summaries", mode), ("totals", mode), ("summaries", Mode.archive), ("totals", Mode.archive)]
