"""Options shared by several commands, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

CacheOption = Annotated[
    Path | None,
    typer.Option(
        "--cache", help="Cache directory (default: the configured one, see `config cache show`).", show_default=False
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="Parallel gawk processes; negative counts back from all cores (-1 all, -2 all but one). Default -2.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
PrivacyThresholdOption = Annotated[
    int | None,
    typer.Option("--privacy-threshold", help="Counts below this are published as <N (default 50).", show_default=False),
]
PrivacyRoundingOption = Annotated[
    int | None,
    typer.Option("--privacy-rounding", help="Other counts are rounded to this (default 20).", show_default=False),
]
ModeOption = Annotated[str, typer.Option("--mode", help="generic (per dataset) or archive (archive-wide).")]
LevelOption = Annotated[int, typer.Option("--level", help="Key path segments that name a dataset.")]
