"""`parse`: show how the parser reads each physical line, for debugging odd logs and for tests."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .errors import InputError, S3LogExtractionError
from .gawk import gawk_command, gawk_environment, gunzip_to, is_gzip

PARSE_HEADER = (
    "file",
    "line",
    "verdict",
    "key",
    "timestamp_utc",
    "remote_ip",
    "http_status",
    "bytes_sent",
    "operation",
    "note_or_reject_reason",
)


def check_readable(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a log file")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None


def parse(
    files: Sequence[Path],
    *,
    keep_all: bool = False,
    operations: Sequence[str] = ("REST.GET.OBJECT",),
    output: TextIO | None = None,
) -> None:
    """Writes the parse table for `files` (plain or gzip) to `output` (default stdout)."""
    out = output if output is not None else sys.stdout
    for path in files:
        check_readable(path)
    with tempfile.TemporaryDirectory(prefix="s3logextraction-parse-") as scratch:
        pairs = []
        for number, path in enumerate(files):
            readable = gunzip_to(source=path, target=Path(scratch) / f"{number}.log") if is_gzip(path) else path
            pairs.append((str(path), readable))
        command = gawk_command(files=pairs, mode="parse", operations=operations, keep_all=keep_all)
        out.write("\t".join(PARSE_HEADER) + "\n")
        out.flush()
        with subprocess.Popen(command, env=gawk_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE) as gawk:
            assert gawk.stdout is not None and gawk.stderr is not None
            while chunk := gawk.stdout.read(1 << 20):
                write_bytes(out, chunk)
            errors = gawk.stderr.read().decode("utf-8", "replace").strip().splitlines()
    if gawk.returncode != 0:
        raise S3LogExtractionError(f"gawk failed: {errors[-1] if errors else gawk.returncode}")
    out.flush()


def write_bytes(out: TextIO, chunk: bytes) -> None:
    """Log bytes go out unchanged where the stream allows it (invalid UTF-8 stays as logged)."""
    buffer = getattr(out, "buffer", None)
    if buffer is not None:
        out.flush()
        buffer.write(chunk)
    else:
        out.write(chunk.decode("utf-8", "replace"))
