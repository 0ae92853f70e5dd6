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

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..agents import ROBOT, CounterRules

ELIGIBLE_OPERATION = "REST.GET.OBJECT"
ELIGIBLE_STATUSES = (200, 206, 304)
DOUBLE_CLICK_SECONDS = 30
HOUR = 3600
COUNTER_COUNTS = ("Total_Item_Requests", "Unique_Item_Requests")
ACCESS_METHODS = ("Machine", "Regular")  # indexed by the class codes of agents.py
KEY = pa.dictionary(pa.int32(), pa.string())
COUNTER_SCHEMA = pa.schema(
    [
        ("key", KEY),
        ("month", pa.date32()),
        ("access_method", pa.dictionary(pa.int8(), pa.string())),
        *((name, pa.int64()) for name in COUNTER_COUNTS),
    ]
)
SPANS_SCHEMA = pa.schema([("batch_id", pa.string()), ("hour", pa.int64())])


def eligible(table: pa.Table) -> pa.Table:
    """The rows COUNTER may count, robots not yet removed."""
    status = table["status"]
    keep = pc.and_(
        pc.equal(table["operation"].cast(pa.string()), ELIGIBLE_OPERATION),
        pc.is_in(status, value_set=pa.array(ELIGIBLE_STATUSES, status.type)),
    )
    return table.filter(keep)


def seconds_of(timestamps: pa.ChunkedArray) -> pa.Array:
    """Seconds since the epoch (shards store milliseconds)."""
    return pc.cast(pc.cast(timestamps, pa.timestamp("s", tz="UTC")), pa.int64()).combine_chunks()


def hours_of(table: pa.Table) -> pa.Array:
    """The distinct UTC hours (hours since the epoch) of a shard's eligible requests."""
    return pc.unique(pc.divide(seconds_of(eligible(table)["timestamp"]), HOUR))


def empty_counter(token: str) -> pa.Table:
    return COUNTER_SCHEMA.empty_table().replace_schema_metadata({"token": token})


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


def figures(rows: pa.Table, *, hours: pa.Array, classes: Callable[[pa.Array], pa.Array]) -> pa.Table:
    """COUNTER sums per (key, month, access method) of the requests of `hours`, from `rows`
    (every eligible request of those hours and the 30 seconds after each, key as a dictionary)."""
    agents = rows["user_agent_id"].combine_chunks()
    distinct = pc.unique(agents)
    codes = pc.take(classes(distinct), pc.index_in(agents, value_set=distinct))
    users = pc.not_equal(codes, ROBOT)
    keys = rows["key"].combine_chunks().filter(users)
    table = pa.table(
        {
            "key": keys.indices,
            "ip_id": rows["ip_id"].combine_chunks().filter(users),
            "agent": agents.filter(users),
            "second": seconds_of(rows["timestamp"]).filter(users),
            "class": codes.filter(users),
        }
    )
    if not table.num_rows:
        return COUNTER_SCHEMA.empty_table()
    order = [(name, "ascending") for name in ("key", "ip_id", "agent", "second")]
    table = table.take(pc.sort_indices(table, sort_keys=order))
    key, ip, agent, second = (table[name].combine_chunks() for name in ("key", "ip_id", "agent", "second"))
    hour = pc.divide(second, HOUR)
    user_item = [key, ip, agent]
    # a request is removed when the same user asks for the same item again within 30 seconds
    next_soon = pc.and_(
        pc.invert(starts(user_item)[1:]),
        pc.less_equal(pc.subtract(second[1:], second[:-1]), DOUBLE_CLICK_SECONDS),
    )
    kept = pc.and_(pc.invert(pa.concat_arrays([next_soon, pa.array([False])])), pc.is_in(hour, value_set=hours))
    table = table.append_column("hour", hour).filter(kept)
    first_of_session = starts([table[name].combine_chunks() for name in ("key", "ip_id", "agent", "hour")])
    months = pc.floor_temporal(pc.cast(pc.multiply(table["second"], 1000), pa.timestamp("ms")), unit="month")
    counted = pa.table(
        {
            "key": pa.DictionaryArray.from_arrays(table["key"].combine_chunks(), keys.dictionary),
            "month": pc.cast(months, pa.date32()),
            "access_method": pa.DictionaryArray.from_arrays(
                pc.cast(table["class"], pa.int8()).combine_chunks(), pa.array(ACCESS_METHODS)
            ),
            "Total_Item_Requests": pa.nulls(table.num_rows, pa.int64()).fill_null(1),
            "Unique_Item_Requests": pc.cast(first_of_session, pa.int64()),
        }
    )
    return summed_counter(counted)


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
    return counter_sums(table, ["key", "month", "access_method"]).cast(COUNTER_SCHEMA).combine_chunks()


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


def rows_of(path: Path, *, hours: pa.Array) -> pa.Table:
    """The eligible requests of one shard in `hours` and the 30 seconds after each."""
    start = datetime.fromtimestamp(hours[0].as_py() * HOUR, UTC)
    end = datetime.fromtimestamp((hours[-1].as_py() + 1) * HOUR + DOUBLE_CLICK_SECONDS + 1, UTC)
    columns = ["timestamp", "key", "operation", "status", "ip_id", "user_agent_id"]
    table = eligible(
        pq.read_table(path, columns=columns, filters=[("timestamp", ">=", start), ("timestamp", "<", end)])
    )
    seconds = seconds_of(table["timestamp"])
    hour = pc.divide(seconds, HOUR)
    window = pc.or_(
        pc.is_in(hour, value_set=hours),
        pc.and_(
            pc.is_in(pc.subtract(hour, 1), value_set=hours),
            pc.less_equal(pc.subtract(seconds, pc.multiply(hour, HOUR)), DOUBLE_CLICK_SECONDS),
        ),
    )
    return table.filter(window).select(["timestamp", "key", "ip_id", "user_agent_id"])


def folded_counter(
    *,
    previous: pa.Table,
    spans: pa.Table,
    new: Iterable[str],
    rules: CounterRules,
    shard_of: Callable[[str], Path],
    db: sqlite3.Connection,
) -> pa.Table:
    """The COUNTER sums with the batches `new` folded in (every batch of `spans`, when the sums
    were made under another classification)."""
    token = rules.token
    fresh = set(new)
    if (previous.schema.metadata or {}).get(b"token") != token.encode():
        previous, fresh = empty_counter(token), set(spans["batch_id"].to_pylist())
    known: dict[int, int] = {}

    def classes(agent_ids: pa.Array) -> pa.Array:
        ids = agent_ids.to_pylist()
        unknown = [agent for agent in ids if agent not in known]
        known.update(zip(unknown, agent_classes(db, unknown, rules), strict=True))
        return pa.array([known[agent] for agent in ids], pa.int8())

    parts = [previous.replace_schema_metadata(None)]
    for hours in dirty_hours(spans, fresh):
        reading = pa.array(sorted({hour + shift for hour in hours.to_pylist() for shift in (0, 1)}), pa.int64())
        batches = sorted(
            set(spans.filter(pc.is_in(spans["hour"], value_set=pa.array(reading)))["batch_id"].to_pylist())
        )
        every = [rows_of(shard_of(batch), hours=hours) for batch in batches]
        old = [rows for batch, rows in zip(batches, every, strict=True) if batch not in fresh]
        parts.append(figures(concatenated(every), hours=hours, classes=classes))
        if old:
            parts.append(negated(figures(concatenated(old), hours=hours, classes=classes)))
    return summed_counter(pa.concat_tables([part.cast(COUNTER_SCHEMA) for part in parts])).replace_schema_metadata(
        {"token": token}
    )


def concatenated(tables: Sequence[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables).unify_dictionaries().combine_chunks()
