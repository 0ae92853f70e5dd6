"""pyarrow, imported when it is first used.

The modules that compute with pyarrow take `pa`, `pc`, `pq`, `feather` and `pacsv` from here.
Each is a stand-in that imports the real module at its first attribute read and from then on
holds the real module's attributes (no cost per use).  A command with nothing to compute, such
as the nightly `run` when no log is new, then never pays for importing pyarrow and numpy, which
is most of its time.  Type checkers see the real modules.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

__all__ = ["feather", "import_now", "pa", "pacsv", "pc", "pq", "when_imported"]

PENDING: list[Callable[[types.ModuleType], None]] = []


def when_imported(callback: Callable[[types.ModuleType], None]) -> None:
    """Calls `callback(pyarrow)` once pyarrow is imported here (at once if it already is): the
    CLI sets pyarrow's process-wide signal handling this way without importing it up front."""
    if "pyarrow" in sys.modules:
        callback(sys.modules["pyarrow"])
    else:
        PENDING.append(callback)


def import_now() -> None:
    """Imports pyarrow at once: before worker threads start, so that they do not all wait on the
    import lock and then run in step (batches would finish together rather than in turn)."""
    for module in (pa, pc, pacsv, pq):
        if isinstance(module, Deferred):
            module.load()


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
