"""`validate logs` and `validate cache` against hand-made logs and hand-damaged caches."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s3logextraction import ExtractOptions, status
from s3logextraction.cache import CachePaths, reader
from s3logextraction.extract.committed import decode, encode
from s3logextraction.pipeline import run
from s3logextraction.sources import LocalFolder
from s3logextraction.validate import validate_cache, validate_logs
from s3logextraction.validate.cache import quick_checks

from .conftest import age, cli
from .test_counter import request

OBJECT = "2019-02-06-12-00-00-0123456789ABCDEF"  # delivered 12:00: records from 2019-02-05T12:00:00Z on
H2 = request("06/Feb/2019:10:00:00", ip="192.0.2.7", key="a.nwb").replace("HTTP/1.1", "HTTP/2.0")
LINES = [
    request("06/Feb/2019:10:00:00", ip="192.0.2.1", key="a.nwb").replace("200 - 1024 2048", "200 - 2048 2048"),
    request("06/Feb/2019:10:00:01", ip="192.0.2.2", key="a.nwb"),  # 200, 1024 of 2048 bytes
    request("04/Feb/2019:10:00:00", ip="192.0.2.3", key="a.nwb").replace("200 - 1024", "206 - 1024"),  # too old
    request("06/Feb/2019:12:30:00", ip="192.0.2.4", key="a.nwb").replace("200 - 1024", "206 - 1024"),  # later
    request("31/Feb/2019:10:00:00", ip="192.0.2.5", key="a.nwb"),  # no such day
    "192.0.2.6 garbage",
    H2.replace("200 - 1024", "206 - 1024"),  # no HTTP/1.: the old tool finds no status
    request("06/Feb/2019:10:00:02", ip="192.0.2.8", key="x/HTTP/1.1y").replace("200 - 1024", "206 - 1024"),
]
EXPECTED = [
    (OBJECT, 2, "partial_200", "bytes_sent 1024 < object_size 2048"),
    (OBJECT, 3, "time_outside_delivery_window", "2019-02-04T10:00:00Z"),
    (OBJECT, 4, "time_outside_delivery_window", "2019-02-06T12:30:00Z"),
    (OBJECT, 5, "rejected/invalid_time", ""),
    (OBJECT, 6, "rejected/too_few_fields", ""),
    (OBJECT, 7, "old_heuristic", "no HTTP/1. in the line"),
    (
        OBJECT,
        8,
        "old_heuristic",
        "status (log text) bytes_sent (log text) where the line has status 206 bytes_sent 1024",
    ),
]


def findings_of(path: Path) -> list[tuple[str, int, str, str]]:
    rows = [line.split("\t") for line in path.read_text().splitlines()]
    assert rows[0] == ["file", "line", "check", "detail"]
    return [(file, int(line), check, detail) for file, line, check, detail in rows[1:]]


def test_validate_logs_finds_each_kind_by_hand(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / OBJECT).write_text("\n".join(LINES) + "\n")
    clean = "2019-02-06-12-00-01-FEDCBA9876543210"
    (logs / f"{clean}.gz").write_bytes(gzip.compress((LINES[0] + "\n").encode()))
    findings = tmp_path / "findings.tsv"
    check = validate_logs(source=LocalFolder(logs), findings=findings, workers=2)
    assert (check.objects, check.lines) == (2, 9)
    assert findings_of(findings) == EXPECTED
    assert dict(check.counts) == {
        "partial_200": 1,
        "time_outside_delivery_window": 2,
        "rejected/invalid_time": 1,
        "rejected/too_few_fields": 1,
        "old_heuristic": 2,
    }
    result = cli("validate", "logs", str(logs), "--findings", str(findings))
    assert result.returncode == 1
    assert "partial_200" in result.stdout and f"{OBJECT}:2 bytes_sent 1024 < object_size 2048" in result.stdout
    for output in (result.stdout, result.stderr, findings.read_text()):
        assert "192.0.2" not in output, "no raw IP in any output"


def test_clean_logs_exit_zero_and_sample(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for second in range(4):
        (logs / f"2019-02-06-12-00-0{second}-0123456789ABCDE{second}").write_text(LINES[0] + "\n")
    findings = tmp_path / "findings.tsv"
    result = cli("validate", "logs", str(logs), "--findings", str(findings), "--sample", "2")
    assert result.returncode == 0, result.stderr
    assert "clean in 2 lines of 2 log objects" in result.stderr
    assert not findings.exists(), "no findings file when there is nothing to report"


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    for number in range(3):
        (logs / f"2019-02-06-12-00-0{number}-0123456789ABCDE{number}").write_text(
            "\n".join(LINES[number : number + 2]) + "\n"
        )
    age(logs)
    root = tmp_path / "cache"
    run(logs, cache=root, extraction=ExtractOptions(batch_bytes=1))
    return root


def test_a_clean_cache_is_clean(cache: Path) -> None:
    check = validate_cache(cache=cache)
    assert check.clean, check.problems
    assert (check.shards, check.ips) == (3, 4)
    result = cli("validate", "cache", "--cache", str(cache))
    assert result.returncode == 0 and "clean" in result.stderr


def test_validate_cache_finds_a_deleted_shard_and_an_orphan(cache: Path) -> None:
    shards = sorted((cache / "shards").iterdir())
    shards[0].unlink()
    orphan = cache / "shards" / "20990101T000000-000000000-1-000000.parquet"
    shutil.copy(shards[1], orphan)
    for quick in ("--quick", None):
        result = cli("validate", "cache", "--cache", str(cache), *([quick] if quick else []))
        assert result.returncode == 1
        problems = result.stdout.splitlines()
        assert problems == [
            f"batch {shards[0].stem}: its shard shards/{shards[0].name} is missing "
            "(run `reset extraction` and extract again)",
            f"orphan file shards/{orphan.name}: no committed batch names it (the next extract removes it)",
        ]
        assert result.stderr.strip().splitlines()[-1] == "error: 2 problems in the cache (listed above)"


def test_validate_cache_finds_counts_modes_and_raw_ips(cache: Path) -> None:
    shard = sorted((cache / "shards").iterdir())[1]
    with sqlite3.connect(cache / "state.sqlite") as db:
        db.execute("UPDATE batches SET lines_kept = lines_kept + 1 WHERE batch_id = ?", (shard.stem,))
    (cache / "summaries" / "archive" / "by_day.tsv").chmod(0o644)
    (cache / "summaries" / "leak.txt").write_text("seen 192.0.2.2 and 192.0.2.20 (not indexed)\n")
    (cache / "summaries" / "leak.txt").chmod(0o600)
    pq.write_table(pa.table({"note": ["from 192.0.2.1"]}), cache / "aggregates" / "leak.parquet")
    (cache / "aggregates" / "leak.parquet").chmod(0o600)
    check = validate_cache(cache=cache)
    assert sorted(check.problems) == sorted(
        [
            f"batch {shard.stem}: shard has 2 rows, the DB says 3",
            "file summaries/archive/by_day.tsv has mode 0644 (expected 0600 or stricter)",
            "summaries/leak.txt holds 1 raw IPs in clear text",
            "aggregates/leak.parquet holds 1 raw IPs in clear text",
        ]
    )
    quick = validate_cache(cache=cache, quick=True)  # footers and modes, no row read, no IP decoded
    assert quick.problems == [
        f"batch {shard.stem}: shard has 2 rows, the DB says 3",
        "file summaries/archive/by_day.tsv has mode 0644 (expected 0600 or stricter)",
    ]


def test_line_counts_against_the_log_objects_in_full_and_for_a_night(cache: Path) -> None:
    with sqlite3.connect(cache / "state.sqlite") as db:
        batch, committed_at = db.execute("SELECT batch_id, committed_at FROM batches ORDER BY batch_id").fetchone()
        assert db.execute("SELECT count(*) FROM log_objects").fetchone()[0] == 0, "a finished run keeps records only"
        for group, record in db.execute("SELECT grp, record FROM object_groups").fetchall():
            objects = [
                replace(item, lines=item.lines + 2) if item.batch_id == batch else item
                for item in decode(group, record)
            ]
            db.execute("UPDATE object_groups SET record = ? WHERE grp = ?", (encode(group, objects), group))
        read = db.execute("SELECT lines_read FROM batches WHERE batch_id = ?", (batch,)).fetchone()[0]
        object_count = sum(
            len(decode(group, record)) for group, record in db.execute("SELECT grp, record FROM object_groups")
        )
    assert object_count == status(cache=cache)["log_objects"] > 0
    expected = [f"batch {batch}: {read} lines read, but its log objects hold {read + 2}"]  # one object a batch
    assert validate_cache(cache=cache).problems == expected
    assert validate_cache(cache=cache, quick=True).problems == expected
    with reader(CachePaths.of(cache)) as db:
        assert quick_checks(CachePaths.of(cache), db, since=committed_at).problems == expected
        assert quick_checks(CachePaths.of(cache), db, since="2999").problems == [], "a night checks its own batches"


def test_run_ends_with_the_quick_check(cache: Path, tmp_path: Path) -> None:
    sorted((cache / "shards").iterdir())[0].unlink()
    result = cli("run", str(tmp_path / "logs"), "--cache", str(cache))
    assert result.returncode == 1
    assert "is missing" in result.stderr and "quick cache check" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: the cache check found 1 problems")
