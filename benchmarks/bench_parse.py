"""Parser speed against `LC_ALL=C gawk '{n++} END{print n}'` over the same files, one process.

python benchmarks/bench_parse.py --size 500M --seed 1
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import corpus_from_arguments, run_quiet, timed

from s3logextraction.gawk import gawk_command, gawk_environment, gawk_path


def main() -> None:
    _, files, truth = corpus_from_arguments(__doc__, size="500M", seed=1, folder="parse")
    size = sum(path.stat().st_size for path in files)
    env = {**os.environ, **gawk_environment(meta=os.devnull)}
    baseline = timed(lambda: run_quiet([gawk_path(), "{n++} END{print n}", *map(str, files)], env=env))
    command = gawk_command(files=files)
    parse = timed(lambda: run_quiet(command, env=env))
    print(f"corpus: {len(files)} files, {size / 1e6:.0f} MB, {truth['lines']} lines")
    print(f"baseline gawk '{{n++}}': {baseline:.2f} s ({size / baseline / 1e6:.0f} MB/s)")
    print(f"parser (awk/extract.awk): {parse:.2f} s ({size / parse / 1e6:.0f} MB/s)")
    print(f"speed ratio parser/baseline: {baseline / parse:.3f}x (target >= 0.5x)")


if __name__ == "__main__":
    main()
