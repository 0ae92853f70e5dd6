"""`report` against `update summaries` on the same cache of about 1,000 datasets, in the same run:
each round removes what the command wrote (so it writes everything again), rounds alternate,
medians are reported.  Target: report < 0.5x update summaries.

    python benchmarks/bench_report.py [--size 200M] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from s3logextraction.sizes import parse_size
from s3logextraction.testing import generate_benchmark

SCRIPT = str(Path(sys.executable).with_name("s3logextraction"))


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="200M")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="s3le-bench-") as scratch:
        folder = Path(scratch)
        generate_benchmark(folder, size=parse_size(args.size), seed=args.seed, keys=40_000, ips=20_000)
        cache = str(folder / "cache")
        subprocess.run(
            [SCRIPT, "run", str(folder / "logs"), "--cache", cache, "--settle-seconds", "0"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        datasets = len(json.loads((folder / "cache" / "summaries" / "totals.json").read_text()))
        summaries, reports = [], []
        for _ in range(args.rounds):
            for name in folder.joinpath("cache", "summaries").iterdir():  # every dataset's files written again
                if name.is_dir() and name.name != "archive":
                    shutil.rmtree(name)
            summaries.append(timed([SCRIPT, "update", "summaries", "--cache", cache]))
            shutil.rmtree(folder / "cache" / "report")
            reports.append(timed([SCRIPT, "report", "--cache", cache]))
    summary, report = statistics.median(summaries), statistics.median(reports)
    print(f"{datasets} datasets; update summaries median {summary:.2f} s, report median {report:.2f} s")
    print(f"report / update summaries: {report / summary:.2f}x (target < 0.5x)")


if __name__ == "__main__":
    main()
