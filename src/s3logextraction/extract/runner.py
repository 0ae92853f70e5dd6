"""Running the parser on one batch: gawk's rows come back in an anonymous in-memory file (memfd).

Runs in a worker thread; the heavy lifting happens in the gawk child process, so threads are
enough and only the coordinating thread ever writes the state DB.  Nothing this module writes
to disk holds log text: the rows (with raw IPs) exist only in memory, gzip objects reach gawk
through FIFOs, and the meta file (line counts and reject reasons by file number) is unlinked.

An object that cannot be read (permissions, a truncated or corrupt gzip stream) fails alone: it
is left out and the batch is parsed again without it, so its partial lines are never counted.
gawk runs in its own process group, so a terminal's Ctrl+C reaches only the coordinating process,
which decides whether to drain or abort.
"""

from __future__ import annotations

import mmap
import os
import signal
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..addresses import requester_rows
from ..arrow import pa, pc
from ..errors import AbortedError, S3LogExtractionError, disk_error, no_space
from ..gawk import gawk_command, gawk_environment
from ..ips.exclude import IPFilter
from ..operations import ExtractMode
from ..rows import Output, read_rows
from ..sources import LogObject, LogSource
from ..sources.fifo import UNREADABLE, FifoFeed, failure_reason

CHANGED_WHILE_READ = "changed while being read (it is read again once it has settled)"


@dataclass(frozen=True)
class ParserOptions:
    """What every gawk process of one extraction is told, and the in-memory exclusion after it."""

    operations: Sequence[str]
    mode: ExtractMode = ExtractMode.generic
    excluded: IPFilter | None = None


def without_excluded(rows: pa.Table, skipped: dict[str, int], *, excluded: IPFilter | None) -> pa.Table:
    """Drops the rows of excluded requester IPs, counting them as skipped (`excluded_ip`)."""
    if excluded is None or rows.num_rows == 0:
        return rows
    kept = rows.filter(excluded.keep_mask(rows["ip"]))
    if kept.num_rows < rows.num_rows:
        skipped["excluded_ip"] = skipped.get("excluded_ip", 0) + rows.num_rows - kept.num_rows
    return kept


@dataclass
class BatchResult:
    """One parsed batch.  `rows` holds raw IPs and agents: in memory only, never written."""

    batch_id: str
    objects: list[LogObject]
    rows: pa.Table
    lines_per_object: dict[str, int]
    rejects: list[tuple[str, int, str]]
    skipped: dict[str, int]
    failed: list[tuple[LogObject, str]]

    @property
    def log_bytes(self) -> int:
        return sum(log_object.size for log_object in self.objects)

    @property
    def lines_read(self) -> int:
        return sum(self.lines_per_object.values())

    @property
    def lines_kept(self) -> int:
        return int(self.rows.num_rows)

    @property
    def bytes_sent(self) -> int:
        return int(pc.sum(self.rows["bytes_sent"]).as_py() or 0)

    @property
    def kept_by_status(self) -> dict[str, tuple[int, int]]:
        """Rows and bytes sent per status: a batch has a handful of statuses, so a mask each costs less
        than a group-by, which would load Acero and pyarrow.dataset and start its threads."""
        status, sent = self.rows["status"], self.rows["bytes_sent"]
        found = {}
        for value in pc.unique(status).to_pylist():
            mask = pc.equal(status, value)
            found[str(value)] = (int(pc.sum(mask).as_py() or 0), int(pc.sum(pc.filter(sent, mask)).as_py() or 0))
        return found

    @property
    def rejected_by_reason(self) -> Counter[str]:
        return Counter(reason for _, _, reason in self.rejects)


@dataclass
class ChildProcesses:
    """The gawk processes in flight, so an abort can end them at once and start no new one."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    running: set[subprocess.Popen[bytes]] = field(default_factory=set)
    aborted: bool = False

    def start(
        self, command: list[str], *, environment: dict[str, str], keep_fd: int, output: IO[bytes]
    ) -> subprocess.Popen[bytes]:
        """gawk in its own process group, started from a thread that blocks SIGINT and SIGTERM:
        the child inherits that mask, so a terminal's signal that reaches it between fork and its
        move to its own group stays pending instead of killing it (aborting kills it on purpose)."""
        if threading.current_thread() is not threading.main_thread():
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        with self.lock:
            if self.aborted:
                raise AbortedError("aborted: batches in flight discarded, committed work kept")
            process = subprocess.Popen(
                command,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.PIPE,
                pass_fds=(keep_fd,),
                process_group=0,
            )
            self.running.add(process)
            return process

    def finished(self, process: subprocess.Popen[bytes]) -> None:
        with self.lock:
            self.running.discard(process)

    def kill_all(self) -> None:
        with self.lock:
            self.aborted = True
            for process in self.running:
                process.kill()


def read_meta(
    data: bytes, objects: Sequence[LogObject]
) -> tuple[dict[str, int], list[tuple[str, int, str]], dict[str, int]]:
    """Line counts per object, rejects and skipped lines by reason, from the parser's meta rows
    (files are numbered from 1 in argument order)."""
    lines: dict[str, int] = {}
    rejects: list[tuple[str, int, str]] = []
    skipped: dict[str, int] = {}
    for raw in data.splitlines():
        row = raw.decode("ascii").split("\t")
        if row[0] == "F":
            name = objects[int(row[1]) - 1].name
            lines[name] = lines.get(name, 0) + int(row[2])
        elif row[0] == "R":
            rejects.append((objects[int(row[1]) - 1].name, int(row[2]), row[3]))
        elif row[0] == "S":
            skipped[row[1]] = int(row[2])
    return lines, rejects, skipped


def check_gawk(*, returncode: int, stderr: bytes, what: Path) -> None:
    if returncode == 0:
        return
    detail = stderr.decode("utf-8", "replace").strip().splitlines()
    last = detail[-1] if detail else ""
    if returncode == -25 or "No space left" in last or "File too large" in last:  # -SIGXFSZ
        raise no_space(what)
    if returncode == -9:
        raise AbortedError("aborted: gawk was killed; committed work kept")
    raise S3LogExtractionError(f"gawk failed with exit code {returncode}: {last}")


def run_gawk(
    *,
    source: LogSource,
    objects: Sequence[LogObject],
    paths: dict[str, str | None],
    staging: Path,
    batch_id: str,
    parser: ParserOptions,
    children: ChildProcesses,
    awk_mode: str = "extract",
    assignments: Sequence[dict[str, str]] | None = None,
) -> tuple[Output, bytes, dict[str, str]]:
    """(stdout, meta, objects that failed while streamed) of one gawk run in `awk_mode` over
    `objects`: those without a local path (`paths`) are streamed to it through FIFOs.  Its stdout,
    which holds raw IPs, goes to an anonymous in-memory file (memfd: never on a disk, not even
    unlinked), mapped at the end: through a pipe, every 4 KiB gawk writes would wake this thread,
    and reading would copy it (one worker took 15% longer on 316 MB with the pipe)."""
    piped = [log_object for log_object in objects if paths[log_object.name] is None]
    with (
        tempfile.TemporaryFile(dir=staging, prefix=f"{batch_id}.meta.") as meta,
        os.fdopen(os.memfd_create(f"s3logextraction-{batch_id}-rows", os.MFD_CLOEXEC), "w+b") as rows,
        FifoFeed(source=source, objects=piped, folder=staging, prefix=batch_id) as feed,
    ):
        fifo_of = dict(zip((log_object.name for log_object in piped), feed.paths, strict=True))
        operands = [fifo_of.get(log_object.name) or paths[log_object.name] for log_object in objects]
        command = gawk_command(
            files=[str(operand) for operand in operands],
            mode=awk_mode,
            operations=parser.operations,
            keys=parser.mode,
            assignments=assignments,
        )
        process = children.start(
            command, environment=gawk_environment(meta=f"/dev/fd/{meta.fileno()}"), keep_fd=meta.fileno(), output=rows
        )
        try:
            _, stderr = process.communicate()
        finally:
            children.finished(process)
        feed.close()
        if feed.unavailable is not None:  # the batch is not committed: its objects wait for the next run
            raise feed.unavailable
        check_gawk(returncode=process.returncode, stderr=stderr, what=staging)
        meta.seek(0)
        return mapped(rows), meta.read(), dict(feed.failed)


def mapped(file: IO[bytes]) -> Output:
    """The file's bytes without a copy (the mapping outlives the file's descriptor)."""
    size = os.fstat(file.fileno()).st_size
    return mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ) if size else b""


@dataclass
class GawkRun:
    """One gawk run over the objects of a batch that could be read in full (`objects`), and
    those that could not, with the reason."""

    objects: list[LogObject]
    output: Output
    meta: bytes
    failed: list[tuple[LogObject, str]]


def run_readable(
    *,
    batch_id: str,
    objects: Sequence[LogObject],
    source: LogSource,
    staging: Path,
    parser: ParserOptions,
    children: ChildProcesses,
    awk_mode: str = "extract",
    assign: Callable[[LogObject], dict[str, str]] | None = None,
) -> GawkRun:
    """gawk in `awk_mode` over `objects` (`assign` gives each one's variables): objects that
    cannot be opened, that break while streamed, or whose size or modification time changed while
    gawk read them (what was read is then not what was listed, and the counts could not be tied to
    the object), are left out with their reason, and the run is repeated without them.  An object
    left out for a change is retried by a later run, as any failed object that changed since."""
    failed: list[tuple[LogObject, str]] = []
    readable: list[LogObject] = []
    paths: dict[str, str | None] = {}
    for log_object in objects:
        try:
            paths[log_object.name] = source.local_path(log_object)
        except UNREADABLE as error:
            failed.append((log_object, failure_reason(error)))
            continue
        readable.append(log_object)
    output: Output = b""
    meta = b""
    while readable:
        try:
            output, meta, broken = run_gawk(
                source=source,
                objects=readable,
                paths=paths,
                staging=staging,
                batch_id=batch_id,
                parser=parser,
                children=children,
                awk_mode=awk_mode,
                assignments=None if assign is None else [assign(log_object) for log_object in readable],
            )
        except OSError as error:
            raise disk_error(error, what=staging) from None
        broken |= {log_object.name: CHANGED_WHILE_READ for log_object in readable if not source.unchanged(log_object)}
        if not broken:
            break
        failed += [(log_object, broken[log_object.name]) for log_object in readable if log_object.name in broken]
        readable = [log_object for log_object in readable if log_object.name not in broken]
        output, meta = b"", b""
    return GawkRun(objects=readable, output=output, meta=meta, failed=failed)


def run_batch(
    *,
    batch_id: str,
    objects: Sequence[LogObject],
    source: LogSource,
    staging: Path,
    parser: ParserOptions,
    children: ChildProcesses,
) -> BatchResult:
    done = run_readable(
        batch_id=batch_id, objects=objects, source=source, staging=staging, parser=parser, children=children
    )
    lines, rejects, skipped = read_meta(done.meta, done.objects)
    return BatchResult(
        batch_id=batch_id,
        objects=done.objects,
        rows=without_excluded(requester_rows(read_rows(done.output)), skipped, excluded=parser.excluded),
        lines_per_object=lines,
        rejects=rejects,
        skipped=skipped,
        failed=done.failed,
    )
