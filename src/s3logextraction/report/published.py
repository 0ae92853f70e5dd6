"""The published summaries as the report reads them.  The report reads nothing else (no shard,
no state DB), so it can never show what is not published: counts below the privacy threshold
arrive as `<50` and stay so."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ..datasets import dataset_folder
from ..datasets.folders import ARCHIVE_FOLDER, ARCHIVE_TOTALS_FILE, COORDINATES_FILE, TOTALS_FILE
from ..errors import InputError
from ..text import escape_text

Count = int | str  # a published count: a number, or "<50" below the privacy threshold
TOTAL_FIELDS = (
    "total_bytes_sent",
    "total_number_of_downloads",
    "total_number_of_requests",
    "number_of_requesters",
    "number_of_unique_regions",
    "number_of_unique_countries",
)


@dataclass(frozen=True)
class Day:
    day: date
    bytes_sent: int
    downloads: int | None  # None: published as below the threshold


@dataclass(frozen=True)
class Published:
    root: Path
    totals: dict[str, dict[str, Count]]
    archive: dict[str, Count]
    coordinates: dict[str, tuple[float, float]]

    def dataset_rows(self, dataset: str, name: str) -> list[dict[str, str]]:
        return tsv_rows(self.root / dataset_folder(dataset) / name)

    def archive_rows(self, name: str) -> list[dict[str, str]]:
        return tsv_rows(self.root / ARCHIVE_FOLDER / name)


def json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{escape_text(str(path))}: not published yet; run `update summaries` and `update totals` "
            "(and their --mode archive) first"
        ) from None
    except (OSError, ValueError) as error:
        raise InputError(f"{escape_text(str(path))}: cannot be read ({error})") from None


def tsv_rows(path: Path) -> list[dict[str, str]]:
    """A published TSV's rows (an absent file has none: a dataset may lack a region table)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return list(csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))


def count(cell: str) -> int | None:
    return None if cell.startswith("<") else int(cell)


def days_of(rows: list[dict[str, str]]) -> list[Day]:
    return [
        Day(date.fromisoformat(row["date"]), int(row["bytes_sent"]), count(row["number_of_downloads"])) for row in rows
    ]


def read_published(root: Path) -> Published:
    import yaml

    coordinates_path = root / COORDINATES_FILE
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when there: ten times faster
    places = yaml.load(coordinates_path.read_bytes(), Loader=loader) if coordinates_path.exists() else None
    return Published(
        root=root,
        totals=json_file(root / TOTALS_FILE),
        archive=json_file(root / ARCHIVE_TOTALS_FILE),
        coordinates={
            str(label): (float(place["latitude"]), float(place["longitude"])) for label, place in (places or {}).items()
        },
    )
