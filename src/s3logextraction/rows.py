"""The parser's output rows: the one TSV layout gawk writes and every reader of it parses.

One row per kept request: timestamp, key, operation, status, bytes_sent, object_size, ip,
user_agent.  Text cells carry no control byte (the parser escapes them), so no value can be
misread as the end of a row.
"""

from __future__ import annotations

import functools
import mmap
from pathlib import Path

from .arrow import one_chunk, pa, pacsv, row_pool
from .text import from_parser

Output = bytes | mmap.mmap  # the parser's stdout, read or mapped into memory

PARSER_COLUMNS = ("timestamp", "key", "operation", "status", "bytes_sent", "object_size", "ip", "user_agent")


@functools.cache
def parser_types() -> dict[str, pa.DataType]:
    """Keys, addresses and agents repeat from row to row: read as dictionaries, each distinct
    value is hashed once, while it is read, and never again (the address rewrite, the exclusion
    list and the ids all work on the distinct values)."""
    repeated = pa.dictionary(pa.int32(), pa.binary())
    return {
        "timestamp": pa.timestamp("s", tz="UTC"),  # the parser writes ISO 8601 with Z (fast built-in parser)
        "key": repeated,
        "operation": pa.string(),
        "status": pa.int16(),  # kept rows have a three-digit status
        "bytes_sent": pa.int64(),
        "object_size": pa.int64(),
        "ip": repeated,
        "user_agent": repeated,
    }


def read_rows(data: Output | Path) -> pa.Table:
    """The parser's TSV as a table with one chunk per column (pyarrow's C++ reader).  Text cells
    have no control byte (the parser escapes them), so no value can be misread as a row end; the
    key is turned into text once per distinct key."""
    empty = data.stat().st_size == 0 if isinstance(data, Path) else len(data) == 0
    if empty:
        table = pa.table({name: pa.array([], type=kind) for name, kind in parser_types().items()})
    else:
        table = pacsv.read_csv(
            data if isinstance(data, Path) else pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=list(PARSER_COLUMNS), block_size=16 << 20, use_threads=False),
            parse_options=pacsv.ParseOptions(
                delimiter="\t", quote_char=False, escape_char=False, newlines_in_values=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=parser_types(), check_utf8=False, strings_can_be_null=False
            ),
            memory_pool=row_pool(),
        )
    if table.column(0).num_chunks > 1:  # an output larger than one block: one dictionary per column
        table = table.unify_dictionaries().combine_chunks()
    keys = one_chunk(table["key"])
    return table.set_column(
        PARSER_COLUMNS.index("key"), "key", pa.DictionaryArray.from_arrays(keys.indices, key_texts(keys.dictionary))
    )


def key_texts(keys: pa.Array) -> pa.Array:
    """The distinct keys as text: one cast when all are UTF-8 (nearly always), else key by key with
    the bytes that are not UTF-8 escaped."""
    try:
        return keys.cast(pa.string())
    except pa.ArrowInvalid:
        return pa.array([from_parser(key) for key in keys.to_pylist()], pa.string())
