"""Where an S3 night's listing starts: after the days already committed, less the settle window,
so a night lists what can be new and not the archive's history (S3 lists keys in order, and
`StartAfter` starts a listing anywhere).

AWS names log objects by delivery time, `[prefix]YYYY-MM-DD-hh-mm-ss-UNIQUE` (flat) or
`[prefix]YYYY/MM/DD/YYYY-MM-DD-...` (date-partitioned, where the folder's day may be the
event's, so a day can still receive objects once the next has begun).  The committed name
groups give each layout prefix (the text before the first date, such as a partitioned layout's
`account/region/bucket/`) its newest committed day; its listing starts `settle_days + 1` days
before it.  Names under no known prefix (a new bucket logging to the same place) are listed
whole, so nothing new is missed; a cache whose names hold no date lists everything.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from datetime import date, timedelta

from ..cache import CachePaths, PathLike, connect, schema_version
from ..errors import storage_errors
from ..sources import Listing, LogSource, Start, name_group
from .options import ExtractOptions
from .seals import read_seals

DATE = re.compile(r"(\d{4})([/-])(\d{2})\2(\d{2})")
RECORDS_SINCE_VERSION = 9


def newest_days(groups: list[str]) -> dict[tuple[str, str], date] | None:
    """The newest committed day per (layout prefix, date separator); None when a group has no
    date, or a date that is not one (the layout is then not known: list everything)."""
    newest: dict[tuple[str, str], date] = {}
    for group in groups:
        found = DATE.search(group)
        if found is None:
            return None
        try:
            day = date(int(found[1]), int(found[3]), int(found[4]))
        except ValueError:
            return None
        key = (group[: found.start()], found[2])
        newest[key] = max(day, newest.get(key, day))
    return newest


def starts_from(groups: list[str], *, settle_days: int) -> list[Start]:
    """The starts of a listing given the committed name groups: none (a full listing) when the
    layout is not known or one prefix holds another."""
    newest = newest_days(groups)
    if not newest:
        return []
    prefixes = sorted(prefix for prefix, _ in newest)
    if len(set(prefixes)) < len(prefixes) or any(b.startswith(a) for a, b in itertools.pairwise(prefixes)):
        return []
    starts = []
    for (prefix, separator), day in sorted(newest.items()):
        first = day - timedelta(days=settle_days + 1)
        starts.append(Start(prefix=prefix, after=prefix + first.strftime(f"%Y{separator}%m{separator}%d")))
    return starts


def committed_groups(db: sqlite3.Connection) -> list[str]:
    """The name groups of every committed object (records, and the rows not yet moved)."""
    groups = {group for (group,) in db.execute("SELECT grp FROM object_groups")}
    groups.update(name_group(name) for (name,) in db.execute("SELECT name FROM log_objects"))
    return sorted(groups)


def listing_starts(root: PathLike, *, settle_days: int) -> list[Start]:
    """The starts of the cache at `root` (none without a cache, or in one not yet migrated)."""
    paths = CachePaths.of(root)
    if not paths.state.exists():
        return []
    with storage_errors(what=paths.root):
        db = connect(paths.state, read_only=True)
        try:
            if schema_version(db) < RECORDS_SINCE_VERSION:
                return []
            return starts_from(committed_groups(db), settle_days=settle_days)
        finally:
            db.close()


def listing_for(source: LogSource, *, cache: PathLike, options: ExtractOptions) -> Listing:
    """The source's listing without the folders sealed in `cache` and, unless `full_listing`,
    from the starts of its committed days.  Begun before the cache is locked, so a wrong log
    folder fails before a cache is created; a seal or a batch that `reset extraction` removes in
    between only leaves its objects for the next run."""
    settle_days = source.settle_days if options.settle_days is None else options.settle_days
    starts = [] if options.full_listing else listing_starts(cache, settle_days=settle_days)
    return source.list(sealed=read_seals(cache), starts=starts)
