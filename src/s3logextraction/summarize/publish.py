"""Writing the published layout (DANDI access-summaries compatible).

The writers build the content of every file; `publish_files` then replaces the published set as
a whole: `summaries` is a symbolic link to one generation folder under `published/`; a publish
makes the next generation (unchanged files hard-linked from the current one, changed files
written, everything fsynced) and swaps the link with one atomic rename, so a reader (`report`,
`share`, a web server, `git add`) sees the old set or the new one, never a mix, and a full disk or
a kill leaves the previous set intact.  Files whose content would not change keep their inode and
mtime, so a nightly git commit of summaries/ shows real changes only.  Dataset folders no dataset
maps to any more (after a reset or a `--level` change) are left out of the new generation.
Counts of requests, downloads and requesters go through the privacy threshold; bytes are exact.
Every text cell is in the escaped form of `s3logextraction.text`, so no value adds a row or a
column.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..arrow import pa, pc
from ..cache import FOLDER_MODE, create_private, fsync_directory, make_private_folder, sync_filesystem
from ..datasets import dataset_folder
from ..datasets.dandi import ASSET_TYPES, asset_types
from ..datasets.folders import (
    ARCHIVE_FOLDER,
    ARCHIVE_TOTALS_FILE,
    ATTRIBUTION_FILE,
    COORDINATES_FILE,
    TOTALS_FILE,
)
from ..text import CONTROL_TEXT, escape_text, has_control
from .aggregate import Aggregates, grouped
from .counter import COUNTER_COUNTS, counter_sums
from .privacy import Privacy
from .regions import country_of, is_place

COUNT_COLUMNS = ("bytes_sent", "number_of_requests", "number_of_downloads")
COUNTER_FILE = "counter_by_month.tsv"
COUNTER_HEADER = ("month", "Access_Method", *COUNTER_COUNTS)
DBIP_ATTRIBUTION = "IP geolocation by DB-IP (https://db-ip.com), licensed under CC BY 4.0."
DATASET_FILES = ("by_day.tsv", "by_asset.tsv", "by_region.tsv", "requester_count.tsv", "dataset_name.txt",
                 "by_asset_type_per_week.tsv", "by_asset_per_week.tsv", COUNTER_FILE)  # fmt: skip
Files = dict[str, bytes]  # relative posix path -> content (UTF-8)
GENERATIONS = "published"  # beside summaries/: the generations the summaries link points to


PROTECTED = ("number_of_requests", "number_of_downloads", *COUNTER_COUNTS)
SUMMED = (*COUNT_COLUMNS, *COUNTER_COUNTS)  # value columns, never sort keys


def cell(value: Any) -> str:
    text = str(value)
    return escape_text(text) if has_control(text) else text


def text_cells(column: pa.ChunkedArray, *, name: str, privacy: Privacy) -> pa.ChunkedArray | pa.Array:
    """One column as published text: counts through the privacy threshold, other values as
    text.  Dates and dictionary columns are turned into text once per distinct value (a week or
    an asset path repeats on many rows)."""
    if name in PROTECTED:
        return privacy.protect_array(column)
    if pa.types.is_date(column.type):
        column = pc.dictionary_encode(column)
    if pa.types.is_dictionary(column.type):
        combined = column.combine_chunks()
        return pc.take(as_text(combined.dictionary), combined.indices)
    return as_text(column)


def as_text(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Values as text; text values escaped when they hold a control character or a tab (rare:
    only then do they go through Python)."""
    if not pa.types.is_string(values.type):
        return pc.cast(values, pa.string())  # numbers and dates hold no control character
    if pc.any(pc.match_substring_regex(values, CONTROL_TEXT.pattern)).as_py():
        return pa.array([cell(value) for value in values.to_pylist()], pa.string())
    return values


def text_body(table: pa.Table, *, columns: Sequence[str], privacy: Privacy) -> pa.StringArray | pa.LargeStringArray:
    """The rows of `table` as TSV lines of `columns`, each ending in a newline, built column by
    column with pyarrow kernels: a run of rows is one slice of the array's character data, so a
    file's body is taken whole, never as a million Python strings.  The text is not copied again
    unless it comes in several pieces (then as one large string array: it may pass 2 GB)."""
    if not table.num_rows:
        return pa.array([], pa.string())
    cells = [text_cells(table[name], name=name, privacy=privacy) for name in columns]
    cells[-1] = pc.binary_join_element_wise(cells[-1], "\n", "")
    body = pc.binary_join_element_wise(*cells, "\t")
    if isinstance(body, pa.ChunkedArray):
        return body.chunk(0) if body.num_chunks == 1 else body.cast(pa.large_string()).combine_chunks()
    return body


def text_of(body: pa.StringArray | pa.LargeStringArray, start: int = 0, end: int | None = None) -> memoryview:
    """The UTF-8 text of rows `start` to `end` of a `text_body`, as a view of the array's data (a
    file's body is copied once, into the file's content, never through `str`)."""
    end = len(body) if end is None else end
    if start >= end:
        return memoryview(b"")
    _, offsets, data = body.buffers()
    width = 8 if pa.types.is_large_string(body.type) else 4
    first, last = (
        int.from_bytes(offsets[width * at : width * at + width], "little")
        for at in (body.offset + start, body.offset + end)
    )
    return memoryview(data)[first:last]


def tsv(header: Sequence[str], body: memoryview | bytes) -> bytes:
    return b"".join(("\t".join(header).encode() + b"\n", body))


def sort_code(column: pa.ChunkedArray) -> pa.Array:
    """A column as sortable integers: a dictionary column as the rank of each row's value (its
    codes themselves when its dictionary is sorted, as the attribution builds it), a date or an
    integer as itself, anything else (months, access methods: short columns) as its dense rank."""
    combined = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        values = combined.dictionary
        if column.type.ordered and (len(values) < 2 or pc.all(pc.less(values[:-1], values[1:])).as_py()):
            return combined.indices
        return pc.take(pc.rank(values, tiebreaker="dense"), combined.indices)
    if pa.types.is_date32(column.type):
        return combined.cast(pa.int32())
    if pa.types.is_integer(column.type):
        return combined
    return pc.rank(combined, tiebreaker="dense")


def ordered(table: pa.Table, names: Sequence[str]) -> pa.Table:
    """`table` sorted by `names` in value order, dictionary columns by their integer ranks."""
    table = table.unify_dictionaries()
    order = sorting_order([sort_code(table[name]) for name in names])
    return table if order is None else table.take(order)


def sorting_order(codes: Sequence[pa.Array]) -> pa.Array | None:
    """The row order that sorts integer `codes` (the first most significant), or None when the
    rows are in that order already.  When their ranges fit, each row's codes are packed into one
    int64 and numpy's quicksort orders them (several times faster than a multi-key sort; the
    grouped tables sorted here have distinct keys, and equal keys, should they occur, get a stable
    sort, so the order is always the same)."""
    import numpy as np  # loaded with pyarrow, when there is something to sort: not at every start

    rows = len(codes[0]) if codes else 0
    span, packed = 1, np.zeros(rows, dtype=np.int64)
    for code in codes:
        if not rows or code.null_count:
            break
        values = code.to_numpy(zero_copy_only=False).astype(np.int64)
        low, high = int(values.min()), int(values.max())
        span *= high - low + 1
        if span >= 2**62:
            break
        packed = packed * (high - low + 1) + (values - low)
    else:
        if bool((packed[1:] >= packed[:-1]).all()):  # already in order (as weekly_sums leaves its rows)
            return None
        order = np.argsort(packed)
        if rows > 1 and bool((packed[order[1:]] == packed[order[:-1]]).any()):
            order = np.argsort(packed, kind="stable")
        return pa.array(order)
    table = pa.table({str(index): code for index, code in enumerate(codes)})
    return pc.sort_indices(table, sort_keys=[(str(index), "ascending") for index in range(len(codes))])


def bodies_by_dataset(table: pa.Table, *, columns: Sequence[str], privacy: Privacy) -> dict[str, memoryview]:
    """Each dataset's TSV body of `columns`, sorted by them, from one sort and one text pass over
    all datasets (per-dataset kernels would cost datasets x kernels)."""
    rows = ordered(table, ["dataset", *(name for name in columns if name not in SUMMED)])
    body = text_body(rows, columns=columns, privacy=privacy)
    bodies: dict[str, memoryview] = {}
    start = 0
    for entry in pc.value_counts(rows["dataset"]).to_pylist():
        bodies[entry["values"]] = text_of(body, start, start + entry["counts"])
        start += entry["counts"]
    return bodies


def region_figures(regions: Iterable[str]) -> tuple[int, int]:
    """(number_of_unique_regions, number_of_unique_countries): places and ISO countries only."""
    labels = set(regions)
    return (
        sum(1 for label in labels if is_place(label)),
        len({country for label in labels if (country := country_of(label)) is not None}),
    )


def dataset_summaries(aggregates: Aggregates, *, datasets: Sequence[str], privacy: Privacy) -> Files:
    """by_day, by_asset, by_region and requester_count for each dataset."""
    tables = (
        ("by_day.tsv", "date", aggregates.by_day),
        ("by_asset.tsv", "asset_path", aggregates.by_asset),
        ("by_region.tsv", "region", aggregates.by_region),
    )
    split = {
        name: ((first, *COUNT_COLUMNS), bodies_by_dataset(table, columns=(first, *COUNT_COLUMNS), privacy=privacy))
        for name, first, table in tables
    }
    split[COUNTER_FILE] = (
        COUNTER_HEADER,
        bodies_by_dataset(aggregates.by_month_counter, columns=COUNTER_HEADER, privacy=privacy),
    )
    requesters = aggregates.requesters
    files: Files = {}
    for dataset in datasets:
        folder = dataset_folder(dataset)
        for name, (header, pieces) in split.items():
            files[f"{folder}/{name}"] = tsv(header, pieces.get(dataset, b""))
        files[f"{folder}/requester_count.tsv"] = f"{privacy.protect(requesters.get(dataset, 0))}\n".encode()
        if folder != dataset:
            files[f"{folder}/dataset_name.txt"] = f"{dataset}\n".encode()
    return files


def typed_weeks(table: pa.Table) -> dict[str, dict[Any, dict[str, int]]]:
    """Bytes per dataset, week and asset type; each distinct asset path is typed once."""
    paths = table.unify_dictionaries()["asset_path"].combine_chunks()
    if not pa.types.is_dictionary(paths.type):
        paths = pc.dictionary_encode(paths)
    kinds = asset_types(paths.dictionary)
    typed = grouped(
        table.append_column(
            "asset_type", pa.DictionaryArray.from_arrays(pc.take(kinds.indices, paths.indices), kinds.dictionary)
        ),
        ["dataset", "week", "asset_type"],
    )
    weeks: dict[str, dict[Any, dict[str, int]]] = {}
    columns = (typed[name].to_pylist() for name in ("dataset", "week", "asset_type", "bytes_sent"))
    for dataset, week, kind, size in zip(*columns, strict=True):
        weeks.setdefault(dataset, {}).setdefault(week, dict.fromkeys(ASSET_TYPES, 0))[kind] += size
    return weeks


def weekly_summaries(aggregates: Aggregates, *, datasets: Sequence[str], privacy: Privacy) -> Files:
    """DANDI's by_asset_type_per_week (bytes per asset type, weeks starting on Monday) and
    by_asset_per_week for each dataset."""
    table = aggregates.by_asset_week
    if table is None:
        return {}
    columns = ("week", "asset_path", *COUNT_COLUMNS)
    pieces, types = bodies_by_dataset(table, columns=columns, privacy=privacy), typed_weeks(table)
    files: Files = {}
    for dataset in datasets:
        folder = dataset_folder(dataset)
        weeks = sorted(types.get(dataset, {}).items())
        files[f"{folder}/by_asset_type_per_week.tsv"] = asset_type_weeks(weeks)
        files[f"{folder}/by_asset_per_week.tsv"] = tsv(("week_start", *columns[1:]), pieces.get(dataset, b""))
    return files


def asset_type_weeks(weeks: Iterable[tuple[Any, dict[str, int]]]) -> bytes:
    """by_asset_type_per_week.tsv: bytes per week (its Monday) and asset type, weeks in order."""
    body = "".join("\t".join(map(str, (week, *(sizes[kind] for kind in ASSET_TYPES)))) + "\n" for week, sizes in weeks)
    return tsv(("week_start", *ASSET_TYPES), body.encode())


def archive_type_weeks(aggregates: Aggregates) -> Files:
    """archive/by_asset_type_per_week.tsv (DANDI mode): the bytes of every dataset folder summed
    per week and asset type, `undetermined` and `unassociated` included (bytes are exact, so the
    archive's file is the sum of the dandisets' files)."""
    if aggregates.by_asset_week is None:
        return {}
    summed: dict[Any, dict[str, int]] = {}
    for weeks in typed_weeks(aggregates.by_asset_week).values():
        for week, sizes in weeks.items():
            total = summed.setdefault(week, dict.fromkeys(ASSET_TYPES, 0))
            for kind, size in sizes.items():
                total[kind] += size
    return {f"{ARCHIVE_FOLDER}/by_asset_type_per_week.tsv": asset_type_weeks(sorted(summed.items()))}


def archive_summaries(aggregates: Aggregates, *, privacy: Privacy) -> Files:
    """Archive-wide figures from the exact sums, never from rounded per-dataset figures."""
    days = ordered(grouped(aggregates.by_day, ["date"]), ["date"])
    regions = ordered(grouped(aggregates.by_region, ["region"]), ["region"])
    requesters = aggregates.archive_requesters
    counter = ordered(counter_sums(aggregates.by_month_counter, ["month", "Access_Method"]), ["month", "Access_Method"])
    return {
        f"{ARCHIVE_FOLDER}/by_day.tsv": tsv(
            ("date", *COUNT_COLUMNS), text_of(text_body(days, columns=("date", *COUNT_COLUMNS), privacy=privacy))
        ),
        f"{ARCHIVE_FOLDER}/by_region.tsv": tsv(
            ("region", *COUNT_COLUMNS), text_of(text_body(regions, columns=("region", *COUNT_COLUMNS), privacy=privacy))
        ),
        f"{ARCHIVE_FOLDER}/requester_count.tsv": f"{privacy.protect(requesters)}\n".encode(),
        f"{ARCHIVE_FOLDER}/{COUNTER_FILE}": tsv(
            COUNTER_HEADER, text_of(text_body(counter, columns=COUNTER_HEADER, privacy=privacy))
        ),
    } | archive_type_weeks(aggregates)


def figures_of(*, sums: dict[str, int], requesters: int, regions: Iterable[str], privacy: Privacy) -> dict[str, Any]:
    unique_regions, unique_countries = region_figures(regions)
    return {
        "total_bytes_sent": sums.get("bytes_sent") or 0,
        "number_of_unique_regions": unique_regions,
        "number_of_unique_countries": unique_countries,
        "total_number_of_requests": privacy.protect(sums.get("number_of_requests") or 0),
        "total_number_of_downloads": privacy.protect(sums.get("number_of_downloads") or 0),
        "number_of_requesters": privacy.protect(requesters),
    }


def totals(aggregates: Aggregates, *, datasets: Sequence[str], privacy: Privacy) -> Files:
    """totals.json: each dataset's figures, from one group-by per table over all datasets."""
    sums = {row["dataset"]: row for row in grouped(aggregates.by_day, ["dataset"]).to_pylist()}
    requesters = aggregates.requesters
    regions: dict[str, list[str]] = {}
    pairs = aggregates.by_region
    for dataset, region in zip(pairs["dataset"].to_pylist(), pairs["region"].to_pylist(), strict=True):
        regions.setdefault(dataset, []).append(region)
    figures = {
        dataset: figures_of(
            sums=sums.get(dataset, {}),
            requesters=requesters.get(dataset, 0),
            regions=regions.get(dataset, []),
            privacy=privacy,
        )
        for dataset in sorted(datasets)
    }
    return {TOTALS_FILE: (json.dumps(figures, indent=2, sort_keys=True) + "\n").encode()}


def archive_totals(aggregates: Aggregates, *, privacy: Privacy) -> Files:
    sums = {name: pc.sum(aggregates.by_day[name]).as_py() or 0 for name in COUNT_COLUMNS}
    figures = figures_of(
        sums=sums,
        requesters=aggregates.archive_requesters,
        regions=pc.unique(aggregates.by_region["region"]).to_pylist(),
        privacy=privacy,
    )
    return {ARCHIVE_TOTALS_FILE: (json.dumps(figures, indent=2, sort_keys=True) + "\n").encode()}


def coordinates_file(db: sqlite3.Connection) -> Files:
    """region_codes_to_coordinates.yaml for the labels in use that have coordinates (none: no file)."""
    rows = db.execute(
        "SELECT region, latitude, longitude FROM region_coordinates "
        "WHERE region IN (SELECT DISTINCT region FROM ip_regions) ORDER BY region"
    ).fetchall()
    if not rows:
        return {}
    import yaml

    places = {
        region: {"latitude": float(latitude), "longitude": float(longitude)} for region, latitude, longitude in rows
    }
    return {COORDINATES_FILE: yaml.safe_dump(places, sort_keys=True, allow_unicode=True).encode()}


def attribution_file(db: sqlite3.Connection) -> Files:
    """The attribution the DB-IP licence asks for, beside the summaries, when its data labelled any IP."""
    used = db.execute("SELECT 1 FROM ip_regions WHERE source LIKE 'mmdb DBIP%' LIMIT 1").fetchone()
    return {ATTRIBUTION_FILE: (DBIP_ATTRIBUTION + "\n").encode()} if used else {}


def changed(root: str | None, files: Files) -> Files:
    """The files whose content differs from what the generation `root` holds (all of them when
    there is none); a folder `root` does not have is not looked into file by file (a first DANDI
    publish is thousands of new files)."""
    if root is None:
        return dict(files)
    kept: Files = {}
    present: dict[str, bool] = {}
    for name, content in files.items():
        folder = posixpath.dirname(name)
        if folder not in present:
            present[folder] = os.path.isdir(os.path.join(root, folder))
        if present[folder]:
            try:
                with open(os.path.join(root, name), "rb") as handle:
                    if handle.read() == content:
                        continue
            except (FileNotFoundError, NotADirectoryError):
                pass
        kept[name] = content
    return kept


def generations_of(root: Path) -> Path:
    """Where the generations of the published set `root` live (`<cache>/published/`)."""
    return root.parent / GENERATIONS


def current_generation(root: Path) -> str | None:
    """The folder the published set `root` is now (what its link points to; a cache of an older
    version has a plain folder there), or None before the first publish."""
    if os.path.islink(root):
        target = os.path.join(root.parent, os.readlink(root))
        return target if os.path.isdir(target) else None  # a generation removed by hand: start afresh
    return os.fspath(root) if os.path.isdir(root) else None


def publish_files(*, root: Path, files: Files, live_folders: set[str] | None) -> int:
    """Replaces the published set `root` as a whole: a new generation folder is made beside the
    others, holding the previous generation's files as hard links (same inode and mtime: a file
    whose bytes do not change is not rewritten, so `git status` shows real changes only) except
    the changed files of `files`, written new, and the dataset folders outside `live_folders`
    (when given), left out; every file is on disk (one syncfs) before `root`, a symbolic link, is
    swapped to it by one atomic rename.  A reader that resolved `root` before or after the swap
    sees one whole set, never a mix; the older generations are removed after it.  Returns the
    number of files written (nothing changes, no generation is made).  Paths are plain strings
    here: pathlib's parsing cost more than the writes themselves."""
    current = current_generation(root)
    todo = changed(current, files)
    kept, left_out = ([], 0) if current is None else linked_files(current, skip=todo.keys(), live=live_folders)
    if current is not None and not todo and not left_out:
        return 0
    generations = generations_of(root)
    make_private_folder(generations)
    remove_generations(generations, keep=current)
    generation = os.path.join(generations, f"{time.time_ns():020d}")
    os.mkdir(generation, FOLDER_MODE)
    made: set[str] = {""}
    for name in kept:
        ensure_folder(generation, posixpath.dirname(name), made=made)
        os.link(os.path.join(current or "", name), os.path.join(generation, name))
    for name, content in todo.items():
        ensure_folder(generation, posixpath.dirname(name), made=made)
        with os.fdopen(create_private(os.path.join(generation, name)), "wb") as handle:
            handle.write(content)
    sync_filesystem(Path(generation))
    swap_link(root, target=os.path.relpath(generation, root.parent), previous=current)
    remove_generations(generations, keep=generation)
    return len(todo)


def ensure_folder(generation: str, folder: str, *, made: set[str]) -> None:
    if folder not in made:
        os.makedirs(os.path.join(generation, folder), mode=FOLDER_MODE, exist_ok=True)
        made.update([folder, *enclosing(folder)])


def linked_files(current: str, *, skip: Iterable[str], live: set[str] | None) -> tuple[list[str], int]:
    """The files of the generation `current` that the next one links: all but those rewritten
    (`skip`) and, with `live`, the dataset files of dataset folders (those holding a by_day.tsv)
    that no dataset maps to any more; and how many of the latter are left out (one walk serves
    both: nothing rewritten and nothing left out means no new generation)."""
    rewritten = set(skip)
    found: list[str] = []
    left_out = 0
    for where, _, names in os.walk(current):
        relative = os.path.relpath(where, current)
        folder = "" if relative == "." else relative.replace(os.sep, "/")
        stale = live is not None and "by_day.tsv" in names and folder != ARCHIVE_FOLDER and folder not in live
        for name in names:
            path = posixpath.join(folder, name)
            if stale and name in DATASET_FILES:
                left_out += 1
            elif path not in rewritten:
                found.append(path)
    return found, left_out


def swap_link(root: Path, *, target: str, previous: str | None) -> None:
    """`root` made a link to `target` by one rename of a new link over it (`ln -sfn` would unlink
    first).  A plain folder left by an older version is moved into the generations first (the one
    moment `root` is missing; a reader then finds no set, never a mix)."""
    if previous == os.fspath(root):
        os.rename(root, os.path.join(generations_of(root), "0" * 20))
    swap = root.with_name(f".{root.name}.swap")
    with contextlib.suppress(FileNotFoundError):
        swap.unlink()
    os.symlink(target, swap)
    os.replace(swap, root)
    fsync_directory(root.parent)


def remove_generations(generations: Path, *, keep: str | None) -> None:
    """Every generation but `keep` (and the one being made, when a publish was killed, is one of
    these: no link ever pointed to it)."""
    for entry in os.scandir(generations):
        if keep is None or not os.path.samefile(entry.path, keep):
            shutil.rmtree(entry.path, ignore_errors=True)


def enclosing(name: str) -> Iterator[str]:
    """The folders of a relative posix path, innermost first ("a/b/c.tsv": "a/b", "a")."""
    while "/" in name:
        name = name.rpartition("/")[0]
        yield name
