"""`parse`: the parser's reading of each line, as TSV."""

from pathlib import Path
from typing import Annotated

import typer

from ..parse import parse


def parse_command(
    files: Annotated[list[Path], typer.Argument(help="Log files (plain or gzip).", show_default=False)],
    all_lines: Annotated[bool, typer.Option("--all", help="Every operation and status, not just kept lines.")] = False,
    operations: Annotated[
        str, typer.Option("--operations", help="Comma-separated operations to keep.")
    ] = "REST.GET.OBJECT",
) -> None:
    """Show how each physical line is read: one TSV row per kept line and per reject.

    How each physical line is read: TSV `file line verdict key timestamp_utc remote_ip http_status bytes_sent
    operation note_or_reject_reason`
    """
    parse(files, keep_all=all_lines, operations=operations.split(","))
