"""Finding gawk and the packaged parser, and building the one command line that runs it.

Every caller (the `parse` command, the extraction workers, the benchmarks) goes through
`gawk_command`, so the parser always runs under LC_ALL=C in byte mode with the same variables.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import MissingToolError

INSTALL_HINT = "gawk is required but was not found on PATH; install it with: apt-get install gawk"


def gawk_path() -> str:
    found = shutil.which("gawk")
    if found is None:
        raise MissingToolError(INSTALL_HINT)
    return found


def parser_path() -> Path:
    """awk/extract.awk: package data next to this module in a wheel, the repository's awk/ folder
    in an editable install or a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "awk" / "extract.awk", here.parents[1] / "awk" / "extract.awk"):
        if candidate.is_file():
            return candidate
    raise MissingToolError("the parser awk/extract.awk is missing from this installation; reinstall s3logextraction")


def gawk_environment(*, meta: str | None = None) -> dict[str, str]:
    """LC_ALL=C (bytes); the meta path goes through the environment, where gawk takes it literally."""
    environment = {"LC_ALL": "C", "PATH": "/usr/local/bin:/usr/bin:/bin"}
    if meta is not None:
        environment["S3LE_META"] = meta
    return environment


def awk_label(name: str) -> str:
    """A command-line assignment value: gawk processes escape sequences in it."""
    return name.replace("\\", "\\\\")


def gawk_command(
    *,
    files: Iterable[str | Path],
    labels: Sequence[str] | None = None,
    mode: str = "extract",
    operations: Sequence[str] = ("REST.GET.OBJECT",),
    keep_all: bool = False,
    keys: str = "generic",
    assignments: Sequence[dict[str, str]] | None = None,
) -> list[str]:
    """The gawk argv for `files` (absolute, so none reads as an assignment); `labels` name them in
    parse mode (extract mode reports files by number); `assignments` set variables before each
    file (validate mode's delivery window)."""
    command = [gawk_path(), "-b", "-f", str(parser_path()), "-v", f"mode={mode}", "-v", f"ops={','.join(operations)}"]
    command += ["-v", f"keys={keys}"]
    if keep_all:
        command += ["-v", "all=1"]
    for number, path in enumerate(files):
        if labels is not None:
            command.append(f"label={awk_label(labels[number])}")
        if assignments is not None:
            command += [f"{name}={awk_label(value)}" for name, value in assignments[number].items()]
        command.append(os.path.abspath(path))
    return command
