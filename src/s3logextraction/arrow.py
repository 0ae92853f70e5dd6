"""pyarrow, imported when it is first used.

The modules that compute with pyarrow take `pa`, `pc`, `pq`, `feather` and `pacsv` from here.
Each is a stand-in that imports the real module at its first attribute read and from then on
holds the real module's attributes (no cost per use).  A command with nothing to compute, such
as the nightly `run` when no log is new, then never pays for importing pyarrow and numpy, which
is most of its time.  Type checkers see the real modules.
"""

from __future__ import annotations

import functools
import importlib
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DataError

__all__ = [
    "feather",
    "import_now",
    "one_chunk",
    "pa",
    "pacsv",
    "pc",
    "pq",
    "read_shard_file",
    "row_pool",
    "when_imported",
]

PENDING: list[Callable[[types.ModuleType], None]] = []


def when_imported(callback: Callable[[types.ModuleType], None]) -> None:
    """Calls `callback(pyarrow)` once pyarrow is imported here (at once if it already is): the
    CLI sets pyarrow's process-wide signal handling this way without importing it up front."""
    if "pyarrow" in sys.modules:
        callback(sys.modules["pyarrow"])
    else:
        PENDING.append(callback)


def import_now() -> None:
    """Imports pyarrow at once: while the first batches' gawk processes run (they have no use for
    it before they end), and before worker threads read rows, so that they do not all wait on the
    import lock and then run in step (batches would finish together rather than in turn)."""
    for module in (pa, pc, pacsv, pq):
        if isinstance(module, Deferred):
            module.load()


@functools.cache
def row_pool() -> pa.MemoryPool:
    """The memory pool the parser's rows are read into: jemalloc where this pyarrow has it, else the
    system's allocator.  Reading a batch grows every column's buffer many times over; pyarrow's
    default (mimalloc) moved and page-faulted them at such a cost that reading into it took 13% more
    of the coordinator's CPU (316 MB, same run).  Passed to the reader only, so no process-wide
    default changes for a program that imports this library."""
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.system_memory_pool()


def one_chunk(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array: its only chunk as it is (no copy), else the chunks joined
    (dictionary chunks get one dictionary)."""
    if column.num_chunks == 1:
        return column.chunk(0)
    return pa.concat_arrays(column.chunks) if column.num_chunks else pa.array([], column.type)


def read_shard_file(path: Path, *, columns: list[str], filters: Any = None) -> pa.Table:
    """Columns of a committed Parquet shard; a shard that is missing, cut or has bytes appended
    is one line naming it (exit 65), never an unexpected pyarrow error."""
    name = f"{path.parent.name}/{path.name}"
    try:
        return pq.read_table(path, columns=columns, filters=filters)
    except FileNotFoundError:
        raise DataError(f"the shard {name} is missing; run `s3logextraction validate cache`") from None
    except (OSError, pa.ArrowException) as error:
        what = (str(error).strip().splitlines() or [type(error).__name__])[0].replace(str(path), name)[:200]
        raise DataError(f"the shard {name} is damaged ({what}); run `s3logextraction validate cache`") from None


class Deferred(types.ModuleType):
    """A module imported at the first read of one of its attributes."""

    def load(self) -> types.ModuleType:
        real = importlib.import_module(self.__name__)
        while PENDING:
            PENDING.pop(0)(importlib.import_module("pyarrow"))
        self.__dict__.update(vars(real))
        return real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.load(), name)


if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.feather as feather
    import pyarrow.parquet as pq
else:
    pa = Deferred("pyarrow")
    pc = Deferred("pyarrow.compute")
    pacsv = Deferred("pyarrow.csv")
    feather = Deferred("pyarrow.feather")
    pq = Deferred("pyarrow.parquet")
