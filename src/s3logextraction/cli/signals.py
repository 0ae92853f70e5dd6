"""Ctrl+C and SIGTERM for long commands: the first drains, the second aborts.

The first signal only sets an event that the library polls (`extract` stops scheduling and
finishes the batches in flight; `run` also stops before its next stage) and installs
`signal.default_int_handler` for both signals, so a second one raises KeyboardInterrupt, which
kills the gawk children and ends the command with 130.  The handler writes nothing (a progress
bar may be mid-write) and cannot raise.  gawk runs in its own process group, so a terminal's
Ctrl+C reaches only this process.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def drain_on_first_signal() -> Iterator[threading.Event]:
    """The stop event for the library, set by the first SIGINT or SIGTERM."""
    event = threading.Event()

    def first(signum: int, frame: FrameType | None) -> None:
        event.set()
        for number in SIGNALS:
            signal.signal(number, signal.default_int_handler)

    previous: dict[int, Any] = {number: signal.signal(number, first) for number in SIGNALS}
    try:
        yield event
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
