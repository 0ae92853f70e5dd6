"""Hostile input never poisons a nightly run: bad bytes, bad names, bad objects, bad numbers.

Each input below broke an earlier version; here they all sit in one normal corpus, `run` goes
twice over it, and the good lines' totals, the bad lines' reasons and every published file are
checked against hand-computed values.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa

from s3logextraction import status
from s3logextraction.rows import key_texts

from .conftest import age, cli
from .test_extract import expected_per_key, per_key, shard_rows
from .test_parser import GOOD

csv.field_size_limit(1 << 30)


def hostile_line(key: bytes, *, number: int, agent: bytes = b"curl/8.5.0", sent: bytes = b"100") -> bytes:
    line = GOOD.encode().replace(b"data/file.bin", key).replace(b"curl/8.5.0", agent)
    return line.replace(b"192.0.2.10", f"203.0.113.{number}".encode()).replace(b" 1024 2048 ", b" " + sent + b" 2048 ")


LONG = b"L" * 300
# key as logged -> (key as stored in shards, dataset, asset path as published)
GOOD_HOSTILE = {
    b"h/a%0Ab.txt": ("h/a%0Ab.txt", "h", "a\\nb.txt"),
    b"h/cr%0Dx%09y": ("h/cr%0Dx%09y", "h", "cr\\rx\\ty"),
    b"h/caf\xe9.bin": ("h/caf\\xe9.bin", "h", "caf\\xe9.bin"),
    b"h/nul\x00key": ("h/nul\\x00key", "h", "nul\\x00key"),
    b"h/ctl\x01\\": ("h/ctl\\x01\\\\", "h", "ctl\\x01\\\\"),
    LONG + b"/x.bin": (LONG.decode() + "/x.bin", LONG.decode(), "x.bin"),
    b".totals.json.tmp/x": (".totals.json.tmp/x", ".totals.json.tmp", "x"),
    b"archive/x": ("archive/x", "archive", "x"),
}


def write_hostile(folder: Path) -> dict[str, Any]:
    """Hostile objects under odd names; returns what the good lines among them must add up to."""
    odd = folder / "tab\there" / "new\nline"
    odd.mkdir(parents=True)
    good = [hostile_line(key, number=n + 1) for n, key in enumerate(GOOD_HOSTILE)]
    good.append(hostile_line(b"h/a%0Ab.txt", number=40, agent=b"carriage\rreturn"))
    bad = [hostile_line(b"h/big", number=50, sent=b"99999999999999999999"), b"garbage line"]
    (odd / "notes.txt").write_bytes(b"\n".join(good[:4] + bad) + b"\n")
    (folder / os.fsdecode(b"caf\xe9-object")).write_bytes(b"\n".join(good[4:]) + b"\n")
    (folder / "zipped.gz").write_bytes(gzip.compress(hostile_line(b"h/zipped", number=60) + b"\n"))
    whole = gzip.compress(b"\n".join([GOOD.encode()] * 2000) + b"\n")
    (folder / "truncated-gzip").write_bytes(whole[: len(whole) // 2])
    (folder / "corrupt-gzip").write_bytes(whole[:20] + b"\xff" * 200 + whole[220:])
    (folder / ".DS_Store").write_bytes(b"hidden")
    per_key = {stored: {"kept": 1, "kept_bytes": 100} for stored, _, _ in GOOD_HOSTILE.values()}
    per_key["h/a%0Ab.txt"] = {"kept": 2, "kept_bytes": 200}
    per_key["h/zipped"] = {"kept": 1, "kept_bytes": 100}
    return {"per_key": per_key, "rejected": {"number_out_of_range": 1, "too_few_fields": 1}}


def published_files_parse_back(summaries: Path) -> dict[str, list[list[str]]]:
    """Every published TSV read back with csv: one row per line and the header's column count."""
    tables: dict[str, list[list[str]]] = {}
    for path in summaries.rglob("*.tsv"):
        text = path.read_text(encoding="utf-8")
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE))
        assert len(rows) == text.count("\n"), path
        assert len({len(row) for row in rows}) == 1, path
        tables[path.relative_to(summaries).as_posix()] = rows
    for path in summaries.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
    return tables


def test_hostile_corpus_runs_twice_with_exact_totals(small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    logs, truth = small_corpus
    folder = Path(shutil.copytree(logs, tmp_path / "logs"))
    hostile = write_hostile(folder)
    age(folder)
    cache = tmp_path / "ca\\che\tdir"
    for attempt in range(2):
        result = cli("run", str(folder), "--cache", str(cache), "--workers", "2", "--batch-size", "300K")
        assert result.returncode == 3, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1] == (
            "error: 2 log objects could not be read; everything else is done (see `status`)"
        )
        if attempt:
            assert "extract done: 0 log objects" in result.stderr and "0 files changed" in result.stderr
    assert not list(tmp_path.glob("*.meta*")), "gawk wrote its meta file outside the cache"
    figures = status(cache=cache)
    reasons = {entry["name"]: entry["reason"] for entry in figures["failed_objects"]}
    assert sorted(reasons) == ["corrupt-gzip", "truncated-gzip"]
    assert reasons["truncated-gzip"] == "truncated gzip object"
    assert reasons["corrupt-gzip"].startswith("corrupt gzip object (Error -3 while decompressing data")
    assert figures["rejected_by_reason"] == hostile["rejected"]
    assert figures["log_objects"] == truth["log_objects"] + 3
    assert figures["lines_read"] == truth["lines"] + 12
    assert figures["lines_kept"] + figures["lines_skipped"] + figures["lines_rejected"] == figures["lines_read"]
    assert per_key(shard_rows(cache)) == {**expected_per_key(truth), **hostile["per_key"]}

    summaries = cache / "summaries"
    tables = published_files_parse_back(summaries)
    assert sorted(row[0] for row in tables["h/by_asset.tsv"][1:]) == sorted(
        ["a\\nb.txt", "cr\\rx\\ty", "caf\\xe9.bin", "nul\\x00key", "ctl\\x01\\\\", "zipped"]
    )
    totals = json.loads((summaries / "totals.json").read_text())
    assert {LONG.decode(), ".totals.json.tmp", "archive", "h"} <= set(totals)
    assert totals["h"]["total_bytes_sent"] == 700
    long_folders = [path.parent for path in summaries.glob("LLL*/dataset_name.txt")]
    assert len(long_folders) == 1 and len(long_folders[0].name) <= 200
    assert (long_folders[0] / "dataset_name.txt").read_text() == LONG.decode() + "\n"
    assert (summaries / "%2Etotals.json.tmp" / "by_day.tsv").exists()
    assert (summaries / "%61rchive" / "by_day.tsv").exists()
    assert json.loads((summaries / "archive_totals.json").read_text())["total_bytes_sent"] == sum(
        figures["total_bytes_sent"] for figures in totals.values()
    )


def test_failed_object_is_retried_when_it_changes_or_on_request(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "good").write_bytes(GOOD.encode() + b"\n")
    broken = folder / "broken"
    whole = gzip.compress(GOOD.encode() * 1 + b"\n")
    broken.write_bytes(whole[:-6])
    age(folder)
    cache = tmp_path / "cache"
    first = cli("extract", str(folder), "--cache", str(cache))
    assert first.returncode == 3 and "1 objects failed" in first.stderr
    again = cli("extract", str(folder), "--cache", str(cache))
    assert again.returncode == 3 and "1 failed earlier and unchanged" in again.stderr
    retried = cli("extract", str(folder), "--cache", str(cache), "--retry-failed")
    assert retried.returncode == 3 and "1 objects failed" in retried.stderr
    broken.write_bytes(whole)
    age(folder)
    fixed = cli("extract", str(folder), "--cache", str(cache))
    assert fixed.returncode == 0, fixed.stderr
    figures = status(cache=cache)
    assert figures["failed_objects"] == [] and figures["log_objects"] == 2 and figures["lines_kept"] == 2
    listed = json.loads(cli("status", "--cache", str(cache), "--json").stdout)
    assert listed["failed_objects"] == []


def test_object_still_being_written_is_left_for_the_next_run(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    growing = folder / "2019-02-06-00-00-00-GROWING"
    growing.write_bytes(GOOD.encode() + b"\n")
    cache = tmp_path / "cache"
    early = cli("extract", str(folder), "--cache", str(cache))
    assert early.returncode == 0 and "1 too recent (still settling)" in early.stderr
    assert status(cache=cache)["log_objects"] == 0
    growing.write_text((GOOD + "\n") * 3)
    age(folder)
    assert cli("extract", str(folder), "--cache", str(cache)).returncode == 0
    assert status(cache=cache)["lines_kept"] == 3
    growing.write_text((GOOD + "\n") * 5)
    age(folder)
    later = cli("extract", str(folder), "--cache", str(cache))
    assert later.returncode == 0 and "1 changed after their commit" in later.stderr
    figures = status(cache=cache)
    assert figures["lines_kept"] == 3, "a changed object is never counted again"
    line = len(GOOD) + 1
    assert [(entry["name"], entry["committed_size"], entry["seen_size"]) for entry in figures["changed_objects"]] == [
        ("2019-02-06-00-00-00-GROWING", 3 * line, 5 * line)
    ]


def test_operations_are_checked_and_recorded(tmp_path: Path) -> None:
    folder = age_logs(tmp_path)
    cache = tmp_path / "cache"
    typo = cli("extract", str(folder), "--cache", str(cache), "--operations", "REST.GET.OBJCT")
    assert typo.returncode == 2 and typo.stderr.startswith("error: unknown operation REST.GET.OBJCT; ")
    assert "REST.GET.OBJECT" in typo.stderr and typo.stderr.count("\n") == 1
    assert not cache.exists()
    env_typo = cli(
        "extract", str(folder), "--cache", str(cache), env={**os.environ, "S3LOGEXTRACTION_OPERATIONS": "abc"}
    )
    assert env_typo.returncode == 78 and "operations" in env_typo.stderr
    assert cli("extract", str(folder), "--cache", str(cache), "--limit", "1").returncode == 0
    other = cli("extract", str(folder), "--cache", str(cache), "--operations", "REST.GET.OBJECT,REST.HEAD.OBJECT")
    assert other.returncode == 78 and "reset extraction" in other.stderr and other.stderr.count("\n") == 1
    assert cli("reset", "extraction", "--cache", str(cache), "--yes").returncode == 0
    wider = cli("extract", str(folder), "--cache", str(cache), "--operations", "REST.HEAD.OBJECT,REST.GET.OBJECT")
    assert wider.returncode == 0, wider.stderr
    assert status(cache=cache)["operations"] == "REST.GET.OBJECT,REST.HEAD.OBJECT"


def age_logs(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    for number in range(3):
        (folder / f"2019-02-06-00-00-0{number}-X").write_text(GOOD.replace("data/file.bin", f"ds/{number}") + "\n")
    return age(folder)


def test_symlinked_folders_are_followed_once(tmp_path: Path) -> None:
    folder = age_logs(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "2019-02-07-00-00-00-Y").write_text(GOOD + "\n")
    (folder / "linked").symlink_to(outside)
    (outside / "loop").symlink_to(folder)
    age(outside)
    result = cli("extract", str(folder), "--cache", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr
    assert "1 files skipped (folder seen twice (symlink loop) 1)" in result.stderr
    assert status(cache=tmp_path / "cache")["log_objects"] == 4


def test_reader_commands_on_a_missing_cache_say_so(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    for command in (["status"], ["stop"], ["update", "summaries"], ["update", "totals"], ["ip", "show", "1"]):
        result = cli(*command, "--cache", str(missing))
        assert result.returncode == 66, (command, result.stderr)
        assert result.stderr == f"error: no cache at {missing}\n"
    assert not missing.exists()


def test_keys_become_text_the_same_way_whatever_their_bytes() -> None:
    """A batch's keys are cast to text at once when all are UTF-8, else decoded one by one with
    the other bytes escaped.  Arrow's UTF-8 check must refuse every form Python refuses (overlong,
    surrogate, past U+10FFFF, cut short), or such a key would reach a shard unescaped."""
    for odd in (b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\xff"):
        for keys in ([b"a/" + odd], [b"a/ok", b"a/caf\xc3\xa9", b"a/" + odd]):
            texts = key_texts(pa.array(keys, pa.binary())).to_pylist()
            assert texts == [key.decode("utf-8", "backslashreplace") for key in keys]
            assert "\\x" in texts[-1]
    assert key_texts(pa.array([b"a/caf\xc3\xa9"], pa.binary())).to_pylist() == ["a/café"]
