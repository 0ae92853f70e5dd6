"""Nights cost in proportion to the night: the aggregate store folds in only new shards, gives
the same files as a rebuild and as one fresh run over everything, and survives SIGKILL."""

from __future__ import annotations

import hashlib
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import age, cli, events_counted, killed_at_event

SCRIPT = str(Path(sys.executable).with_name("s3logextraction"))


def published(cache: Path) -> dict[str, str]:
    root = cache / "summaries"
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def nights(logs: Path, count: int) -> list[list[Path]]:
    """The corpus's objects split into `count` nights (in name order, as AWS delivers them)."""
    objects = sorted(path for path in logs.rglob("*") if path.is_file())
    size = -(-len(objects) // count)
    return [objects[start : start + size] for start in range(0, len(objects), size)]


def deliver(folder: Path, objects: list[Path], *, root: Path) -> None:
    for path in objects:
        target = folder / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    age(folder)


@pytest.fixture(scope="module")
def reference(small_corpus: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The files of one fresh run over every log."""
    cache = tmp_path_factory.mktemp("reference") / "cache"
    assert cli("run", str(small_corpus[0]), "--cache", str(cache), "--workers", "2").returncode == 0
    return published(cache)


def test_night_after_night_equals_one_run_and_a_rebuild(
    small_corpus: tuple[Path, dict[str, Any]], reference: dict[str, str], tmp_path: Path
) -> None:
    logs, _ = small_corpus
    folder, cache = tmp_path / "logs", tmp_path / "cache"
    folder.mkdir()
    for night in nights(logs, 4):
        deliver(folder, night, root=logs)
        result = cli("run", str(folder), "--cache", str(cache), "--batch-size", "1M")
        assert result.returncode == 0, result.stderr
        new_batches = result.stderr.split(" log objects in ")[1].split(" batches")[0]
        assert f"({new_batches} new shards aggregated)" in result.stderr, "only the night's shards are read"
    assert published(cache) == reference
    idle = cli("run", str(folder), "--cache", str(cache))
    assert "nothing new since the last publish" in idle.stderr and "0 files changed" in idle.stderr
    rebuilt = cli("update", "summaries", "--cache", str(cache), "--rebuild")
    assert rebuilt.returncode == 0 and "new shards aggregated" in rebuilt.stderr
    assert "(0 new shards aggregated)" not in rebuilt.stderr
    assert published(cache) == reference
    assert cli("update", "summaries", "--cache", str(cache), "--level", "2").returncode == 0
    assert published(cache) != reference, "a new level republishes from the store without any shard"
    assert cli("update", "summaries", "--cache", str(cache)).returncode == 0
    assert published(cache) == reference


def test_a_night_with_nothing_new_publishes_nothing_until_an_input_changes(
    small_corpus: tuple[Path, dict[str, Any]], reference: dict[str, str], tmp_path: Path
) -> None:
    logs, _ = small_corpus
    cache = tmp_path / "cache"
    assert cli("run", str(logs), "--cache", str(cache)).returncode == 0
    idle = cli("run", str(logs), "--cache", str(cache))
    assert idle.returncode == 0 and "nothing new since the last publish" in idle.stderr
    (cache / "summaries" / "archive" / "by_region.tsv").unlink()
    restored = cli("update", "summaries", "--cache", str(cache), "--mode", "archive")
    assert "1 files changed" in restored.stderr and published(cache) == reference, "a missing file is written again"
    ranges = tmp_path / "vpn.txt"
    ranges.write_text("0.0.0.0/0\n::/0\n")
    relabel = cli("update", "ip", "regions", "--cache", str(cache), "--vpn-ranges", str(ranges), "--refresh-days", "1")
    assert relabel.returncode == 0, relabel.stderr
    again = cli("run", str(logs), "--cache", str(cache))
    assert again.returncode == 0 and "nothing new" not in again.stderr, "new region labels republish"
    assert published(cache)["archive/by_region.tsv"] != reference["archive/by_region.tsv"]
    exact = cli("update", "summaries", "--cache", str(cache), "--privacy-threshold", "1", "--privacy-rounding", "1")
    assert "nothing new" not in exact.stderr, "other settings republish"


def test_a_reset_extraction_empties_the_store(
    small_corpus: tuple[Path, dict[str, Any]], reference: dict[str, str], tmp_path: Path
) -> None:
    logs, _ = small_corpus
    cache = tmp_path / "cache"
    assert cli("run", str(logs), "--cache", str(cache), "--limit", "20").returncode == 0
    assert cli("reset", "extraction", "--cache", str(cache), "--yes").returncode == 0
    assert cli("run", str(logs), "--cache", str(cache)).returncode == 0
    assert published(cache) == reference


def written(cache: Path) -> tuple[str, ...]:
    """Where the fold and the publish write: the aggregate store and the published set."""
    return (f"{cache}/aggregates/", f"{cache}/published/", f"{cache}/summaries")


@pytest.mark.parametrize("seed", range(8))
def test_sigkill_in_summaries_at_any_instant(
    small_corpus: tuple[Path, dict[str, Any]], reference: dict[str, str], tmp_path: Path, seed: int
) -> None:
    """`run` killed at a random point of its later stages (store fold, publish), then rerun.  The
    point is drawn among the files those stages create, link or rename (counted in a first run
    of the same cache), so the kill lands in them by construction, not by timing."""
    logs, _ = small_corpus
    cache = tmp_path / "cache"
    assert cli("extract", str(logs), "--cache", str(cache), "--workers", "2", "--batch-size", "512K").returncode == 0
    counting = tmp_path / "counting"
    shutil.copytree(cache, counting, symlinks=True)
    ops = ("create", "link", "rename", "replace")
    counted = killed_at_event("run", str(logs), "--cache", str(counting), at=0, paths=written(counting), ops=ops)
    assert counted.returncode == 0, counted.stderr
    point = random.Random(seed).randint(1, events_counted(counted))
    killed = killed_at_event("run", str(logs), "--cache", str(cache), at=point, paths=written(cache), ops=ops)
    assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)
    result = cli("run", str(logs), "--cache", str(cache))
    assert result.returncode == 0, result.stderr
    assert published(cache) == reference
    stored = sorted(path.name.split("-")[0] for path in (cache / "aggregates").iterdir())
    assert stored == ["attribution.arrow", "counter", "day", "requester", "spans"], "one generation, nothing left over"
    assert not [path for path in (cache / "staging").rglob("*") if path.is_file()]


def heavy_modules_of(*args: str) -> tuple[int, list[str]]:
    """(exit code, which of numpy and pyarrow were imported) of one CLI command, run in a fresh
    interpreter through the console script's own entry point."""
    code = (
        "import sys\nfrom s3logextraction.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as end:\n"
        "    print(end.code, *sorted(name for name in ('numpy', 'pyarrow') if name in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    status, *loaded = done.stdout.splitlines()[-1].split()
    return int(status), loaded


def test_a_night_with_nothing_new_never_loads_pyarrow(
    small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    logs, _ = small_corpus
    cache = tmp_path / "cache"
    assert heavy_modules_of("run", str(logs), "--cache", str(cache)) == (0, ["numpy", "pyarrow"])
    assert heavy_modules_of("run", str(logs), "--cache", str(cache)) == (0, []), "nothing to compute: no pyarrow"
    assert heavy_modules_of("update", "summaries", "--cache", str(cache), "--level", "2") == (0, ["numpy", "pyarrow"])
