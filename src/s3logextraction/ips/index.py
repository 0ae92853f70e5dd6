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

    `seen` keeps the values committed in this run in memory only, so later shards skip the hash
    and the DB lookup; `find` looks a value up in the DB and `row` builds the row of a new one.
    """

    def __init__(self, *, find: Callable[[bytes], int | None], row: Callable[[int, bytes], tuple[object, ...]]) -> None:
        self.find = find
        self.row = row
        self.seen: dict[bytes, int] = {}

    def assign(self, distinct: pa.Array, *, next_id: int) -> tuple[pa.Array, list[tuple[object, ...]]]:
        ids: list[int] = []
        new_rows: list[tuple[object, ...]] = []
        for value in distinct.to_pylist():
            found = self.seen.get(value)
            if found is None:
                found = self.find(value)
            if found is None:
                found, next_id = next_id, next_id + 1
                new_rows.append(self.row(found, value))
            ids.append(found)
        return pa.array(ids, type=pa.int64()), new_rows

    def remember(self, distinct: pa.Array, ids: pa.Array) -> None:
        self.seen.update(zip(distinct.to_pylist(), ids.to_pylist(), strict=True))


class Indexer:
    """Assigns ids inside one cache; only the coordinating thread uses it (single writer)."""

    def __init__(self, cache: Cache, keys: IPKeys) -> None:
        self.cache = cache
        self.keys = keys
        self.ips = IdTable(
            find=lambda ip: self.lookup("SELECT ip_id FROM ips WHERE digest = ?", keys.digest(ip)),
            row=lambda ip_id, ip: (ip_id, keys.digest(ip), keys.seal(ip)),
        )
        self.agents = IdTable(
            find=lambda agent: self.lookup("SELECT user_agent_id FROM user_agents WHERE text = ?", agent),
            row=lambda agent_id, agent: (agent_id, agent),
        )

    def lookup(self, query: str, value: bytes) -> int | None:
        row = self.cache.db.execute(query, (value,)).fetchone()
        return None if row is None else int(row[0])

    def next_id(self, query: str) -> int:
        return int(self.cache.db.execute(query).fetchone()[0])

    def index_batch(self, batch_id: str) -> None:
        paths = self.cache.paths
        source = paths.shard(batch_id=batch_id, shard_format="tsv")
        target = paths.shard(batch_id=batch_id, shard_format="parquet")
        rows = read_tsv_shard(source)
        distinct_ips = pc.unique(rows["ip"]) if rows.num_rows else pa.array([], pa.binary())
        distinct_agents = pc.unique(rows["user_agent"]) if rows.num_rows else pa.array([], pa.binary())
        ip_ids, new_ips = self.ips.assign(
            distinct_ips, next_id=self.next_id("SELECT coalesce(max(ip_id), 0) + 1 FROM ips")
        )
        agent_ids, new_agents = self.agents.assign(
            distinct_agents, next_id=self.next_id("SELECT coalesce(max(user_agent_id), 0) + 1 FROM user_agents")
        )
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
