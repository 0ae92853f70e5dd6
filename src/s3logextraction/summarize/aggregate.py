"""From the aggregate store to the published grain: datasets, assets, weeks and regions.

The store (`store.py`) holds exact partial sums per (key, day) and (key, ip_id); here each
distinct key goes once through the attribution (key prefix, or DANDI's dandisets) and pyarrow
groups the partial sums by dataset.  Work and memory are bounded by the store's size, not by the
number of requests.  The attribution of the store's keys is remembered in a memo valid for one
state of what it depends on (the `--level`, or a token that changes with the DANDI attribution
data), already encoded in sorted order, so a night resolves and sorts only the keys that are new.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..arrow import feather, pa, pc
from ..datasets import split_keys
from .counter import by_month
from .store import COUNTS, Store, summed, write_table

Attribute = Callable[[list[str]], tuple[list[str], list[str]]]  # distinct keys -> (datasets, asset paths)


@dataclass
class Aggregates:
    """Exact sums by (dataset, date), (dataset, asset_path), (dataset, region) and, when asked
    for, (dataset, week, asset_path) with the week starting on Monday; distinct requesters per
    dataset and archive-wide."""

    by_day: pa.Table
    by_asset: pa.Table
    by_region: pa.Table
    requesters: dict[str, int]
    archive_requesters: int
    by_month_counter: pa.Table
    by_asset_week: pa.Table | None = None
    shards_aggregated: int = 0


def grouped(table: pa.Table, keys: list[str]) -> pa.Table:
    """Sums per `keys`; dataset and asset path stay dictionary columns (publishing sorts them by
    rank and decodes them only as text)."""
    return summed(table, keys)


def week_of(dates: pa.ChunkedArray) -> pa.ChunkedArray:
    """The Monday that starts each date's week."""
    back = pc.day_of_week(dates, count_from_zero=True, week_start=1)
    return pc.cast(pc.subtract(pc.cast(dates, pa.int32()), pc.cast(back, pa.int32())), pa.date32())


PACKED_LIMIT = 2**62  # packed codes stay below it: 1,000 datasets x 600 weeks x 10**9 assets is about 2**49


def weekly_sums(days: pa.Table) -> pa.Table:
    """Sums per (dataset, week, asset_path), sorted by them.  Each row's dataset code, week and
    asset code (the attribution's dictionaries are in value order) are packed into one int64,
    numpy sorts them and each run is summed: a hash group-by over the three columns took twice
    the time and half again the memory for a DANDI archive's half a million groups.  Codes too
    wide to pack into an int64 (far beyond any archive) take the hash group-by, unsorted."""
    import numpy as np  # loaded with pyarrow

    datasets, assets = (days[name].combine_chunks() for name in ("dataset", "asset_path"))
    monday = week_of(days["date"])
    weeks = monday.cast(pa.int32()).combine_chunks().to_numpy(zero_copy_only=False).astype(np.int64)
    first, last = (int(weeks.min()), int(weeks.max())) if len(weeks) else (0, 0)
    span, width = (last - first) // 7 + 1, len(assets.dictionary)
    if not len(weeks) or len(datasets.dictionary) * span * width >= PACKED_LIMIT:  # nothing, or too wide to pack
        return grouped(days.append_column("week", monday), ["dataset", "week", "asset_path"])
    codes = datasets.indices.to_numpy().astype(np.int64) * span
    codes += (weeks - first) // 7
    del weeks
    codes *= width
    codes += assets.indices.to_numpy()
    order = np.argsort(codes)
    codes = codes[order]  # the few arrays of one int64 per row live one at a time: this runs beside the peak
    starts = np.flatnonzero(np.concatenate(([True], codes[1:] != codes[:-1])))
    keys = codes[starts]
    del codes
    sums = {name: np.add.reduceat(days[name].combine_chunks().to_numpy()[order], starts) for name in COUNTS}
    del order, starts
    return pa.table(
        {
            "dataset": pa.DictionaryArray.from_arrays(
                pa.array((keys // width // span).astype(np.int32)), datasets.dictionary, ordered=True
            ),
            "week": pa.array((keys // width % span * 7 + first).astype(np.int32)).cast(pa.date32()),
            "asset_path": pa.DictionaryArray.from_arrays(
                pa.array((keys % width).astype(np.int32)), assets.dictionary, ordered=True
            ),
            **{name: pa.array(values) for name, values in sums.items()},
        }
    )


@dataclass(frozen=True)
class Memo:
    """Where resolved keys are remembered, and the state of the attribution data they hold for."""

    path: Path
    token: str

    def read(self) -> pa.Table | None:
        """The remembered (key, dataset, asset_path), or None when absent, unreadable or stale."""
        try:
            table = feather.read_table(self.path)
        except (OSError, pa.ArrowException):
            return None
        metadata = table.schema.metadata or {}
        return table if metadata.get(b"token") == self.token.encode() else None

    def write(self, table: pa.Table) -> None:
        write_table(table.replace_schema_metadata({"token": self.token}), self.path)


@dataclass(frozen=True)
class Attribution:
    """Dataset and asset path of each of the store's distinct keys, as dictionaries the key
    indices point into (the dataset names themselves encoded once)."""

    datasets: pa.DictionaryArray
    assets: pa.DictionaryArray

    @classmethod
    def of(cls, keys: pa.Array, attribute: Attribute, *, memo: Memo | None = None) -> Attribution:
        """With `memo`, the attribution of keys seen before is read back already encoded; only
        new keys go through `attribute`, and then the memo is rewritten for the current keys."""
        known = memo.read() if memo else None
        positions = None if known is None else pc.index_in(keys, value_set=known["key"])
        if known is None or positions is None or not encoded(known) or pc.any(pc.is_null(positions)).as_py():
            known = resolved(keys, attribute, known=known)
            positions = pc.index_in(keys, value_set=known["key"])
            if memo:
                memo.write(known)
        current = known.take(positions)
        return cls(datasets=current["dataset"].combine_chunks(), assets=current["asset_path"].combine_chunks())

    def applied(self, table: pa.Table) -> pa.Table:
        """`table` with its key replaced by dataset and asset path, both dictionary columns (no
        string copied per row)."""
        keys = table["key"].combine_chunks().indices
        dataset, asset = (
            pa.DictionaryArray.from_arrays(pc.take(codes.indices, keys), codes.dictionary, ordered=True)
            for codes in (self.datasets, self.assets)
        )
        return table.drop_columns(["key"]).append_column("dataset", dataset).append_column("asset_path", asset)


@functools.cache
def attributed_schema() -> pa.Schema:
    return pa.schema([(name, pa.string()) for name in ("key", "dataset", "asset_path")])


def resolved(keys: pa.Array, attribute: Attribute, *, known: pa.Table | None) -> pa.Table:
    """(key, dataset, asset_path) of `keys`, in their order, dataset and asset path encoded in
    order; keys that `known` holds are not attributed again."""
    held = (
        attributed_schema().empty_table()
        if known is None
        else known.replace_schema_metadata(None).cast(attributed_schema())
    )
    missing = keys.filter(pc.is_null(pc.index_in(keys, value_set=held["key"])))
    datasets, assets = attribute(missing.to_pylist())
    new = pa.table({"key": missing, "dataset": datasets, "asset_path": assets}, schema=attributed_schema())
    every = pa.concat_tables([held, new])
    current = every.take(pc.index_in(keys, value_set=every["key"]))
    return pa.table(
        {"key": keys, "dataset": in_order(current["dataset"]), "asset_path": in_order(current["asset_path"])}
    )


def encoded(table: pa.Table) -> bool:
    """Whether a memo holds its dataset and asset path columns encoded in order."""
    types = [table.schema.field(name).type for name in ("dataset", "asset_path")]
    return all(pa.types.is_dictionary(kind) and kind.ordered for kind in types)


def in_order(values: pa.ChunkedArray) -> pa.DictionaryArray:
    """`values` encoded over their sorted distinct values, marked ordered: sorting by them is
    sorting their integer codes."""
    distinct = pc.unique(values)
    dictionary = distinct.take(pc.sort_indices(distinct))
    codes = pc.index_in(values, value_set=dictionary).cast(pa.int32()).combine_chunks()
    return pa.DictionaryArray.from_arrays(codes, dictionary, ordered=True)


def region_table(db: sqlite3.Connection) -> pa.Table:
    """ip_id -> region label from the geolocation stage (empty until it has run)."""
    rows = db.execute("SELECT ip_id, region FROM ip_regions").fetchall()
    return pa.table(
        {"ip_id": pa.array([r[0] for r in rows], pa.int64()), "region": pa.array([r[1] for r in rows], pa.string())}
    )


def regions_of(ip_ids: pa.ChunkedArray, regions: pa.Table) -> pa.DictionaryArray:
    """The region label of each requester (`unknown` where geolocation has none), as a
    dictionary column."""
    labels = pc.dictionary_encode(pa.chunked_array([*regions["region"].chunks, pa.array(["unknown"])])).combine_chunks()
    unknown = labels.indices[-1]
    codes = pc.take(labels.indices[:-1], pc.index_in(ip_ids, value_set=regions["ip_id"]))
    return pa.DictionaryArray.from_arrays(pc.fill_null(codes, unknown).combine_chunks(), labels.dictionary)


def requester_counts(requests: pa.Table) -> dict[str, int]:
    """Distinct ip_id per dataset: each (dataset, ip_id) pair folded into one integer and the
    distinct integers counted by dataset (a hash set of integers, not a million-group table)."""
    datasets = requests["dataset"].combine_chunks()
    ip_ids = requests["ip_id"].combine_chunks()
    if not len(ip_ids):
        return {}
    width = (pc.max(ip_ids).as_py() or 0) + 1
    pairs = pc.unique(pc.add_checked(pc.multiply_checked(datasets.indices.cast(pa.int64()), width), ip_ids))
    counts = pc.value_counts(pc.divide(pairs, width)).to_pylist()
    names = datasets.dictionary.to_pylist()
    return {names[entry["values"]]: entry["counts"] for entry in counts}


def generic_attribution(level: int) -> Attribute:
    return partial(split_keys, level=level)


def aggregate(
    *, store: Store, db: sqlite3.Connection, attribute: Attribute, weekly: bool = False, memo: Memo | None = None
) -> Aggregates:
    attribution = Attribution.of(store.keys, attribute, memo=memo)
    days = attribution.applied(store.day)
    # Before the requester tables exist (the peak of memory comes with them).  The weekly sums are
    # fewer rows than the daily ones: the asset sums are taken from them.
    by_asset_week = weekly_sums(days) if weekly else None
    requests = attribution.applied(store.requester)
    requests = requests.append_column("region", regions_of(requests["ip_id"], region_table(db)))
    return Aggregates(
        by_day=grouped(days, ["dataset", "date"]),
        by_asset=grouped(days if by_asset_week is None else by_asset_week, ["dataset", "asset_path"]),
        by_region=grouped(requests, ["dataset", "region"]),
        requesters=requester_counts(requests),
        archive_requesters=pc.count_distinct(requests["ip_id"]).as_py(),
        by_month_counter=by_month(attribution.applied(store.counter)),
        by_asset_week=by_asset_week,
        shards_aggregated=store.folded,
    )
