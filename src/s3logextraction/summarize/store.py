"""The summaries' aggregate store: partial sums at the grain the published files need, kept in
`aggregates/` and folded forward with only the shards committed since the last summaries run.

Two tables: per (object key, UTC day) and per (object key, ip_id), each with bytes sent, requests
and downloads of the counted requests (kept 2xx REST.GET.OBJECT; a download is a 200).  Beside
them, the COUNTER sums per (object key, month, access method) and the UTC hours of each folded
batch (`counter.py` says how they are folded).  Dataset
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

import functools
import secrets
import sqlite3
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..agents import CounterRules
from ..arrow import feather, pa, pc, read_shard_file
from ..cache import Cache, fsync_directory, make_private_folder, meta_value, replaced, transaction
from ..progress import progress_bar
from .counter import (
    EligibleRows,
    counter_schema,
    eligible_statuses,
    folded_counter,
    gets,
    hours_of,
    key_type,
    spans_schema,
)

SUMS = [("bytes_sent", "sum"), ("number_of_requests", "sum"), ("number_of_downloads", "sum")]
COUNTS = ("bytes_sent", "number_of_requests", "number_of_downloads")
GRAINS = {"day": ["key", "date"], "requester": ["key", "ip_id"]}
TABLES = ("day", "requester", "counter", "spans")
KEYED = ("day", "requester", "counter")  # the tables whose key column indexes the shared dictionary
GENERATION = "aggregate_generation"


@functools.cache
def schemas() -> dict[str, pa.Schema]:
    """The schema of each table of the store."""
    counts = [(name, pa.int64()) for name in COUNTS]
    return {
        "day": pa.schema([("key", key_type()), ("date", pa.date32()), *counts]),
        "requester": pa.schema([("key", key_type()), ("ip_id", pa.int64()), *counts]),
        "counter": counter_schema(),
        "spans": spans_schema(),
    }


@dataclass
class Store:
    """The partial tables (key columns over one dictionary, `keys`), the hours of each folded
    batch (for the COUNTER fold), and how many shards the last update folded in."""

    day: pa.Table
    requester: pa.Table
    counter: pa.Table
    spans: pa.Table
    folded: int = 0

    @classmethod
    def of(cls, *, folded: int = 0, **tables: pa.Table) -> Store:
        """The store with its key columns indices into one dictionary (as written, the files
        already share it: then nothing is re-indexed)."""
        chunks = [chunk for grain in KEYED for chunk in tables[grain]["key"].chunks]
        if all(chunk.dictionary.equals(chunks[0].dictionary) for chunk in chunks[1:]):
            return cls(**{grain: table.combine_chunks() for grain, table in tables.items()}, folded=folded)
        every = pa.chunked_array(chunks, key_type()).unify_dictionaries().chunks
        keyed = dict(tables)
        for grain in KEYED:
            count = tables[grain]["key"].num_chunks
            keys = pa.chunked_array(every[:count], key_type()).combine_chunks()
            every = every[count:]
            keyed[grain] = tables[grain].set_column(0, "key", pa.chunked_array([keys], key_type()))
        return cls(**keyed, folded=folded)

    @property
    def keys(self) -> pa.Array:
        """The distinct keys the tables index into."""
        chunks = [chunk for grain in KEYED for chunk in getattr(self, grain)["key"].chunks]
        return chunks[0].dictionary if chunks else pa.array([], pa.string())


def summed(table: pa.Table, keys: list[str]) -> pa.Table:
    """Sums of the three counts per `keys`, keys first (dictionary keys stay dictionaries).  One
    thread: on two cores, per-thread hash tables cost more memory than the merge saves time."""
    result = table.unify_dictionaries().group_by(keys, use_threads=False).aggregate(SUMS)
    result = result.rename_columns([name.removesuffix("_sum") for name in result.column_names])
    return result.select([*keys, *COUNTS]).combine_chunks()  # one chunk: one dictionary per column


def read_shard(shard: Path) -> pa.Table:
    """The columns the summaries need (the counted requests and the COUNTER metrics)."""
    columns = ["timestamp", "key", "operation", "status", "bytes_sent", "ip_id", "user_agent_id"]
    return read_shard_file(shard, columns=columns)


def counted_requests(table: pa.Table) -> pa.Table:
    """The counted requests (2xx) among a shard's GET rows (`gets`): key, date, ip_id and the
    three counts per request."""
    status = table["status"]
    table = table.filter(pc.and_(pc.greater_equal(status, 200), pc.less(status, 300)))
    return pa.table(
        {
            "key": table["key"].cast(key_type()),
            "date": pc.cast(table["timestamp"], pa.date32()),
            "ip_id": table["ip_id"],
            "bytes_sent": table["bytes_sent"],
            "number_of_requests": pc.fill_null(pa.nulls(table.num_rows, pa.int64()), 1),
            "number_of_downloads": pc.cast(pc.equal(table["status"], 200), pa.int64()),
        }
    )


def shard_of(cache: Cache, batch: str) -> Path:
    return cache.paths.shard(batch_id=batch, shard_format="parquet")


def store_path(cache: Cache, *, grain: str, generation: str) -> Path:
    return cache.paths.aggregates / f"{grain}-{generation}.arrow"


def current_generation(db: sqlite3.Connection) -> str | None:
    value = meta_value(db, GENERATION)
    return None if value is None else value.decode()


def read_store(cache: Cache, generation: str | None) -> Store:
    if generation is None:
        return Store.of(**{grain: schema.empty_table() for grain, schema in schemas().items()})
    tables = {grain: feather.read_table(store_path(cache, grain=grain, generation=generation)) for grain in TABLES}
    return Store.of(**{grain: cast_keeping_metadata(table, schemas()[grain]) for grain, table in tables.items()})


def cast_keeping_metadata(table: pa.Table, schema: pa.Schema) -> pa.Table:
    return table.cast(schema.with_metadata(table.schema.metadata))


def stored(cache: Cache, generation: str | None) -> bool:
    return generation is not None and all(
        store_path(cache, grain=grain, generation=generation).exists() for grain in TABLES
    )


def write_table(table: pa.Table, target: Path) -> None:
    with replaced(target, durable=True) as handle:
        feather.write_feather(table, handle, compression="zstd", chunksize=max(table.num_rows, 1))  # read as one chunk


def memo_path(cache: Cache) -> Path:
    """Where the attribution of the store's keys is remembered between runs (see aggregate.py)."""
    return cache.paths.aggregates / "attribution.arrow"


def remove_other_generations(cache: Cache, generation: str | None) -> None:
    keep = {store_path(cache, grain=grain, generation=generation).name for grain in TABLES} if generation else set()
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


def update_store(
    cache: Cache, *, counter: CounterRules | None = None, rebuild: bool = False, show_progress: bool | None = None
) -> Store:
    """The store with every committed shard folded in, reading only shards not folded yet (and,
    for the COUNTER sums, the shards that share an hour with them)."""
    rules = counter or CounterRules()
    make_private_folder(cache.paths.aggregates)
    db = cache.db
    remove_other_generations(cache, current_generation(db))
    plan = fold_plan(cache, rebuild=rebuild)
    folded, todo = plan.folded, plan.todo
    store = read_store(cache, plan.generation)
    if not todo and (store.counter.schema.metadata or {}).get(b"token") == rules.token.encode():
        return store
    parts = {"day": [store.day], "requester": [store.requester]}
    spans = [store.spans]
    held = EligibleRows(partial(shard_of, cache))
    with progress_bar(total=len(todo), unit="shard", description="aggregate", enabled=show_progress) as bar:
        for batch in todo:
            table = gets(read_shard(shard_of(cache, batch)))
            requests, counter_rows = counted_requests(table), eligible_statuses(table)
            hours = hours_of(counter_rows)
            held.hold(batch, counter_rows)
            for grain, keys in GRAINS.items():
                parts[grain].append(summed(requests, keys).cast(schemas()[grain]))
            spans.append(pa.table({"batch_id": pa.array([batch] * len(hours), pa.string()), "hour": hours}))
            bar.update(1)
    day, requester = (summed(pa.concat_tables(parts[grain]), GRAINS[grain]).cast(schemas()[grain]) for grain in GRAINS)
    every_span = pa.concat_tables([part.cast(spans_schema()) for part in spans])
    counted = folded_counter(previous=store.counter, spans=every_span, new=todo, rules=rules, rows=held, db=db)
    new = Store.of(day=day, requester=requester, counter=counted, spans=every_span, folded=len(todo))
    fresh = secrets.token_hex(8)
    for grain in TABLES:
        write_table(getattr(new, grain), store_path(cache, grain=grain, generation=fresh))
    fsync_directory(cache.paths.aggregates)
    with transaction(db):
        if not folded:
            db.execute("DELETE FROM aggregated_batches")
        db.executemany("INSERT INTO aggregated_batches VALUES (?)", [(batch,) for batch in todo])
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (GENERATION, fresh.encode()))
    remove_other_generations(cache, fresh)
    return new
