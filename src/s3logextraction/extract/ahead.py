"""A listing read in a thread of its own, a few chunks ahead of the planning: the stat calls of a
folder, or an S3 LIST request's round trip, happen while gawk parses the batches before, and
memory holds `depth` chunks, not the history."""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
END = object()


class ReadAhead(Generic[T]):
    """Iterates `items` in a daemon thread, at most `depth` items ahead; an exception the
    thread meets is raised here, where the item would have come.  `close` (or leaving the
    `with` block) stops the thread without reading further."""

    def __init__(self, items: Iterable[T], *, depth: int) -> None:
        self.items = items
        self.queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self.produce, name="listing", daemon=True)
        self.thread.start()

    def produce(self) -> None:
        try:
            for item in self.items:
                if not self.put(item):
                    return
        except BaseException as error:  # handed over to the consumer, raised there
            self.put(Failure(error))
            return
        self.put(END)

    def put(self, item: object) -> bool:
        while not self.closing.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self.queue.get()
            if item is END:
                return
            if isinstance(item, Failure):
                raise item.error
            yield item  # type: ignore[misc]

    def close(self) -> None:
        self.closing.set()
        self.thread.join()

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Peekable(Generic[T]):
    """An iterator that says whether it has more (pulling the next item then, not earlier), and
    can be dropped: the batch queue of a run that plans as it lists."""

    def __init__(self, items: Iterator[T]) -> None:
        self.items = items
        self.next: list[T] = []

    def __bool__(self) -> bool:
        if not self.next:
            self.next = [item for item in itertools.islice(self.items, 1)]
        return bool(self.next)

    def pop(self) -> T:
        if not self:
            raise IndexError("no more items")
        return self.next.pop()

    def clear(self) -> None:
        """Drops the rest unread."""
        self.next = []
        self.items = iter(())
