"""`validate logs`: the parser contract and the counting assumptions, checked over real log objects.

The packaged parser runs in its validate mode (awk/extract.awk says what each check is) over the
objects of a folder or bucket, in parallel gawk processes as `extract` runs them, writing nothing
to the cache.  Findings: rejected lines by reason; times outside the object's delivery window
(from its AWS name `YYYY-MM-DD-HH-MM-SS-UNIQUE`: a record cannot be later than the object, give or
take `SLACK`, and is expected within `window_hours` before it); 200 responses that sent fewer
bytes than the object's size (partial downloads the DANDI-compatible counts take as downloads);
lines that the split-on-`HTTP/1.` heuristic of dandi/s3-log-extraction reads with another status
or byte count (to know what changes when migrating from it); objects that could not be read.
A finding names the object and line, never a raw IP or other log text.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from ..errors import storage_errors
from ..extract.runner import ChildProcesses, ParserOptions, read_meta, run_readable
from ..operations import DEFAULT_OPERATIONS, check_operations
from ..progress import progress_bar
from ..rows import Output
from ..sources import LogObject, LogSource
from ..text import escape_text

AWS_NAME = re.compile(r"(\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)-[0-9A-Za-z]+")
SLACK = timedelta(minutes=5)
FINDINGS_HEADER = ("file", "line", "check", "detail")
EXAMPLES = 3
BATCH_BYTES = 16 << 20


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    check: str
    detail: str

    def row(self) -> str:
        return "\t".join((escape_text(self.file), str(self.line), self.check, self.detail)) + "\n"


@dataclass
class LogCheck:
    objects: int = 0
    log_bytes: int = 0
    lines: int = 0
    without_window: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[Finding]] = field(default_factory=dict)
    findings: Path | None = None
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.counts

    def add(self, finding: Finding, out: TextIO | None) -> None:
        self.counts[finding.check] += 1
        shown = self.examples.setdefault(finding.check, [])
        if len(shown) < EXAMPLES:
            shown.append(finding)
        if out is not None:
            out.write(finding.row())

    def table(self) -> str:
        """One row per check: count, share of lines, and examples (object:line detail)."""
        rows = [f"{'check':<40} {'count':>10} {'of lines':>9}  examples"]
        for check, count in sorted(self.counts.items()):
            share = f"{100 * count / self.lines:.3f}%" if self.lines else "-"
            examples = "; ".join(
                f"{escape_text(item.file)}:{item.line}{' ' + item.detail if item.detail else ''}"
                for item in self.examples[check]
            )
            rows.append(f"{check:<40} {count:>10} {share:>9}  {examples}")
        return "\n".join(rows) + "\n"

    def summary(self) -> str:
        verdict = "clean" if self.clean else f"{sum(self.counts.values())} findings"
        rate = self.log_bytes / self.seconds / 1e6 if self.seconds > 0 else 0.0
        parts = [
            f"validate logs: {verdict} in {self.lines} lines of {self.objects} log objects "
            f"({self.log_bytes / 1e6:.1f} MB at {rate:.1f} MB/s)"
        ]
        if self.without_window:
            parts.append(f"{self.without_window} objects without an AWS name had no delivery window to check")
        if self.findings is not None and not self.clean:
            parts.append(f"findings in {self.findings}")
        return "; ".join(parts)


def delivery_window(name: str, *, hours: float) -> dict[str, str]:
    """The window the times of an object named by AWS should fall in, as awk assignments (ISO
    8601 UTC strings compare in time order); none for another name."""
    found = AWS_NAME.fullmatch(name.rsplit("/", 1)[-1])
    if found is None:
        return {}
    try:
        delivered = datetime.strptime(found.group(1), "%Y-%m-%d-%H-%M-%S").replace(tzinfo=UTC)
    except ValueError:
        return {}
    form = "%Y-%m-%dT%H:%M:%SZ"
    earliest, latest = delivered - timedelta(hours=hours), delivered + SLACK
    return {"window_from": earliest.strftime(form), "window_to": latest.strftime(form)}


def sampled(objects: Sequence[LogObject], sample: int | None) -> list[LogObject]:
    """`sample` objects spread evenly over the listing (sorted by name, so over time)."""
    if sample is None or sample >= len(objects):
        return list(objects)
    step = len(objects) / sample
    return [objects[int(index * step)] for index in range(sample)]


def batches_of(objects: Sequence[LogObject], *, workers: int) -> list[list[LogObject]]:
    """Runs of objects of at most BATCH_BYTES, at least two per worker when there are enough."""
    limit = min(BATCH_BYTES, max(1, sum(item.size for item in objects) // (2 * workers) + 1))
    batches: list[list[LogObject]] = [[]]
    size = 0
    for item in objects:
        if batches[-1] and size + item.size > limit:
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += item.size
    return [batch for batch in batches if batch]


def validate_batch(
    objects: Sequence[LogObject],
    *,
    source: LogSource,
    scratch: Path,
    number: int,
    parser: ParserOptions,
    children: ChildProcesses,
    window_hours: float,
) -> tuple[list[Finding], int]:
    """The findings of one gawk run over `objects`, and their line count."""
    done = run_readable(
        batch_id=f"validate-{number}",
        objects=objects,
        source=source,
        staging=scratch,
        parser=parser,
        children=children,
        awk_mode="validate",
        assign=lambda item: delivery_window(item.name, hours=window_hours),
    )
    lines, _, _ = read_meta(done.meta, done.objects)
    unreadable = [Finding(item.name, 0, "unreadable_object", reason) for item, reason in done.failed]
    return unreadable + parsed_findings(done.output, done.objects), sum(lines.values())


def parsed_findings(output: Output, objects: Sequence[LogObject]) -> list[Finding]:
    found = []
    for raw in output[:].splitlines():
        number, line, check, detail = raw.decode("utf-8", "replace").split("\t", 3)
        found.append(Finding(objects[int(number) - 1].name, int(line), check, detail))
    return found


def validate_logs(
    *,
    source: LogSource,
    sample: int | None = None,
    findings: Path | None = None,
    window_hours: float = 24.0,
    operations: Sequence[str] = DEFAULT_OPERATIONS,
    workers: int = 1,
    show_progress: bool | None = None,
) -> LogCheck:
    """Runs the checks over the source's objects (or `sample` of them), writing every finding to
    `findings` (TSV) when given.  Nothing is written anywhere else."""
    started = time.monotonic()
    parser = ParserOptions(operations=check_operations(operations))
    objects = sampled(source.list().objects(), sample)
    check = LogCheck(objects=len(objects), log_bytes=sum(item.size for item in objects), findings=findings)
    check.without_window = sum(1 for item in objects if not delivery_window(item.name, hours=window_hours))
    children = ChildProcesses()
    out = None
    with tempfile.TemporaryDirectory(prefix="s3logextraction-validate-") as scratch:
        if findings is not None:
            with storage_errors(what=findings):
                out = findings.open("w", encoding="utf-8")
                out.write("\t".join(FINDINGS_HEADER) + "\n")
        try:
            with (
                progress_bar(total=check.log_bytes, unit="B", description="validate", enabled=show_progress) as bar,
                ThreadPoolExecutor(max_workers=workers) as pool,
            ):
                jobs = [
                    (
                        batch,
                        pool.submit(
                            validate_batch,
                            batch,
                            source=source,
                            scratch=Path(scratch),
                            number=number,
                            parser=parser,
                            children=children,
                            window_hours=window_hours,
                        ),
                    )
                    for number, batch in enumerate(batches_of(objects, workers=workers))
                ]
                for batch, job in jobs:
                    found, lines = job.result()
                    check.lines += lines
                    for finding in sorted(found, key=lambda item: (item.file, item.line)):
                        check.add(finding, out)
                    bar.update(sum(item.size for item in batch))
        except BaseException:
            children.kill_all()
            raise
        finally:
            if out is not None:
                out.close()
    check.seconds = time.monotonic() - started
    return check
