"""The summaries' aggregate store: partial sums at the grain the published files need, kept in
`aggregates/` and folded forward with only the shards committed since the last summaries run.

Two tables: per (object key, UTC day) and per (object key, ip_id), each with bytes sent, requests
and downloads of the counted requests (kept 2xx REST.GET.OBJECT; a download is a 200).  Dataset
attribution and region labels are applied when publishing, so a new DANDI mapping, another
`--level` or refreshed geolocation republish correctly without reading a shard again.

A fold writes the new tables under a new generation name (0600, fsynced), then one transaction
records the folded batches and the generation; files of any other generation are leftovers of a
fold that was killed (or of the one before) and are removed.  A kill at any instant leaves either
the old store and its batches or the new store and its batches.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..cache import Cache, create_private, fsync_directory, make_private_folder, transaction
from ..progress import progress_bar

SUMS = [("bytes_sent", "sum"), ("number_of_requests", "sum"), ("number_of_downloads", "sum")]
COUNTS = ("bytes_sent", "number_of_requests", "number_of_downloads")
GRAINS = {"day": ["key", "date"], "requester": ["key", "ip_id"]}
SCHEMAS = {
    "day": pa.schema([("key", pa.string()), ("date", pa.date32()), *((name, pa.int64()) for name in COUNTS)]),
    "requester": pa.schema([("key", pa.string()), ("ip_id", pa.int64()), *((name, pa.int64()) for name in COUNTS)]),
}
GENERATION = "aggregate_generation"


@dataclass
class Store:
    """The two partial tables, and how many shards the last update folded in."""

    day: pa.Table
    requester: pa.Table
    folded: int = 0


def summed(table: pa.Table, keys: list[str]) -> pa.Table:
    """Sums of the three counts per `keys`, keys first."""
    result = table.group_by(keys, use_threads=False).aggregate(SUMS)
    result = result.rename_columns([name.removesuffix("_sum") for name in result.column_names])
    return result.select([*keys, *COUNTS])


def counted_requests(shard: Path) -> pa.Table:
    """The counted requests of one shard: key, date, ip_id and the three counts per request."""
    table = pq.read_table(shard, columns=["timestamp", "key", "operation", "status", "bytes_sent", "ip_id"])
    status = table["status"]
    table = table.filter(
        pc.and_(
            pc.equal(table["operation"].cast(pa.string()), "REST.GET.OBJECT"),
            pc.and_(pc.greater_equal(status, 200), pc.less(status, 300)),
        )
    )
    return pa.table(
        {
            "key": table["key"].cast(pa.string()),
            "date": pc.cast(table["timestamp"], pa.date32()),
            "ip_id": table["ip_id"],
            "bytes_sent": table["bytes_sent"],
            "number_of_requests": pc.fill_null(pa.nulls(table.num_rows, pa.int64()), 1),
            "number_of_downloads": pc.cast(pc.equal(table["status"], 200), pa.int64()),
        }
    )


def store_path(cache: Cache, *, grain: str, generation: str) -> Path:
    return cache.paths.aggregates / f"{grain}-{generation}.parquet"


def current_generation(db: sqlite3.Connection) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE name = ?", (GENERATION,)).fetchone()
    return bytes(row[0]).decode() if row else None


def read_store(cache: Cache, generation: str | None) -> Store:
    if generation is None:
        return Store(*(schema.empty_table() for schema in SCHEMAS.values()))
    return Store(*(pq.read_table(store_path(cache, grain=grain, generation=generation)) for grain in SCHEMAS))


def write_table(table: pa.Table, target: Path) -> None:
    staged = target.with_name(f".{target.name}.tmp")
    staged.unlink(missing_ok=True)
    with os.fdopen(create_private(staged), "wb") as handle:
        pq.write_table(table, handle, compression="zstd")
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(staged, target)


def remove_other_generations(cache: Cache, generation: str | None) -> None:
    keep = {store_path(cache, grain=grain, generation=generation).name for grain in SCHEMAS} if generation else set()
    for path in cache.paths.aggregates.iterdir():
        if path.name not in keep:
            path.unlink()


def update_store(cache: Cache, *, rebuild: bool = False, show_progress: bool | None = None) -> Store:
    """The store with every committed shard folded in, reading only shards not folded yet (all of
    them with `rebuild`, or when a batch it holds is gone, as after `reset extraction`)."""
    make_private_folder(cache.paths.aggregates)
    db = cache.db
    generation = current_generation(db)
    remove_other_generations(cache, generation)
    committed = [batch for (batch,) in db.execute("SELECT batch_id FROM batches WHERE format = 'parquet'")]
    folded = {batch for (batch,) in db.execute("SELECT batch_id FROM aggregated_batches")}
    if rebuild or not folded <= set(committed):
        folded, generation = set(), None
    todo = sorted(batch for batch in committed if batch not in folded)
    store = read_store(cache, generation)
    if not todo:
        return store
    parts = {"day": [store.day], "requester": [store.requester]}
    with progress_bar(total=len(todo), unit="shard", description="aggregate", enabled=show_progress) as bar:
        for batch in todo:
            requests = counted_requests(cache.paths.shard(batch_id=batch, shard_format="parquet"))
            for grain, keys in GRAINS.items():
                parts[grain].append(summed(requests, keys).cast(SCHEMAS[grain]))
            bar.update(1)
    day, requester = (summed(pa.concat_tables(parts[grain]), GRAINS[grain]).cast(SCHEMAS[grain]) for grain in SCHEMAS)
    new = Store(day=day, requester=requester, folded=len(todo))
    fresh = secrets.token_hex(8)
    for grain in SCHEMAS:
        write_table(getattr(new, grain), store_path(cache, grain=grain, generation=fresh))
    fsync_directory(cache.paths.aggregates)
    with transaction(db):
        if not folded:
            db.execute("DELETE FROM aggregated_batches")
        db.executemany("INSERT INTO aggregated_batches VALUES (?)", [(batch,) for batch in todo])
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (GENERATION, fresh.encode()))
    remove_other_generations(cache, fresh)
    return new
