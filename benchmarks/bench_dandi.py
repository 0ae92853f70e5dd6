"""`update summaries --mode dandi` against `update summaries` (generic) on the same DANDI-shaped
cache in the same run, with the peak RSS of each: after one first run (which folds the shards
into the aggregate store and loads the mapping), each mode runs in its own copy of that cache with
its summaries removed, so each writes all its files; rounds alternate, medians are reported.

    python benchmarks/bench_dandi.py [--blobs 200000] [--mapping 1000000] [--lines 1000000]

The corpus: `--lines` GET requests over `--blobs` distinct blob ids (and a few Zarr stores), and a
mapping file of `--mapping` content ids (every requested blob among them, the rest never requested).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import peak_tree_memory

SCRIPT = str(Path(sys.executable).with_name("s3logextraction"))
LINE = (
    "0123456789abcdef dandiarchive [{day:02d}/May/2024:{hour:02d}:00:00 +0000] {ip} - REQ REST.GET.OBJECT {key} "
    '"GET /{key} HTTP/1.1" 200 - {sent} {sent} 20 10 "-" "python-requests/2.31" - HOST SigV4 TLS_AES AuthHeader '
    "dandiarchive.s3.amazonaws.com TLSv1.3 - -"
)


def corpus(folder: Path, *, blobs: int, mapping: int, lines: int, seed: int) -> Path:
    rng = random.Random(seed)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(mapping)]
    requested = ids[:blobs]
    logs = folder / "logs"
    logs.mkdir(parents=True)
    per_object = 50_000
    for start in range(0, lines, per_object):
        rows = []
        for _ in range(min(per_object, lines - start)):
            content = rng.choice(requested)
            key = f"blobs/{content[:3]}/{content[3:6]}/{content}"
            ip = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            rows.append(LINE.format(day=rng.randrange(1, 29), hour=rng.randrange(24), ip=ip, key=key, sent=1000))
        (logs / f"2024-05-{start // per_object % 28 + 1:02d}-00-00-00-{start:016X}").write_text("\n".join(rows) + "\n")
    dandisets = [f"{n:06d}" for n in range(1, 501)]
    places = {content: {rng.choice(dandisets): f"sub-{n}/file-{n}.nwb"} for n, content in enumerate(ids)}
    (folder / "mapping.json").write_text(json.dumps(places))
    return logs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blobs", type=int, default=200_000)
    parser.add_argument("--mapping", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--scratch", help="where the corpus and caches go (e.g. /dev/shm to leave the disk out)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="s3le-bench-", dir=args.scratch) as scratch:
        folder = Path(scratch)
        logs = corpus(folder, blobs=args.blobs, mapping=args.mapping, lines=args.lines, seed=args.seed)
        cache = folder / "cache"
        extract = [SCRIPT, "extract", str(logs), "--cache", str(cache), "--mode", "dandi", "--settle-seconds", "0"]
        subprocess.run(extract, check=True, stderr=subprocess.DEVNULL)
        mapping = str(folder / "mapping.json")
        commands = {
            "dandi": [SCRIPT, "update", "summaries", "--mode", "dandi", "--mapping", mapping],
            "generic": [SCRIPT, "update", "summaries", "--mode", "generic"],
        }
        first = peak_tree_memory([*commands["dandi"], "--cache", str(cache)])  # folds the shards, loads the mapping
        caches = {mode: folder / f"cache-{mode}" for mode in commands}
        for copy in caches.values():
            shutil.copytree(cache, copy)
        runs: dict[str, list[tuple[float, int]]] = {mode: [] for mode in commands}
        cpu: dict[str, list[tuple[float, float]]] = {mode: [] for mode in commands}
        floors: list[float] = []
        for _ in range(args.rounds):
            for mode, command in commands.items():  # each mode writes all its files, in its own copy
                shutil.rmtree(caches[mode] / "summaries", ignore_errors=True)
                os.sync()  # the run's syncfs then flushes its own files, not the copies made here
                before = cpu_seconds()
                runs[mode].append(peak_tree_memory([*command, "--cache", str(caches[mode])]))
                after = cpu_seconds()
                cpu[mode].append((after[0] - before[0], after[1] - before[1]))
            floors.append(file_floor(caches["dandi"] / "summaries", folder / "floor"))
    print(f"{args.lines} requests over {args.blobs} blobs; mapping of {args.mapping} content ids")
    print(f"dandi, first run (shards folded, mapping loaded): {first[0]:.2f} s, peak RSS {first[1] / 1e6:.0f} MB")
    medians = {mode: statistics.median(seconds for seconds, _ in results) for mode, results in runs.items()}
    for mode, results in runs.items():
        peak = max(rss for _, rss in results)
        print(f"{mode}: median {medians[mode]:.2f} s over {args.rounds} rounds, peak RSS {peak / 1e6:.0f} MB")
    print(f"dandi / generic: {medians['dandi'] / medians['generic']:.2f}x (target <= 1.5x); peak RSS target < 500 MB")
    for kind, at in (("user", 0), ("system", 1)):  # system time (page faults) swings most on a shared host
        used = {mode: statistics.median(times[at] for times in results) for mode, results in cpu.items()}
        print(
            f"{kind} CPU time, medians: dandi {used['dandi']:.2f} s, generic {used['generic']:.2f} s, "
            f"{used['dandi'] / used['generic']:.2f}x"
        )
    floor = statistics.median(floors)
    print(f"file floor: creating dandi's files with bare os.open/write + one syncfs takes {floor:.2f} s here")
    print(f"dandi without that floor / generic: {(medians['dandi'] - floor) / medians['generic']:.2f}x")


def cpu_seconds() -> tuple[float, float]:
    """(user, system) time of every child process waited for so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime, used.ru_stime


def file_floor(published: Path, target: Path) -> float:
    """The bare cost, on this disk, of creating files like those `published` holds: the same
    folders, names and sizes (the part of DANDI mode no code of ours can avoid)."""
    files = [(path.relative_to(published), path.stat().st_size) for path in published.rglob("*") if path.is_file()]
    shutil.rmtree(target, ignore_errors=True)
    os.sync()
    started = time.perf_counter()
    for relative, size in files:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(target / relative, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(descriptor, b"x" * size)
        os.close(descriptor)
    os.sync()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
