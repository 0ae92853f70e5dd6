"""Shared helpers for the benchmark scripts: corpus generation (cached on disk) and timing."""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from s3logextraction.sizes import parse_size
from s3logextraction.testing.generate import generate_benchmark


def corpus(directory: Path, *, size: str, seed: int, file_size: str = "2M") -> tuple[list[Path], dict[str, Any]]:
    """The generated corpus at `directory`, generated once per (size, seed, file size)."""
    stamp = directory / "corpus.json"
    wanted = {"size": size, "seed": seed, "file_size": file_size}
    if not stamp.exists() or json.loads(stamp.read_text()) != wanted:
        subprocess.run(["rm", "-rf", str(directory)], check=True)
        generate_benchmark(directory, size=parse_size(size), seed=seed, file_size=parse_size(file_size))
        stamp.write_text(json.dumps(wanted))
    files = sorted(path for path in (directory / "logs").rglob("*") if path.is_file())
    return files, json.loads((directory / "ground_truth.json").read_text())


def timed(action: Callable[[], object], *, repeat: int = 3) -> float:
    """Best wall time of `repeat` runs (the page cache is warm after the first)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def run_quiet(command: list[str], **kwargs: Any) -> None:
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kwargs)


def tree_memory(root: psutil.Process) -> tuple[int, int]:
    """The RSS of `root` and of its whole tree, sampled now.  A child that still runs `root`'s own
    command line is a fork not yet turned into gawk (between fork and exec it maps the parent's
    pages, which its RSS shows again): it is left out, else a sample taken at that instant counts
    the coordinator twice."""
    mine = root.memory_info().rss
    command = root.cmdline()
    children = 0
    for child in root.children(recursive=True):
        try:
            if child.cmdline() != command:
                children += child.memory_info().rss
        except psutil.Error:
            continue
    return mine, mine + children


def peak_tree_memory(command: list[str]) -> tuple[float, int]:
    """Wall time and the peak summed RSS of the command and all its children (sampled)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = psutil.Process(process.pid)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            with contextlib.suppress(psutil.Error):
                peak = max(peak, tree_memory(root)[1])
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    process.wait()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{command} failed with {process.returncode}")
    return time.perf_counter() - started, peak


def corpus_from_arguments(
    description: str | None, *, size: str, seed: int, folder: str, flags: tuple[str, ...] = ()
) -> tuple[argparse.Namespace, list[Path], dict[str, Any]]:
    """The options every benchmark takes (--size, --seed, --dir, plus boolean `flags`) and its corpus."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", default=size)
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/s3logextraction-bench") / folder)
    for flag in flags:
        parser.add_argument(flag, action="store_true")
    args = parser.parse_args()
    files, truth = corpus(args.dir, size=args.size, seed=args.seed)
    return args, files, truth
