"""The committed log objects, in rows while a run commits them and in one compressed record per
name group once it is done with the group: a history of 10^8 objects costs a few GB of state,
not the 22 GB one indexed row per object would.

A commit inserts its objects as rows of `log_objects` (one transaction with its batch, as ever).
When a run has moved past a group (a day folder, or a day of a flat prefix) and none of its
objects is in flight, the group's rows move into its record in `object_groups` in one
transaction: the record keeps every object's name, size, modification time, batch and line
count, so identity, `changed_objects`, `status` and `validate cache` stay exact.  A record is
rewritten whole when more objects of its group are committed later (a late delivery).
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from ..cache import rows_for, transaction
from ..sources import LogObject, name_group
from .plan import Committed

RECORD_FORMAT = 1


@dataclass(frozen=True)
class CommittedObject:
    name: str
    size: int
    mtime_ns: int | None
    batch_id: str
    lines: int


def encode(group: str, objects: Sequence[CommittedObject]) -> bytes:
    """One group's objects as a compressed record: columns, names without the group's text,
    modification times as differences, batches by number (names sort by time, so the columns
    repeat and compress to about 20 bytes an object)."""
    ordered = sorted(objects, key=lambda item: item.name)
    batches = sorted({item.batch_id for item in ordered})
    number = {batch: index for index, batch in enumerate(batches)}
    previous = 0
    deltas: list[int | None] = []
    for item in ordered:
        if item.mtime_ns is None:
            deltas.append(None)
            continue
        deltas.append(item.mtime_ns - previous)
        previous = item.mtime_ns
    columns = [
        RECORD_FORMAT,
        batches,
        [item.name[len(group) :] for item in ordered],
        [item.size for item in ordered],
        deltas,
        [item.lines for item in ordered],
        [number[item.batch_id] for item in ordered],
    ]
    return zlib.compress(json.dumps(columns, separators=(",", ":")).encode(), 9)


def decode(group: str, record: bytes) -> list[CommittedObject]:
    version, batches, names, sizes, deltas, lines, numbers = json.loads(zlib.decompress(record))
    if version != RECORD_FORMAT:
        raise ValueError(f"committed-object record of format {version}")
    objects = []
    previous = 0
    for name, size, delta, count, batch in zip(names, sizes, deltas, lines, numbers, strict=True):
        mtime_ns = None if delta is None else previous + delta
        previous = previous if mtime_ns is None else mtime_ns
        objects.append(CommittedObject(group + name, size, mtime_ns, batches[batch], count))
    return objects


def groups_of(names: Iterable[str]) -> set[str]:
    return {name_group(name) for name in names}


def recorded(db: sqlite3.Connection, groups: Sequence[str]) -> Iterator[CommittedObject]:
    """The objects in the records of `groups`."""
    for group, record in rows_for(db, select="SELECT grp, record FROM object_groups", column="grp", keys=groups):
        yield from decode(group, record)


def committed_lookup(db: sqlite3.Connection, names: Sequence[str]) -> tuple[dict[str, Committed], set[str]]:
    """The committed size and mtime of each of `names` that was committed (from rows and from the
    records of their groups: a night asks about its days, not the history), and the groups that
    still hold rows."""
    found: dict[str, Committed] = {}
    wanted = set(names)
    for item in recorded(db, sorted(groups_of(names))):
        if item.name in wanted:
            found[item.name] = (item.size, item.mtime_ns)
    with_rows = set()
    for name, size, mtime_ns in rows_for(
        db, select="SELECT name, size, mtime_ns FROM log_objects", column="name", keys=names
    ):
        found[name] = (size, mtime_ns)
        with_rows.add(name_group(name))
    return found, with_rows


def compact(db: sqlite3.Connection, groups: Iterable[str]) -> int:
    """Moves the rows of `groups` into their records (merged with what they hold); the caller
    holds the transaction.  Returns the objects moved."""
    moved = 0
    for group in sorted(set(groups)):
        rows = [
            CommittedObject(*row)
            for row in db.execute(
                "SELECT name, size, mtime_ns, batch_id, lines FROM log_objects WHERE name >= ? AND name < ?",
                (group, group + "\U0010ffff"),
            )
            if name_group(row[0]) == group
        ]
        if not rows:
            continue
        objects = {item.name: item for item in recorded(db, [group])}
        objects.update((item.name, item) for item in rows)
        record = encode(group, list(objects.values()))
        db.execute(
            "INSERT OR REPLACE INTO object_groups VALUES (?, ?, ?, ?)",
            (group, len(objects), max(item.batch_id for item in objects.values()), record),
        )
        db.executemany("DELETE FROM log_objects WHERE name = ?", [(item.name,) for item in rows])
        moved += len(rows)
    return moved


def compact_all(db: sqlite3.Connection) -> int:
    """Every row into its group's record (the migration to records, and a run's last step)."""
    rows = db.execute("SELECT name FROM log_objects ORDER BY name")
    groups = {name_group(name) for (name,) in rows}
    return compact(db, groups)


def committed_objects(db: sqlite3.Connection, *, batches_from: str = "") -> Iterator[CommittedObject]:
    """Every committed object (rows, then records), or those of the records holding a batch at or
    after `batches_from` (a batch id) and all rows: what a night's check reads."""
    for row in db.execute("SELECT name, size, mtime_ns, batch_id, lines FROM log_objects"):
        yield CommittedObject(*row)
    for group, record in db.execute("SELECT grp, record FROM object_groups WHERE last_batch >= ?", (batches_from,)):
        yield from decode(group, record)


def committed_count(db: sqlite3.Connection) -> int:
    rows = db.execute("SELECT count(*) FROM log_objects").fetchone()[0]
    return int(rows + db.execute("SELECT coalesce(sum(objects), 0) FROM object_groups").fetchone()[0])


def lines_by_batch(objects: Iterable[CommittedObject]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for item in objects:
        totals[item.batch_id] += item.lines
    return totals


@dataclass
class GroupTracker:
    """The name groups a run is done with: listed (a group comes in one chunk) and none of its
    objects waiting or in flight.  Their rows move into their records as soon as that holds, so
    a backfill's state stays compact while it runs, and the lookups of the groups still open
    stay cheap."""

    pending: Counter[str] = field(default_factory=Counter)
    ready: set[str] = field(default_factory=set)

    def planned(self, todo: Iterable[LogObject]) -> None:
        self.pending.update(name_group(log_object.name) for log_object in todo)

    def finished(self, objects: Iterable[LogObject]) -> None:
        """Objects committed or failed: no longer in flight."""
        for log_object in objects:
            group = name_group(log_object.name)
            self.pending[group] -= 1
            if self.pending[group] <= 0:
                del self.pending[group]
            self.ready.add(group)

    def compact_done(self, db: sqlite3.Connection, *, also: Iterable[str] = ()) -> None:
        """Moves the rows of the groups done into their records (`also`: groups found holding
        rows when they were planned)."""
        self.ready.update(also)
        done = [group for group in self.ready if group not in self.pending]
        if not done:
            return
        with transaction(db):
            compact(db, done)
        self.ready.difference_update(done)
