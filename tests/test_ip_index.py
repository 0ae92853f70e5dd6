"""The anonymous IP index: no raw IP at rest, stable ids, password checks and key rotation."""

from __future__ import annotations

import hashlib
import ipaddress
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from s3logextraction import ExtractOptions, extract, status
from s3logextraction.cache import Cache

from .conftest import age, cli
from .test_parser import GOOD

IPS = ["198.51.100.23", "203.0.113.77", "192.0.2.200", "2001:db8::abcd:1", "2001:db8:85a3::8a2e:370:7334"]


def write_logs(folder: Path) -> Path:
    """One log object per IP; IP number n requests key k-n twice (so key -> IP is known)."""
    for number, ip in enumerate(IPS):
        day = folder / "2019" / "02" / "06"
        day.mkdir(parents=True, exist_ok=True)
        line = GOOD.replace("192.0.2.10", ip).replace("data/file.bin", f"k-{number}")
        (day / f"2019-02-06-00-00-{number:02d}-ABCDEF{number}").write_text(line + "\n" + line + "\n")
    return age(folder)


def encodings(ip: str) -> list[bytes]:
    text = ip.encode()
    return [text, ip.encode("utf-16-le"), ipaddress.ip_address(ip).packed, ip.upper().encode()]


def key_to_ip_ids(cache: Path) -> dict[str, set[int]]:
    seen: dict[str, set[int]] = {}
    for shard in (cache / "shards").glob("*.parquet"):
        for row in pq.read_table(shard, columns=["key", "ip_id"]).to_pylist():
            seen.setdefault(row["key"], set()).add(row["ip_id"])
    return seen


def test_no_raw_ip_anywhere_in_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    extract(write_logs(tmp_path / "logs"), cache=cache, options=ExtractOptions(workers=2))
    assert status(cache=cache)["pending_index"] == 0
    files = [path for path in cache.rglob("*") if path.is_file()]
    assert any(path.suffix == ".parquet" for path in files) and (cache / "state.sqlite") in files
    for path in files:
        data = path.read_bytes()
        for ip in IPS:
            for encoded in encodings(ip):
                assert encoded not in data, f"{ip} found in {path}"


def test_same_ip_same_id_across_shards_and_runs_and_ip_show(tmp_path: Path) -> None:
    logs = write_logs(tmp_path / "logs")
    cache = tmp_path / "cache"
    extract(logs, cache=cache, options=ExtractOptions(workers=1, limit=2, batch_bytes=1))
    extract(logs, cache=cache, options=ExtractOptions(workers=2, batch_bytes=1))
    more = tmp_path / "more" / "2019-02-07-00-00-00-FFFF"
    more.parent.mkdir()
    more.write_text(GOOD.replace("192.0.2.10", IPS[0]).replace("data/file.bin", "k-0") + "\n")
    extract(age(more.parent), cache=cache, options=ExtractOptions(workers=1))
    ids = key_to_ip_ids(cache)
    assert all(len(found) == 1 for found in ids.values())
    assert len({next(iter(found)) for found in ids.values()}) == len(IPS)
    with Cache.open_for_writing(cache, command="extract"):  # a run in progress does not block `ip show`
        for number, ip in enumerate(IPS):
            shown = cli("ip", "show", str(next(iter(ids[f"k-{number}"]))), "--cache", str(cache))
            assert shown.returncode == 0 and shown.stdout.strip() == ip
    unknown = cli("ip", "show", "999999", "--cache", str(cache))
    assert unknown.returncode == 66 and "no IP has the id 999999" in unknown.stderr


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_wrong_password_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    logs = write_logs(tmp_path / "logs")
    cache = tmp_path / "cache"
    env = {**os.environ, "S3_LOG_EXTRACTION_PASSWORD": "right horse battery"}
    assert cli("extract", str(logs), "--cache", str(cache), "--limit", "2", env=env).returncode == 0
    before = digest(cache / "state.sqlite")
    wrong = {**os.environ, "S3_LOG_EXTRACTION_PASSWORD": "wrong"}
    for command in (["extract", str(logs)], ["update", "ip", "indexes"], ["ip", "show", "1"]):
        result = cli(*command, "--cache", str(cache), env=wrong)
        assert result.returncode == 77, result.stderr
        assert result.stderr.startswith("error: wrong password") and result.stderr.count("\n") == 1
    missing = cli("extract", str(logs), "--cache", str(cache))
    assert missing.returncode == 77 and "S3_LOG_EXTRACTION_PASSWORD" in missing.stderr
    assert digest(cache / "state.sqlite") == before
    assert status(cache=cache)["log_objects"] == 2


def test_rotate_keeps_ids_and_only_the_new_password_works(tmp_path: Path) -> None:
    logs = write_logs(tmp_path / "logs")
    cache = tmp_path / "cache"
    old = {**os.environ, "S3_LOG_EXTRACTION_PASSWORD": "old pass"}
    new = {**os.environ, "S3_LOG_EXTRACTION_PASSWORD": "new pass"}
    assert cli("extract", str(logs), "--cache", str(cache), "--limit", "3", env=old).returncode == 0
    ids_before = key_to_ip_ids(cache)
    rotated = cli(
        "config", "key", "rotate", "--cache", str(cache), env={**old, "S3_LOG_EXTRACTION_NEW_PASSWORD": "new pass"}
    )
    assert rotated.returncode == 0, rotated.stderr
    assert cli("ip", "show", "1", "--cache", str(cache), env=old).returncode == 77
    assert cli("extract", str(logs), "--cache", str(cache), env=new).returncode == 0
    ids_after = key_to_ip_ids(cache)
    assert {key: ids_after[key] for key in ids_before} == ids_before
    for number, ip in enumerate(IPS):
        shown = cli("ip", "show", str(next(iter(ids_after[f"k-{number}"]))), "--cache", str(cache), env=new)
        assert shown.stdout.strip() == ip


@pytest.mark.parametrize("password", [None, "pw"])
def test_key_material_is_private(tmp_path: Path, isolated_home: Path, password: str | None) -> None:
    extract(write_logs(tmp_path / "logs"), cache=tmp_path / "cache", options=ExtractOptions(password=password))
    key = isolated_home / "config" / "s3logextraction" / "ip-key"
    assert key.exists() == (password is None)
    if password is None:
        assert key.stat().st_mode & 0o777 == 0o600
