"""Summaries + totals + archive (one pass) against the extraction time of the same corpus, with
peak memory, and the scaling at 2x and 4x the rows (shards duplicated under new batch ids).

    python benchmarks/bench_summaries.py --size 1G --seed 2
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import corpus_from_arguments, peak_tree_memory

SCRIPT = str(Path(sys.executable).with_name("s3logextraction"))
PUBLISH = (
    "import sys; from pathlib import Path; from s3logextraction.summarize import everything, publish; "
    "publish(cache=Path(sys.argv[1]), outputs=everything())"
)


def multiply(cache: Path, *, factor: int) -> None:
    """Adds factor-1 copies of every shard and batch row, so the rows grow by `factor`."""
    db = sqlite3.connect(cache / "state.sqlite")
    batches = db.execute("SELECT batch_id FROM batches WHERE format = 'parquet'").fetchall()
    with db:
        for copy in range(1, factor):
            for (batch,) in batches:
                twin = f"{batch}-x{copy}"
                shutil.copy(cache / "shards" / f"{batch}.parquet", cache / "shards" / f"{twin}.parquet")
                db.execute(
                    "INSERT INTO batches SELECT ?, format, committed_at, log_bytes, lines_read, lines_kept, "
                    "lines_rejected, bytes_sent FROM batches WHERE batch_id = ?",
                    (twin, batch),
                )
    db.close()


def main() -> None:
    args, files, truth = corpus_from_arguments(__doc__, size="1G", seed=2, folder="extract")
    kept = sum(truth["kept_per_status"].values())
    with tempfile.TemporaryDirectory(prefix="s3le-bench-") as scratch:
        cache = Path(scratch) / "cache"
        extraction, _ = peak_tree_memory(
            [
                SCRIPT,
                "extract",
                str(args.dir / "logs"),
                "--cache",
                str(cache),
                "--workers",
                "2",
                "--settle-seconds",
                "0",
            ]
        )
        print(f"corpus: {len(files)} files, {kept} kept rows; extraction {extraction:.2f} s")
        base = None
        for factor in (1, 2, 4):
            copy = Path(scratch) / f"x{factor}"
            shutil.copytree(cache, copy)
            multiply(copy, factor=factor)
            seconds, peak = peak_tree_memory([sys.executable, "-c", PUBLISH, str(copy)])
            base = base or seconds
            print(
                f"summaries+totals+archive at {factor}x rows: {seconds:.2f} s = {seconds / extraction:.3f}x extraction "
                f"time, {seconds / base:.2f}x the 1x time, peak RSS {peak / 1e6:.0f} MB"
            )
            shutil.rmtree(copy)


if __name__ == "__main__":
    main()
