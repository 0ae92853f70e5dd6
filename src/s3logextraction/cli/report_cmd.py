"""`report`: the offline HTML page and PNGs made from the published summaries."""

from pathlib import Path
from typing import Annotated

import typer

from ..config import load_settings
from ..report import report
from .options import CacheOption


def report_command(
    cache: CacheOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder to write to (default: <cache>/report).", show_default=False)
    ] = None,
    dataset: Annotated[
        list[str] | None,
        typer.Option("--dataset", help="A dataset to give its own section (repeatable).", show_default=False),
    ] = None,
) -> None:
    """Write report/index.html (self-contained, offline) and PNGs of the time series and the map.

    Write `report/index.html` and `report/time_series.png` (1800x600) and `report/map.png` (1800x900) from the
    published summaries only; see docs/guide.md#report. `run` writes it too when the `[report]` extra is
    installed
    """
    result = report(cache=load_settings({"cache": cache}).cache, out=out, datasets=dataset or ())
    typer.echo(result.summary(), err=True)
