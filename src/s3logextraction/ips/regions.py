"""`update ip regions`: a label for every indexed IP that has none yet (and a slice of old ones).

The key is derived once; sealed IPs are read and decrypted in chunks, go through the offline
checks (bogon, GitHub, cloud, VPN: `classify.py`) and then the provider, and each chunk's labels
are committed in one transaction with their source and date.  Raw IPs live only in memory here;
the output and errors carry counts, never addresses.  A provider that stops (quota, outage)
ends the command with what was committed kept and a count of what remains (exit 3).
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..cache import Cache, meta_value, touch_summary_inputs, transaction, utc_now
from ..errors import PartialError, storage_errors
from ..geodata import LABEL_CLASSES, label_class
from ..progress import progress_bar
from .classify import Classifier
from .keys import IPKeys, existing_keys
from .providers import Provider, ProviderStopped

LABELLED_THROUGH = "regions_labelled_through"  # meta: every IP with an id up to this one has a label


@dataclass
class RegionsReport:
    classified: int = 0
    refreshed: int = 0
    changed: int = 0
    remaining: int = 0
    by_class: Counter[str] = field(default_factory=Counter)
    sources: list[str] = field(default_factory=list)

    def summary(self) -> str:
        classes = ", ".join(f"{name} {self.by_class[name]}" for name in LABEL_CLASSES if self.by_class[name])
        return (
            f"ip regions: {self.classified} IPs classified ({classes or 'none'}); {self.refreshed} re-checked, "
            f"{self.changed} changed; {self.remaining} remain; data: {'; '.join(self.sources) or '-'}"
        )


def pending_ids(db: sqlite3.Connection, *, limit: int | None, refresh_days: int | None) -> tuple[list[int], set[int]]:
    """(ids to classify: never classified first, then the oldest 1/N of the known ones; the
    re-checked ones among them)."""
    new = unclassified_ids(db)
    refresh: list[int] = []
    if refresh_days:
        known = db.execute("SELECT count(*) FROM ip_regions").fetchone()[0]
        share = math.ceil(known / refresh_days)
        refresh = [
            ip_id
            for (ip_id,) in db.execute("SELECT ip_id FROM ip_regions ORDER BY classified_at, ip_id LIMIT ?", (share,))
        ]
    chosen = new + refresh
    if limit is not None:
        chosen = chosen[:limit]
    return chosen, set(refresh) & set(chosen)


UNLABELLED = "FROM ips LEFT JOIN ip_regions USING (ip_id) WHERE ip_regions.ip_id IS NULL"


def unclassified_ids(db: sqlite3.Connection) -> list[int]:
    """The IPs without a label, in id order.  IPs are never deleted and their ids only grow, so
    once every IP up to id N had its label (`record_labelled`), a night that indexed no IP above N
    has none, and the join, which reads the whole IP table, is skipped."""
    top = db.execute("SELECT max(ip_id) FROM ips").fetchone()[0]
    through = meta_value(db, LABELLED_THROUGH)
    if top is None or (through is not None and top <= int(through)):
        return []
    return [ip_id for (ip_id,) in db.execute(f"SELECT ips.ip_id {UNLABELLED} ORDER BY ips.ip_id")]


def record_labelled(db: sqlite3.Connection) -> None:
    """Records that every IP indexed so far has a label (a night with nothing new, which finds
    the record already there, writes nothing)."""
    top = db.execute("SELECT max(ip_id) FROM ips").fetchone()[0]
    if top is not None and meta_value(db, LABELLED_THROUGH) != str(top).encode():
        with transaction(db):
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (LABELLED_THROUGH, str(top).encode()))


def labels_for(
    addresses: Sequence[str], *, classifier: Classifier, provider: Provider
) -> tuple[dict[int, tuple[str, str]], ProviderStopped | None]:
    """position -> (label, source); when the provider stops, the offline answers alone and the
    reason (the addresses it was asked about stay unclassified for the next run)."""
    found: dict[int, tuple[str, str]] = {}
    ask: list[tuple[int, str]] = []
    ranges = "ranges " + classifier.versions
    for position, address in enumerate(addresses):
        label, canonical = classifier.classify(address)
        if label is None:
            ask.append((position, canonical))
        else:
            found[position] = (label, "bogon" if label == "bogon" else ranges)
    try:
        answers = provider.lookup([canonical for _, canonical in ask]) if ask else []
    except ProviderStopped as reason:
        return found, reason
    source = provider.source()
    for (position, _), answer in zip(ask, answers, strict=True):
        found[position] = (answer or "unknown", source)
    return found, None


def classify_chunk(
    db: sqlite3.Connection,
    ids: Sequence[int],
    *,
    keys: IPKeys,
    classifier: Classifier,
    provider: Provider,
    report: RegionsReport,
    refreshed: set[int],
) -> ProviderStopped | None:
    marks = ",".join("?" * len(ids))
    sealed = dict(db.execute(f"SELECT ip_id, sealed FROM ips WHERE ip_id IN ({marks})", list(ids)).fetchall())
    before = dict(db.execute(f"SELECT ip_id, region FROM ip_regions WHERE ip_id IN ({marks})", list(ids)).fetchall())
    addresses = [keys.unseal(bytes(sealed[ip_id])).decode("ascii", "replace") for ip_id in ids]
    labels, stopped = labels_for(addresses, classifier=classifier, provider=provider)
    now = utc_now()
    rows = [(ids[position], label, source, now) for position, (label, source) in sorted(labels.items())]
    with transaction(db):
        db.executemany(
            "INSERT OR REPLACE INTO ip_regions (ip_id, region, source, classified_at) VALUES (?, ?, ?, ?)", rows
        )
        if any(before.get(ip_id) != label for ip_id, label, _, _ in rows):
            touch_summary_inputs(db)  # a refresh that confirms every label changes no summary
    for ip_id, label, _, _ in rows:
        report.by_class[label_class(label)] += 1
        if ip_id in refreshed:
            report.refreshed += 1
            report.changed += before.get(ip_id) != label
        else:
            report.classified += 1
    return stopped


def unclassified(db: sqlite3.Connection) -> int:
    return int(db.execute(f"SELECT count(*) {UNLABELLED}").fetchone()[0])


def classify_into(
    opened: Cache,
    *,
    provider: Provider,
    vpn_ranges: Sequence[str] = (),
    password: str | None = None,
    limit: int | None = None,
    refresh_days: int | None = None,
    show_progress: bool | None = None,
) -> RegionsReport:
    """Labels every indexed IP without one (and, with `refresh_days` N, re-checks the oldest 1/N
    of the others, so labels follow address reassignment), in a cache the caller has locked."""
    report = RegionsReport()
    with storage_errors(what=opened.paths.root):
        db = opened.db
        if meta_value(db, "key_check") is None:
            return report  # nothing indexed yet
        keys = existing_keys(db, password=password, where=opened.paths.root)
        ids, refreshed = pending_ids(db, limit=limit, refresh_days=refresh_days)
        if not ids:
            if limit != 0:  # then no IP lacks a label
                record_labelled(db)
            return report
        classifier = Classifier.build(vpn_ranges=vpn_ranges)
        report.sources = [classifier.versions, provider.source()]
        with progress_bar(total=len(ids), unit="IP", description="regions", enabled=show_progress) as bar:
            for start in range(0, len(ids), provider.batch_size):
                chunk = ids[start : start + provider.batch_size]
                stopped = classify_chunk(
                    db, chunk, keys=keys, classifier=classifier, provider=provider, report=report, refreshed=refreshed
                )
                if stopped is not None:
                    report.remaining = unclassified(db)
                    raise PartialError(f"{stopped}: {report.summary()}; run `update ip regions` again later")
                bar.update(len(chunk))
        report.remaining = unclassified(db)
        if not report.remaining:
            record_labelled(db)
    return report
