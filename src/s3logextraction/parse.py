"""`parse`: show how the parser reads each physical line, for debugging odd logs and for tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .errors import InputError, S3LogExtractionError
from .gawk import gawk_command, gawk_environment
from .operations import DEFAULT_OPERATIONS, check_operations
from .sources import LocalFolder, LogObject
from .sources.fifo import FifoFeed
from .text import escape_text

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


def direct_path(source: LocalFolder, log_object: LogObject) -> str | None:
    """The file's path for gawk, or None for a gzip file (streamed); a missing, unreadable or
    folder path is a one-line error."""
    where = escape_text(log_object.name)
    try:
        return source.local_path(log_object)
    except IsADirectoryError:
        raise InputError(f"{where}: is a directory, not a log file") from None
    except FileNotFoundError:
        raise InputError(f"{where}: no such file") from None
    except OSError as error:
        raise InputError(f"{where}: cannot read ({error.strerror})") from None


def parse(
    files: Sequence[Path],
    *,
    keep_all: bool = False,
    operations: Sequence[str] = DEFAULT_OPERATIONS,
    output: TextIO | None = None,
) -> None:
    """Writes the parse table for `files` (plain or gzip) to `output` (default stdout).  Gzip
    files reach gawk through FIFOs: no decompressed copy is written."""
    out = output if output is not None else sys.stdout
    kept = check_operations(operations)
    source = LocalFolder(Path.cwd())
    objects = [LogObject(name=str(path), size=0, mtime_ns=0, location=os.fspath(path)) for path in files]
    direct = [direct_path(source, log_object) for log_object in objects]
    gzipped = [log_object for log_object, path in zip(objects, direct, strict=True) if path is None]
    with (
        tempfile.TemporaryDirectory(prefix="s3logextraction-parse-") as scratch,
        FifoFeed(source=source, objects=gzipped, folder=Path(scratch), prefix="parse") as feed,
    ):
        streamed = iter(feed.paths)
        operands = [str(path if path is not None else next(streamed)) for path in direct]
        command = gawk_command(
            files=operands, labels=[str(path) for path in files], mode="parse", operations=kept, keep_all=keep_all
        )
        out.write("\t".join(PARSE_HEADER) + "\n")
        out.flush()
        with subprocess.Popen(
            command, env=gawk_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0
        ) as gawk:
            assert gawk.stdout is not None and gawk.stderr is not None
            while chunk := gawk.stdout.read(1 << 20):
                write_bytes(out, chunk)
            errors = gawk.stderr.read().decode("utf-8", "replace").strip().splitlines()
        feed.close()
        if feed.failed:
            name, reason = next(iter(feed.failed.items()))
            raise InputError(f"{escape_text(name)}: {reason}")
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
