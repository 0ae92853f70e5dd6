"""`stop`: ask a running extraction to drain, and wait until it has released the cache."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cache import CachePaths, running_holder


@dataclass
class StopOutcome:
    was_running: bool
    drained: bool
    holder: dict[str, Any] | None
    seconds: float


def stop(*, cache: Path, timeout: float = 600.0, poll: float = 0.2) -> StopOutcome:
    """Writes STOP, then waits for the lock to be released; never leaves STOP behind without a run."""
    paths = CachePaths(cache.expanduser().absolute())
    holder = running_holder(paths)
    if holder is None:
        paths.stop.unlink(missing_ok=True)
        return StopOutcome(was_running=False, drained=True, holder=None, seconds=0.0)
    paths.stop.write_text(f"requested at {time.time():.0f}\n", encoding="utf-8")
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if running_holder(paths) is None:
            paths.stop.unlink(missing_ok=True)
            return StopOutcome(was_running=True, drained=True, holder=holder, seconds=time.monotonic() - started)
        time.sleep(poll)
    return StopOutcome(was_running=True, drained=False, holder=holder, seconds=time.monotonic() - started)
