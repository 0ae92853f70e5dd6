"""What a night costs: `run` after adding one new day (about 3% of the corpus) to a cache that
holds the rest, against `run` on that day alone in a fresh cache; a no-op `run` against the full
run; the aggregate store's size against the shards'; and a no-op `extract` over a long history
of small objects in day folders, reading every folder against skipping the sealed ones.  All in
one invocation.

    python benchmarks/bench_nightly.py --size 1G --seed 2
"""

from __future__ import annotations

import compileall
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import corpus, corpus_from_arguments, peak_tree_memory

import s3logextraction

SCRIPT = str(Path(sys.executable).with_name("s3logextraction"))


def timed_run(logs: Path, cache: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [SCRIPT, "run", str(logs), "--cache", str(cache), "--workers", "2", "--settle-seconds", "0"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def history_listing(directory: Path, *, seed: int) -> None:
    """A no-op `extract` over about 100,000 one-line objects in some 250 day folders: the first
    reads every folder (and seals them), the next ones read none."""
    files, _ = corpus(directory, size="50M", seed=seed, file_size="500")
    logs = directory / "logs"
    folders = len({path.parent for path in files})
    command = [SCRIPT, "extract", str(logs), "--workers", "2", "--settle-seconds", "0"]
    with tempfile.TemporaryDirectory(prefix="s3le-bench-") as scratch:
        cache = ["--cache", str(Path(scratch) / "cache")]
        subprocess.run(command + cache, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        every, every_peak = peak_tree_memory(command + cache)
        runs = [peak_tree_memory(command + cache) for _ in range(3)]
    sealed, sealed_peak = statistics.median(wall for wall, _ in runs), max(peak for _, peak in runs)
    print(f"no-op extract over {len(files)} objects in {folders} day folders:")
    print(f"  reading every folder: {every:.2f} s, peak RSS {every_peak / 1e6:.0f} MB")
    print(f"  sealed folders skipped (median of 3): {sealed:.2f} s, peak RSS {sealed_peak / 1e6:.0f} MB")
    print(f"  ratio: {sealed / every:.3f}x")


def du(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def main() -> None:
    args, files, _ = corpus_from_arguments(__doc__, size="1G", seed=2, folder="nightly")
    # An installed copy has its bytecode (pip compiles it); an editable checkout run with
    # PYTHONDONTWRITEBYTECODE would compile every module at every start, which a no-op run would time.
    compileall.compile_dir(Path(s3logextraction.__file__).parent, quiet=1)
    night = files[-max(1, len(files) * 3 // 100) :]
    history = files[: len(files) - len(night)]
    with tempfile.TemporaryDirectory(prefix="s3le-bench-") as scratch:
        root = Path(scratch)
        past, alone = root / "past", root / "alone"
        for folder, chosen in ((past, history), (alone, night)):
            for path in chosen:
                target = folder / path.relative_to(args.dir / "logs")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
        full = timed_run(past, root / "cache")
        shards = du(root / "cache" / "shards")
        store = du(root / "cache" / "aggregates")
        idle = statistics.median(timed_run(past, root / "cache") for _ in range(5))  # one run is noise-sized
        for path in night:  # the new night arrives beside the history
            target = past / path.relative_to(args.dir / "logs")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        next_night = timed_run(past, root / "cache")
        fresh = timed_run(alone, root / "fresh")
    print(f"history: {len(history)} objects; the night: {len(night)} objects")
    ratio = idle / full
    print(
        f"full run over the history: {full:.2f} s; no-op run (median of 5): {idle:.2f} s = {ratio:.3f}x",
        "(target <= 0.1x, start-up included)",
    )
    print(f"the night on the full cache: {next_night:.2f} s; the night alone in a fresh cache: {fresh:.2f} s")
    print(f"ratio: {next_night / fresh:.2f}x (target <= 2x)")
    print(f"aggregate store: {store / 1e6:.1f} MB = {store / shards:.3f} of the shards ({shards / 1e6:.1f} MB)")
    history_listing(args.dir.with_name("nightly-history"), seed=args.seed)


if __name__ == "__main__":
    main()
