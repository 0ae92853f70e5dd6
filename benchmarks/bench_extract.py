"""End-to-end `extract` throughput against `cat` and `xargs -P2 gawk` over the same files, with
and without indexing, `update ip indexes` alone, peak memory of the process tree, cache size.

    python benchmarks/bench_extract.py --size 1G --seed 2 [--small-files]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import corpus, corpus_from_arguments, peak_tree_memory, timed

from s3logextraction.gawk import gawk_path, parser_path

SCRIPT = str(Path(sys.executable).with_name("s3logextraction"))


def du(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def main() -> None:
    args, files, truth = corpus_from_arguments(__doc__, size="1G", seed=2, folder="extract", flags=("--small-files",))
    size = sum(path.stat().st_size for path in files)
    names = "\0".join(map(str, files)).encode()
    env = {**os.environ, "LC_ALL": "C"}
    cat = timed(lambda: subprocess.run(["xargs", "-0", "cat"], input=names, stdout=subprocess.DEVNULL, check=True))
    xargs = timed(
        lambda: subprocess.run(
            ["xargs", "-0", "-P2", "-n", "50", gawk_path(), "-b", "-f", str(parser_path()), "-v", "meta=/dev/null"],
            input=names,
            stdout=subprocess.DEVNULL,
            env=env,
            check=True,
        ),
        repeat=1,
    )
    results = {}
    with tempfile.TemporaryDirectory(prefix="s3le-bench-") as scratch:
        for label, extra in (("no-index", ["--no-index"]), ("index", [])):
            cache = Path(scratch) / label
            results[label] = peak_tree_memory(
                [SCRIPT, "extract", str(args.dir / "logs"), "--cache", str(cache), "--workers", "2", *extra]
            )
        started = time.perf_counter()
        subprocess.run([SCRIPT, "update", "ip", "indexes", "--cache", str(Path(scratch) / "no-index")], check=True)
        index_alone = time.perf_counter() - started
        shard_bytes = du(Path(scratch) / "index" / "shards")
        cache_bytes = du(Path(scratch) / "index")
    print(f"corpus: {len(files)} files, {size / 1e6:.0f} MB, {truth['lines']} lines")
    print(f"cat: {cat:.2f} s ({size / cat / 1e6:.0f} MB/s); xargs -P2 gawk parser: {xargs:.2f} s")
    for label, (seconds, peak) in results.items():
        print(
            f"extract {label}: {seconds:.2f} s ({size / seconds / 1e6:.0f} MB/s), ratio vs cat {cat / seconds:.3f}x, "
            f"vs xargs -P2 gawk {xargs / seconds:.3f}x, peak tree RSS {peak / 1e6:.0f} MB"
        )
    print(f"extract with index / without: {results['no-index'][0] / results['index'][0]:.3f}x throughput")
    print(f"update ip indexes alone: {index_alone:.2f} s = {index_alone / results['no-index'][0]:.3f}x extraction time")
    print(f"parquet shards: {shard_bytes / size:.4f} of raw log bytes; whole cache {cache_bytes / size:.4f}")
    if args.small_files:
        small_files()


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


def small_files() -> None:
    """About 100,000 objects of about 5 KB against the same lines in about 500 objects."""
    large = Path("/tmp/s3logextraction-bench/extract-large")
    files, _ = corpus(large, size="500M", seed=5, file_size="1M")
    small = large.with_name("extract-small") / "logs"
    count = split_into_small_objects(source=large / "logs", target=small, size=5 * 1024)
    timings = {}
    for label, folder in (("small", small), ("large", large / "logs")):
        with tempfile.TemporaryDirectory(prefix="s3le-bench-") as scratch:
            command = [SCRIPT, "extract", str(folder), "--cache", scratch, "--workers", "2", "--no-index"]
            timings[label] = peak_tree_memory(command)[0]
    print(
        f"{count} small objects: {timings['small']:.2f} s; {len(files)} large objects with the same lines: "
        f"{timings['large']:.2f} s ({timings['small'] / timings['large']:.2f}x, target within 2x)"
    )


if __name__ == "__main__":
    main()
