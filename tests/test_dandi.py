"""DANDI mode: blob and Zarr keys, dandiset attribution from a fake DANDI API on loopback (real
HTTP, real pagination) or a mapping file, asset types per week, and excluded requester IPs.

Every expected number below is worked out by hand from the log lines written here."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s3logextraction.datasets.dandi import asset_types
from s3logextraction.summarize.aggregate import weekly_sums

from .conftest import age, cli
from .fakes import Dandiset, fake_dandi
from .test_parser import GOOD

A = "a1b2c3d4-0000-4000-8000-00000000000a"
B = "b1b2c3d4-0000-4000-8000-00000000000b"
C = "c1b2c3d4-0000-4000-8000-00000000000c"
S = "d1b2c3d4-0000-4000-8000-00000000000d"  # in two dandisets
N = "e1b2c3d4-0000-4000-8000-00000000000e"  # in none
Z = "f1b2c3d4-0000-4000-8000-00000000000f"  # a Zarr store


def blob(content: str) -> str:
    return f"blobs/{content[:3]}/{content[3:6]}/{content}"


# (key, day of May 2024, status, bytes, requester number): 2024-05-06 and 2024-05-13 are Mondays.
REQUESTS = [
    *[(blob(A), 6, 200, 100, n) for n in (1, 2, 3)],
    *[(blob(A), 8, 200, 100, n) for n in (4, 5)],
    (blob(B), 13, 206, 50, 6),
    (f"zarr/{Z}/0/0/0", 12, 200, 10, 1),
    (f"zarr/{Z}/0/0/1", 12, 200, 10, 2),
    (f"zarr/{Z}/.zattrs", 12, 200, 10, 3),
    (f"zarr/{Z}", 12, 200, 10, 4),
    (blob(C), 7, 200, 70, 7),
    (blob(S), 9, 200, 30, 8),
    (blob(S), 9, 200, 30, 9),
    (blob(N), 10, 200, 9, 10),
    ("dandisets/000001/draft/dandiset.yaml", 6, 200, 500, 11),
    ("dandisets/000001/draft/dandiset.yaml", 6, 200, 500, 12),
]
# Requesters 198.51.100.200 and .201 (excluded by a range) and 198.51.100.249 (by a pattern).
EXCLUDED = [(blob(A), 6, 200, 1000, 199), (blob(A), 6, 200, 1000, 200), (blob(C), 7, 200, 1000, 248)]


def asset(content: str, path: str, *, zarr: bool = False) -> dict[str, object]:
    when = "2024-01-01T00:00:00Z"
    return {"asset_id": f"asset-{content[:8]}-{path}", "path": path, "size": 1, "created": when, "modified": when,
            "blob": None if zarr else content, "zarr": content if zarr else None}  # fmt: skip


def archive() -> dict[str, Dandiset]:
    """000001 (draft and one published version; A renamed in the draft), 000002 (draft only),
    S in both, 000003 empty."""
    return {
        "000001": Dandiset("000001", "2024-03-01T00:00:00Z", {
            "0.240101.0000": ("2024-01-01T00:00:00Z", [asset(A, "sub-1/old_a.nwb"), asset(B, "sub-1/b_video.mp4")]),
            "draft": ("2024-03-01T00:00:00Z", [asset(A, "sub-1/a.nwb"), asset(B, "sub-1/b_video.mp4"),
                                                asset(Z, "sub-1/x.ome.zarr", zarr=True), asset(S, "s.nwb")]),
        }),
        "000002": Dandiset("000002", "2024-02-01T00:00:00Z", {
            "draft": ("2024-02-01T00:00:00Z", [asset(C, "c.nii.gz"), asset(S, "s.nwb")]),
        }),
        "000003": Dandiset("000003", "2024-02-01T00:00:00Z", {"draft": ("2024-02-01T00:00:00Z", [])}),
    }  # fmt: skip


MAPPING = {
    A: {"000001": "sub-1/a.nwb"},
    B: {"000001": "sub-1/b_video.mp4"},
    Z: {"000001": "sub-1/x.ome.zarr"},
    S: {"000001": "s.nwb", "000002": "s.nwb"},
    C: {"000002": "c.nii.gz"},
}
EXACT = ("--privacy-threshold", "1", "--privacy-rounding", "1")  # every count exact (0 is "<1"), to check by hand


def write_logs(folder: Path, requests: list[tuple[str, int, int, int, int]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        GOOD.replace("[06/Feb/2019:00:00:38 +0000]", f"[{day:02d}/May/2024:12:00:00 +0000]")
        .replace("data/file.bin", key)
        .replace("192.0.2.10", f"198.51.{100 + who // 250}.{who % 250 + 1}")
        .replace("200 - 1024 2048", f"{status} - {sent} 2048")
        for key, day, status, sent, who in requests
    ]
    (folder / "2024-05-14-00-00-00-0123456789ABCDEF").write_text("\n".join(lines) + "\n")
    return age(folder)


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.fixture
def dandi_cache(tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    logs = write_logs(tmp_path / "logs", REQUESTS)
    result = cli("extract", str(logs), "--cache", str(cache), "--mode", "dandi")
    assert result.returncode == 0, result.stderr
    return cache


def published(cache: Path) -> dict[str, str]:
    root = cache / "summaries"
    return {path.relative_to(root).as_posix(): read(path) for path in sorted(root.rglob("*")) if path.is_file()}


def check_every_number(summaries: Path) -> None:
    head = "bytes_sent\tnumber_of_requests\tnumber_of_downloads"
    assert read(summaries / "000001" / "by_day.tsv") == (
        f"date\t{head}\n2024-05-06\t300\t3\t3\n2024-05-08\t200\t2\t2\n2024-05-12\t40\t4\t4\n2024-05-13\t50\t1\t<1\n"
    )
    assert read(summaries / "000001" / "by_asset.tsv") == (
        f"asset_path\t{head}\nsub-1/a.nwb\t500\t5\t5\nsub-1/b_video.mp4\t50\t1\t<1\nsub-1/x.ome.zarr\t40\t4\t4\n"
    )
    assert read(summaries / "000001" / "by_asset_type_per_week.tsv") == (
        "week_start\tNeurophysiology\tMicroscopy\tVideo\tMiscellaneous\n2024-05-06\t500\t40\t0\t0\n2024-05-13\t0\t0\t50\t0\n"
    )
    assert read(summaries / "000001" / "by_asset_per_week.tsv") == (
        f"week_start\tasset_path\t{head}\n2024-05-06\tsub-1/a.nwb\t500\t5\t5\n2024-05-06\tsub-1/x.ome.zarr\t40\t4\t4\n"
        "2024-05-13\tsub-1/b_video.mp4\t50\t1\t<1\n"
    )
    assert read(summaries / "000001" / "requester_count.tsv") == "6\n"
    assert read(summaries / "000001" / "by_region.tsv") == f"region\t{head}\nunknown\t590\t10\t9\n"
    assert read(summaries / "000002" / "by_asset.tsv") == f"asset_path\t{head}\nc.nii.gz\t70\t1\t1\n"
    assert read(summaries / "000002" / "by_asset_type_per_week.tsv").splitlines()[1] == "2024-05-06\t0\t70\t0\t0"
    assert read(summaries / "undetermined" / "by_asset.tsv") == f"asset_path\t{head}\n{blob(S)}\t60\t2\t2\n"
    assert read(summaries / "undetermined" / "requester_count.tsv") == "2\n"
    assert read(summaries / "unassociated" / "by_asset.tsv") == f"asset_path\t{head}\n{blob(N)}\t9\t1\t1\n"
    totals = json.loads(read(summaries / "totals.json"))
    assert set(totals) == {"000001", "000002", "undetermined", "unassociated"}
    assert totals["000001"] == {
        "total_bytes_sent": 590, "number_of_unique_regions": 0, "number_of_unique_countries": 0,
        "total_number_of_requests": 10, "total_number_of_downloads": 9, "number_of_requesters": 6,
    }  # fmt: skip
    assert totals["unassociated"]["total_bytes_sent"] == 9 and totals["undetermined"]["number_of_requesters"] == 2


def test_extract_keeps_blobs_and_zarr_stores_only(dandi_cache: Path) -> None:
    figures = json.loads(cli("status", "--cache", str(dandi_cache), "--json").stdout)
    assert figures["mode"] == "dandi"
    assert figures["lines_read"] == len(REQUESTS) and figures["skipped_by_reason"] == {"not_an_asset": 2}
    db = sqlite3.connect(dandi_cache / "state.sqlite")
    (batch,) = db.execute("SELECT batch_id FROM batches").fetchone()
    db.close()
    keys = pq.read_table(dandi_cache / "shards" / f"{batch}.parquet", columns=["key"])["key"].to_pylist()
    assert keys.count(f"zarr/{Z}") == 4 and {key for key in keys if key.startswith("zarr/")} == {f"zarr/{Z}"}
    refused = cli("extract", str(dandi_cache.parent / "logs"), "--cache", str(dandi_cache))
    assert refused.returncode == 78 and "reset extraction" in refused.stderr and refused.stderr.count("\n") == 1


def test_every_number_from_the_api(dandi_cache: Path) -> None:
    with fake_dandi(archive()) as api:
        for command in ("summaries", "totals"):
            result = cli("update", command, "--cache", str(dandi_cache), "--mode", "dandi", "--api-url",
                         f"{api.url}/api", *EXACT)  # fmt: skip
            assert result.returncode == 0, result.stderr
    check_every_number(dandi_cache / "summaries")
    assert any(query.get("page") == "2" for _, _, query in api.seen), "pagination was followed"


def test_totals_and_the_archive_reuse_the_attribution_of_the_summaries(dandi_cache: Path) -> None:
    """The sequence of dandi/s3-log-extraction's README: summaries from a source, then totals and
    the archive outputs with no source given: they use what the summaries used, with no network
    call (the fake API is gone by then), and `status` says where the attribution came from."""
    with fake_dandi(archive()) as api:
        url = f"{api.url}/api"
        done = cli("update", "summaries", "--cache", str(dandi_cache), "--mode", "dandi", "--api-url", url, *EXACT)
        assert done.returncode == 0, done.stderr
    for mode in ("dandi", "archive"):
        totals = cli("update", "totals", "--cache", str(dandi_cache), "--mode", mode, *EXACT)
        assert totals.returncode == 0, totals.stderr
    archived = cli("update", "summaries", "--cache", str(dandi_cache), "--mode", "archive", *EXACT)
    assert archived.returncode == 0, archived.stderr
    check_every_number(dandi_cache / "summaries")
    summaries = dandi_cache / "summaries"
    # archive-wide bytes per week and asset type: 000001 (a 500, the Zarr store 40; the video 50 a week
    # later), 000002 (c 70), undetermined (s 60) and unassociated (n 9), by hand ...
    assert read(summaries / "archive" / "by_asset_type_per_week.tsv") == (
        "week_start\tNeurophysiology\tMicroscopy\tVideo\tMiscellaneous\n2024-05-06\t500\t110\t0\t69\n"
        "2024-05-13\t0\t0\t50\t0\n"
    )
    # ... and as the sum of every dataset folder's file
    summed: dict[str, list[int]] = {}
    for path in summaries.glob("*/by_asset_type_per_week.tsv"):
        if path.parent.name != "archive":
            for row in read(path).splitlines()[1:]:
                week, *sizes = row.split("\t")
                summed[week] = [a + int(b) for a, b in zip(summed.get(week, [0, 0, 0, 0]), sizes, strict=True)]
    archive_rows = read(summaries / "archive" / "by_asset_type_per_week.tsv").splitlines()[1:]
    assert {row.split("\t")[0]: [int(n) for n in row.split("\t")[1:]] for row in archive_rows} == summed
    figures = json.loads(cli("status", "--cache", str(dandi_cache), "--json").stdout)
    assert figures["dandi_attribution"]["api_url"] == url and figures["dandi_attribution"]["refreshed_at"]
    shown = cli("status", "--cache", str(dandi_cache)).stdout
    assert f"dandi attribution: {url} (refreshed " in shown


def test_the_mapping_file_gives_the_same_files(dandi_cache: Path, tmp_path: Path) -> None:
    with fake_dandi(archive()) as api:
        url = f"{api.url}/api"
        assert cli("update", "summaries", "--cache", str(dandi_cache), "--mode", "dandi", "--api-url", url,
                   *EXACT).returncode == 0  # fmt: skip
    from_api = published(dandi_cache)
    mapping = tmp_path / "mapping.json.gz"
    mapping.write_bytes(gzip.compress(json.dumps(MAPPING).encode()))
    other = tmp_path / "other"
    assert cli("extract", str(dandi_cache.parent / "logs"), "--cache", str(other), "--mode", "dandi").returncode == 0
    result = cli("update", "summaries", "--cache", str(other), "--mode", "dandi", "--mapping", str(mapping), *EXACT)
    assert result.returncode == 0, result.stderr
    assert published(other) == from_api


def test_only_changed_dandisets_are_fetched_again(dandi_cache: Path) -> None:
    dandisets = archive()
    with fake_dandi(dandisets) as api:
        url = f"{api.url}/api"
        assert (
            cli("update", "summaries", "--cache", str(dandi_cache), "--mode", "dandi", "--api-url", url).returncode == 0
        )
        first = {path for _, path, _ in api.seen}
        assert {"/api/dandisets/000001/versions/", "/api/dandisets/000002/versions/"} <= first
        api.seen.clear()
        dandisets["000002"].modified = "2024-06-01T00:00:00Z"
        dandisets["000002"].versions["draft"] = ("2024-06-01T00:00:00Z", [asset(C, "renamed.nii.gz")])
        result = cli("update", "summaries", "--cache", str(dandi_cache), "--mode", "dandi", "--api-url", url, *EXACT)
        assert result.returncode == 0, result.stderr
    again = [path for _, path, _ in api.seen]
    assert not [path for path in again if "000001" in path or "000003" in path]
    assert "/api/dandisets/000002/versions/draft/assets/" in again
    assert read(dandi_cache / "summaries" / "000002" / "by_asset.tsv").splitlines()[1] == "renamed.nii.gz\t70\t1\t1"
    assert read(dandi_cache / "summaries" / "000001" / "by_asset.tsv").splitlines()[1] == "s.nwb\t60\t2\t2", (
        "S is in 000001 only now"
    )


def test_a_new_mapping_and_a_new_night_are_attributed_afresh(dandi_cache: Path, tmp_path: Path) -> None:
    """Resolved keys are remembered between runs: a changed mapping must re-attribute the old
    keys and a new night's keys must be resolved, exactly as a fresh cache would (the mapping is
    rewritten in place: a changed file at the same path is loaded again)."""
    first = second = tmp_path / "mapping.json"
    first.write_text(json.dumps(MAPPING))
    assert cli("update", "summaries", "--cache", str(dandi_cache), "--mode", "dandi", "--mapping", str(first),
               *EXACT).returncode == 0  # fmt: skip
    night = write_logs(tmp_path / "night", [(blob(N), 20, 200, 11, 1)])
    logs = dandi_cache.parent / "logs"
    os.rename(night / "2024-05-14-00-00-00-0123456789ABCDEF", logs / "2024-05-21-00-00-00-0123456789ABCDEF")
    age(logs)
    second.write_text(json.dumps({**MAPPING, C: {"000001": "moved/c.nii.gz"}, N: {"000002": "n.nwb"}}))
    assert cli("extract", str(logs), "--cache", str(dandi_cache), "--mode", "dandi").returncode == 0
    result = cli("update", "summaries", "--cache", str(dandi_cache), "--mode", "dandi", "--mapping", str(second),
                 *EXACT)  # fmt: skip
    assert result.returncode == 0, result.stderr
    head = "bytes_sent\tnumber_of_requests\tnumber_of_downloads"
    assert "moved/c.nii.gz\t70\t1\t1\n" in read(dandi_cache / "summaries" / "000001" / "by_asset.tsv")
    assert read(dandi_cache / "summaries" / "000002" / "by_asset.tsv") == f"asset_path\t{head}\nn.nwb\t20\t2\t2\n"
    assert not (dandi_cache / "summaries" / "unassociated").exists()
    fresh = tmp_path / "fresh"
    assert cli("extract", str(logs), "--cache", str(fresh), "--mode", "dandi").returncode == 0
    assert cli("update", "summaries", "--cache", str(fresh), "--mode", "dandi", "--mapping", str(second),
               *EXACT).returncode == 0  # fmt: skip
    assert published(fresh) == published(dandi_cache)


def test_a_failing_api_changes_nothing(dandi_cache: Path) -> None:
    with fake_dandi(archive()) as api:
        url = f"{api.url}/api"
        assert (
            cli("update", "summaries", "--cache", str(dandi_cache), "--mode", "dandi", "--api-url", url).returncode == 0
        )
        before = published(dandi_cache)
        api.answers["000001"].modified = "2024-07-01T00:00:00Z"
        api.fail = [None] * 2 + [503] * 5  # the listing passes, then the changed dandiset's versions keep failing
        result = cli("update", "summaries", "--cache", str(dandi_cache), "--mode", "dandi", "--api-url", url)
    assert result.returncode == 69, result.stderr
    assert result.stderr.count("\n") == 1 and url in result.stderr and "Traceback" not in result.stderr
    assert published(dandi_cache) == before


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"[1, 2]", "must be an object"),
        (json.dumps({A: {"000001": "a.nwb"}, B: ["000001"]}).encode(), B),
        (b"{not json", "not JSON"),
        (json.dumps({A: {"000001": "a.nwb"}}).encode()[:-1], "not JSON"),
        (json.dumps({A: {"000001": "a.nwb"}}).encode() + b" {}", "extra data"),
    ],
)
def test_a_malformed_mapping_is_one_line(dandi_cache: Path, tmp_path: Path, content: bytes, named: str) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_bytes(content)
    result = cli("update", "summaries", "--cache", str(dandi_cache), "--mode", "dandi", "--mapping", str(mapping))
    assert result.returncode == 66 and result.stderr.count("\n") == 1, result.stderr
    assert named in result.stderr and str(mapping) in result.stderr


def test_an_api_answer_without_its_fields_is_one_line(dandi_cache: Path) -> None:
    broken = archive()
    broken["000001"].versions["draft"] = ("2024-03-01T00:00:00Z", [{"asset_id": "x", "blob": A}])
    with fake_dandi(broken) as api:
        result = cli("update", "summaries", "--cache", str(dandi_cache), "--mode", "dandi", "--api-url",
                     f"{api.url}/api")  # fmt: skip
    assert result.returncode == 66 and "lacks `path`" in result.stderr and result.stderr.count("\n") == 1


def test_run_chains_every_stage_from_the_config_file(tmp_path: Path, isolated_home: Path) -> None:
    logs = write_logs(tmp_path / "logs", REQUESTS)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(MAPPING))
    config = isolated_home / "config" / "s3logextraction" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(f"mode: dandi\ndandi_mapping: {mapping}\nprivacy_threshold: 1\nprivacy_rounding: 1\n")
    result = cli("run", str(logs), "--cache", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr
    summaries = tmp_path / "cache" / "summaries"
    assert read(summaries / "000001" / "by_asset.tsv").splitlines()[1] == "sub-1/a.nwb\t500\t5\t5"
    archive_totals = json.loads(read(summaries / "archive_totals.json"))
    assert archive_totals["total_bytes_sent"] == 590 + 70 + 60 + 9
    assert archive_totals["number_of_requesters"] == 10


# Excluded requester IPs -------------------------------------------------------------------------


def test_excluded_ips_by_range_and_pattern_are_never_counted(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {**os.environ, "S3_LOG_EXTRACTION_PASSWORD": "secret"}
    added = cli("config", "exclude-ips", "add", "198.51.100.200/31", r"re:^198\.51\.100\.249$", "--cache", str(cache),
                env=env)  # fmt: skip
    assert added.returncode == 0, added.stderr
    logs = write_logs(tmp_path / "logs", REQUESTS + EXCLUDED)
    assert cli("extract", str(logs), "--cache", str(cache), "--mode", "dandi", env=env).returncode == 0
    figures = json.loads(cli("status", "--cache", str(cache), "--json", env=env).stdout)
    assert figures["skipped_by_reason"] == {"not_an_asset": 2, "excluded_ip": 3}
    assert figures["lines_kept"] == len(REQUESTS) - 2 and figures["bytes_sent"] == 590 + 70 + 60 + 9
    assert b"198.51.100.2" not in b"".join(path.read_bytes() for path in cache.rglob("*") if path.is_file())
    with sqlite3.connect(cache / "state.sqlite") as db:  # an excluded requester gets no id, even sealed
        indexed = {ip_id for (ip_id,) in db.execute("SELECT ip_id FROM ips")}
    assert indexed == {
        ip_id for shard in (cache / "shards").iterdir() for ip_id in pq.read_table(shard)["ip_id"].to_pylist()
    }
    listed = cli("config", "exclude-ips", "list", "--cache", str(cache), env=env)
    assert listed.stdout.splitlines() == ["198.51.100.200/31", r"re:^198\.51\.100\.249$"]
    without_key = cli("config", "exclude-ips", "list", "--cache", str(cache))
    assert without_key.returncode == 77 and "198.51" not in without_key.stdout + without_key.stderr


def test_an_empty_exclusion_list_excludes_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert cli("config", "exclude-ips", "add", "203.0.113.0/24", "--cache", str(cache)).returncode == 0
    assert cli("config", "exclude-ips", "remove", "203.0.113.0/24", "--cache", str(cache)).returncode == 0
    assert cli("config", "exclude-ips", "list", "--cache", str(cache)).stdout == ""
    logs = write_logs(tmp_path / "logs", REQUESTS + EXCLUDED)
    assert cli("extract", str(logs), "--cache", str(cache), "--mode", "dandi").returncode == 0
    figures = json.loads(cli("status", "--cache", str(cache), "--json").stdout)
    assert figures["lines_kept"] == len(REQUESTS) + len(EXCLUDED) - 2
    assert "excluded_ip" not in figures["skipped_by_reason"]
    refused = cli("config", "exclude-ips", "add", "re:", "--cache", str(cache))
    assert refused.returncode == 2 and "every IP" in refused.stderr


def test_asset_types_follow_dandis_file_names() -> None:
    paths = ["sub-1/a.NWB", "zarr/0a1b", "s/x.ome.zarr", "b.nii.gz", "c.OME.TIFF", "d.bvals", "t.trk", "v.mov",
             "w.mkv", "notes.txt", "nwb.json", "video.mp4.json", "x.nwb.mp4"]  # fmt: skip
    assert asset_types(pa.array(paths)).to_pylist() == [
        "Neurophysiology", "Microscopy", "Microscopy", "Microscopy", "Microscopy", "Microscopy", "Microscopy", "Video",
        "Video", "Miscellaneous", "Miscellaneous", "Miscellaneous", "Video",
    ]  # fmt: skip


@pytest.mark.parametrize("packed", [True, False], ids=["packed", "too-wide-to-pack"])
def test_weekly_sums_by_dataset_monday_week_and_asset(packed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not packed:
        monkeypatch.setattr(sys.modules[weekly_sums.__module__], "PACKED_LIMIT", 1)

    def encoded(values: list[int], dictionary: list[str]) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(values, pa.int32()), pa.array(dictionary), ordered=True)

    days = pa.table(
        {
            "dataset": encoded([0, 0, 1, 0, 0], ["a", "b"]),
            "asset_path": encoded([0, 0, 1, 1, 0], ["x", "y"]),
            "date": pa.array(["2024-01-01", "2024-01-07", "2024-01-08", "2024-01-08", "2024-01-08"]).cast(pa.date32()),
            "bytes_sent": [10, 5, 7, 1, 3],
            "number_of_requests": [1, 2, 1, 1, 1],
            "number_of_downloads": [1, 0, 1, 0, 1],
        }
    )
    weeks = weekly_sums(days)
    rows = list(zip(*(weeks[name].to_pylist() for name in weeks.column_names), strict=True))
    rows = rows if packed else sorted(rows)  # the packed sums come sorted; the hash group-by's in any order
    monday, next_monday = pa.array(["2024-01-01", "2024-01-08"]).cast(pa.date32()).to_pylist()
    assert rows == [  # 2024-01-07 is the Sunday of the week of Monday 2024-01-01
        ("a", monday, "x", 15, 3, 1),
        ("a", next_monday, "x", 3, 1, 1),
        ("a", next_monday, "y", 1, 1, 0),
        ("b", next_monday, "y", 7, 1, 1),
    ]
    assert weekly_sums(days.slice(0, 0)).num_rows == 0
