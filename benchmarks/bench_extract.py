"""End-to-end `extract` (with indexing) against the polars peer and `xargs -P2` running the same
gawk program, over the same files in the same run: warm page cache, runs alternating, medians.

    python benchmarks/bench_extract.py --size 1G --seed 2 [--rounds 3] [--small-files]

The polars peer is `../shared/bench/polars_baseline.py` (or `--baseline PATH`; `pip install polars`);
without it the peer comparison is left out and said so.  Also reported: extract at one worker
against the peer restricted to one thread, the in-memory indexing share of extract time, the peak
RSS of the whole process tree and the cache's size.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import corpus, peak_tree_memory

from s3logextraction.gawk import gawk_command, gawk_environment

SCRIPT = str(Path(sys.executable).with_name("s3logextraction"))
PEER = Path(__file__).resolve().parents[2] / "shared" / "bench" / "polars_baseline.py"
# Runs `extract` from Python in a child process, so the report's indexing time is visible (with the
# process settings the console script makes).
# Its CPU time while `extract` runs (this process: listing, reading gawk's rows, indexing, Parquet,
# commits; not Python's start or the package's import, which come before the clock starts) against
# its children's (gawk) says where each core's time goes.
EXTRACT = (
    "import json, resource, sys, pathlib, s3logextraction, s3logextraction.cli; "
    "s3logextraction.cli.configure_process(); "
    "cpu = lambda who: sum(resource.getrusage(who)[:2]); before = cpu(resource.RUSAGE_SELF); "
    "r = s3logextraction.extract(pathlib.Path(sys.argv[1]), cache=pathlib.Path(sys.argv[2]), "
    "options=s3logextraction.ExtractOptions(workers=int(sys.argv[3]), settle_seconds=0)); "
    "print(json.dumps({'seconds': r.seconds, 'index_seconds': r.index_seconds, 'lines': r.lines_kept, "
    "'own_cpu': cpu(resource.RUSAGE_SELF) - before, 'gawk_cpu': cpu(resource.RUSAGE_CHILDREN)}))"
)


def du(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def wall(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1G")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/s3logextraction-bench/extract"))
    parser.add_argument("--baseline", type=Path, default=PEER)
    parser.add_argument("--small-files", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    files, truth = corpus(args.dir, size=args.size, seed=args.seed)
    logs = args.dir / "logs"
    size = sum(path.stat().st_size for path in files)
    peer = args.baseline if args.baseline.exists() and importlib.util.find_spec("polars") else None
    names = "\0".join(map(str, files)).encode()
    gawk_env = {**os.environ, **gawk_environment(meta=os.devnull)}
    xargs = ["xargs", "-0", "-P2", "-n", "50", *gawk_command(files=[])]
    scratch = Path(tempfile.mkdtemp(prefix="s3le-bench-"))
    runs: dict[str, list[float]] = {}
    indexing: list[float] = []
    cpu: list[tuple[float, float, float]] = []  # (coordinator CPU, gawk CPU, wall) of the 2-worker runs

    def extract(workers: int) -> float:
        cache = scratch / f"cache-{workers}"
        subprocess.run(["rm", "-rf", str(cache)], check=True)
        done = subprocess.run(
            [sys.executable, "-c", EXTRACT, str(logs), str(cache), str(workers)], capture_output=True, check=True
        )
        report = json.loads(done.stdout)
        if workers == 2:
            indexing.append(report["index_seconds"] / report["seconds"])
            cpu.append((report["own_cpu"], report["gawk_cpu"], report["seconds"]))
        return float(report["seconds"])

    def polars(threads: int | None) -> float:
        env = {**os.environ, **({"POLARS_MAX_THREADS": str(threads)} if threads else {})}
        command = [sys.executable, str(peer), str(logs), str(scratch / "peer.tsv")]
        return wall(lambda: subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL))

    contenders: dict[str, Callable[[], float]] = {
        "extract --workers 2": lambda: extract(2),
        "xargs -P2 gawk": lambda: wall(
            lambda: subprocess.run(xargs, input=names, stdout=subprocess.DEVNULL, env=gawk_env, check=True)
        ),
        "extract --workers 1": lambda: extract(1),
    }
    if peer:
        contenders["polars (all cores)"] = lambda: polars(None)
        contenders["polars (1 thread)"] = lambda: polars(1)
    warm(files)
    for _ in range(args.rounds):
        for label, action in contenders.items():
            # The previous contender's output (the peer writes its TSV, extract its cache) is flushed
            # first: else extract's fsyncs wait for another program's writeback.
            os.sync()
            runs.setdefault(label, []).append(action())
    median = {label: statistics.median(values) for label, values in runs.items()}
    _, peak = peak_tree_memory(
        [SCRIPT, "extract", str(logs), "--cache", str(scratch / "rss"), "--workers", "2", "--settle-seconds", "0"]
    )
    cache_bytes = du(scratch / "rss")
    subprocess.run(["rm", "-rf", str(scratch)], check=True)

    print(f"corpus: {len(files)} files, {size / 1e6:.0f} MB, {truth['lines']} lines; medians of {args.rounds} rounds")
    for label, seconds in median.items():
        print(f"  {label}: {seconds:.2f} s ({size / seconds / 1e6:.0f} MB/s)")
    if peer:
        ratio = median["polars (all cores)"] / median["extract --workers 2"]
        print(f"extract (2 workers) / polars (all cores): {ratio:.2f}x (target >= 1.0x)")
        single = median["polars (1 thread)"] / median["extract --workers 1"]
        print(f"extract (1 worker) / polars (1 thread): {single:.2f}x")
    else:
        print(f"polars peer left out: {args.baseline} missing or polars not installed (pip install polars)")
    bare = median["xargs -P2 gawk"]
    print(f"extract (2 workers) / bare parser (xargs -P2 gawk): {median['extract --workers 2'] / bare:.2f}x the time "
          "(target <= 1.11x)")  # fmt: skip
    own, gawk, seconds = (statistics.median(values) for values in zip(*cpu, strict=True))
    print(
        f"where the 2 cores go (extract, 2 workers): gawk {gawk:.2f} s CPU, the coordinating process {own:.2f} s "
        f"({own / (own + gawk):.1%} of the CPU used), {2 * seconds - own - gawk:.2f} s idle of {2 * seconds:.2f}"
    )
    print(f"indexing share of extract time: {statistics.median(indexing):.1%} (target <= 15%)")
    print(f"peak RSS of the process tree: {peak / 1e6:.0f} MB (target < 500 MB)")
    print(f"cache: {cache_bytes / size:.4f} of raw log bytes")
    if args.small_files:
        small_files(rounds=args.rounds)


def split_into_small_objects(*, source: Path, target: Path, size: int) -> int:
    """The same lines as `source` cut into objects of about `size` bytes (named a second apart),
    so the two layouts differ in object count only."""
    if target.exists():
        return sum(1 for path in target.rglob("*") if path.is_file())
    count = 0
    stamp = datetime(2024, 1, 1, tzinfo=UTC)
    for path in sorted(item for item in source.rglob("*") if item.is_file()):
        lines = path.read_bytes().splitlines(keepends=True)
        piece: list[bytes] = []
        for line in [*lines, b""]:
            if line:
                piece.append(line)
            if piece and (not line or sum(map(len, piece)) >= size):
                folder = target / f"{stamp:%Y/%m/%d}"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{stamp:%Y-%m-%d-%H-%M-%S}-{count:016X}").write_bytes(b"".join(piece))
                stamp += timedelta(seconds=1)
                count += 1
                piece = []
    return count


def warm(files: Iterable[Path]) -> None:
    """Reads every file once, so that the runs compared all find them in the page cache (one `cat`
    would pass the argument limit with 100,000 files)."""
    for path in files:
        path.read_bytes()


def small_files(*, rounds: int) -> None:
    """About 100,000 objects of about 5 KB against the same lines in about 500 objects: warm page
    cache for both (every file read first), runs alternating, medians of `rounds`."""
    large = Path("/tmp/s3logextraction-bench/extract-large")
    files, _ = corpus(large, size="500M", seed=5, file_size="1M")
    small = large.with_name("extract-small") / "logs"
    count = split_into_small_objects(source=large / "logs", target=small, size=5 * 1024)
    folders = {"small": small, "large": large / "logs"}
    warm(path for folder in folders.values() for path in folder.rglob("*") if path.is_file())
    timings: dict[str, list[float]] = {label: [] for label in folders}
    for _ in range(rounds):
        for label, folder in folders.items():
            with tempfile.TemporaryDirectory(prefix="s3le-bench-") as scratch:
                command = [
                    SCRIPT,
                    "extract",
                    str(folder),
                    "--cache",
                    scratch,
                    "--workers",
                    "2",
                    "--settle-seconds",
                    "0",
                ]
                timings[label].append(peak_tree_memory(command)[0])
    small_time, large_time = statistics.median(timings["small"]), statistics.median(timings["large"])
    print(
        f"{count} small objects: {small_time:.2f} s; {len(files)} large objects with the same lines: "
        f"{large_time:.2f} s ({small_time / large_time:.2f}x, target within 2x; medians of {rounds})"
    )


if __name__ == "__main__":
    main()
