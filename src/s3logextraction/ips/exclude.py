"""Requester IPs that are never counted (the archive's own backup and mirror hosts).

The list (CIDR ranges and regular expressions) is stored sealed in the state DB: it names the
archive's infrastructure, so reading it needs the key.  `extract` drops the lines of excluded IPs
in memory, before indexing, and counts them as skipped (`excluded_ip`), so they never reach a
shard.  An empty list excludes nothing.
"""

from __future__ import annotations

import ipaddress
import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from ..arrow import one_chunk, pa, pc
from ..cache import Cache, CachePaths, PathLike, meta_value, reader, transaction
from ..errors import UsageError, storage_errors
from .classify import RangeTable, number_of
from .keys import IPKeys, existing_keys, load_keys

META_NAME = "exclude_ips"


def parse_entry(text: str) -> str:
    """A CIDR range (or one address) in canonical form, or `re:PATTERN` for a regular expression.
    A range with host bits set (`10.0.0.1/8`) is refused, not widened: the operator may have meant
    one host.  Errors never quote the entry (it names the archive's own hosts)."""
    entry = text.strip()
    if entry.startswith("re:"):
        try:
            re.compile(entry[3:])
        except re.error as error:
            raise ValueError(f"not a regular expression ({error})") from None
        if not entry[3:]:
            raise ValueError("an empty regular expression would exclude every IP")
        return entry
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        raise ValueError("not an address range: give a CIDR such as 192.0.2.0/24, or re:PATTERN") from None
    try:
        ipaddress.ip_network(entry)  # strict: no host bits
    except ValueError:
        raise ValueError(
            f"the range has host bits set: give its first address with /{network.prefixlen}, or the host alone"
        ) from None
    return str(network)


def parse_entries(texts: Sequence[str]) -> list[str]:
    """Every entry parsed; a bad one is named by its position among those given."""
    parsed = []
    for number, text in enumerate(texts, start=1):
        try:
            parsed.append(parse_entry(text))
        except ValueError as error:
            raise UsageError(f"entry {number} of {len(texts)}: {error}") from None
    return parsed


@dataclass(frozen=True)
class IPFilter:
    ranges: RangeTable
    patterns: tuple[re.Pattern[str], ...]

    @classmethod
    def of(cls, entries: Sequence[str]) -> IPFilter | None:
        """None for an empty list: nothing is excluded and nothing is checked."""
        if not entries:
            return None
        cidrs = [(entry, "excluded") for entry in entries if not entry.startswith("re:")]
        patterns = tuple(re.compile(entry[3:]) for entry in entries if entry.startswith("re:"))
        return cls(ranges=RangeTable.build(cidrs), patterns=patterns)

    def excludes(self, ip: str) -> bool:
        found = number_of(ip)
        if found is not None and self.ranges.find(found[0]) is not None:
            return True
        return any(pattern.search(ip) for pattern in self.patterns)

    def keep_mask(self, ips: pa.ChunkedArray) -> pa.Array:
        """True for the rows to keep; each distinct IP (the dictionary column's values) is checked once."""
        encoded = one_chunk(ips)
        kept = [not self.excludes(ip.decode("ascii", "replace")) for ip in encoded.dictionary.to_pylist()]
        return pc.take(pa.array(kept, pa.bool_()), encoded.indices)


def stored_entries(db: sqlite3.Connection, *, keys: IPKeys) -> list[str]:
    sealed = meta_value(db, META_NAME)
    return list(json.loads(keys.unseal(sealed))) if sealed else []


def store_entries(db: sqlite3.Connection, entries: Sequence[str], *, keys: IPKeys) -> None:
    with transaction(db):
        db.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            (META_NAME, keys.seal(json.dumps(sorted(set(entries))).encode())),
        )


def excluded_ips(db: sqlite3.Connection, *, password: str | None) -> IPFilter | None:
    """The filter `extract` applies (None when the list is empty or was never set)."""
    if meta_value(db, META_NAME) is None:
        return None
    return IPFilter.of(stored_entries(db, keys=load_keys(db, password=password)))


def add_excluded_ips(*, cache: PathLike, entries: Sequence[str], password: str | None = None) -> list[str]:
    """Adds CIDR ranges or `re:` patterns to the cache's exclusion list; returns the whole list."""
    chosen = parse_entries(entries)
    with (
        Cache.open_for_writing(cache, command="config exclude-ips", create=True) as opened,
        storage_errors(what=opened.paths.root),
    ):
        keys = load_keys(opened.db, password=password)
        current = stored_entries(opened.db, keys=keys)
        store_entries(opened.db, [*current, *chosen], keys=keys)
        return sorted(set(current) | set(chosen))


def remove_excluded_ips(*, cache: PathLike, entries: Sequence[str], password: str | None = None) -> list[str]:
    """Removes entries from the exclusion list (an entry not in it is a usage error)."""
    chosen = parse_entries(entries)
    with (
        Cache.open_for_writing(cache, command="config exclude-ips") as opened,
        storage_errors(what=opened.paths.root),
    ):
        keys = existing_keys(opened.db, password=password, where=opened.paths.root)
        current = stored_entries(opened.db, keys=keys)
        missing = [entry for entry in chosen if entry not in current]
        if missing:
            raise UsageError(f"not in the exclusion list: {', '.join(missing)}")
        kept = [entry for entry in current if entry not in chosen]
        store_entries(opened.db, kept, keys=keys)
        return kept


def list_excluded_ips(*, cache: PathLike, password: str | None = None) -> list[str]:
    """The exclusion list, unsealed with the cache's key (read-only)."""
    with reader(CachePaths.of(cache)) as db:
        if meta_value(db, META_NAME) is None:
            return []
        return stored_entries(db, keys=existing_keys(db, password=password, where=CachePaths.of(cache).root))
