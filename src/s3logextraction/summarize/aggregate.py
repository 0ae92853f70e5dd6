"""One columnar pass over the indexed shards: partial sums per shard, merged at the end.

Rows never become Python objects: each shard is filtered and grouped by pyarrow, and only the
distinct keys of a shard (its dictionary) go through Python to find their dataset and asset.
The partial tables are bounded by distinct (dataset, day), (dataset, asset) and
(dataset, requester) combinations, not by the number of requests.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..datasets import split_keys
from ..progress import progress_bar

SUMS = [("bytes_sent", "sum"), ("number_of_requests", "sum"), ("number_of_downloads", "sum")]
RENAMES = {"bytes_sent_sum": "bytes_sent", "number_of_requests_sum": "number_of_requests",
           "number_of_downloads_sum": "number_of_downloads"}  # fmt: skip


Attribute = Callable[[list[str]], tuple[list[str], list[str]]]  # distinct keys -> (datasets, asset paths)

REQUEST_SCHEMA = pa.schema(
    [
        ("dataset", pa.string()),
        ("asset_path", pa.string()),
        ("date", pa.date32()),
        ("week", pa.date32()),
        ("ip_id", pa.int64()),
        ("bytes_sent", pa.int64()),
        ("number_of_requests", pa.int64()),
        ("number_of_downloads", pa.int64()),
    ]
)


@dataclass
class Aggregates:
    """Exact sums: by (dataset, date), (dataset, asset_path), (dataset, ip_id, region) and, when
    asked for, (dataset, week, asset_path) with the week starting on Monday."""

    by_day: pa.Table
    by_asset: pa.Table
    by_requester: pa.Table
    by_asset_week: pa.Table | None = None


def grouped(table: pa.Table, keys: list[str]) -> pa.Table:
    result = table.group_by(keys, use_threads=False).aggregate(SUMS)
    return result.rename_columns([RENAMES.get(name, name) for name in result.column_names])


def week_of(dates: pa.ChunkedArray) -> pa.ChunkedArray:
    """The Monday that starts each date's week."""
    back = pc.day_of_week(dates, count_from_zero=True, week_start=1)
    return pc.cast(pc.subtract(pc.cast(dates, pa.int32()), pc.cast(back, pa.int32())), pa.date32())


def requests_of(shard: Path, *, attribute: Attribute) -> pa.Table:
    """The counted requests of one shard (kept 2xx REST.GET.OBJECT), with dataset and asset."""
    table = pq.read_table(shard, columns=["timestamp", "key", "operation", "status", "bytes_sent", "ip_id"])
    status = table["status"]
    counted = pc.and_(
        pc.equal(table["operation"].cast(pa.string()), "REST.GET.OBJECT"),
        pc.and_(pc.greater_equal(status, 200), pc.less(status, 300)),
    )
    table = table.filter(counted)
    keys = table["key"].combine_chunks()
    if not isinstance(keys, pa.DictionaryArray):
        keys = pc.dictionary_encode(keys)
    datasets, assets = attribute(keys.dictionary.to_pylist())
    dates = pc.cast(table["timestamp"], pa.date32())
    return pa.table(
        {
            "dataset": pc.take(pa.array(datasets, pa.string()), keys.indices),
            "asset_path": pc.take(pa.array(assets, pa.string()), keys.indices),
            "date": dates,
            "week": week_of(dates),
            "ip_id": table["ip_id"],
            "bytes_sent": table["bytes_sent"],
            "number_of_requests": pc.fill_null(pa.nulls(table.num_rows, pa.int64()), 1),
            "number_of_downloads": pc.cast(pc.equal(table["status"], 200), pa.int64()),
        },
        schema=REQUEST_SCHEMA,
    )


def region_table(db: sqlite3.Connection) -> pa.Table:
    """ip_id -> region label from the geolocation stage (empty until it has run)."""
    rows = db.execute("SELECT ip_id, region FROM ip_regions").fetchall()
    return pa.table(
        {"ip_id": pa.array([r[0] for r in rows], pa.int64()), "region": pa.array([r[1] for r in rows], pa.string())}
    )


def generic_attribution(level: int) -> Attribute:
    return partial(split_keys, level=level)


def aggregate(*, shards: list[Path], db: sqlite3.Connection, attribute: Attribute, weekly: bool = False) -> Aggregates:
    groupings = {"day": ["dataset", "date"], "asset": ["dataset", "asset_path"], "requester": ["dataset", "ip_id"]}
    if weekly:
        groupings["asset_week"] = ["dataset", "week", "asset_path"]
    empty = REQUEST_SCHEMA.empty_table()
    parts = {name: [grouped(empty, keys)] for name, keys in groupings.items()}
    with progress_bar(total=len(shards), unit="shard", description="summaries", enabled=None) as bar:
        for shard in shards:
            rows = requests_of(shard, attribute=attribute)
            for name, keys in groupings.items():
                parts[name].append(grouped(rows, keys))
            bar.update(1)
    by_requester = grouped(pa.concat_tables(parts["requester"]), ["dataset", "ip_id"])
    by_requester = by_requester.join(region_table(db), "ip_id", join_type="left outer")
    by_requester = by_requester.set_column(
        by_requester.column_names.index("region"), "region", pc.fill_null(by_requester["region"], "unknown")
    )
    return Aggregates(
        by_day=grouped(pa.concat_tables(parts["day"]), ["dataset", "date"]),
        by_asset=grouped(pa.concat_tables(parts["asset"]), ["dataset", "asset_path"]),
        by_requester=by_requester,
        by_asset_week=grouped(pa.concat_tables(parts["asset_week"]), groupings["asset_week"]) if weekly else None,
    )
