"""From the aggregate store to the published grain: datasets, assets, weeks and regions.

The store (`store.py`) holds exact partial sums per (key, day) and (key, ip_id); here each
distinct key goes once through the attribution (key prefix, or DANDI's dandisets) and pyarrow
groups the partial sums by dataset.  Work and memory are bounded by the store's size, not by the
number of requests.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import pyarrow as pa
import pyarrow.compute as pc

from ..datasets import split_keys
from .store import Store, summed

Attribute = Callable[[list[str]], tuple[list[str], list[str]]]  # distinct keys -> (datasets, asset paths)


@dataclass
class Aggregates:
    """Exact sums: by (dataset, date), (dataset, asset_path), (dataset, ip_id, region) and, when
    asked for, (dataset, week, asset_path) with the week starting on Monday."""

    by_day: pa.Table
    by_asset: pa.Table
    by_requester: pa.Table
    by_asset_week: pa.Table | None = None
    shards_aggregated: int = 0


def grouped(table: pa.Table, keys: list[str]) -> pa.Table:
    return summed(table, keys)


def week_of(dates: pa.ChunkedArray) -> pa.ChunkedArray:
    """The Monday that starts each date's week."""
    back = pc.day_of_week(dates, count_from_zero=True, week_start=1)
    return pc.cast(pc.subtract(pc.cast(dates, pa.int32()), pc.cast(back, pa.int32())), pa.date32())


def attributed(table: pa.Table, attribute: Attribute) -> pa.Table:
    """`table` with its key replaced by dataset and asset path (each distinct key attributed once)."""
    keys = pc.dictionary_encode(table["key"]).combine_chunks()
    datasets, assets = attribute(keys.dictionary.to_pylist())
    return (
        table.drop_columns(["key"])
        .append_column("dataset", pc.take(pa.array(datasets, pa.string()), keys.indices))
        .append_column("asset_path", pc.take(pa.array(assets, pa.string()), keys.indices))
    )


def region_table(db: sqlite3.Connection) -> pa.Table:
    """ip_id -> region label from the geolocation stage (empty until it has run)."""
    rows = db.execute("SELECT ip_id, region FROM ip_regions").fetchall()
    return pa.table(
        {"ip_id": pa.array([r[0] for r in rows], pa.int64()), "region": pa.array([r[1] for r in rows], pa.string())}
    )


def generic_attribution(level: int) -> Attribute:
    return partial(split_keys, level=level)


def aggregate(*, store: Store, db: sqlite3.Connection, attribute: Attribute, weekly: bool = False) -> Aggregates:
    days = attributed(store.day, attribute)
    by_requester = grouped(attributed(store.requester, attribute), ["dataset", "ip_id"])
    by_requester = by_requester.join(region_table(db), "ip_id", join_type="left outer")
    by_requester = by_requester.set_column(
        by_requester.column_names.index("region"), "region", pc.fill_null(by_requester["region"], "unknown")
    )
    by_asset_week = None
    if weekly:
        by_asset_week = grouped(days.append_column("week", week_of(days["date"])), ["dataset", "week", "asset_path"])
    return Aggregates(
        by_day=grouped(days, ["dataset", "date"]),
        by_asset=grouped(days, ["dataset", "asset_path"]),
        by_requester=by_requester,
        by_asset_week=by_asset_week,
        shards_aggregated=store.folded,
    )
