"""Named pipes that feed gawk the plain bytes of objects it cannot read by path (compressed objects,
remote objects), so no decompressed copy of a log, which would hold raw IPs, is ever on disk.

gawk opens its input files one after the other, and one feeder thread writes them in the same
order: each FIFO's open is the rendezvous.  When gawk ends early (killed, failed), `close` opens
the read side of every FIFO so a feeder waiting for a reader is released, and the FIFOs are gone.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ..errors import ServiceError
from .base import BrokenObject, LogObject, LogSource, decompressed

UNREADABLE = (OSError, BrokenObject)
READ_AHEAD_BYTES = 16 * 1024 * 1024  # larger objects are streamed when their turn comes, not held whole


def failure_reason(error: BaseException) -> str:
    """One line for `status`: what was wrong with the object (never its content)."""
    if isinstance(error, BrokenObject):
        return str(error)
    if isinstance(error, OSError):
        return f"cannot read ({error.strerror or error})"
    return f"cannot read ({error})"


class FifoFeed:
    """FIFOs in `folder` for `objects`, fed in order by one thread, with the source's `read_ahead`
    next objects fetched whole meanwhile (in memory: remote objects are many and small, and one
    GET at a time would leave gawk waiting on latency); `failed` maps the name of an
    object whose bytes could not be read whole to the reason.  `unavailable` is a failure of the
    source itself (S3 out of reach after its retries): the FIFOs left are then closed empty, so gawk
    ends at once, and the caller discards the whole batch."""

    def __init__(self, *, source: LogSource, objects: Sequence[LogObject], folder: Path, prefix: str) -> None:
        self.source = source
        self.objects = list(objects)
        self.paths = [folder / f"{prefix}.{number}.fifo" for number in range(len(self.objects))]
        self.failed: dict[str, str] = {}
        self.unavailable: ServiceError | None = None  # the source itself failed: nothing of the batch counts
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self.feed, name=f"feed-{prefix}", daemon=True)

    def __enter__(self) -> FifoFeed:
        for path in self.paths:
            os.mkfifo(path, 0o600)
        if self.paths:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def feed(self) -> None:
        ahead = self.source.read_ahead
        with ThreadPoolExecutor(max_workers=max(ahead, 1), thread_name_prefix="fetch") as pool:
            window: deque[Future[bytes] | None] = deque()
            upcoming = iter(self.objects)
            try:
                for path, log_object in zip(self.paths, self.objects, strict=True):
                    while len(window) <= ahead and (coming := next(upcoming, None)) is not None:
                        whole = ahead and coming.size <= READ_AHEAD_BYTES
                        window.append(pool.submit(self.fetch, coming) if whole else None)
                    fetched = window.popleft()
                    descriptor = os.open(path, os.O_WRONLY)  # blocks until gawk (or close) opens the read side
                    try:
                        if self.finished.is_set():
                            return
                        if self.unavailable is None:  # after a failure of the source, gawk gets empty objects
                            self.copy(log_object, descriptor, fetched=fetched)
                    except BrokenPipeError:
                        return
                    finally:
                        os.close(descriptor)
            finally:
                pool.shutdown(wait=False, cancel_futures=True)

    def fetch(self, log_object: LogObject) -> bytes:
        with self.source.open(log_object) as stream:
            return stream.read()

    def copy(self, log_object: LogObject, descriptor: int, *, fetched: Future[bytes] | None) -> None:
        """The object's plain bytes into `descriptor`: from its fetched copy, or streamed."""
        try:
            with io.BytesIO(fetched.result()) if fetched is not None else self.source.open(log_object) as stream:
                for chunk in decompressed(stream):
                    write_all(descriptor, chunk)
        except BrokenPipeError:
            raise
        except OSError as error:
            if error.errno == errno.EPIPE:
                raise BrokenPipeError from error
            self.failed[log_object.name] = failure_reason(error)
        except UNREADABLE as error:
            self.failed[log_object.name] = failure_reason(error)
        except ServiceError as error:
            self.unavailable = error

    def close(self) -> None:
        """Releases a feeder still waiting for a reader, then removes the FIFOs."""
        self.finished.set()
        while self.thread.is_alive():
            for path in self.paths:
                with contextlib.suppress(OSError):
                    os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
            self.thread.join(0.01)
        for path in self.paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]
