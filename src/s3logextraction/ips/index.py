"""`update ip indexes`: TSV shards become Parquet shards with `ip_id` and `user_agent_id`.

Per shard: read the TSV (pyarrow, multithreaded C++), map the distinct IPs and user agents of the
shard to ids (new IPs get the next id and are stored only as keyed digest plus sealed bytes),
write the Parquet file to staging, fsync, rename into shards/, then one transaction stores the
new ids and marks the batch as Parquet; finally the TSV (the only clear-text copy) is deleted.
A crash at any point leaves either the committed TSV or the committed Parquet (the other file
is removed by the next run), never both counted.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..cache import Cache, fsync_directory, storage_errors, transaction
from ..progress import progress_bar
from .keys import IPKeys, load_keys

# SIGINT/SIGTERM belong to the extraction's drain logic, not to pyarrow's cancellation.
pa.enable_signal_handlers(False)

TSV_COLUMNS = ("timestamp", "key", "operation", "status", "bytes_sent", "object_size", "ip", "user_agent")
TSV_TYPES = {
    "timestamp": pa.timestamp("s", tz="UTC"),  # the parser writes ISO 8601 with Z (fast built-in parser)
    "key": pa.string(),
    "operation": pa.string(),
    "status": pa.string(),
    "bytes_sent": pa.int64(),
    "object_size": pa.int64(),
    "ip": pa.binary(),
    "user_agent": pa.binary(),
}
SHARD_SCHEMA = pa.schema(
    [
        ("timestamp", pa.timestamp("s", tz="UTC")),
        ("key", pa.dictionary(pa.int32(), pa.string())),
        ("operation", pa.dictionary(pa.int8(), pa.string())),
        ("status", pa.int16()),
        ("bytes_sent", pa.int64()),
        ("object_size", pa.int64()),
        ("ip_id", pa.int64()),
        ("user_agent_id", pa.int32()),
    ]
)


def read_tsv_shard(path: Path) -> pa.Table:
    if path.stat().st_size == 0:
        return pa.table({name: pa.array([], type=kind) for name, kind in TSV_TYPES.items()})
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=list(TSV_COLUMNS), block_size=16 << 20),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False),
        convert_options=pacsv.ConvertOptions(
            column_types=TSV_TYPES,
            check_utf8=False,
            strings_can_be_null=False,
        ),
    )


class IdTable:
    """Ids for one kind of value (IPs or user agents), assigned in order of first appearance.

    A value is stored under its lookup key (`key_of`: the keyed digest for IPs, the text itself for
    agents).  `seen` keeps the values committed in this run in memory only, so later shards skip
    the hash and the DB; the rest are looked up in batches, one query per 500 values.
    """

    def __init__(
        self,
        db: sqlite3.Connection,
        *,
        table: str,
        id_column: str,
        key_column: str,
        key_of: Callable[[bytes], bytes],
        row: Callable[[int, bytes, bytes], tuple[object, ...]],
    ) -> None:
        self.db = db
        self.table, self.id_column, self.key_column = table, id_column, key_column
        self.key_of = key_of
        self.row = row
        self.seen: dict[bytes, int] = {}

    def stored(self, keys: list[bytes]) -> dict[bytes, int]:
        found: dict[bytes, int] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            query = (
                f"SELECT {self.key_column}, {self.id_column} FROM {self.table} "
                f"WHERE {self.key_column} IN ({','.join('?' * len(chunk))})"
            )
            found.update((bytes(key), int(ident)) for key, ident in self.db.execute(query, chunk))
        return found

    def assign(self, distinct: pa.Array) -> tuple[pa.Array, list[tuple[object, ...]]]:
        values = distinct.to_pylist()
        unseen = [value for value in values if value not in self.seen]
        keys = {value: self.key_of(value) for value in unseen}
        stored = self.stored(list(keys.values()))
        next_id = int(self.db.execute(f"SELECT coalesce(max({self.id_column}), 0) + 1 FROM {self.table}").fetchone()[0])
        known = dict(self.seen)
        new_rows: list[tuple[object, ...]] = []
        for value in unseen:
            ident = stored.get(keys[value])
            if ident is None:
                ident, next_id = next_id, next_id + 1
                new_rows.append(self.row(ident, keys[value], value))
            known[value] = ident
        return pa.array([known[value] for value in values], type=pa.int64()), new_rows

    def remember(self, distinct: pa.Array, ids: pa.Array) -> None:
        self.seen.update(zip(distinct.to_pylist(), ids.to_pylist(), strict=True))


class Indexer:
    """Assigns ids inside one cache; only the coordinating thread uses it (single writer)."""

    def __init__(self, cache: Cache, keys: IPKeys) -> None:
        self.cache = cache
        self.ips = IdTable(
            cache.db,
            table="ips",
            id_column="ip_id",
            key_column="digest",
            key_of=keys.digest,
            row=lambda ip_id, digest, ip: (ip_id, digest, keys.seal(ip)),
        )
        self.agents = IdTable(
            cache.db,
            table="user_agents",
            id_column="user_agent_id",
            key_column="text",
            key_of=lambda agent: agent,
            row=lambda agent_id, text, _agent: (agent_id, text),
        )

    def index_batch(self, batch_id: str) -> None:
        paths = self.cache.paths
        source = paths.shard(batch_id=batch_id, shard_format="tsv")
        target = paths.shard(batch_id=batch_id, shard_format="parquet")
        rows = read_tsv_shard(source)
        distinct_ips = pc.unique(rows["ip"]) if rows.num_rows else pa.array([], pa.binary())
        distinct_agents = pc.unique(rows["user_agent"]) if rows.num_rows else pa.array([], pa.binary())
        ip_ids, new_ips = self.ips.assign(distinct_ips)
        agent_ids, new_agents = self.agents.assign(distinct_agents)
        table = pa.table(
            {
                "timestamp": rows["timestamp"],
                "key": pc.dictionary_encode(rows["key"]),
                "operation": pc.dictionary_encode(rows["operation"]),
                "status": pc.cast(rows["status"], pa.int16()),
                "bytes_sent": rows["bytes_sent"],
                "object_size": rows["object_size"],
                "ip_id": pc.take(ip_ids, pc.index_in(rows["ip"], value_set=distinct_ips)),
                "user_agent_id": pc.cast(
                    pc.take(agent_ids, pc.index_in(rows["user_agent"], value_set=distinct_agents)), pa.int32()
                ),
            }
        ).cast(SHARD_SCHEMA)
        staged = paths.staging / target.name
        pq.write_table(table, staged, compression="zstd", row_group_size=1 << 20)
        descriptor = os.open(staged, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.rename(staged, target)
        fsync_directory(paths.shards)
        with transaction(self.cache.db) as db:
            db.executemany("INSERT INTO ips VALUES (?, ?, ?)", new_ips)
            db.executemany("INSERT INTO user_agents VALUES (?, ?)", new_agents)
            db.execute("UPDATE batches SET format = 'parquet' WHERE batch_id = ?", (batch_id,))
        self.ips.remember(distinct_ips, ip_ids)
        self.agents.remember(distinct_agents, agent_ids)
        source.unlink()

    def index_pending(self, *, show_progress: bool | None = None) -> int:
        pending = [
            batch_id
            for (batch_id,) in self.cache.db.execute(
                "SELECT batch_id FROM batches WHERE format = 'tsv' ORDER BY batch_id"
            )
        ]
        with progress_bar(total=len(pending), unit="shard", description="index", enabled=show_progress) as bar:
            for batch_id in pending:
                self.index_batch(batch_id)
                bar.update(1)
        return len(pending)


def open_indexer(cache: Cache, *, password: str | None) -> Indexer:
    return Indexer(cache, load_keys(cache.db, password=password))


def update_ip_indexes(*, cache: Path, password: str | None = None, show_progress: bool | None = None) -> int:
    """Indexes every committed TSV shard; returns how many were indexed."""
    with Cache.open_for_writing(cache, command="update ip indexes") as opened, storage_errors(what=opened.paths.root):
        return open_indexer(opened, password=password).index_pending(show_progress=show_progress)
