"""Backfills at archive scale (issue 31), measured in one run:

    python benchmarks/bench_scale.py [--counts 25000,100000,200000] [--per-folder 1000] [--skip-s3]

1. A first `extract` over N one-line log objects in day folders of `--per-folder` objects, for
   each N: the peak RSS of the coordinating process and of the whole process tree (gawk
   included), the time to the first commit, the wall time, and the state DB's bytes per
   committed object.  Target: the peak at the largest N within 1.15x of the smallest; at most
   64 bytes of state per object.
2. On moto (S3 in server mode, on loopback), the LIST requests of a night (2 new days) after a
   365-day history, against the same night in a bucket of its own.  Target: at most 3x.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).parent))

from common import tree_memory

SCRIPT = str(Path(sys.executable).with_name("s3logextraction"))
LINE = (
    "8787a3c41bf7ce0d54359d9348ad5b08e16bd5bb8ae5aa4e1508b435773a066e dandiarchive [{stamp} +0000] "
    '192.0.2.{ip} - 3E3EA6B2F9EDF2C2 REST.GET.OBJECT blobs/{key} "GET /blobs/{key} HTTP/1.1" 200 - 1024 2048 '
    '10 9 "-" "curl/8.0" - x= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader dandiarchive.s3.amazonaws.com TLSv1.2 - -\n'
)


def write_tree(root: Path, *, count: int, per_folder: int) -> Path:
    """`count` one-line objects, `per_folder` a day folder, named as AWS names them (kept)."""
    stamp = root / ".count"
    if stamp.exists() and stamp.read_text() == f"{count} {per_folder}":
        return root / "logs"
    subprocess.run(["rm", "-rf", str(root)], check=True)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for number in range(count):
        day = start + timedelta(days=number // per_folder, seconds=number % per_folder * 60)
        folder = root / "logs" / f"{day:%Y/%m/%d}"
        if number % per_folder == 0:
            folder.mkdir(parents=True)
        text = LINE.format(stamp=f"{day:%d/%b/%Y:%H:%M:%S}", ip=number % 250 + 1, key=f"{number % 5000:04x}")
        (folder / f"{day:%Y-%m-%d-%H-%M-%S}-{number:016X}").write_text(text)
    subprocess.run(["find", str(root / "logs"), "-exec", "touch", "-d", "2 hours ago", "{}", "+"], check=True)
    stamp.write_text(f"{count} {per_folder}")
    return root / "logs"


def batches(state: Path) -> int:
    if not state.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=1)
        try:
            return int(db.execute("SELECT count(*) FROM batches").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def first_extract(logs: Path, cache: Path) -> dict[str, float]:
    """One first extract: peaks (coordinator, tree), time to first commit, wall time, state bytes."""
    started = time.perf_counter()
    command = [SCRIPT, "extract", str(logs), "--cache", str(cache), "--workers", "2", "--settle-seconds", "0"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(process.pid)
    own = tree = 0
    first_commit = float("nan")
    while process.poll() is None:
        try:
            mine, whole = tree_memory(root)
        except psutil.Error:
            mine = whole = 0
        own, tree = max(own, mine), max(tree, whole)
        if first_commit != first_commit and batches(cache / "state.sqlite"):
            first_commit = time.perf_counter() - started
        time.sleep(0.01)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"extract failed: {process.stderr.read() if process.stderr else ''}")
    state = sum(path.stat().st_size for path in cache.glob("state.sqlite*"))
    return {"own": own, "tree": tree, "first_commit": first_commit, "wall": wall, "state": state}


def memory_and_state(counts: list[int], *, per_folder: int, rounds: int) -> None:
    trees = {count: write_tree(Path(f"/tmp/s3logextraction-bench/scale/{count}"), count=count, per_folder=per_folder)
             for count in counts}  # fmt: skip
    results: dict[int, list[dict[str, float]]] = {count: [] for count in counts}
    for _ in range(rounds):
        for count in counts:
            with tempfile.TemporaryDirectory(prefix="s3le-scale-") as scratch:
                results[count].append(first_extract(trees[count], Path(scratch) / "cache"))
    print(f"first extract of N one-line objects, {per_folder} a day folder (medians of {rounds} rounds, alternating)")
    median = {count: {name: statistics.median(run[name] for run in runs) for name in runs[0]}
              for count, runs in results.items()}  # fmt: skip
    for count, figures in median.items():
        print(
            f"  {count:>7} objects: peak RSS {figures['own'] / 1e6:.0f} MB (tree {figures['tree'] / 1e6:.0f} MB), "
            f"first commit after {figures['first_commit']:.2f} s, {figures['wall']:.1f} s in all, "
            f"state {figures['state'] / count:.1f} bytes an object"
        )
    small, large = median[min(counts)], median[max(counts)]
    print(f"peak RSS {max(counts)} / {min(counts)}: {large['own'] / small['own']:.2f}x (target <= 1.15x); "
          f"tree {large['tree'] / small['tree']:.2f}x")  # fmt: skip
    print(f"state per object at {max(counts)}: {large['state'] / max(counts):.1f} bytes (target <= 64)")


def put_days(client: Any, bucket: str, *, days: list[datetime], per_day: int) -> None:
    def put(item: tuple[datetime, int]) -> None:
        day, number = item
        name = f"{day:%Y/%m/%d}/{day:%Y-%m-%d}-{number:02d}-00-00-{day.toordinal() * 100 + number:016X}"
        body = LINE.format(stamp=f"{day:%d/%b/%Y:%H:%M:%S}", ip=number + 1, key=f"{number:04x}")
        client.put_object(Bucket=bucket, Key=name, Body=body.encode())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, [(day, number) for day in days for number in range(per_day)]))


def list_requests(*, per_day: int) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    from s3logextraction import ExtractOptions, extract
    from s3logextraction.sources.s3 import S3Bucket

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        os.environ.setdefault(name, value)  # moto accepts any
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        client = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        first = datetime(2023, 1, 1, tzinfo=UTC)
        history = [first + timedelta(days=n) for n in range(365)]
        night = [first + timedelta(days=365 + n) for n in range(2)]
        for bucket, days in (("history", history), ("alone", night)):
            client.create_bucket(Bucket=bucket)
            put_days(client, bucket, days=days, per_day=per_day)

        def counted(bucket: str, cache: Path) -> int:
            source = S3Bucket(f"s3://{bucket}", endpoint_url=url)
            sent: list[int] = []
            source.client.meta.events.register("before-send.s3.ListObjectsV2", lambda **_: sent.append(1))
            extract(source, cache=cache, options=ExtractOptions(settle_days=0, settle_seconds=0, workers=2))
            return len(sent)

        with tempfile.TemporaryDirectory(prefix="s3le-scale-") as scratch:
            backfill = counted("history", Path(scratch) / "cache")
            put_days(client, "history", days=night, per_day=per_day)
            with_history = counted("history", Path(scratch) / "cache")
            alone = counted("alone", Path(scratch) / "alone")
        print(
            f"S3 (moto): 365 days of {per_day} objects listed in {backfill} LIST requests; a night of 2 new days: "
            f"{with_history} after the history, {alone} alone: {with_history / alone:.2f}x (target <= 3x)"
        )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="25000,100000,200000")
    parser.add_argument("--per-folder", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=100, help="S3 objects a day for the LIST count")
    parser.add_argument("--skip-s3", action="store_true")
    args = parser.parse_args()
    threading.excepthook = lambda hook: None  # moto's server threads end noisily at stop
    memory_and_state([int(count) for count in args.counts.split(",")], per_folder=args.per_folder, rounds=args.rounds)
    if not args.skip_s3:
        list_requests(per_day=args.per_day)


if __name__ == "__main__":
    main()
