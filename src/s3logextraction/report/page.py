"""The report page: one self-contained HTML file (data, Vega's scripts and styles inline, nothing
fetched when opened).  Every text that comes from the logs (dataset names, regions, asset paths)
is escaped, in the markup and in the inline JSON alike.  Figures carry their published value in
`data-value` (a number, or `<50`), beside the text a reader sees."""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datasets import dataset_folder
from ..sizes import human_bytes
from .published import TOTAL_FIELDS, Count

LABELS = {
    "total_bytes_sent": "bytes sent",
    "total_number_of_downloads": "downloads",
    "total_number_of_requests": "requests",
    "number_of_requesters": "requesters",
    "number_of_unique_regions": "regions",
    "number_of_unique_countries": "countries",
}
DATASET_FILES = ("by_day.tsv", "by_asset.tsv", "by_region.tsv")
BASE_TAG = re.compile(rb'<base href="[^"]*">')
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.5rem; } h3 { font-size: 1.1rem; }
dl.totals { display: grid; grid-template-columns: repeat(3, 1fr); gap: 0.5rem 1.5rem; }
dl.totals dt { color: #666; font-size: 0.85rem; } dl.totals dd { margin: 0; font-size: 1.2rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { padding: 0.3rem 0.5rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th.sortable { cursor: pointer; user-select: none; } th.sortable::after { content: " \\2195"; color: #aaa; }
.note { color: #666; font-size: 0.85rem; }
footer { margin-top: 3rem; color: #666; font-size: 0.8rem; }
"""
SCRIPT = """
const specs = JSON.parse(document.getElementById("specs").textContent);
for (const [id, spec] of Object.entries(specs)) {
  vegaEmbed("#" + id, spec, {actions: false, renderer: "svg"}).catch((error) => console.error(error));
}
for (const table of document.querySelectorAll("table.sortable")) {
  const headers = Array.from(table.tHead.rows[0].cells);
  headers.forEach((header, column) => header.addEventListener("click", () => {
    const down = header.dataset.order !== "down";
    headers.forEach((other) => delete other.dataset.order);
    header.dataset.order = down ? "down" : "up";
    const rows = Array.from(table.tBodies[0].rows);
    const key = (row) => row.cells[column].dataset.sort;
    const numeric = header.dataset.type === "number";
    rows.sort((a, b) => {
      const order = numeric ? Number(key(a)) - Number(key(b)) : key(a).localeCompare(key(b));
      return down ? -order : order;
    });
    table.tBodies[0].append(...rows);
  }));
}
"""


@dataclass(frozen=True)
class Section:
    """A dataset's own part of the page."""

    name: str
    totals: dict[str, Count]
    chart_ids: list[str]
    assets: list[tuple[str, int, Count]]
    regions: list[tuple[str, int, Count]]


def text(value: object) -> str:
    return html.escape(str(value), quote=True)


def shown(field: str, value: Count) -> str:
    """A figure as a reader sees it: `<50` as published, bytes exact and in decimal units."""
    if isinstance(value, str):
        return text(value)
    if field == "total_bytes_sent" or field == "bytes_sent":
        return f"{value:,} B <small>({text(human_bytes(value))})</small>"
    return f"{value:,}"


def sort_key(value: Count) -> str:
    return "0" if isinstance(value, str) else str(value)


def figure_cell(field: str, value: Count, *, tag: str = "td") -> str:
    attributes = f'data-field="{field}" data-value="{text(value)}" data-sort="{sort_key(value)}"'
    return f"<{tag} {attributes}>{shown(field, value)}</{tag}>"


def totals_list(totals: dict[str, Count], *, identifier: str) -> str:
    items = "".join(
        f"<div><dt>{LABELS[field]}</dt>{figure_cell(field, totals[field], tag='dd')}</div>"
        for field in TOTAL_FIELDS
        if field in totals
    )
    return f'<dl class="totals" id="{text(identifier)}">{items}</dl>'


def dataset_table(totals: dict[str, dict[str, Count]]) -> str:
    """Every dataset, sortable by any column, its name linking to its TSV files (relative to the
    page's base, the summaries folder)."""
    header = '<th class="sortable" data-type="text">dataset</th>' + "".join(
        f'<th class="sortable" data-type="number">{LABELS[field]}</th>' for field in TOTAL_FIELDS
    )
    rows = []
    for name, figures in sorted(totals.items()):
        links = " ".join(
            f'<a href="{text(f"{dataset_folder(name)}/{file}")}">{file[3:-4]}</a>' for file in DATASET_FILES
        )
        cells = "".join(figure_cell(field, figures[field]) for field in TOTAL_FIELDS if field in figures)
        rows.append(
            f'<tr data-dataset="{text(name)}"><td data-sort="{text(name)}">{text(name)} '
            f"<small>{links}</small></td>{cells}</tr>"
        )
    return (
        f'<table class="sortable" id="datasets-table"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def top_list(rows: Sequence[tuple[str, int]], *, identifier: str, what: str) -> str:
    items = "".join(
        f'<li data-{what}="{text(name)}" data-value="{sent}">{text(name)}: {shown("bytes_sent", sent)}</li>'
        for name, sent in rows
    )
    return f'<ol id="{text(identifier)}">{items}</ol>'


def figures_table(rows: Sequence[tuple[str, int, Count]], *, what: str) -> str:
    body = "".join(
        f"<tr><td>{text(name)}</td>{figure_cell('bytes_sent', sent)}"
        f"{figure_cell('number_of_downloads', downloads)}</tr>"
        for name, sent, downloads in rows
    )
    header = f"<tr><th>{what}</th><th>bytes sent</th><th>downloads</th></tr>"
    return f"<table><thead>{header}</thead><tbody>{body}</tbody></table>"


def summaries_href(summaries: Path, out: Path) -> str:
    """The page's base: the summaries folder, relative to the page (its links are to TSV files)."""
    return Path(os.path.relpath(summaries, out)).as_posix() + "/"


def rebased(document: bytes, *, href: str) -> bytes:
    """The page with its links resolved from another summaries folder (as `share` lays it out)."""
    tag = f'<base href="{text(href)}">'.encode()
    return BASE_TAG.sub(lambda _: tag, document, count=1)


def chart(identifier: str) -> str:
    return f'<div class="chart" id="{identifier}"></div>'


def inline_json(value: Any) -> str:
    """JSON that cannot close the script element it sits in, whatever the names it holds."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e")


def page(
    *,
    title: str,
    archive: dict[str, Count],
    totals: dict[str, dict[str, Count]],
    top_datasets: Sequence[tuple[str, int]],
    top_regions: Sequence[tuple[str, int]],
    unplaced: Sequence[str],
    sections: Sequence[Section],
    specs: dict[str, dict[str, Any]],
    bundle: str,
    summaries: Path,
    out: Path,
) -> str:
    parts = [
        f"<h1>{text(title)}</h1>",
        totals_list(archive, identifier="archive-totals"),
        '<h2 id="time-series">Bytes and downloads over time</h2>',
        chart("chart-time-series"),
        '<h2 id="map">Where the bytes went</h2>',
        chart("chart-map"),
        '<p class="note">Squares are cloud data centres. Not on the map (no place): '
        f"{text(', '.join(unplaced)) or 'none'}.</p>",
        '<h2 id="top-datasets">Top datasets</h2>',
        chart("chart-top-datasets"),
        top_list(top_datasets, identifier="top-datasets-list", what="dataset"),
        '<h2 id="top-regions">Top regions</h2>',
        chart("chart-top-regions"),
        top_list(top_regions, identifier="top-regions-list", what="region"),
        '<h2 id="datasets">All datasets</h2>',
        '<p class="note">Click a column to sort. Counts below the privacy threshold are published as &lt;50.</p>',
        dataset_table(totals),
    ]
    for section in sections:
        parts += [
            f'<section class="dataset" data-dataset="{text(section.name)}"><h2>{text(section.name)}</h2>',
            totals_list(section.totals, identifier=f"totals-{section.name}"),
            *(chart(identifier) for identifier in section.chart_ids),
            "<h3>Top assets</h3>",
            figures_table(section.assets, what="asset"),
            "<h3>Top regions</h3>",
            figures_table(section.regions, what="region"),
            "</section>",
        ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<title>{text(title)}</title><base href="{text(summaries_href(summaries, out))}">'
        f"<style>{STYLE}</style><script>{bundle}</script></head><body>"
        + "\n".join(parts)
        + "<footer>Made by s3logextraction from the published summaries. Charts: Vega-Lite. World outline: "
        "world-atlas by Mike Bostock (ISC licence), from Natural Earth (public domain).</footer>"
        f'<script type="application/json" id="specs">{inline_json(specs)}</script><script>{SCRIPT}</script>'
        "</body></html>\n"
    )
