"""Where a long extraction stands: a tqdm bar on a terminal, and a row of the state DB that
`status` reads while the run goes on (read-only, without the lock).

Both show objects and bytes done, the rate and an ETA.  The total is the count of objects to do:
exact once the listing has ended, and before that the source's survey (a local folder counts its
entries long before the listing has stat'ed them) less what the planning found already
committed, settling or failed; an S3 listing has no survey, so its total grows as it is listed.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from concurrent.futures import Future
from types import TracebackType
from typing import Any

from ..cache import Cache, transaction, utc_now
from ..progress import progress_bar
from ..sources import Listing
from .plan import Plan

PROGRESS = "progress"  # the meta row `status` reads during a run
WRITE_EVERY_SECONDS = 1.0


class Standing:
    """The run's standing, updated after each commit."""

    def __init__(
        self, cache: Cache, *, plan: Plan, listing: Listing, expected: Future[int | None], enabled: bool | None
    ) -> None:
        self.cache = cache
        self.plan = plan
        self.listing = listing
        self.expected = expected
        self.enabled = enabled
        self.started = time.monotonic()
        self.started_at = utc_now()
        self.written = 0.0
        self.objects = 0
        self.bytes = 0
        self.bar_context = progress_bar(total=None, unit="obj", description="extract", enabled=enabled)

    def __enter__(self) -> Standing:
        self.bar = self.bar_context.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.bar_context.__exit__(kind, error, trace)
        with contextlib.suppress(sqlite3.Error), transaction(self.cache.db) as db:
            db.execute("DELETE FROM meta WHERE name = ?", (PROGRESS,))

    def to_do(self) -> int | None:
        """Objects to do in this run: exact once listed and planned, else estimated (None: not
        known yet); objects listed but not planned yet count as to do."""
        plan = self.plan
        if self.listing.finished:
            return plan.todo + self.listing.listed_objects - plan.seen
        if not self.expected.done() or self.expected.result() is None:
            return None
        passed_over = self.listing.skipped.total() - self.listing.skipped["hidden"]
        seen_not_new = plan.committed + plan.settling + plan.failed_earlier + plan.over_limit + passed_over
        return max(plan.todo, int(self.expected.result() or 0) - seen_not_new)

    def figures(self) -> dict[str, Any]:
        seconds = time.monotonic() - self.started
        total = self.to_do()
        rate = self.objects / seconds if seconds > 0 else 0.0
        left = None if total is None or rate == 0 else (total - self.objects) / rate
        return {
            "started_at": self.started_at,
            "updated_at": utc_now(),
            "objects_done": self.objects,
            "objects_to_do": total,
            "listing_finished": self.listing.finished,
            "bytes_done": self.bytes,
            "bytes_listed_to_do": self.plan.todo_bytes,
            "objects_per_second": round(rate, 1),
            "bytes_per_second": round(self.bytes / seconds) if seconds > 0 else 0,
            "eta_seconds": None if left is None else round(left),
        }

    def update(self, *, objects: int, log_bytes: int) -> None:
        """After a commit: `objects` done (committed or failed) and `log_bytes` extracted so far."""
        self.bar.update(objects - self.objects)
        self.objects, self.bytes = objects, log_bytes
        figures = self.figures()
        self.bar.total = figures["objects_to_do"]
        mb_per_second = figures["bytes_per_second"] / 1e6
        listing = "" if self.listing.finished else ", listing"
        self.bar.set_postfix_str(f"{self.bytes / 1e6:,.0f} MB at {mb_per_second:.1f} MB/s{listing}", refresh=False)
        now = time.monotonic()
        if now - self.written >= WRITE_EVERY_SECONDS:
            self.written = now
            with transaction(self.cache.db) as db:
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (PROGRESS, json.dumps(figures).encode()))


def recorded_standing(db: sqlite3.Connection) -> dict[str, Any] | None:
    """The standing the running extraction last wrote (None when none runs)."""
    row = db.execute("SELECT value FROM meta WHERE name = ?", (PROGRESS,)).fetchone()
    return None if row is None else dict(json.loads(bytes(row[0])))
