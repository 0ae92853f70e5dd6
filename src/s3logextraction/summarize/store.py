"""The summaries' aggregate store: partial sums at the grain the published files need, kept in
`aggregates/` and folded forward with only the shards committed since the last summaries run.

Two tables: per (object key, UTC day) and per (object key, ip_id), each with bytes sent, requests
and downloads of the counted requests (kept 2xx REST.GET.OBJECT; a download is a 200).  Dataset
attribution and region labels are applied when publishing, so a new DANDI mapping, another
`--level` or refreshed geolocation republish correctly without reading a shard again.

The tables are Arrow IPC files (zstd): read back in a few milliseconds without decoding, where
Parquet would cost more than the aggregation itself.  In memory, both tables' keys are indices
into one shared dictionary, so each distinct key is held and attributed once.

A fold writes the new tables under a new generation name (0600, fsynced), then one transaction
records the folded batches and the generation; files of any other generation are leftovers of a
fold that was killed (or of the one before, or of an older store format) and are removed.  A
kill at any instant leaves either the old store and its batches or the new store and its
batches; a store whose files are gone is rebuilt from the shards.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
import pyarrow.parquet as pq

from ..cache import Cache, fsync_directory, make_private_folder, meta_value, replaced, transaction
from ..progress import progress_bar

SUMS = [("bytes_sent", "sum"), ("number_of_requests", "sum"), ("number_of_downloads", "sum")]
COUNTS = ("bytes_sent", "number_of_requests", "number_of_downloads")
GRAINS = {"day": ["key", "date"], "requester": ["key", "ip_id"]}
KEY = pa.dictionary(pa.int32(), pa.string())  # each distinct key held once, whatever its number of rows
SCHEMAS = {
    "day": pa.schema([("key", KEY), ("date", pa.date32()), *((name, pa.int64()) for name in COUNTS)]),
    "requester": pa.schema([("key", KEY), ("ip_id", pa.int64()), *((name, pa.int64()) for name in COUNTS)]),
}
GENERATION = "aggregate_generation"


@dataclass
class Store:
    """The two partial tables (key columns over one dictionary, `keys`), and how many shards the
    last update folded in."""

    day: pa.Table
    requester: pa.Table
    folded: int = 0

    @classmethod
    def of(cls, *, day: pa.Table, requester: pa.Table, folded: int = 0) -> Store:
        """The store with its two key columns indices into one dictionary (as written, the files
        already share it: then nothing is re-indexed)."""
        chunks = [*day["key"].chunks, *requester["key"].chunks]
        if all(chunk.dictionary.equals(chunks[0].dictionary) for chunk in chunks[1:]):
            return cls(day=day.combine_chunks(), requester=requester.combine_chunks(), folded=folded)
        both = pa.chunked_array(chunks, KEY).unify_dictionaries()
        day_keys = pa.chunked_array(both.chunks[: day["key"].num_chunks], KEY).combine_chunks()
        requester_keys = pa.chunked_array(both.chunks[day["key"].num_chunks :], KEY).combine_chunks()
        return cls(
            day=day.set_column(0, "key", pa.chunked_array([day_keys], KEY)),
            requester=requester.set_column(0, "key", pa.chunked_array([requester_keys], KEY)),
            folded=folded,
        )

    @property
    def keys(self) -> pa.Array:
        """The distinct keys both tables index into."""
        chunks = self.day["key"].chunks or self.requester["key"].chunks
        return chunks[0].dictionary if chunks else pa.array([], pa.string())


def summed(table: pa.Table, keys: list[str]) -> pa.Table:
    """Sums of the three counts per `keys`, keys first (dictionary keys stay dictionaries).  One
    thread: on two cores, per-thread hash tables cost more memory than the merge saves time."""
    result = table.unify_dictionaries().group_by(keys, use_threads=False).aggregate(SUMS)
    result = result.rename_columns([name.removesuffix("_sum") for name in result.column_names])
    return result.select([*keys, *COUNTS]).combine_chunks()  # one chunk: one dictionary per column


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
            "key": table["key"].cast(KEY),
            "date": pc.cast(table["timestamp"], pa.date32()),
            "ip_id": table["ip_id"],
            "bytes_sent": table["bytes_sent"],
            "number_of_requests": pc.fill_null(pa.nulls(table.num_rows, pa.int64()), 1),
            "number_of_downloads": pc.cast(pc.equal(table["status"], 200), pa.int64()),
        }
    )


def store_path(cache: Cache, *, grain: str, generation: str) -> Path:
    return cache.paths.aggregates / f"{grain}-{generation}.arrow"


def current_generation(db: sqlite3.Connection) -> str | None:
    value = meta_value(db, GENERATION)
    return None if value is None else value.decode()


def read_store(cache: Cache, generation: str | None) -> Store:
    if generation is None:
        return Store.of(**{grain: schema.empty_table() for grain, schema in SCHEMAS.items()})
    tables = {grain: feather.read_table(store_path(cache, grain=grain, generation=generation)) for grain in SCHEMAS}
    return Store.of(**{grain: table.cast(SCHEMAS[grain]) for grain, table in tables.items()})


def stored(cache: Cache, generation: str | None) -> bool:
    return generation is not None and all(
        store_path(cache, grain=grain, generation=generation).exists() for grain in SCHEMAS
    )


def write_table(table: pa.Table, target: Path) -> None:
    with replaced(target, durable=True) as handle:
        feather.write_feather(table, handle, compression="zstd", chunksize=max(table.num_rows, 1))  # read as one chunk


def memo_path(cache: Cache) -> Path:
    """Where the attribution of the store's keys is remembered between runs (see aggregate.py)."""
    return cache.paths.aggregates / "attribution.arrow"


def remove_other_generations(cache: Cache, generation: str | None) -> None:
    keep = {store_path(cache, grain=grain, generation=generation).name for grain in SCHEMAS} if generation else set()
    keep.add(memo_path(cache).name)
    for path in cache.paths.aggregates.iterdir():
        if path.name not in keep:
            path.unlink()


@dataclass(frozen=True)
class FoldPlan:
    """The store generation to start from and the batches to fold into it (all of them with
    `rebuild`, or when a batch the store holds is gone, as after `reset extraction`)."""

    generation: str | None
    folded: set[str]
    todo: list[str]


def fold_plan(cache: Cache, *, rebuild: bool = False) -> FoldPlan:
    db = cache.db
    generation = current_generation(db)
    committed = [batch for (batch,) in db.execute("SELECT batch_id FROM batches WHERE format = 'parquet'")]
    folded = {batch for (batch,) in db.execute("SELECT batch_id FROM aggregated_batches")}
    if rebuild or not stored(cache, generation) or not folded <= set(committed):
        folded, generation = set(), None
    return FoldPlan(generation, folded, sorted(batch for batch in committed if batch not in folded))


def update_store(cache: Cache, *, rebuild: bool = False, show_progress: bool | None = None) -> Store:
    """The store with every committed shard folded in, reading only shards not folded yet."""
    make_private_folder(cache.paths.aggregates)
    db = cache.db
    remove_other_generations(cache, current_generation(db))
    plan = fold_plan(cache, rebuild=rebuild)
    folded, todo = plan.folded, plan.todo
    store = read_store(cache, plan.generation)
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
    new = Store.of(day=day, requester=requester, folded=len(todo))
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
