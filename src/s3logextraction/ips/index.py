"""The anonymous index: raw IPs and user agents become ids in memory, before anything is written.

`Indexer.index` maps a batch's rows (raw IPs and agents, in memory) to ids: new IPs get the next
id and are stored only as a keyed digest plus sealed bytes.  The extraction commits the indexed
Parquet shard and the new ids in the same transaction as the batch (`extract/journal.py`), so no
raw IP is ever written in the clear.

`update ip indexes` converts the TSV shards (raw IPs in the clear) that versions before 0.2 left
in a cache: per shard, the Parquet file is written, fsynced and renamed into shards/, one
transaction stores the new ids and marks the batch as Parquet, then the TSV is deleted.  A crash
at any point leaves either the committed TSV or the committed Parquet (the other file is removed
by the next run), never both counted.
"""

from __future__ import annotations

import functools
import itertools
import operator
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from ..addresses import requester_rows
from ..arrow import one_chunk, pa, pc, pq
from ..cache import Cache, PathLike, create_private, fsync_directory, rows_for, transaction
from ..errors import storage_errors
from ..progress import progress_bar
from ..rows import read_rows
from .keys import IPKeys, load_keys


@functools.cache
def shard_schema() -> pa.Schema:
    return pa.schema(
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


def encoded(column: pa.ChunkedArray) -> pa.DictionaryArray:
    """The dictionary column with only the values its rows use: rows dropped after reading (the
    exclusion list) leave theirs in the dictionary, and ids go to the requesters and agents of
    kept rows only."""
    array = one_chunk(column)
    if len(pc.unique(array.indices)) == len(array.dictionary):
        return array
    return pc.dictionary_encode(array.dictionary_decode())


class IdTable:
    """Ids for one kind of value (IPs or user agents), assigned in order of first appearance.

    A value is stored under its lookup key (`key_of`: the keyed digest for IPs, the text itself for
    agents), with its sealed bytes where `sealed_of` is given.  `seen` keeps the values committed
    in this run in memory only, so later shards skip the hash and the DB; the rest are looked up in
    batches, one query per 500 values, unless the table was empty when the run began (a first
    backfill): this process is its one writer, so a value it has not seen is new.
    """

    def __init__(
        self,
        db: sqlite3.Connection,
        *,
        table: str,
        id_column: str,
        key_column: str,
        key_of: Callable[[bytes], bytes],
        sealed_of: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.db = db
        self.table, self.id_column, self.key_column = table, id_column, key_column
        self.key_of, self.sealed_of = key_of, sealed_of
        self.seen: dict[bytes, int] = {}
        self.stored_before = db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None

    def stored(self, keys: list[bytes]) -> dict[bytes, int]:
        if not self.stored_before:
            return {}
        select = f"SELECT {self.key_column}, {self.id_column} FROM {self.table}"
        return {
            bytes(key): int(ident) for key, ident in rows_for(self.db, select=select, column=self.key_column, keys=keys)
        }

    def assign(self, distinct: pa.Array) -> Assigned:
        """Ids for `distinct` (unique values), in its order: from this run's memory, else the DB, else
        new; the work per value is done by C loops (map, compress, zip), as a batch has thousands."""
        values = distinct.to_pylist()
        known = list(map(self.seen.get, values))
        unseen = list(itertools.compress(values, map(operator.not_, known)))  # ids start at 1
        keys = list(map(self.key_of, unseen))
        ids = list(map(self.stored(keys).get, keys))
        is_new = list(map(operator.not_, ids))
        first = int(self.db.execute(f"SELECT coalesce(max({self.id_column}), 0) + 1 FROM {self.table}").fetchone()[0])
        new_ids = range(first, first + sum(is_new))
        for position, ident in zip(itertools.compress(range(len(ids)), is_new), new_ids, strict=True):
            ids[position] = ident
        filled = cast(list[int], ids)  # every value has its id now
        columns: list[Iterable[object]] = [new_ids, itertools.compress(keys, is_new)]
        if self.sealed_of is not None:
            columns.append(map(self.sealed_of, itertools.compress(unseen, is_new)))
        assigned = pa.array(known, type=pa.int64())
        if unseen:
            assigned = pc.replace_with_mask(assigned, assigned.is_null(), pa.array(filled, pa.int64()))
        # `found` is not a copy of `seen`: that would cost every batch the whole run's values
        return Assigned(
            ids=assigned, new_rows=list(zip(*columns, strict=True)), found=dict(zip(unseen, filled, strict=True))
        )

    def remember(self, assigned: Assigned) -> None:
        self.seen.update(assigned.found)


@dataclass
class Assigned:
    """The ids of a batch's distinct values (in their order), the rows the commit stores for the new
    ones, and the values this run had not seen (remembered once the commit is done)."""

    ids: pa.Array
    new_rows: list[tuple[object, ...]]
    found: dict[bytes, int]


@dataclass
class IndexedRows:
    """A batch's rows with ids in place of IPs and agents, and the ids that are new."""

    table: pa.Table
    ips: Assigned
    agents: Assigned


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
            sealed_of=keys.seal,
        )
        self.agents = IdTable(
            cache.db,
            table="user_agents",
            id_column="user_agent_id",
            key_column="text",
            key_of=lambda agent: agent,
        )

    def index(self, rows: pa.Table) -> IndexedRows:
        ips, agents = encoded(rows["ip"]), encoded(rows["user_agent"])
        ip_ids, agent_ids = self.ips.assign(ips.dictionary), self.agents.assign(agents.dictionary)
        table = pa.table(
            {
                "timestamp": rows["timestamp"],
                "key": rows["key"],
                "operation": pc.dictionary_encode(rows["operation"]),
                "status": rows["status"],
                "bytes_sent": rows["bytes_sent"],
                "object_size": rows["object_size"],
                "ip_id": pc.take(ip_ids.ids, ips.indices),
                "user_agent_id": pc.cast(pc.take(agent_ids.ids, agents.indices), pa.int32()),
            }
        ).cast(shard_schema())
        return IndexedRows(table, ip_ids, agent_ids)

    def write_shard(self, indexed: IndexedRows, *, target: Path) -> None:
        """Parquet in staging (0600), fsynced, renamed into shards/: the file holds ids only."""
        paths = self.cache.paths
        staged = paths.staging / target.name
        descriptor = create_private(staged)
        with os.fdopen(descriptor, "wb") as handle:
            # Statistics for the timestamp only: the one column read with a filter (COUNTER's hours).
            pq.write_table(
                indexed.table, handle, compression="zstd", row_group_size=1 << 20, write_statistics=["timestamp"]
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(staged, target)
        fsync_directory(paths.shards)

    @staticmethod
    def store(db: sqlite3.Connection, indexed: IndexedRows) -> None:
        """The new ids, inside the caller's transaction (the batch's commit)."""
        db.executemany("INSERT INTO ips VALUES (?, ?, ?)", indexed.ips.new_rows)
        db.executemany("INSERT INTO user_agents VALUES (?, ?)", indexed.agents.new_rows)

    def remember(self, indexed: IndexedRows) -> None:
        """After the commit: later batches of this run find these ids without the DB."""
        self.ips.remember(indexed.ips)
        self.agents.remember(indexed.agents)

    def convert_tsv_shard(self, batch_id: str) -> None:
        paths = self.cache.paths
        source = paths.shard(batch_id=batch_id, shard_format="tsv")
        indexed = self.index(requester_rows(read_rows(source)))
        self.write_shard(indexed, target=paths.shard(batch_id=batch_id, shard_format="parquet"))
        with transaction(self.cache.db) as db:
            self.store(db, indexed)
            db.execute("UPDATE batches SET format = 'parquet' WHERE batch_id = ?", (batch_id,))
        self.remember(indexed)
        source.unlink()

    def convert_pending(self, *, show_progress: bool | None = None) -> int:
        pending = [
            batch_id
            for (batch_id,) in self.cache.db.execute(
                "SELECT batch_id FROM batches WHERE format = 'tsv' ORDER BY batch_id"
            )
        ]
        if not pending:
            return 0
        with progress_bar(total=len(pending), unit="shard", description="index", enabled=show_progress) as bar:
            for batch_id in pending:
                self.convert_tsv_shard(batch_id)
                bar.update(1)
        return len(pending)


def open_indexer(cache: Cache, *, password: str | None) -> Indexer:
    return Indexer(cache, load_keys(cache.db, password=password))


def update_ip_indexes(*, cache: PathLike, password: str | None = None, show_progress: bool | None = None) -> int:
    """Converts every TSV shard an older version left (raw IPs in the clear) into an indexed
    Parquet shard; returns how many were converted (0: nothing to do, `extract` indexes as it
    commits)."""
    with Cache.open_for_writing(cache, command="update ip indexes") as opened, storage_errors(what=opened.paths.root):
        return open_indexer(opened, password=password).convert_pending(show_progress=show_progress)
