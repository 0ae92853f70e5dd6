"""`update summaries --mode dandi` against `update summaries` (generic) on the same DANDI-shaped
cache in the same run, with the peak RSS of each.

    python benchmarks/bench_dandi.py [--blobs 200000] [--mapping 1000000] [--lines 1000000]

The corpus: `--lines` GET requests over `--blobs` distinct blob ids (and a few Zarr stores), and a
mapping file of `--mapping` content ids (every requested blob among them, the rest never requested).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
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
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="s3le-bench-") as scratch:
        folder = Path(scratch)
        logs = corpus(folder, blobs=args.blobs, mapping=args.mapping, lines=args.lines, seed=args.seed)
        cache = str(folder / "cache")
        extract = [SCRIPT, "extract", str(logs), "--cache", cache, "--mode", "dandi", "--settle-seconds", "0"]
        subprocess.run(extract, check=True, stderr=subprocess.DEVNULL)
        mapping = str(folder / "mapping.json")
        dandi = [SCRIPT, "update", "summaries", "--cache", cache, "--mode", "dandi", "--mapping", mapping]
        generic = [SCRIPT, "update", "summaries", "--cache", cache, "--mode", "generic"]
        first = peak_tree_memory(dandi)
        runs = {"generic": peak_tree_memory(generic), "dandi": peak_tree_memory(dandi)}
    print(f"{args.lines} requests over {args.blobs} blobs; mapping of {args.mapping} content ids")
    print(f"dandi, first run (mapping loaded into the state DB): {first[0]:.2f} s, peak RSS {first[1] / 1e6:.0f} MB")
    for label, (seconds, peak) in runs.items():
        print(f"{label}: {seconds:.2f} s, peak RSS {peak / 1e6:.0f} MB")
    ratio = runs["dandi"][0] / runs["generic"][0]
    print(f"dandi / generic: {ratio:.2f}x (target <= 1.5x); peak RSS target < 500 MB")


if __name__ == "__main__":
    main()
