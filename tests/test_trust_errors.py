"""Trust, round two: clear one-line errors with their documented exit codes (never "unexpected"),
the library taking plain strings for paths, and the guards the promises lacked (a COUNTER pair
exactly 30 s apart, a missing key file never replaced, exit 65, 70 and 1)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import s3logextraction
from s3logextraction import PublishOptions
from s3logextraction.ips.keys import key_file
from s3logextraction.summarize.privacy import Privacy

from .conftest import age, cli
from .test_counter import HEADER, request
from .test_trust import line, logs, tree_bytes


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [text for text in result.stderr.splitlines() if text.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr and "unexpected" not in result.stderr, result.stderr
    return lines[0]


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    folder = logs(tmp_path / "logs", {"a": line(key="one/x.bin") + b"\n" + line(key="two/y.bin") + b"\n"})
    made = tmp_path / "cache"
    assert cli("run", str(folder), "--cache", str(made)).returncode == 0
    return made


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["extract", "LOGS", "--settle-seconds", "inf"], "'--settle-seconds'"),
        (["extract", "LOGS", "--settle-seconds", "1e308"], "'--settle-seconds'"),
        (["extract", "LOGS", "--settle-days", "100000000000000000000"], "'--settle-days'"),
        (["update", "summaries", "--level", "100000000000000000000"], "'--level'"),
        (["extract", "LOGS", "--workers", "99999999999999999999"], "'--workers'"),
        (["update", "summaries", "--privacy-threshold", "100000000000000000000"], "'--privacy-threshold'"),
        (["stop", "--timeout", "inf"], "'--timeout'"),
    ],
)
def test_out_of_range_flags_are_usage_errors_naming_the_option(
    cache: Path, args: list[str], named: str, tmp_path: Path
) -> None:
    result = cli(*[str(tmp_path / "logs") if arg == "LOGS" else arg for arg in args], "--cache", str(cache))
    assert result.returncode == 2, result.stderr
    assert named in result.stderr and "Traceback" not in result.stderr and "unexpected" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "setting"),
    [
        ("S3LOGEXTRACTION_SETTLE_SECONDS", "inf", "settle_seconds"),
        ("S3LOGEXTRACTION_SETTLE_SECONDS", "1e308", "settle_seconds"),
        ("S3LOGEXTRACTION_SETTLE_DAYS", "100000000000000000000", "settle_days"),
        ("S3LOGEXTRACTION_WORKERS", "99999999999999999999", "workers"),
        ("S3LOGEXTRACTION_PRIVACY_THRESHOLD", "100000000000000000000", "privacy_threshold"),
    ],
)
def test_out_of_range_settings_are_setting_errors_naming_it(
    cache: Path, tmp_path: Path, name: str, value: str, setting: str
) -> None:
    result = cli("run", str(tmp_path / "logs"), "--cache", str(cache), env={**os.environ, name: value})
    assert result.returncode == 78
    assert one_error_line(result).startswith(f"error: invalid setting {setting}: ")


@pytest.mark.parametrize("damage", ["append", "truncate", "delete"])
def test_a_damaged_shard_is_exit_65_naming_it_and_nothing_published_changes(cache: Path, damage: str) -> None:
    shard = next((cache / "shards").iterdir())
    before = tree_bytes(cache / "summaries")
    if damage == "append":
        with shard.open("ab") as handle:
            handle.write(b"appended bytes")
    elif damage == "truncate":
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    else:
        shard.unlink()
    result = cli("update", "summaries", "--cache", str(cache), "--rebuild")
    assert result.returncode == 65, result.stderr
    message = one_error_line(result)
    assert f"shards/{shard.name}" in message and "validate cache" in message
    assert ("missing" if damage == "delete" else "damaged") in message
    assert tree_bytes(cache / "summaries") == before


def test_a_clone_that_fails_shows_gits_first_meaningful_line(cache: Path, tmp_path: Path) -> None:
    result = cli("share", "--cache", str(cache), "--git", f"file://{tmp_path}/missing.git")
    message = one_error_line(result)
    assert result.returncode == 66
    assert "does not appear to be a git repository" in message and "repository exists" not in message


def test_a_key_file_of_another_cache_is_named_as_such(cache: Path, tmp_path: Path) -> None:
    other = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "other-config"))
    folder = logs(tmp_path / "other-logs", {"b": line() + b"\n"})
    assert cli("extract", str(folder), "--cache", str(tmp_path / "other"), env=other).returncode == 0
    result = cli("extract", str(tmp_path / "logs"), "--cache", str(cache), env=other)
    assert result.returncode == 77
    assert "does not open this cache" in one_error_line(result)


@pytest.mark.parametrize("damage", ["delete", "garble"])
def test_a_missing_or_damaged_key_file_is_exit_77_and_never_replaced(cache: Path, damage: str) -> None:
    path = key_file()
    if damage == "delete":
        path.unlink()
    else:
        path.write_text("not a key\n")
    result = cli("extract", str(cache.parent / "logs"), "--cache", str(cache))
    assert result.returncode == 77
    assert ("missing" if damage == "delete" else "damaged") in one_error_line(result)
    assert path.exists() == (damage == "garble")
    if damage == "garble":
        assert path.read_text() == "not a key\n"


def test_an_empty_password_is_a_setting_error(cache: Path) -> None:
    result = cli("status", "--cache", str(cache), env={**os.environ, "S3_LOG_EXTRACTION_PASSWORD": ""})
    assert result.returncode == 78
    assert one_error_line(result).startswith("error: invalid setting password: it is set but empty")


def test_a_cache_path_that_is_a_file_is_exit_73(tmp_path: Path) -> None:
    folder = logs(tmp_path / "logs", {"a": line() + b"\n"})
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = cli("extract", str(folder), "--cache", str(blocker))
    assert result.returncode == 73
    assert "is a file, not a folder" in one_error_line(result)


def test_exclusion_entries_are_named_by_position_and_never_widened(cache: Path) -> None:
    bad = cli("config", "exclude-ips", "add", "192.0.2.0/24", "nonsense", "--cache", str(cache))
    assert bad.returncode == 2 and "entry 2 of 2: not an address range" in one_error_line(bad)
    host_bits = cli("config", "exclude-ips", "add", "10.0.0.1/8", "--cache", str(cache))
    assert host_bits.returncode == 2 and "host bits set" in one_error_line(host_bits)
    assert "10.0.0.1" not in host_bits.stderr
    listed = cli("config", "exclude-ips", "list", "--cache", str(cache))
    assert "10.0.0.0/8" not in listed.stdout


def test_the_library_takes_plain_strings_for_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs(tmp_path / "logs", {"a": line(key="one/x.bin") + b"\n"})
    monkeypatch.chdir(tmp_path)
    report = s3logextraction.run("logs", cache="cache")
    assert report.summaries is not None and report.summaries.datasets == 1
    assert s3logextraction.status(cache="cache")["lines_kept"] == 1
    assert s3logextraction.validate_cache(cache="cache").clean
    assert s3logextraction.update_summaries(cache="cache", rebuild=True).datasets == 1
    assert s3logextraction.extract("logs", cache="cache").objects_done == 0


def test_a_key_naming_a_requester_address_is_object_data_for_validate_cache(tmp_path: Path) -> None:
    folder = logs(tmp_path / "logs", {"a": line(ip="81.2.69.217", key="ds/81.2.69.217/x.nwb") + b"\n"})
    cache = tmp_path / "cache"
    assert cli("run", str(folder), "--cache", str(cache)).returncode == 0
    checked = cli("validate", "cache", "--cache", str(cache))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "object keys (object data, not requesters)" in checked.stderr


def test_a_counter_pair_exactly_30_seconds_apart_is_a_double_click(tmp_path: Path) -> None:
    """In one night, and across a night (the second click delivered later, in the next hour)."""
    key = "ds1/a.nwb"
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "2019-02-06-23-00-00-A").write_text(
        request("06/Feb/2019:10:00:00", ip="192.0.2.1", key=key)
        + "\n"
        + request("06/Feb/2019:10:00:30", ip="192.0.2.1", key=key)
        + "\n"
        + request("06/Feb/2019:10:59:45", ip="192.0.2.2", key=key)
        + "\n"
    )
    age(folder)
    cache = tmp_path / "cache"
    exact = Privacy(threshold=1, rounding=1)
    s3logextraction.run(folder, cache=cache, publishing=PublishOptions(privacy=exact))
    counter = cache / "summaries" / "ds1" / "counter_by_month.tsv"
    assert counter.read_text() == HEADER + "2019-02\tRegular\t2\t2\n"
    (folder / "2019-02-07-01-00-00-B").write_text(request("06/Feb/2019:11:00:15", ip="192.0.2.2", key=key) + "\n")
    age(folder)
    s3logextraction.run(folder, cache=cache, publishing=PublishOptions(privacy=exact))
    assert counter.read_text() == HEADER + "2019-02\tRegular\t2\t2\n"


def test_an_unexpected_error_is_exit_70_naming_type_and_place_never_its_text(cache: Path) -> None:
    code = (
        "import sys\n"
        "import s3logextraction.cli.extract_cmd as command\n"
        "def broken(**options):\n"
        "    raise RuntimeError('requester 192.0.2.99 broke it')\n"
        "command.status = broken\n"
        "from s3logextraction.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    done = subprocess.run([sys.executable, "-c", code, "status", "--cache", str(cache)], capture_output=True, text=True)
    assert done.returncode == 70
    assert done.stderr.strip().splitlines() == [
        "error: unexpected RuntimeError at <string>:4 (please report this; S3LOGEXTRACTION_DEBUG=1 shows it)"
    ]
    assert "192.0.2.99" not in done.stdout + done.stderr


def test_stop_whose_timeout_runs_out_exits_1(medium_corpus: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    folder, _ = medium_corpus
    cache = tmp_path / "cache"
    script = Path(sys.executable).with_name("s3logextraction")
    process = subprocess.Popen(
        [str(script), "extract", str(folder), "--cache", str(cache), "--workers", "1", "--batch-size", "1M"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (cache / "lock").exists() or not (cache / "lock").read_text():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        stopped = cli("stop", "--cache", str(cache), "--timeout", "0")
        assert stopped.returncode == 1, stopped.stdout + stopped.stderr
        assert "is still draining after 0s" in stopped.stdout and "Traceback" not in stopped.stderr
    finally:
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0 and "stopped on request" in stderr


def test_published_sets_hash_alike_only_when_equal(tmp_path: Path) -> None:
    """tree_bytes, which the publish tests compare, tells two sets apart by one byte."""
    first, second = tmp_path / "a", tmp_path / "b"
    for root, text in ((first, "x"), (second, "y")):
        (root / "d").mkdir(parents=True)
        (root / "d" / "f.tsv").write_text(text)
    assert tree_bytes(first) != tree_bytes(second)
    assert tree_bytes(first) == {"d/f.tsv": hashlib.sha256(b"x").hexdigest()}
