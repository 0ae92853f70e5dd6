"""COUNTER usage metrics (Code of Practice for Research Data, release 1, aligned with Release 5).

A second metric set beside the DANDI-compatible counts, never replacing them.  An *item* is an
object key (a blob, or a whole Zarr store in DANDI mode); a *user* is an ip_id with its user
agent (COUNTER's rule for IP-authenticated users); a *session* is a user within one UTC hour.

* Eligible: REST.GET.OBJECT with status 200, 206 or 304.
* Robots (the COUNTER robots list, package `counter-robots`) are removed.  Machine clients (its
  machine list, and the configured allow-list, which wins over the robots list because
  scientific clients such as boto3 or python-requests are real users) are counted under
  `Access_Method=Machine`; everyone else under `Regular`.
* Double clicks: a request followed by another of the same item by the same user at most 30
  seconds later is removed (COUNTER keeps the second click of a double click, and treats a run of
  them the same way).
* `Total_Item_Requests` counts the requests kept; `Unique_Item_Requests` counts the sessions that
  requested an item, once per item.

Folding: the store keeps exact sums per (key, month, access method) and, per folded batch, the
UTC hours its eligible requests fall in.  The figures of an hour depend only on the requests of
that hour and the first 30 seconds of the next, so new shards make *dirty* the hours they touch
and the hour before each; for those hours the requests of every batch touching them are read
again, and the store becomes `store + figures(all batches) - figures(batches folded before)`,
exact whatever the order in which logs arrive.  Dirty hours are processed a UTC day at a time, so
memory is bounded by a day of requests.  A change of the classification (allow-list, robots list
version) recomputes the COUNTER sums from every shard.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..agents import ROBOT, CounterRules
from ..arrow import pa, pc, read_shard_file

ELIGIBLE_OPERATION = "REST.GET.OBJECT"
ELIGIBLE_STATUSES = (200, 206, 304)
DOUBLE_CLICK_SECONDS = 30
HOUR = 3600
OFFSET_BITS = 17  # seconds into a day of dirty hours, plus the 30 s after its last hour: < 2**17
COUNTER_COUNTS = ("Total_Item_Requests", "Unique_Item_Requests")
ACCESS_METHODS = ("Machine", "Regular")  # indexed by the class codes of agents.py


@functools.cache
def key_type() -> pa.DataType:
    """Object keys as a dictionary column: each distinct key held once, whatever its number of rows."""
    return pa.dictionary(pa.int32(), pa.string())


@functools.cache
def counter_schema() -> pa.Schema:
    return pa.schema(
        [
            ("key", key_type()),
            ("month", pa.date32()),
            ("access_method", pa.dictionary(pa.int8(), pa.string())),
            *((name, pa.int64()) for name in COUNTER_COUNTS),
        ]
    )


@functools.cache
def spans_schema() -> pa.Schema:
    return pa.schema([("batch_id", pa.string()), ("hour", pa.int64())])


def gets(table: pa.Table) -> pa.Table:
    """A shard's REST.GET.OBJECT rows: the only operation either metric set counts."""
    return table.filter(pc.equal(table["operation"].cast(pa.string()), ELIGIBLE_OPERATION))


def eligible_statuses(table: pa.Table) -> pa.Table:
    """The GET rows (`gets`) with a status COUNTER counts."""
    status = table["status"]
    return table.filter(pc.is_in(status, value_set=pa.array(ELIGIBLE_STATUSES, status.type)))


def eligible(table: pa.Table) -> pa.Table:
    """The rows COUNTER may count, robots not yet removed."""
    return eligible_statuses(gets(table))


def seconds_of(timestamps: pa.ChunkedArray) -> pa.Array:
    """Seconds since the epoch (shards store milliseconds)."""
    return pc.cast(pc.cast(timestamps, pa.timestamp("s", tz="UTC")), pa.int64()).combine_chunks()


def hours_of(rows: pa.Table) -> pa.Array:
    """The distinct UTC hours (hours since the epoch) of eligible requests."""
    return pc.unique(pc.divide(seconds_of(rows["timestamp"]), HOUR))


def empty_counter(token: str) -> pa.Table:
    return counter_schema().empty_table().replace_schema_metadata({"token": token})


def agent_classes(db: sqlite3.Connection, agent_ids: list[int], rules: CounterRules) -> list[int]:
    """The class code of each agent id, from the agent's text."""
    texts: dict[int, str | bytes] = {}
    for start in range(0, len(agent_ids), 500):
        chunk = agent_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        texts.update(db.execute(f"SELECT user_agent_id, text FROM user_agents WHERE user_agent_id IN ({marks})", chunk))
    return [rules.classify(as_text(texts.get(agent, ""))) for agent in agent_ids]


def as_text(agent: str | bytes) -> str:
    """An agent as the parser wrote it (bytes from the log; text in older caches)."""
    return agent.decode("utf-8", "replace") if isinstance(agent, bytes) else agent


def differs(column: pa.Array) -> pa.Array:
    """For each row but the first, whether its value differs from the row before."""
    return pc.not_equal(column[1:], column[:-1])


def starts(columns: Sequence[pa.Array]) -> pa.Array:
    """Whether each row starts a new run of equal `columns` (sorted rows: a new group)."""
    if not len(columns[0]):
        return pa.array([], pa.bool_())
    changed = differs(columns[0])
    for column in columns[1:]:
        changed = pc.or_(changed, differs(column))
    return pa.concat_arrays([pa.array([True]), changed])


def figures(rows: pa.Table, *, hours: pa.Array) -> pa.Table:
    """COUNTER sums per (key, month, access method) of the requests of `hours` (one UTC day's),
    from `rows` (every eligible request of those hours and the 30 seconds after each, key as a
    dictionary, each agent's class in `class`).  One sort over two packed columns: (key, agent)
    and (ip_id, seconds into the day); within one (key, agent), two requests at most 30 s apart
    in the second column are necessarily of the same ip_id (an ip_id step moves it by far more
    than a day's seconds).  Pure pyarrow: runs in a worker thread."""
    agents = rows["user_agent_id"].combine_chunks()
    codes = rows["class"].combine_chunks()
    users = pc.not_equal(codes, ROBOT)
    keys = rows["key"].combine_chunks().filter(users)
    if not len(keys):
        return counter_schema().empty_table()
    start = hours[0].as_py() // 24 * 24 * HOUR
    offset = pc.subtract(seconds_of(rows["timestamp"]).filter(users), start)
    item = pc.add(pc.shift_left(pc.cast(keys.indices, pa.int64()), 32), pc.cast(agents.filter(users), pa.int64()))
    user = pc.add(pc.shift_left(rows["ip_id"].combine_chunks().filter(users), OFFSET_BITS), offset)
    order = pc.sort_indices(
        pa.table({"item": item, "user": user}), sort_keys=[("item", "ascending"), ("user", "ascending")]
    )
    item, user, codes = (pc.take(column, order) for column in (item, user, codes.filter(users)))
    next_soon = pc.and_(
        pc.equal(item[1:], item[:-1]), pc.less_equal(pc.subtract(user[1:], user[:-1]), DOUBLE_CLICK_SECONDS)
    )
    hour = pc.divide(pc.add(pc.bit_wise_and(user, (1 << OFFSET_BITS) - 1), start), HOUR)
    kept = pc.and_(pc.invert(pa.concat_arrays([next_soon, pa.array([False])])), pc.is_in(hour, value_set=hours))
    item, user, codes, hour = (column.filter(kept) for column in (item, user, codes, hour))
    session = pc.add(pc.shift_left(pc.shift_right(user, OFFSET_BITS), 5), pc.subtract(hour, start // HOUR))
    counted = pa.table(
        {
            "key": pc.cast(pc.shift_right(item, 32), pa.int32()),
            "class": codes,
            "Total_Item_Requests": pa.nulls(len(item), pa.int64()).fill_null(1),
            "Unique_Item_Requests": pc.cast(starts([item, session]), pa.int64()),
        }
    )
    sums = counted.group_by(["key", "class"], use_threads=False).aggregate([(name, "sum") for name in COUNTER_COUNTS])
    month = datetime.fromtimestamp(start, UTC).date().replace(day=1)  # one day: one month
    return pa.table(
        {
            "key": pa.DictionaryArray.from_arrays(sums["key"].combine_chunks(), keys.dictionary),
            "month": pa.array([month] * sums.num_rows, pa.date32()),
            "access_method": pa.DictionaryArray.from_arrays(
                pc.cast(sums["class"], pa.int8()).combine_chunks(), pa.array(ACCESS_METHODS)
            ),
            **{name: sums[f"{name}_sum"] for name in COUNTER_COUNTS},
        }
    ).cast(counter_schema())


def counter_sums(table: pa.Table, groups: Sequence[str]) -> pa.Table:
    """Sums of the two COUNTER counts per `groups`, rows whose sums are both zero left out."""
    result = (
        table.unify_dictionaries()
        .group_by(list(groups), use_threads=False)
        .aggregate([(name, "sum") for name in COUNTER_COUNTS])
    )
    result = result.rename_columns([name.removesuffix("_sum") for name in result.column_names])
    nonzero = pc.or_(*(pc.not_equal(result[name], 0) for name in COUNTER_COUNTS))
    return result.filter(nonzero).select([*groups, *COUNTER_COUNTS]).combine_chunks()


def summed_counter(table: pa.Table) -> pa.Table:
    return counter_sums(table, ["key", "month", "access_method"]).cast(counter_schema()).combine_chunks()


def by_month(table: pa.Table) -> pa.Table:
    """Attributed COUNTER sums (dataset instead of key) per (dataset, month as YYYY-MM, Access_Method)."""
    months = pc.strftime(table["month"], format="%Y-%m")
    table = table.set_column(table.schema.get_field_index("month"), "month", months)
    table = table.rename_columns(["Access_Method" if name == "access_method" else name for name in table.column_names])
    return counter_sums(table, ["dataset", "month", "Access_Method"])


def negated(table: pa.Table) -> pa.Table:
    for name in COUNTER_COUNTS:
        table = table.set_column(table.schema.get_field_index(name), name, pc.negate(table[name]))
    return table


def dirty_hours(spans: pa.Table, new: set[str]) -> list[pa.Array]:
    """The hours whose figures new batches can change (theirs and the hour before each, for the
    double clicks that cross the hour), one sorted array per UTC day."""
    touched = spans.filter(pc.is_in(spans["batch_id"], value_set=pa.array(sorted(new), pa.string())))["hour"]
    hours = sorted({hour + shift for hour in pc.unique(touched).to_pylist() for shift in (-1, 0)})
    days: dict[int, list[int]] = {}
    for hour in hours:
        days.setdefault(hour // 24, []).append(hour)
    return [pa.array(day, pa.int64()) for day in days.values()]


ROW_COLUMNS = ["timestamp", "key", "ip_id", "user_agent_id"]


@functools.cache
def rows_schema() -> pa.Schema:
    return pa.schema(
        [
            ("timestamp", pa.timestamp("ms", tz="UTC")),
            ("key", key_type()),
            ("ip_id", pa.int64()),
            ("user_agent_id", pa.int32()),
        ]
    )


def compacted(table: pa.Table) -> pa.Table:
    """`table` with its key dictionary cut down to the keys its rows use: a shard's dictionary
    holds every key of the shard, and unifying whole dictionaries for each day would cost more
    than the day's requests."""
    keys = table["key"].combine_chunks()
    used = pc.unique(keys.indices)
    codes = pc.cast(pc.index_in(keys.indices, value_set=used), pa.int32())
    key = pa.DictionaryArray.from_arrays(codes, keys.dictionary.take(used))
    return table.set_column(table.schema.get_field_index("key"), "key", key)


def by_day(rows: pa.Table) -> dict[int, pa.Table]:
    """Requests per UTC day (days since the epoch), each with a compact key dictionary."""
    day = pc.divide(seconds_of(rows["timestamp"]), 24 * HOUR)
    order = pc.sort_indices(day)
    rows, day = rows.take(order), day.take(order)
    parts, start = {}, 0
    for entry in pc.value_counts(day).to_pylist():  # sorted rows: the values come in ascending order
        parts[entry["values"]] = compacted(rows.slice(start, entry["counts"]))
        start += entry["counts"]
    return parts


@dataclass
class EligibleRows:
    """The eligible requests of shards: from memory, split by day, for the shards this fold has
    just read (up to `budget` bytes: a first fold of a small archive reads no shard twice), else
    from the file."""

    shard_of: Callable[[str], Path]
    budget: int = 128 << 20
    held: dict[str, dict[int, pa.Table]] = field(default_factory=dict)

    def hold(self, batch: str, rows: pa.Table) -> None:
        """Keeps a shard's eligible requests (as `eligible` gives them) while the budget allows."""
        rows = rows.select(ROW_COLUMNS)
        if rows.nbytes <= self.budget:
            self.held[batch] = by_day(rows)
            self.budget -= rows.nbytes

    def of(self, batch: str, *, hours: pa.Array) -> pa.Table:
        """The eligible requests of one shard in `hours` (of one day) and the 30 seconds after each."""
        first, last = hours[0].as_py(), hours[-1].as_py()
        days = self.held.get(batch)
        if days is not None:
            pieces = [days[day] for day in sorted({first // 24, (last + 1) // 24}) if day in days]
            table = pa.concat_tables(pieces) if pieces else rows_schema().empty_table()
        else:
            start = datetime.fromtimestamp(first * HOUR, UTC)
            end = datetime.fromtimestamp((last + 1) * HOUR + DOUBLE_CLICK_SECONDS + 1, UTC)
            columns = [*ROW_COLUMNS, "operation", "status"]
            timespan = [("timestamp", ">=", start), ("timestamp", "<", end)]
            table = eligible(read_shard_file(self.shard_of(batch), columns=columns, filters=timespan))
        seconds = seconds_of(table["timestamp"])
        hour = pc.divide(seconds, HOUR)
        window = pc.or_(
            pc.is_in(hour, value_set=hours),
            pc.and_(
                pc.is_in(pc.subtract(hour, 1), value_set=hours),
                pc.less_equal(pc.subtract(seconds, pc.multiply(hour, HOUR)), DOUBLE_CLICK_SECONDS),
            ),
        )
        return compacted(table.filter(window).select(ROW_COLUMNS))


def folded_counter(
    *,
    previous: pa.Table,
    spans: pa.Table,
    new: Iterable[str],
    rules: CounterRules,
    rows: EligibleRows,
    db: sqlite3.Connection,
) -> pa.Table:
    """The COUNTER sums with the batches `new` folded in (every batch of `spans`, when the sums
    were made under another classification)."""
    token = rules.token
    fresh = set(new)
    if (previous.schema.metadata or {}).get(b"token") != token.encode():
        previous, fresh = empty_counter(token), set(spans["batch_id"].to_pylist())
    known: dict[int, int] = {}

    def classified(table: pa.Table) -> pa.Table:
        """`table` with each request's agent class (each agent classified once per fold)."""
        agents = table["user_agent_id"].combine_chunks()
        distinct = pc.unique(agents)
        ids = distinct.to_pylist()
        unknown = [agent for agent in ids if agent not in known]
        known.update(zip(unknown, agent_classes(db, unknown, rules), strict=True))
        codes = pa.array([known[agent] for agent in ids], pa.int8())
        return table.append_column("class", pc.take(codes, pc.index_in(agents, value_set=distinct)))

    parts = [previous.replace_schema_metadata(None)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for hours in dirty_hours(spans, fresh):
            reading = pa.array(sorted({hour + shift for hour in hours.to_pylist() for shift in (0, 1)}), pa.int64())
            batches = sorted(
                set(spans.filter(pc.is_in(spans["hour"], value_set=pa.array(reading)))["batch_id"].to_pylist())
            )
            every = [rows.of(batch, hours=hours) for batch in batches]
            old = [table for batch, table in zip(batches, every, strict=True) if batch not in fresh]
            parts += halves(pool, classified(concatenated(every)), hours=hours)
            if old:
                parts += [negated(part) for part in halves(pool, classified(concatenated(old)), hours=hours)]
    return summed_counter(pa.concat_tables([part.cast(counter_schema()) for part in parts])).replace_schema_metadata(
        {"token": token}
    )


def halves(pool: ThreadPoolExecutor, rows: pa.Table, *, hours: pa.Array) -> list[pa.Table]:
    """`figures` of the rows of even and of odd key codes in two threads (a key's requests are all
    in one half, and the sort that dominates releases the GIL)."""
    odd = pc.equal(pc.bit_wise_and(rows["key"].combine_chunks().indices, 1), 1)
    jobs = [pool.submit(figures, rows.filter(side), hours=hours) for side in (pc.invert(odd), odd)]
    return [job.result() for job in jobs]


def concatenated(tables: Sequence[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables).unify_dictionaries().combine_chunks()
