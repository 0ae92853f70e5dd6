"""Running the parser on one batch: gawk writes the staging shard, then the shard is fsynced.

Runs in a worker thread; the heavy lifting happens in the gawk child process, so threads are
enough and only the coordinating thread ever writes the state DB.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..cache import disk_error
from ..errors import DiskError, InputError, S3LogExtractionError
from ..gawk import GZIP_MAGIC, gawk_command, gawk_environment, gunzip_to
from ..sources import LogObject


@dataclass
class BatchResult:
    batch_id: str
    objects: list[LogObject]
    shard: Path
    lines_per_object: dict[str, int]
    rejects: list[tuple[str, int, str]]
    kept_by_status: dict[str, tuple[int, int]]

    @property
    def log_bytes(self) -> int:
        return sum(log_object.size for log_object in self.objects)

    @property
    def lines_read(self) -> int:
        return sum(self.lines_per_object.values())

    @property
    def lines_kept(self) -> int:
        return sum(lines for lines, _ in self.kept_by_status.values())

    @property
    def bytes_sent(self) -> int:
        return sum(sent for _, sent in self.kept_by_status.values())

    @property
    def rejected_by_reason(self) -> Counter[str]:
        return Counter(reason for _, _, reason in self.rejects)


@dataclass
class ChildProcesses:
    """The gawk processes in flight, so a second signal can end them at once."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    running: set[subprocess.Popen[bytes]] = field(default_factory=set)

    def kill_all(self) -> None:
        with self.lock:
            for process in self.running:
                process.kill()


def readable_copy(*, log_object: LogObject, staging: Path, batch_id: str, number: int) -> str | Path:
    """The path gawk reads: the object itself, or its decompressed copy when it is gzip (one open
    of the object either way: for 100,000 small objects the opens are the cost)."""
    try:
        descriptor = os.open(log_object.path, os.O_RDONLY)
        try:
            head = os.read(descriptor, 2)
        finally:
            os.close(descriptor)
        if head != GZIP_MAGIC:
            return log_object.path
        return gunzip_to(source=Path(log_object.path), target=staging / f"{batch_id}.{number}.log")
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise disk_error(error, what=staging) from None
        raise InputError(f"{log_object.path}: cannot read ({error.strerror or error})") from None
    except EOFError:
        raise InputError(f"{log_object.path}: truncated gzip object") from None


def read_meta(meta: Path) -> tuple[dict[str, int], list[tuple[str, int, str]], dict[str, tuple[int, int]]]:
    lines: dict[str, int] = {}
    rejects: list[tuple[str, int, str]] = []
    kept: dict[str, tuple[int, int]] = {}
    with meta.open("rb") as handle:
        for raw in handle:
            row = raw.rstrip(b"\n").decode("utf-8", "surrogateescape").split("\t")
            if row[0] == "F":
                lines[row[1]] = lines.get(row[1], 0) + int(row[2])
            elif row[0] == "R":
                rejects.append((row[1], int(row[2]), row[3]))
            elif row[0] == "K":
                kept[row[1]] = (int(row[2]), int(row[3]))
    return lines, rejects, kept


def run_batch(
    *,
    batch_id: str,
    objects: Sequence[LogObject],
    staging: Path,
    operations: Sequence[str],
    children: ChildProcesses,
) -> BatchResult:
    shard = staging / f"{batch_id}.tsv"
    meta = staging / f"{batch_id}.meta"
    inputs = [
        (log_object.name, readable_copy(log_object=log_object, staging=staging, batch_id=batch_id, number=number))
        for number, log_object in enumerate(objects)
    ]
    command = gawk_command(files=inputs, operations=operations, meta=meta)
    try:
        output = os.open(shard, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise disk_error(error, what=shard) from None
    try:
        with children.lock:
            process = subprocess.Popen(command, env=gawk_environment(), stdout=output, stderr=subprocess.PIPE)
            children.running.add(process)
        _, stderr = process.communicate()
        with children.lock:
            children.running.discard(process)
        check_gawk(returncode=process.returncode, stderr=stderr, shard=shard)
        try:
            os.fsync(output)
        except OSError as error:
            raise disk_error(error, what=shard) from None
    finally:
        os.close(output)
    lines, rejects, kept = read_meta(meta)
    meta.unlink()
    for path in {path for _, path in inputs} - {log_object.path for log_object in objects}:
        os.unlink(path)
    return BatchResult(
        batch_id=batch_id,
        objects=list(objects),
        shard=shard,
        lines_per_object=lines,
        rejects=rejects,
        kept_by_status=kept,
    )


def check_gawk(*, returncode: int, stderr: bytes, shard: Path) -> None:
    if returncode == 0:
        return
    detail = stderr.decode("utf-8", "replace").strip().splitlines()
    last = detail[-1] if detail else ""
    if returncode == -signal.SIGXFSZ or "No space left" in last or "File too large" in last:
        raise DiskError(f"no space left writing {shard}: free some space and run again (committed work is kept)")
    if returncode == -signal.SIGKILL:
        raise S3LogExtractionError("gawk was killed")
    raise S3LogExtractionError(f"gawk failed with exit code {returncode}: {last}")
