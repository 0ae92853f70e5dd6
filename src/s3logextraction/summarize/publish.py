"""Writing the published layout (DANDI access-summaries compatible).

The writers build the content of every file; `publish_files` then replaces the published set as
a whole: changed files are written to staging/ (never beside the published files), fsynced, and
only when every one is written are they renamed into place, so a full disk leaves the previous
set intact.  Files whose content would not change are not rewritten, so a nightly git commit of
summaries/ shows real changes only.  Dataset folders no dataset maps to any more (after a reset
or a `--level` change) are removed.  Counts of requests, downloads and requesters go through the
privacy threshold; bytes are exact.  Every text cell is in the escaped form of
`s3logextraction.text`, so no value adds a row or a column.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from ..cache import FOLDER_MODE, create_private, make_private_folder, sync_filesystem
from ..datasets import dataset_folder
from ..datasets.dandi import ASSET_TYPES, asset_type
from ..text import escape_text, has_control
from .aggregate import Aggregates, grouped
from .privacy import Privacy
from .regions import country_of, is_place

COUNT_COLUMNS = ("bytes_sent", "number_of_requests", "number_of_downloads")
COORDINATES_FILE = "region_codes_to_coordinates.yaml"
ATTRIBUTION_FILE = "ATTRIBUTION.txt"
DBIP_ATTRIBUTION = "IP geolocation by DB-IP (https://db-ip.com), licensed under CC BY 4.0."
DATASET_FILES = ("by_day.tsv", "by_asset.tsv", "by_region.tsv", "requester_count.tsv", "dataset_name.txt",
                 "by_asset_type_per_week.tsv", "by_asset_per_week.tsv")  # fmt: skip
Files = dict[str, str]  # relative posix path -> content


def cell(value: Any) -> str:
    text = str(value)
    return escape_text(text) if has_control(text) else text


def row_text(row: Sequence[Any]) -> str:
    """One TSV line; cells are escaped only when the plain line shows a control byte or a tab
    too many (almost never: the fast path is one join and one search per line)."""
    line = "\t".join(map(str, row))
    if line.count("\t") == len(row) - 1 and not has_control(line.replace("\t", " ")):
        return line
    return "\t".join(cell(value) for value in row)


def tsv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["\t".join(header), *map(row_text, rows)]
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


def dataset_summaries(aggregates: Aggregates, *, datasets: Sequence[str], privacy: Privacy) -> Files:
    """by_day, by_asset, by_region and requester_count for each dataset."""
    regions = grouped(aggregates.by_requester, ["dataset", "region"])
    tables = (
        ("by_day.tsv", "date", aggregates.by_day),
        ("by_asset.tsv", "asset_path", aggregates.by_asset),
        ("by_region.tsv", "region", regions),
    )
    split = {name: (first, table, per_dataset(table)) for name, first, table in tables}
    requesters = per_dataset(aggregates.by_requester)
    files: Files = {}
    for dataset in datasets:
        folder = dataset_folder(dataset)
        for name, (first, table, pieces) in split.items():
            rows = count_rows(rows_of(pieces, dataset, like=table), first=first, privacy=privacy)
            files[f"{folder}/{name}"] = tsv((first, *COUNT_COLUMNS), rows)
        count = rows_of(requesters, dataset, like=aggregates.by_requester).num_rows
        files[f"{folder}/requester_count.tsv"] = f"{privacy.protect(count)}\n"
        if folder != dataset:
            files[f"{folder}/dataset_name.txt"] = f"{dataset}\n"
    return files


def typed_weeks(table: pa.Table) -> pa.Table:
    """Bytes per (dataset, week, asset type); each distinct asset path is typed once."""
    paths = pc.dictionary_encode(table["asset_path"]).combine_chunks()
    kinds = pa.array([asset_type(path) for path in paths.dictionary.to_pylist()], pa.string())
    return grouped(table.append_column("asset_type", pc.take(kinds, paths.indices)), ["dataset", "week", "asset_type"])


def text_lines(rows: pa.Table, *, privacy: Privacy) -> list[str]:
    """week, asset path, bytes and protected counts as TSV lines, built column by column (a
    dataset of a million asset-weeks costs no Python loop); paths with a control byte or a tab,
    rare, go through the escaping writer."""
    columns = text_columns(rows, privacy)
    if rows.num_rows and pc.any(pc.match_substring_regex(rows["asset_path"], r"[\x00-\x1f\x7f]")).as_py():
        return [row_text(row) for row in zip(*(column.to_pylist() for column in columns), strict=True)]
    lines: list[str] = pc.binary_join_element_wise(*columns, "\t").to_pylist()
    return lines


def text_columns(rows: pa.Table, privacy: Privacy) -> list[pa.ChunkedArray]:
    return [
        pc.cast(rows["week"], pa.string()),
        rows["asset_path"],
        pc.cast(rows["bytes_sent"], pa.string()),
        privacy.protect_array(rows["number_of_requests"]),
        privacy.protect_array(rows["number_of_downloads"]),
    ]


def weekly_summaries(aggregates: Aggregates, *, datasets: Sequence[str], privacy: Privacy) -> Files:
    """DANDI's by_asset_type_per_week (bytes per asset type, weeks starting on Monday) and
    by_asset_per_week for each dataset."""
    table = aggregates.by_asset_week
    if table is None:
        return {}
    pieces, type_pieces = per_dataset(table), per_dataset(typed_weeks(table))
    files: Files = {}
    for dataset in datasets:
        folder = dataset_folder(dataset)
        by_type: dict[Any, dict[str, int]] = {}
        types = rows_of(type_pieces, dataset, like=table)
        for week, kind, size in zip(*(types[name].to_pylist() for name in ("week", "asset_type", "bytes_sent")),
                                    strict=True):  # fmt: skip
            by_type.setdefault(week, dict.fromkeys(ASSET_TYPES, 0))[kind] += size
        files[f"{folder}/by_asset_type_per_week.tsv"] = tsv(
            ("week_start", *ASSET_TYPES), [(week, *totals.values()) for week, totals in sorted(by_type.items())]
        )
        rows = rows_of(pieces, dataset, like=table).sort_by([("week", "ascending"), ("asset_path", "ascending")])
        header = "\t".join(("week_start", "asset_path", *COUNT_COLUMNS))
        files[f"{folder}/by_asset_per_week.tsv"] = "\n".join([header, *text_lines(rows, privacy=privacy)]) + "\n"
    return files


def archive_summaries(aggregates: Aggregates, *, privacy: Privacy) -> Files:
    """Archive-wide figures from the exact sums, never from rounded per-dataset figures."""
    days = grouped(aggregates.by_day, ["date"])
    regions = grouped(aggregates.by_requester, ["region"])
    requesters = pc.count_distinct(aggregates.by_requester["ip_id"]).as_py()
    return {
        "archive/by_day.tsv": tsv(("date", *COUNT_COLUMNS), count_rows(days, first="date", privacy=privacy)),
        "archive/by_region.tsv": tsv(("region", *COUNT_COLUMNS), count_rows(regions, first="region", privacy=privacy)),
        "archive/requester_count.tsv": f"{privacy.protect(requesters)}\n",
    }


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


def totals(aggregates: Aggregates, *, datasets: Sequence[str], privacy: Privacy) -> Files:
    days = per_dataset(aggregates.by_day)
    requesters = per_dataset(aggregates.by_requester)
    figures = {
        dataset: totals_of(
            days=rows_of(days, dataset, like=aggregates.by_day),
            requesters=rows_of(requesters, dataset, like=aggregates.by_requester),
            privacy=privacy,
        )
        for dataset in sorted(datasets)
    }
    return {"totals.json": json.dumps(figures, indent=2, sort_keys=True) + "\n"}


def archive_totals(aggregates: Aggregates, *, privacy: Privacy) -> Files:
    figures = totals_of(days=aggregates.by_day, requesters=aggregates.by_requester, privacy=privacy)
    return {"archive_totals.json": json.dumps(figures, indent=2, sort_keys=True) + "\n"}


def coordinates_file(db: sqlite3.Connection) -> Files:
    """region_codes_to_coordinates.yaml for the labels in use that have coordinates (none: no file)."""
    rows = db.execute(
        "SELECT region, latitude, longitude FROM region_coordinates "
        "WHERE region IN (SELECT DISTINCT region FROM ip_regions) ORDER BY region"
    ).fetchall()
    if not rows:
        return {}
    places = {
        region: {"latitude": float(latitude), "longitude": float(longitude)} for region, latitude, longitude in rows
    }
    return {COORDINATES_FILE: yaml.safe_dump(places, sort_keys=True, allow_unicode=True)}


def attribution_file(db: sqlite3.Connection) -> Files:
    """The attribution the DB-IP licence asks for, beside the summaries, when its data labelled any IP."""
    used = db.execute("SELECT 1 FROM ip_regions WHERE source LIKE 'mmdb DBIP%' LIMIT 1").fetchone()
    return {ATTRIBUTION_FILE: DBIP_ATTRIBUTION + "\n"} if used else {}


def changed(root: Path, files: Files) -> Files:
    kept: Files = {}
    for name, content in files.items():
        try:
            if (root / name).read_bytes() == content.encode("utf-8"):
                continue
        except (FileNotFoundError, NotADirectoryError):
            pass
        kept[name] = content
    return kept


def publish_files(*, root: Path, staging: Path, files: Files, live_folders: set[str] | None) -> int:
    """Replaces the changed files of `files` under `root` as a set; with `live_folders`, dataset
    folders outside it are removed.  Returns the number of files written.  Every staged file is
    on disk (one syncfs for all of them) before the first rename, and the renames are on disk
    (a second syncfs) before this returns."""
    todo = changed(root, files)
    scratch = staging / "summaries"
    try:
        for name, content in todo.items():
            target = scratch / name
            make_private_folder(target.parent)
            with os.fdopen(create_private(target), "wb") as handle:
                handle.write(content.encode("utf-8"))
        make_private_folder(root)
        if todo:
            sync_filesystem(scratch)
        for name in todo:
            (root / name).parent.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
            os.replace(scratch / name, root / name)
        if todo:
            sync_filesystem(root)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if live_folders is not None:
        remove_stale_folders(root, live=live_folders)
    return len(todo)


def remove_stale_folders(root: Path, *, live: set[str]) -> None:
    """Dataset folders (those holding a by_day.tsv) that no dataset maps to any more; the list is
    taken before any folder goes, so the walk never steps into a folder it removed."""
    for summary in sorted(root.rglob("by_day.tsv")):
        folder = summary.parent
        relative = folder.relative_to(root).as_posix()
        if relative == "archive" or relative in live:
            continue
        for name in DATASET_FILES:
            (folder / name).unlink(missing_ok=True)
        while folder != root and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
