"""`report`: the pictures people look at, made from the published summaries only.

`report/index.html` is one self-contained page (Vega's scripts, the data and a bundled world
outline inline; nothing is fetched when it is opened), and `time_series.png` and `map.png`
(1800x600 and 1800x900 pixels) are for READMEs and papers.  Charts are Vega-Lite, rendered by
Vega in the page and by vl-convert for the PNGs (the `[report]` extra), both offline.  vl-convert
bundles Vega's scripts once (about a second); the bundle is kept in `<cache>/assets/`.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..appinfo import __version__
from ..cache import Cache, PathLike, make_private_folder, meta_value, replaced, transaction
from ..errors import MissingToolError, UsageError, storage_errors
from ..geodata import is_place
from ..text import escape_text
from . import charts
from .page import Section, page
from .published import Published, days_of, read_published

INSTALL_HINT = "report needs the [report] extra: pip install 's3logextraction[report]'"
PNG_SCALE = 2
TOP = 20


PICTURES = ("time_series.png", "map.png")
STAMP = "published_report"  # meta: what the report in place was made from


@dataclass
class ReportResult:
    folder: Path
    datasets: int = 0
    unchanged: bool = False

    def summary(self) -> str:
        state = " (nothing new since the last report)" if self.unchanged else ""
        return f"report: {self.datasets} datasets in {self.folder / 'index.html'}, with {', '.join(PICTURES)}{state}"


def inputs_stamp(summaries: Path, *, folder: Path, datasets: Sequence[str], version: str) -> str:
    """What a report is made from: every published file's name, size and modification time (a
    stat each, nothing read), the options and the renderer's version."""
    entries = []
    for where, _, names in os.walk(summaries):  # plain strings: thousands of files in a DANDI publish
        relative = os.path.relpath(where, summaries)
        for name in names:
            info = os.stat(os.path.join(where, name))
            entries.append((posixpath.normpath(posixpath.join(relative, name)), info.st_size, info.st_mtime_ns))
    return json.dumps([sorted(entries), str(folder), list(datasets), version, __version__])


def vl_convert() -> ModuleType:
    try:
        import vl_convert as module
    except ImportError:
        raise MissingToolError(INSTALL_HINT) from None
    return module


def report_available() -> bool:
    """Whether the `[report]` extra is installed (`run` then writes the report)."""
    try:
        vl_convert()
    except MissingToolError:
        return False
    return True


def vega_bundle(module: ModuleType, *, cache: Cache) -> str:
    """Vega, Vega-Lite and vega-embed as one script, kept per vl-convert version."""
    kept = cache.paths.root / "assets" / f"vega-bundle-{module.__version__}.js"
    if kept.exists():
        return kept.read_text(encoding="utf-8")
    bundle: str = module.javascript_bundle()
    write_atomically(kept, bundle.encode())
    return bundle


def write_atomically(target: Path, data: bytes, *, private: bool = True) -> None:
    """`data` renamed into place whole; private (0600 in a 0700 folder, as everything in the
    cache) unless the report goes to a folder of the user's choosing (then the umask decides)."""
    if private:
        make_private_folder(target.parent)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
    with replaced(target, private=private) as handle:
        handle.write(data)


def by_bytes(rows: list[dict[str, str]], column: str) -> list[tuple[str, int, Any]]:
    ranked = sorted(rows, key=lambda row: (-int(row["bytes_sent"]), row[column]))
    return [(row[column], int(row["bytes_sent"]), row["number_of_downloads"]) for row in ranked]


def section(published: Published, name: str, *, number: int, specs: dict[str, dict[str, Any]]) -> Section:
    """A selected dataset's part: its totals, its bytes and downloads over time, its top assets
    and regions."""
    identifier = f"chart-dataset-{number}"
    specs[identifier] = charts.time_series(days_of(published.dataset_rows(name, "by_day.tsv")), title=name)
    return Section(
        name=name,
        totals=published.totals[name],
        chart_ids=[identifier],
        assets=by_bytes(published.dataset_rows(name, "by_asset.tsv"), "asset_path")[:TOP],
        regions=by_bytes(published.dataset_rows(name, "by_region.tsv"), "region")[:TOP],
    )


def report(*, cache: PathLike, out: PathLike | None = None, datasets: Sequence[str] = ()) -> ReportResult:
    """Writes the report of the summaries published in `cache` to `out` (default
    `<cache>/report/`), with a section for each of `datasets`."""
    with Cache.open_for_writing(cache, command="report") as opened:
        return report_into(opened, out=None if out is None else Path(out), datasets=datasets)


def report_into(opened: Cache, *, out: Path | None = None, datasets: Sequence[str] = ()) -> ReportResult:
    """`report` in a cache the caller has opened (and locked), as `run` does."""
    module = vl_convert()
    folder = (out or opened.paths.report).absolute()
    summaries = opened.paths.summaries.resolve()  # one generation of the published set, read whole
    stamp = inputs_stamp(summaries, folder=folder, datasets=datasets, version=module.__version__)
    last = json.loads(meta_value(opened.db, STAMP) or b"{}")
    if (
        isinstance(last, dict)
        and last.get("inputs") == stamp
        and all((folder / name).is_file() for name in ("index.html", *PICTURES))
    ):
        return ReportResult(folder=folder, datasets=int(last.get("datasets", 0)), unchanged=True)
    published = read_published(summaries)
    unknown = [name for name in datasets if name not in published.totals]
    if unknown:
        raise UsageError(f"--dataset: not a published dataset: {escape_text(', '.join(unknown))}")
    days = days_of(published.archive_rows("by_day.tsv"))
    regions = [(label, sent) for label, sent, _ in by_bytes(published.archive_rows("by_region.tsv"), "region")]
    top_datasets = sorted(
        ((name, int(figures["total_bytes_sent"])) for name, figures in published.totals.items()),
        key=lambda pair: (-pair[1], pair[0]),
    )[:TOP]
    specs = {
        "chart-time-series": charts.time_series(days, title="Bytes sent and downloads"),
        "chart-map": charts.world_map(regions, published.coordinates),
        "chart-top-datasets": charts.top_bars(top_datasets, title=f"Top {TOP} datasets", what="dataset"),
        "chart-top-regions": charts.top_bars(regions[:TOP], title=f"Top {TOP} regions", what="region"),
    }
    sections = [section(published, name, number=number, specs=specs) for number, name in enumerate(datasets)]
    unplaced = sorted(label for label, _ in regions if not is_place(label) or label not in published.coordinates)
    with storage_errors(what=folder):
        content = page(
            title="Usage of the archive",
            archive=published.archive,
            totals=published.totals,
            top_datasets=top_datasets,
            top_regions=regions[:TOP],
            unplaced=unplaced,
            sections=sections,
            specs=specs,
            bundle=vega_bundle(module, cache=opened),
            summaries=opened.paths.summaries,
            out=folder,
        )
        stills = (without_controls(specs["chart-time-series"]), specs["chart-map"])
        pictures = {
            name: module.vegalite_to_png(spec, scale=PNG_SCALE) for name, spec in zip(PICTURES, stills, strict=True)
        }
        write_atomically(folder / "index.html", content.encode("utf-8"), private=out is None)
        for name, data in pictures.items():
            write_atomically(folder / name, data, private=out is None)
        with transaction(opened.db) as db:
            made = {"inputs": stamp, "datasets": len(published.totals)}
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (STAMP, json.dumps(made).encode()))
    return ReportResult(folder=folder, datasets=len(published.totals))


def without_controls(spec: dict[str, Any]) -> dict[str, Any]:
    """A chart as a still picture: the day view, no radio buttons."""
    return {**spec, "params": [{"name": "view", "value": "daily"}]}
