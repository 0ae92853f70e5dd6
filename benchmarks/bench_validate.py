"""`validate logs` against extraction on the same corpus, and what the COUNTER metrics add to
`update summaries`, as ratios measured in one run (warm page cache, alternating rounds, medians).

Targets (issue 14): validate logs >= 0.8x the throughput of extraction without indexing (here:
`xargs -P2` running the parser in extract mode, which is what `extract` does before indexing; the
full `extract --workers 2` is shown too); COUNTER adds <= 0.5x to `update summaries`, both on a
fresh store (every shard folded) and on a night (one new day of logs folded into the store).

    python benchmarks/bench_validate.py --size 1G --seed 2
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from common import corpus_from_arguments

from s3logextraction.gawk import gawk_command, gawk_environment

SCRIPT = str(Path(sys.executable).with_name("s3logextraction"))
# Publishes as `run` does and prints total seconds and the seconds spent in the COUNTER steps
# (picking the eligible rows and their hours, holding them, the fold and the attributed sums),
# timed by wrapping those functions.
PUBLISH = """
import importlib, sys, time
from pathlib import Path
from s3logextraction.summarize import everything, publish
aggregate, store = (importlib.import_module(f"s3logextraction.summarize.{name}") for name in ("aggregate", "store"))
spent = [0.0]
def timing(function):
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started
    return timed
for name in ("folded_counter", "eligible_statuses", "hours_of"):
    setattr(store, name, timing(getattr(store, name)))
store.EligibleRows.hold = timing(store.EligibleRows.hold)
aggregate.by_month = timing(aggregate.by_month)
started = time.perf_counter()
publish(cache=Path(sys.argv[1]), outputs=everything(), rebuild=sys.argv[2] == "rebuild")
print(time.perf_counter() - started, spent[0])
"""


def wall(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def publish_seconds(cache: Path, *, rebuild: bool) -> tuple[float, float]:
    """(total, COUNTER part) of one publish in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", PUBLISH, str(cache), "rebuild" if rebuild else "night"],
        capture_output=True,
        text=True,
        check=True,
    )
    total, counter = done.stdout.split()
    return float(total), float(counter)


def main() -> None:
    args, files, _ = corpus_from_arguments(__doc__, size="1G", seed=2, folder="extract")
    logs = args.dir / "logs"
    size = sum(path.stat().st_size for path in files)
    scratch = Path(tempfile.mkdtemp(prefix="s3le-bench-"))
    names = "\0".join(map(str, files)).encode()
    gawk_env = {**os.environ, **gawk_environment(meta=os.devnull)}
    xargs = ["xargs", "-0", "-P2", "-n", "50", *gawk_command(files=[])]

    def extract() -> None:
        shutil.rmtree(scratch / "extract", ignore_errors=True)
        command = [SCRIPT, "extract", str(logs), "--cache", str(scratch / "extract"), "--workers", "2"]
        subprocess.run([*command, "--settle-seconds", "0"], check=True, capture_output=True)

    def validate() -> None:
        command = [SCRIPT, "validate", "logs", str(logs), "--workers", "2", "--findings", str(scratch / "f.tsv")]
        subprocess.run(command, capture_output=True, check=False)

    contenders: dict[str, Callable[[], Any]] = {
        "validate logs --workers 2": validate,
        "xargs -P2 gawk (extract mode, no indexing)": lambda: subprocess.run(
            xargs, input=names, stdout=subprocess.DEVNULL, env=gawk_env, check=True
        ),
        "extract --workers 2 (with indexing)": extract,
    }
    subprocess.run(["cat", *map(str, files)], stdout=subprocess.DEVNULL, check=True)
    runs: dict[str, list[float]] = {}
    for _ in range(3):
        for label, action in contenders.items():
            runs.setdefault(label, []).append(wall(action))
    median = {label: statistics.median(values) for label, values in runs.items()}
    print(f"corpus: {len(files)} files, {size / 1e6:.0f} MB")
    for label, seconds in median.items():
        print(f"  {label:<45} {seconds:6.2f} s  {size / seconds / 1e6:7.1f} MB/s")
    ratio = median["xargs -P2 gawk (extract mode, no indexing)"] / median["validate logs --workers 2"]
    print(f"validate logs / extraction without indexing: {ratio:.2f}x (target >= 0.8x)")
    ratio = median["extract --workers 2 (with indexing)"] / median["validate logs --workers 2"]
    print(f"validate logs / extract with indexing: {ratio:.2f}x")

    cache = scratch / "extract"
    fresh = [publish_seconds(cache, rebuild=True) for _ in range(3)]
    total, counter = (statistics.median(values) for values in zip(*fresh, strict=True))
    added = counter / (total - counter)
    print(f"update summaries (every shard): {total:.2f} s, COUNTER {counter:.2f} s: adds {added:.2f}x")
    night = scratch / "night"
    in_time = sorted(files, key=lambda path: path.name)  # AWS names start with the delivery time
    cut = len(in_time) - max(1, len(in_time) * 3 // 100)
    older, newest = in_time[:cut], in_time[cut:]
    for group in (older, newest):
        for path in group:
            target = night / "logs" / path.relative_to(logs)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        if group is older:
            command = [SCRIPT, "extract", str(night / "logs"), "--cache", str(night / "before")]
            subprocess.run([*command, "--settle-seconds", "0"], check=True, capture_output=True)
            publish_seconds(night / "before", rebuild=False)
    samples = []
    for _ in range(3):
        shutil.rmtree(night / "try", ignore_errors=True)
        shutil.copytree(night / "before", night / "try")
        subprocess.run(
            [SCRIPT, "extract", str(night / "logs"), "--cache", str(night / "try"), "--settle-seconds", "0"],
            check=True,
            capture_output=True,
        )
        samples.append(publish_seconds(night / "try", rebuild=False))
    total, counter = (statistics.median(values) for values in zip(*samples, strict=True))
    print(
        f"update summaries (a night: the newest {len(newest)} of {len(files)} files): {total:.2f} s, "
        f"COUNTER {counter:.2f} s: adds {counter / (total - counter):.2f}x (target <= 0.5x)"
    )
    shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
