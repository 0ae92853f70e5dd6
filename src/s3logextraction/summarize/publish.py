"""Writing the published layout (DANDI access-summaries compatible).

Every file is written only when its content changes (atomic replace), so a nightly git commit of
summaries/ shows real changes only.  Counts of requests, downloads and requesters go through the
privacy threshold; bytes are exact.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .aggregate import Aggregates, grouped
from .privacy import Privacy
from .regions import country_of, is_place

COUNT_COLUMNS = ("bytes_sent", "number_of_requests", "number_of_downloads")


def write_if_changed(path: Path, content: str) -> bool:
    """Writes `content` atomically unless the file already holds exactly that; True if written."""
    data = content.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_bytes(data)
    os.replace(staged, path)
    return True


def tsv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["\t".join(header)] + ["\t".join(str(cell) for cell in row) for row in rows]
    return "\n".join(lines) + "\n"


def count_rows(table: pa.Table, *, first: str, privacy: Privacy) -> list[tuple[Any, ...]]:
    """(first, bytes, protected requests, protected downloads) sorted by `first`."""
    ordered = table.sort_by(first)
    return [
        (str(label), sent, privacy.protect(requests), privacy.protect(downloads))
        for label, sent, requests, downloads in zip(
            *(ordered[name].to_pylist() for name in (first, *COUNT_COLUMNS)), strict=True
        )
    ]


def region_figures(regions: Iterable[str]) -> tuple[int, int]:
    """(number_of_unique_regions, number_of_unique_countries): places and ISO countries only."""
    labels = set(regions)
    return (
        sum(1 for label in labels if is_place(label)),
        len({country for label in labels if (country := country_of(label)) is not None}),
    )


def per_dataset(table: pa.Table) -> dict[str, pa.Table]:
    """The rows of each dataset, from one sort (filtering per dataset would cost datasets x rows)."""
    ordered = table.sort_by("dataset")
    pieces: dict[str, pa.Table] = {}
    start = 0
    for entry in pc.value_counts(ordered["dataset"]).to_pylist():
        pieces[entry["values"]] = ordered.slice(start, entry["counts"])
        start += entry["counts"]
    return pieces


def rows_of(pieces: dict[str, pa.Table], dataset: str, *, like: pa.Table) -> pa.Table:
    return pieces.get(dataset, like.schema.empty_table())


def write_dataset_summaries(aggregates: Aggregates, *, root: Path, datasets: Sequence[str], privacy: Privacy) -> int:
    """by_day, by_asset, by_region and requester_count for each dataset; returns files written."""
    regions = grouped(aggregates.by_requester, ["dataset", "region"])
    tables = (
        ("by_day.tsv", "date", aggregates.by_day),
        ("by_asset.tsv", "asset_path", aggregates.by_asset),
        ("by_region.tsv", "region", regions),
    )
    split = {name: (first, table, per_dataset(table)) for name, first, table in tables}
    requesters = per_dataset(aggregates.by_requester)
    written = 0
    for dataset in datasets:
        folder = root / dataset
        files = {
            name: tsv(
                (first, *COUNT_COLUMNS),
                count_rows(rows_of(pieces, dataset, like=table), first=first, privacy=privacy),
            )
            for name, (first, table, pieces) in split.items()
        }
        count = rows_of(requesters, dataset, like=aggregates.by_requester).num_rows
        files["requester_count.tsv"] = f"{privacy.protect(count)}\n"
        written += sum(write_if_changed(folder / name, content) for name, content in files.items())
    return written


def write_archive_summaries(aggregates: Aggregates, *, root: Path, privacy: Privacy) -> int:
    """Archive-wide figures from the exact sums, never from rounded per-dataset figures."""
    folder = root / "archive"
    days = grouped(aggregates.by_day, ["date"])
    regions = grouped(aggregates.by_requester, ["region"])
    requesters = pc.count_distinct(aggregates.by_requester["ip_id"]).as_py()
    files = {
        "by_day.tsv": tsv(("date", *COUNT_COLUMNS), count_rows(days, first="date", privacy=privacy)),
        "by_region.tsv": tsv(("region", *COUNT_COLUMNS), count_rows(regions, first="region", privacy=privacy)),
        "requester_count.tsv": f"{privacy.protect(requesters)}\n",
    }
    return sum(write_if_changed(folder / name, content) for name, content in files.items())


def totals_of(*, days: pa.Table, requesters: pa.Table, privacy: Privacy) -> dict[str, Any]:
    unique_regions, unique_countries = region_figures(requesters["region"].to_pylist())
    return {
        "total_bytes_sent": pc.sum(days["bytes_sent"]).as_py() or 0,
        "number_of_unique_regions": unique_regions,
        "number_of_unique_countries": unique_countries,
        "total_number_of_requests": privacy.protect(pc.sum(days["number_of_requests"]).as_py() or 0),
        "total_number_of_downloads": privacy.protect(pc.sum(days["number_of_downloads"]).as_py() or 0),
        "number_of_requesters": privacy.protect(pc.count_distinct(requesters["ip_id"]).as_py()),
    }


def write_totals(aggregates: Aggregates, *, root: Path, datasets: Sequence[str], privacy: Privacy) -> int:
    days = per_dataset(aggregates.by_day)
    requesters = per_dataset(aggregates.by_requester)
    totals = {
        dataset: totals_of(
            days=rows_of(days, dataset, like=aggregates.by_day),
            requesters=rows_of(requesters, dataset, like=aggregates.by_requester),
            privacy=privacy,
        )
        for dataset in sorted(datasets)
    }
    return int(write_if_changed(root / "totals.json", json.dumps(totals, indent=2, sort_keys=True) + "\n"))


def write_archive_totals(aggregates: Aggregates, *, root: Path, privacy: Privacy) -> int:
    totals = totals_of(days=aggregates.by_day, requesters=aggregates.by_requester, privacy=privacy)
    return int(write_if_changed(root / "archive_totals.json", json.dumps(totals, indent=2, sort_keys=True) + "\n"))
