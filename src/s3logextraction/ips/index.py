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
    "timestamp": pa.timestamp("s"),
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
            timestamp_parsers=["%Y-%m-%dT%H:%M:%SZ"],
        ),
    )


def ids_for(values: pa.Array, lookup: dict[bytes, int]) -> pa.Array:
    """`values` (distinct) mapped through `lookup`, in the same order."""
    return pa.array([lookup[value] for value in values.to_pylist()], type=pa.int64())


class Indexer:
    """Assigns ids inside one cache; only the coordinating thread uses it (single writer)."""

    def __init__(self, cache: Cache, keys: IPKeys) -> None:
        self.cache = cache
        self.keys = keys
        # IPs already committed in this run, in memory only: later shards skip HMAC and lookup.
        self.seen_ips: dict[bytes, int] = {}

    def ip_ids(self, distinct: pa.Array) -> tuple[pa.Array, list[tuple[int, bytes, bytes]]]:
        db = self.cache.db
        known: dict[bytes, int] = {}
        new_rows: list[tuple[int, bytes, bytes]] = []
        next_id = db.execute("SELECT coalesce(max(ip_id), 0) + 1 FROM ips").fetchone()[0]
        for ip in distinct.to_pylist():
            if ip in self.seen_ips:
                known[ip] = self.seen_ips[ip]
                continue
            digest = self.keys.digest(ip)
            row = db.execute("SELECT ip_id FROM ips WHERE digest = ?", (digest,)).fetchone()
            if row is None:
                row = (next_id,)
                new_rows.append((next_id, digest, self.keys.seal(ip)))
                next_id += 1
            known[ip] = row[0]
        return ids_for(distinct, known), new_rows

    def agent_ids(self, distinct: pa.Array) -> tuple[pa.Array, list[tuple[int, bytes]]]:
        db = self.cache.db
        known: dict[bytes, int] = {}
        new_rows: list[tuple[int, bytes]] = []
        next_id = db.execute("SELECT coalesce(max(user_agent_id), 0) + 1 FROM user_agents").fetchone()[0]
        for agent in distinct.to_pylist():
            row = db.execute("SELECT user_agent_id FROM user_agents WHERE text = ?", (agent,)).fetchone()
            if row is None:
                row = (next_id,)
                new_rows.append((next_id, agent))
                next_id += 1
            known[agent] = row[0]
        return ids_for(distinct, known), new_rows

    def index_batch(self, batch_id: str) -> None:
        paths = self.cache.paths
        source = paths.shard(batch_id=batch_id, shard_format="tsv")
        target = paths.shard(batch_id=batch_id, shard_format="parquet")
        rows = read_tsv_shard(source)
        distinct_ips = pc.unique(rows["ip"]) if rows.num_rows else pa.array([], pa.binary())
        distinct_agents = pc.unique(rows["user_agent"]) if rows.num_rows else pa.array([], pa.binary())
        ip_ids, new_ips = self.ip_ids(distinct_ips)
        agent_ids, new_agents = self.agent_ids(distinct_agents)
        table = pa.table(
            {
                "timestamp": pc.cast(rows["timestamp"], pa.timestamp("s", tz="UTC")),
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
        self.seen_ips.update(zip(distinct_ips.to_pylist(), ip_ids.to_pylist(), strict=True))
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
