"""Finding gawk and the packaged parser, and building the one command line that runs it.

Every caller (the `parse` command, the extraction workers, the benchmarks) goes through
`gawk_command`, so the parser always runs under LC_ALL=C in byte mode with the same variables.
"""

from __future__ import annotations

import gzip
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import MissingToolError

INSTALL_HINT = "gawk is required but was not found on PATH; install it with: apt-get install gawk"
GZIP_MAGIC = b"\x1f\x8b"


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


def gawk_environment() -> dict[str, str]:
    return {"LC_ALL": "C", "PATH": "/usr/local/bin:/usr/bin:/bin"}


def awk_label(name: str) -> str:
    """A command-line assignment value: gawk processes escape sequences in it."""
    return name.replace("\\", "\\\\")


def gawk_command(
    *,
    files: Iterable[tuple[str, str | Path]],
    mode: str = "extract",
    operations: Sequence[str] = ("REST.GET.OBJECT",),
    keep_all: bool = False,
    meta: Path | None = None,
) -> list[str]:
    """The gawk argv for (label, path) pairs; paths are absolute so none reads as an assignment."""
    command = [gawk_path(), "-b", "-f", str(parser_path()), "-v", f"mode={mode}", "-v", f"ops={','.join(operations)}"]
    if keep_all:
        command += ["-v", "all=1"]
    if meta is not None:
        command += ["-v", f"meta={meta}"]
    for label, path in files:
        command += [f"label={awk_label(label)}", os.path.abspath(path)]
    return command


def is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def gunzip_to(*, source: Path, target: Path) -> Path:
    """Decompresses a gzip log object next to the work in flight so gawk can read it by name."""
    with gzip.open(source, "rb") as compressed, target.open("wb") as plain:
        shutil.copyfileobj(compressed, plain, 1024 * 1024)
    return target
