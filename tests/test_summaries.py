"""Summaries, totals and archive figures against hand-computed values (threshold 50, rounding 20)."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from s3logextraction import ExtractOptions, PublishOptions, extract
from s3logextraction.datasets import dataset_folder
from s3logextraction.datasets.generic import split_key
from s3logextraction.errors import ConfigError
from s3logextraction.ips.admin import show_ip
from s3logextraction.pipeline import run
from s3logextraction.summarize import update_summaries, update_totals
from s3logextraction.summarize.privacy import Privacy
from s3logextraction.summarize.publish import region_figures, sorting_order

from .conftest import age, cli
from .test_parser import GOOD

HEADER = "date\tbytes_sent\tnumber_of_requests\tnumber_of_downloads"


def line(*, day: int, key: str, status: int, sent: int, ip: str, operation: str = "REST.GET.OBJECT") -> str:
    return (
        GOOD.replace("[06/Feb/2019:00:00:38 +0000]", f"[{day:02d}/Feb/2019:12:00:00 +0000]")
        .replace("192.0.2.10", ip)
        .replace("REST.GET.OBJECT", operation)
        .replace("data/file.bin", key)
        .replace("200 - 1024 2048", f"{status} - {sent} 2048")
    )


def crafted_lines() -> list[str]:
    """ds1: 309 counted requests from 66 IPs over five days (49, 50, 69, 70, 71 requests);
    ds2: 10 requests from 3 IPs, one also in ds1; one top-level key; plus lines never counted."""
    days = [  # (day, asset key, [(status, bytes, how many)])
        (1, "ds1/sub-1/a.nwb", [(200, 100, 49)]),
        (2, "ds1/sub-1/a.nwb", [(200, 100, 30), (206, 7, 20)]),
        (3, "ds1/sub-1/a.nwb", [(200, 100, 69)]),
        (4, "ds1/sub-2/b%2Bc.nwb", [(206, 7, 70)]),
        (5, "ds1/sub-2/b%2Bc.nwb", [(200, 100, 71)]),
    ]
    lines = []
    counter = 0
    for day, key, groups in days:
        for status, sent, count in groups:
            for _ in range(count):
                lines.append(line(day=day, key=key, status=status, sent=sent, ip=f"198.51.100.{counter % 66 + 1}"))
                counter += 1
    ds2_ips = ["198.51.100.1", "192.0.2.1", "192.0.2.2"]
    lines += [line(day=1, key="ds2/x.bin", status=200, sent=5, ip=ds2_ips[n % 3]) for n in range(10)]
    lines.append(line(day=3, key="index.html", status=200, sent=1000, ip="192.0.2.3"))
    noise_ip = "203.0.113.250"
    lines += [line(day=1, key="ds1/sub-1/a.nwb", status=404, sent=300, ip=noise_ip) for _ in range(3)]
    lines += [line(day=1, key="ds1/sub-1/a.nwb", status=200, sent=0, ip=noise_ip, operation="REST.HEAD.OBJECT")] * 2
    lines.append(line(day=1, key="ds1/sub-1/a.nwb", status=304, sent=0, ip=noise_ip))
    lines.append(line(day=1, key="ds1/sub-1/a.nwb", status=200, sent=0, ip=noise_ip, operation="REST.PUT.OBJECT"))
    return lines


@pytest.fixture
def crafted(tmp_path: Path) -> Path:
    """A cache after `run` over the crafted logs, split over three log objects."""
    lines = crafted_lines()
    logs = tmp_path / "logs"
    logs.mkdir()
    for number in range(3):
        (logs / f"2019-02-06-00-00-0{number}-ABC{number}").write_text("\n".join(lines[number::3]) + "\n")
    age(logs)
    cache = tmp_path / "cache"
    run(logs, cache=cache, extraction=ExtractOptions(workers=2, batch_bytes=1))
    return cache / "summaries"


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_privacy_rounding_at_the_boundaries() -> None:
    rules = Privacy()
    assert [rules.protect(n) for n in (0, 49, 50, 69, 70, 71, 89, 90)] == ["<50", "<50", 60, 60, 80, 80, 80, 100]
    assert Privacy(threshold=1, rounding=1).protect(7) == 7
    # rounding never publishes a value below the threshold: 45 -> 40 would; the next multiple is 60
    assert [Privacy(threshold=45, rounding=20).protect(n) for n in (44, 45, 49, 50, 51)] == ["<45", 60, 60, 60, 60]
    for bad in (0, -1):
        with pytest.raises(ConfigError, match="privacy_threshold"):
            Privacy(threshold=bad)
        with pytest.raises(ConfigError, match="privacy_rounding"):
            Privacy(rounding=bad)


def test_region_figures_count_places_and_countries() -> None:
    labels = ["US/California", "US", "AWS/eu-west-1", "GitHub", "unknown", "bogon", "VPN", "GCP/us-central1", "DE"]
    assert region_figures(labels) == (5, 3)


def test_every_number_of_every_dataset_file(crafted: Path) -> None:
    assert sorted(path.name for path in crafted.iterdir()) == [
        "archive", "archive_totals.json", "ds1", "ds2", "totals.json", "undetermined"
    ]  # fmt: skip
    assert read(crafted / "ds1" / "by_day.tsv") == (
        f"{HEADER}\n2019-02-01\t4900\t<50\t<50\n2019-02-02\t3140\t60\t<50\n2019-02-03\t6900\t60\t60\n"
        "2019-02-04\t490\t80\t<50\n2019-02-05\t7100\t80\t80\n"
    )
    assert read(crafted / "ds1" / "by_asset.tsv") == (
        "asset_path\tbytes_sent\tnumber_of_requests\tnumber_of_downloads\n"
        "sub-1/a.nwb\t14940\t160\t140\nsub-2/b+c.nwb\t7590\t140\t80\n"
    )
    assert read(crafted / "ds1" / "by_region.tsv") == (
        "region\tbytes_sent\tnumber_of_requests\tnumber_of_downloads\nbogon\t22530\t300\t220\n"
    )
    assert read(crafted / "ds1" / "requester_count.tsv") == "60\n"
    assert read(crafted / "ds2" / "by_day.tsv") == f"{HEADER}\n2019-02-01\t50\t<50\t<50\n"
    assert read(crafted / "ds2" / "by_asset.tsv").splitlines()[1] == "x.bin\t50\t<50\t<50"
    assert read(crafted / "ds2" / "requester_count.tsv") == "<50\n"
    assert read(crafted / "undetermined" / "by_asset.tsv").splitlines()[1] == "index.html\t1000\t<50\t<50"
    assert json.loads(read(crafted / "totals.json")) == {
        "ds1": {"total_bytes_sent": 22530, "number_of_unique_regions": 0, "number_of_unique_countries": 0,
                "total_number_of_requests": 300, "total_number_of_downloads": 220, "number_of_requesters": 60},
        "ds2": {"total_bytes_sent": 50, "number_of_unique_regions": 0, "number_of_unique_countries": 0,
                "total_number_of_requests": "<50", "total_number_of_downloads": "<50", "number_of_requesters": "<50"},
        "undetermined": {"total_bytes_sent": 1000, "number_of_unique_regions": 0, "number_of_unique_countries": 0,
                         "total_number_of_requests": "<50", "total_number_of_downloads": "<50",
                         "number_of_requesters": "<50"},
    }  # fmt: skip


def test_archive_comes_from_rows_not_from_rounded_datasets(crafted: Path) -> None:
    # 2019-02-01: ds1 49 + ds2 10 = 59 requests -> 60, though both datasets show <50.
    assert read(crafted / "archive" / "by_day.tsv") == (
        f"{HEADER}\n2019-02-01\t4950\t60\t60\n2019-02-02\t3140\t60\t<50\n2019-02-03\t7900\t80\t80\n"
        "2019-02-04\t490\t80\t<50\n2019-02-05\t7100\t80\t80\n"
    )
    assert read(crafted / "archive" / "by_region.tsv").splitlines()[1] == "bogon\t23580\t320\t240"
    # 66 + 2 + 1 = 69 distinct requesters -> 60; counting the IP of both datasets twice would give 70 -> 80.
    assert read(crafted / "archive" / "requester_count.tsv") == "60\n"
    assert json.loads(read(crafted / "archive_totals.json")) == {
        "total_bytes_sent": 23580, "number_of_unique_regions": 0, "number_of_unique_countries": 0,
        "total_number_of_requests": 320, "total_number_of_downloads": 240, "number_of_requesters": 60,
    }  # fmt: skip


def test_regions_arrive_without_a_change_of_shape(crafted: Path) -> None:
    cache = crafted.parent
    db = sqlite3.connect(cache / "state.sqlite")
    ids = [row[0] for row in db.execute("SELECT ip_id FROM ips")]
    places = {"192.0.2.1": "US/California", "192.0.2.2": "AWS/eu-west-1", "198.51.100.1": "DE"}
    with db:
        for ip_id in ids:
            region = places.get(show_ip(cache=cache, ip_id=ip_id, password=None), "unknown")
            db.execute("INSERT OR REPLACE INTO ip_regions (ip_id, region) VALUES (?, ?)", (ip_id, region))
    db.close()
    update_summaries(cache=cache, pick=["ds2"])
    update_totals(cache=cache)
    # ds2: 10 requests cycling over 198.51.100.1 (4), 192.0.2.1 (3), 192.0.2.2 (3), 5 bytes each.
    assert read(crafted / "ds2" / "by_region.tsv").splitlines()[1:] == [
        "AWS/eu-west-1\t15\t<50\t<50", "DE\t20\t<50\t<50", "US/California\t15\t<50\t<50"
    ]  # fmt: skip
    totals = json.loads(read(crafted / "totals.json"))["ds2"]
    assert (totals["number_of_unique_regions"], totals["number_of_unique_countries"]) == (3, 3)


def test_pick_and_skip_are_honoured(crafted: Path) -> None:
    for path in crafted.rglob("*.tsv"):
        path.unlink()
    update_summaries(cache=crafted.parent, pick=["ds1", "ds2"], skip=["ds2"])
    assert sorted(path.parent.name for path in crafted.rglob("by_day.tsv")) == ["ds1"]


def test_generated_corpus_totals_equal_the_ground_truth(
    small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    logs, truth = small_corpus
    cache = tmp_path / "cache"
    extract(logs, cache=cache, options=ExtractOptions(workers=2))
    update_totals(cache=cache, options=PublishOptions(privacy=Privacy(threshold=1, rounding=1)))
    expected: dict[str, dict[str, int]] = defaultdict(lambda: {"bytes": 0, "requests": 0})
    for key, figures in truth["per_key"].items():
        if figures["get_2xx"]:
            dataset = key.split("/", 1)[0]
            expected[dataset]["bytes"] += figures["get_2xx_bytes"]
            expected[dataset]["requests"] += figures["get_2xx"]
    totals = json.loads((cache / "summaries" / "totals.json").read_text())
    got = {
        name: {"bytes": t["total_bytes_sent"], "requests": t["total_number_of_requests"]} for name, t in totals.items()
    }
    assert got == dict(expected)


def test_run_twice_through_the_console_script_rewrites_nothing(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[1] / "examples" / "logs"
    cache = tmp_path / "cache"
    first = cli("run", str(examples), "--cache", str(cache), "--settle-seconds", "0")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == f"summaries are in {cache / 'summaries'}"
    files = sorted(path for path in (cache / "summaries").rglob("*") if path.is_file())
    assert len(files) > 10
    before = {path: path.stat().st_mtime_ns for path in files}
    second = cli("run", str(examples), "--cache", str(cache), "--settle-seconds", "0")
    assert second.returncode == 0 and "0 log objects" in second.stderr and "0 files changed" in second.stderr
    assert {path: path.stat().st_mtime_ns for path in files} == before


def test_no_raw_ip_in_summaries(crafted: Path) -> None:
    ips = {f"198.51.100.{n}" for n in range(1, 67)} | {"192.0.2.1", "192.0.2.2", "192.0.2.3", "203.0.113.250"}
    for path in crafted.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert not any(ip in text for ip in ips), path


def test_run_stops_at_the_failing_stage(tmp_path: Path) -> None:
    result = cli("run", str(tmp_path / "missing"), "--cache", str(tmp_path / "cache"))
    assert result.returncode == 66
    assert result.stderr.startswith("error: extract: ") and result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("key", "level", "expected"),
    [
        ("ds1/sub-1/a%2Bb.nwb", 1, ("ds1", "sub-1/a+b.nwb")),
        ("ds1/sub-1/a%2Bb.nwb", 2, ("ds1/sub-1", "a+b.nwb")),
        ("photos/my%2520cat.jpg", 1, ("photos", "my%20cat.jpg")),
        ("index.html", 1, ("undetermined", "index.html")),
        ("ds1/", 1, ("undetermined", "ds1/")),
        ("../../etc/passwd", 1, ("..", "../etc/passwd")),
        ("/abs/x", 1, ("", "abs/x")),
        ("archive/by_day.tsv", 1, ("archive", "by_day.tsv")),
        ("ds/a%0Ab%09c%0D", 1, ("ds", "a\\nb\\tc\\r")),
        ("ds/caf\\xe9%FF", 1, ("ds", "caf\\xe9\\xff")),
        ("ds/a\\\\b%5C", 1, ("ds", "a\\\\b\\\\")),
    ],
)
def test_dataset_and_asset_of_a_key(key: str, level: int, expected: tuple[str, str]) -> None:
    assert split_key(key, level=level) == expected


@pytest.mark.parametrize(
    ("dataset", "folder"),
    [
        ("ds1", "ds1"),
        ("..", "%2E%2E"),
        ("", "%00"),
        ("archive", "%61rchive"),
        ("ATTRIBUTION.txt", "%41TTRIBUTION.txt"),
        ("region_codes_to_coordinates.yaml", "%72egion_codes_to_coordinates.yaml"),
        (".totals.json.tmp", "%2Etotals.json.tmp"),
        ("a/../b", "a/%2E%2E/b"),
    ],
)
def test_dataset_folders_stay_inside_and_apart(dataset: str, folder: str) -> None:
    assert dataset_folder(dataset) == folder


def test_long_dataset_names_are_bounded_and_distinct() -> None:
    names = ["x" * 300 + "a", "x" * 300 + "b", "é" * 200]
    folders = [dataset_folder(name) for name in names]
    assert len(set(folders)) == 3
    assert all(len(folder.encode()) <= 200 for folder in folders)


@pytest.mark.parametrize(("threshold", "rounding"), [(50, 20), (45, 20), (1, 1), (7, 10), (100, 30)])
def test_protect_array_is_protect_on_every_count(threshold: int, rounding: int) -> None:
    rules = Privacy(threshold=threshold, rounding=rounding)
    counts = list(range(0, 400))
    assert rules.protect_array(pa.array(counts, pa.int64())).to_pylist() == [str(rules.protect(n)) for n in counts]


@pytest.mark.parametrize(
    "columns",
    [
        [[3, 1, 2, 1, 3], [0, 5, 1, 4, 2]],  # distinct keys: one packed int64 per row
        [[row * 7 % 3 for row in range(1000)], [0] * 1000],  # equal keys (numpy's quicksort alone would mix them)
        [[2**40, 0, 2**40, 5, 1], [2**40, 1, 0, 2**40, 3]],  # ranges too wide to pack: a multi-key sort
        [[1, None, 0, 1, None], [0, 1, 2, 1, 0]],  # nulls (last): a multi-key sort
    ],
)
def test_sorting_order_is_a_stable_sort_by_the_codes_in_turn(columns: list[list[int | None]]) -> None:
    rows = list(zip(*columns, strict=True))
    expected = sorted(range(len(rows)), key=lambda at: [(value is None, value or 0) for value in rows[at]])
    codes = [pa.array(column, pa.int64()) for column in columns]
    order = sorting_order(codes)
    assert (list(range(len(rows))) if order is None else order.to_pylist()) == expected


def test_rows_already_in_order_are_not_reordered() -> None:
    assert sorting_order([pa.array([1, 2, 2, 5]), pa.array([0, 1, 3, 0])]) is None
    assert sorting_order([pa.array([1, 2, 2, 5]), pa.array([0, 3, 1, 0])]).to_pylist() == [0, 2, 1, 3]
