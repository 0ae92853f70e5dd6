"""The report's charts as Vega-Lite specifications (plain dicts: rendered by Vega in the page and
by vl-convert for the PNGs, both offline).  Each chart is one view sized with `autosize: fit`, so
its PNG is exactly the documented size."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from functools import cache
from importlib.resources import files
from typing import Any

from ..geodata import label_class
from .published import Day

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
TIME_SERIES_SIZE = (900, 300)
MAP_SIZE = (900, 450)
BARS_WIDTH = 900
VIEWS = ("daily", "weekly", "monthly")
BYTES_FORMAT = ".3~s"


def sized(spec: dict[str, Any], *, width: int, height: int) -> dict[str, Any]:
    return {
        "$schema": SCHEMA,
        "width": width,
        "height": height,
        "autosize": {"type": "fit", "contains": "padding"},
        **spec,
    }


def period_start(day: date, view: str) -> date:
    if view == "weekly":
        return day - timedelta(days=day.weekday())  # weeks start on Monday
    if view == "monthly":
        return day.replace(day=1)
    return day


def periods(days: Sequence[Day]) -> list[dict[str, Any]]:
    """Bytes and downloads per day, week and month.  A period with a day published as `<50`
    has no downloads figure (the sum of unknown numbers is unknown: the chart leaves a gap)."""
    rows: list[dict[str, Any]] = []
    for view in VIEWS:
        sums: dict[date, list[Any]] = {}
        for day in days:
            entry = sums.setdefault(period_start(day.day, view), [0, 0])
            entry[0] += day.bytes_sent
            entry[1] = None if entry[1] is None or day.downloads is None else entry[1] + day.downloads
        rows += [
            {"view": view, "start": start.isoformat(), "bytes_sent": sent, "downloads": downloads}
            for start, (sent, downloads) in sorted(sums.items())
        ]
    return rows


def time_series(days: Sequence[Day], *, title: str) -> dict[str, Any]:
    """Bytes (bars, left axis) and downloads (line, right axis) per day, week or month (a radio
    button in the page; the PNG shows days)."""
    x = {"field": "start", "type": "temporal", "title": None}
    return sized(
        {
            "title": title,
            "data": {"values": periods(days)},
            "params": [
                {"name": "view", "value": "daily", "bind": {"input": "radio", "options": list(VIEWS), "name": "per "}}
            ],
            "transform": [{"filter": "datum.view == view"}],
            "layer": [
                {
                    "mark": {"type": "bar", "color": "#4c78a8"},
                    "encoding": {
                        "x": x,
                        "y": {
                            "field": "bytes_sent",
                            "type": "quantitative",
                            "title": "bytes sent",
                            "axis": {"format": BYTES_FORMAT},
                        },
                        "tooltip": [
                            {"field": "start", "type": "temporal"},
                            {"field": "bytes_sent", "type": "quantitative", "format": ","},
                        ],
                    },
                },
                {
                    "mark": {"type": "line", "color": "#f58518", "point": True},
                    "encoding": {
                        "x": x,
                        "y": {"field": "downloads", "type": "quantitative", "title": "downloads"},
                        "tooltip": [
                            {"field": "start", "type": "temporal"},
                            {"field": "downloads", "type": "quantitative", "format": ","},
                        ],
                    },
                },
            ],
            "resolve": {"scale": {"y": "independent"}},
        },
        width=TIME_SERIES_SIZE[0],
        height=TIME_SERIES_SIZE[1],
    )


@cache
def world() -> dict[str, Any]:
    """Country outlines (world-atlas 110m, ISC licence, from Natural Earth), bundled."""
    loaded: dict[str, Any] = json.loads(files(__package__).joinpath("world-110m.json").read_text(encoding="utf-8"))
    return loaded


def world_map(regions: Sequence[tuple[str, int]], coordinates: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """Bytes per region as bubbles at the region's coordinates; cloud data centres apart (squares,
    another colour).  Regions without coordinates (unknown, VPN ...) are not on the map."""
    places = [
        {
            "region": label,
            "bytes_sent": sent,
            "latitude": coordinates[label][0],
            "longitude": coordinates[label][1],
            "kind": "cloud data centre" if label_class(label) == "cloud" else "place",
        }
        for label, sent in regions
        if label in coordinates
    ]
    return sized(
        {
            "title": "Bytes sent by region",
            "projection": {"type": "equalEarth"},
            "layer": [
                {
                    "data": {"values": world(), "format": {"type": "topojson", "feature": "countries"}},
                    "mark": {"type": "geoshape", "fill": "#e5e5e5", "stroke": "#ffffff", "strokeWidth": 0.5},
                },
                {
                    "data": {"values": places},
                    "mark": {"type": "point", "filled": True, "opacity": 0.7},
                    "encoding": {
                        "longitude": {"field": "longitude", "type": "quantitative"},
                        "latitude": {"field": "latitude", "type": "quantitative"},
                        "size": {
                            "field": "bytes_sent",
                            "type": "quantitative",
                            "scale": {"type": "sqrt", "range": [10, 1500]},
                            "legend": {"format": BYTES_FORMAT, "title": "bytes sent"},
                        },
                        "color": {
                            "field": "kind",
                            "type": "nominal",
                            "title": None,
                            "scale": {"domain": ["place", "cloud data centre"], "range": ["#4c78a8", "#e45756"]},
                        },
                        "shape": {
                            "field": "kind",
                            "type": "nominal",
                            "title": None,
                            "scale": {"domain": ["place", "cloud data centre"], "range": ["circle", "square"]},
                        },
                        "tooltip": [
                            {"field": "region", "type": "nominal"},
                            {"field": "bytes_sent", "type": "quantitative", "format": ","},
                        ],
                    },
                },
            ],
        },
        width=MAP_SIZE[0],
        height=MAP_SIZE[1],
    )


def top_bars(rows: Sequence[tuple[str, int]], *, title: str, what: str) -> dict[str, Any]:
    """Horizontal bars of bytes sent, largest first."""
    values = [{what: name, "bytes_sent": sent} for name, sent in rows]
    return sized(
        {
            "title": title,
            "data": {"values": values},
            "mark": {"type": "bar", "color": "#4c78a8"},
            "encoding": {
                "y": {"field": what, "type": "nominal", "sort": "-x", "title": None},
                "x": {
                    "field": "bytes_sent",
                    "type": "quantitative",
                    "title": "bytes sent",
                    "axis": {"format": BYTES_FORMAT},
                },
                "tooltip": [
                    {"field": what, "type": "nominal"},
                    {"field": "bytes_sent", "type": "quantitative", "format": ","},
                ],
            },
        },
        width=BARS_WIDTH,
        height=max(60, 22 * len(values)),
    )
