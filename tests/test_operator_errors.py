"""Operator-grade errors: each failure an operator of the nightly job can meet, reproduced for real
(full file systems, read-only mounts, old and new caches, racing probes), ends in one line and a
documented exit code, and leaves the cache and the published set as they were."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import s3logextraction
from s3logextraction import ExtractOptions
from s3logextraction.cache import SCHEMA_VERSION, Cache, CachePaths, running_holder
from s3logextraction.errors import ExitCode, PartialError
from s3logextraction.extract.runner import ChildProcesses
from s3logextraction.ips.admin import MAX_IP_ID

from .conftest import ROOT, age, as_version_8, cli, fill
from .test_extract import assert_consistent, expected_per_key, per_key, shard_rows
from .test_parser import GOOD


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> content digest of every file under `folder`."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def one_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr
    return result.stderr


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(a cache folder, the same folder through a read-only bind mount)."""
    cache, view = tmp_path / "cache", tmp_path / "view"
    cache.mkdir()
    view.mkdir()
    if subprocess.run(["mount", "--bind", str(cache), str(view)], capture_output=True).returncode != 0:
        pytest.skip("cannot bind-mount here (needs root)")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True, capture_output=True)
        yield cache, view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)


def write_logs(folder: Path, keys: dict[str, int]) -> Path:
    """One log object per key, `keys[key]` good lines each from distinct IPs: hand-countable input."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, (key, lines) in enumerate(sorted(keys.items())):
        body = [
            GOOD.replace("data/file.bin", key).replace("192.0.2.10", f"198.51.100.{line + 1}") for line in range(lines)
        ]
        (folder / f"2024-05-0{number + 1}-10-00-00-ABCDEF").write_text("\n".join(body) + "\n")
    return age(folder)


# Full disks -------------------------------------------------------------------------------------


def test_full_disk_during_summaries_keeps_the_previous_set(
    small_corpus: tuple[Path, dict[str, Any]], small_disk: Path
) -> None:
    logs, _ = small_corpus
    cache = small_disk / "cache"
    assert cli("run", str(logs), "--cache", str(cache)).returncode == 0
    before = snapshot(cache / "summaries")
    assert len(before) > 10
    filler = fill(small_disk, leave=0)
    result = cli("update", "summaries", "--cache", str(cache), "--level", "2")
    one_line(result, ExitCode.CANT_CREATE)
    assert result.stderr.startswith("error: no space left")
    assert snapshot(cache / "summaries") == before, "the published set is the previous one, whole"
    assert not [path for path in (cache / "staging").rglob("*") if path.is_file()], "no temporary file is left"
    filler.unlink()
    assert cli("update", "summaries", "--cache", str(cache), "--level", "2").returncode == 0
    assert snapshot(cache / "summaries") != before


def test_full_disk_in_the_sqlite_commit_of_a_key_rotation(tmp_path: Path, small_disk: Path) -> None:
    """Re-sealing rewrites every IP row and VACUUMs: the SQLite write is where the disk fills."""
    logs = write_logs(tmp_path / "logs", {f"d{n}/x.bin": 200 for n in range(8)})
    cache = small_disk / "cache"
    env = {**os.environ, "S3_LOG_EXTRACTION_PASSWORD": "old secret"}
    assert cli("extract", str(logs), "--cache", str(cache), env=env).returncode == 0
    ip = cli("ip", "show", "7", "--cache", str(cache), env=env).stdout
    filler = fill(small_disk, leave=0)
    rotate = cli("config", "key", "rotate", "--cache", str(cache), env={**env, "S3_LOG_EXTRACTION_NEW_PASSWORD": "new"})
    assert one_line(rotate, ExitCode.CANT_CREATE).startswith("error: no space left")
    filler.unlink()
    assert cli("ip", "show", "7", "--cache", str(cache), env=env).stdout == ip, "the old password still works"


# Readers and writers ----------------------------------------------------------------------------


def test_probes_never_make_a_starting_writer_fail(tmp_path: Path) -> None:
    """`status` and `stop` look at the lock while writers come and go: no writer may see it held."""
    cache = tmp_path / "cache"
    with Cache.open_for_writing(cache, command="extract", create=True):
        pass
    paths = CachePaths.of(cache)
    done = threading.Event()
    probes = 0

    def probe() -> None:
        nonlocal probes
        while not done.is_set():
            running_holder(paths)
            s3logextraction.status(cache=cache)
            probes += 1

    threads = [threading.Thread(target=probe) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(300):
            with Cache.open_for_writing(cache, command="extract"):
                pass
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert probes > 100


def test_stop_issued_while_run_starts_is_honoured(medium_corpus: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    logs, truth = medium_corpus
    cache = tmp_path / "cache"
    assert cli("extract", str(logs), "--cache", str(cache), "--limit", "1").returncode == 0
    script = Path(sys.executable).with_name("s3logextraction")
    running = subprocess.Popen(
        [str(script), "run", str(logs), "--cache", str(cache), "--workers", "2", "--batch-size", "1M"],
        stderr=subprocess.PIPE,
        text=True,
    )
    stopped = cli("stop", "--cache", str(cache))
    _, stderr = running.communicate(timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    assert running.returncode == 0, stderr
    assert "run stopped on request before ip regions" in stderr
    assert not (cache / "summaries").exists(), "run stopped before its summaries stage"
    assert s3logextraction.status(cache=cache)["log_objects"] < truth["log_objects"]
    assert cli("run", str(logs), "--cache", str(cache)).returncode == 0
    assert per_key(shard_rows(cache)) == expected_per_key(truth)
    assert_consistent(cache)


def test_ip_show_on_a_cache_never_indexed_writes_nothing(tmp_path: Path, isolated_home: Path) -> None:
    cache = tmp_path / "cache"
    with Cache.open_for_writing(cache, command="extract", create=True):
        pass
    before = snapshot(cache)
    result = cli("ip", "show", "1", "--cache", str(cache))
    assert "no IP index yet" in one_line(result, ExitCode.NO_INPUT)
    assert {name: digest for name, digest in snapshot(cache).items() if "-wal" not in name and "-shm" not in name} == {
        name: digest for name, digest in before.items()
    }
    assert not list(isolated_home.rglob("ip-key")), "no key file is created by a reader"


@pytest.mark.parametrize("ip_id", ["0", "-3", str(MAX_IP_ID + 1), "99999999999999999999999", "abc"])
def test_ip_show_out_of_range_is_a_usage_error(tmp_path: Path, ip_id: str) -> None:
    logs = write_logs(tmp_path / "logs", {"d/x.bin": 2})
    cache = tmp_path / "cache"
    assert cli("extract", str(logs), "--cache", str(cache)).returncode == 0
    result = cli("ip", "show", "--cache", str(cache), "--", ip_id)
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr
    with pytest.raises(s3logextraction.errors.UsageError):
        s3logextraction.show_ip(cache=cache, ip_id=MAX_IP_ID + 1, password=None)


@pytest.mark.parametrize(
    "command",
    [["status"], ["update", "summaries"], ["extract", "LOGS"], ["ip", "show", "1"], ["update", "ip", "indexes"]],
)
def test_a_read_only_cache_is_one_line(read_only: tuple[Path, Path], tmp_path: Path, command: list[str]) -> None:
    cache, view = read_only
    logs = write_logs(tmp_path / "logs", {"d/x.bin": 3})
    assert cli("run", str(logs), "--cache", str(cache)).returncode == 0
    result = cli(*[str(logs) if part == "LOGS" else part for part in command], "--cache", str(view))
    assert "read-only" in one_line(result, ExitCode.CANT_CREATE)


def test_key_rotate_without_a_terminal_names_the_variable(tmp_path: Path) -> None:
    logs = write_logs(tmp_path / "logs", {"d/x.bin": 3})
    cache = tmp_path / "cache"
    assert cli("extract", str(logs), "--cache", str(cache)).returncode == 0
    result = cli("config", "key", "rotate", "--cache", str(cache), stdin=subprocess.DEVNULL)
    assert "S3_LOG_EXTRACTION_NEW_PASSWORD" in one_line(result, ExitCode.USAGE)


# Schema versions --------------------------------------------------------------------------------

# The state DB as version 1 (before `PRAGMA user_version`) wrote it: log objects keyed by
# (name, size), batches committed as TSV shards with raw IPs, indexed later.
SCHEMA_V1 = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE batches (batch_id TEXT PRIMARY KEY, format TEXT NOT NULL CHECK (format IN ('tsv', 'parquet')),
    committed_at TEXT NOT NULL, log_bytes INTEGER NOT NULL, lines_read INTEGER NOT NULL, lines_kept INTEGER NOT NULL,
    lines_rejected INTEGER NOT NULL, bytes_sent INTEGER NOT NULL);
CREATE TABLE log_objects (name TEXT NOT NULL, size INTEGER NOT NULL,
    batch_id TEXT NOT NULL REFERENCES batches(batch_id), lines INTEGER NOT NULL, PRIMARY KEY (name, size));
CREATE INDEX log_objects_batch ON log_objects(batch_id);
CREATE TABLE rejects (batch_id TEXT NOT NULL REFERENCES batches(batch_id), log_object TEXT NOT NULL,
    line INTEGER NOT NULL, reason TEXT NOT NULL);
CREATE INDEX rejects_batch ON rejects(batch_id);
CREATE TABLE kept_by_status (batch_id TEXT NOT NULL REFERENCES batches(batch_id), status TEXT NOT NULL,
    lines INTEGER NOT NULL, bytes_sent INTEGER NOT NULL, PRIMARY KEY (batch_id, status));
CREATE TABLE ips (ip_id INTEGER PRIMARY KEY, digest BLOB NOT NULL UNIQUE, sealed BLOB NOT NULL);
CREATE TABLE user_agents (user_agent_id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
CREATE TABLE ip_regions (ip_id INTEGER PRIMARY KEY REFERENCES ips(ip_id), region TEXT NOT NULL);
CREATE TABLE runs (run_id INTEGER PRIMARY KEY, command TEXT NOT NULL, pid INTEGER NOT NULL, started_at TEXT NOT NULL,
    finished_at TEXT, outcome TEXT);
"""
V1_SHARD = (
    "2024-05-01T10:00:00Z\tds/a.bin\tREST.GET.OBJECT\t200\t100\t100\t198.51.100.1\tcurl/8\n"
    "2024-05-01T11:00:00Z\tds/a.bin\tREST.GET.OBJECT\t206\t40\t100\t198.51.100.2\tcurl/8\n"
    "2024-05-02T10:00:00Z\tds/b.bin\tREST.GET.OBJECT\t200\t7\t7\t198.51.100.1\tpython-requests/2\n"
)


def v1_cache(cache: Path) -> None:
    """A cache exactly as version 1 left it after `extract --no-index`: one TSV shard."""
    (cache / "shards").mkdir(parents=True)
    (cache / "staging").mkdir()
    (cache / "shards" / "b1.tsv").write_text(V1_SHARD)
    db = sqlite3.connect(cache / "state.sqlite")
    db.executescript(SCHEMA_V1)
    db.execute("INSERT INTO batches VALUES ('b1', 'tsv', '2024-05-03T00:00:00Z', 900, 4, 3, 1, 147)")
    db.executemany(
        "INSERT INTO log_objects VALUES (?, ?, 'b1', ?)",
        [("2024-05-01-10-00-00-A", 600, 3), ("2024-05-01-10-00-00-A", 650, 3), ("2024-05-02-10-00-00-B", 300, 1)],
    )
    db.execute("INSERT INTO rejects VALUES ('b1', '2024-05-01-10-00-00-A', 3, 'too_few_fields')")
    db.executemany("INSERT INTO kept_by_status VALUES ('b1', ?, ?, ?)", [("200", 2, 107), ("206", 1, 40)])
    db.commit()
    db.close()


def test_a_version_1_cache_is_migrated_and_its_tsv_shard_indexed(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    v1_cache(cache)
    assert "older format" in one_line(cli("status", "--cache", str(cache)), ExitCode.ERROR)
    result = cli("update", "ip", "indexes", "--cache", str(cache))
    assert result.returncode == 0, result.stderr
    db = sqlite3.connect(cache / "state.sqlite")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT name, size FROM log_objects ORDER BY name").fetchall() == [
        ("2024-05-01-10-00-00-A", 600),
        ("2024-05-02-10-00-00-B", 300),
    ], "a name committed under two sizes by version 1 is one object"
    assert db.execute("SELECT count(*) FROM ips").fetchone()[0] == 2
    db.close()
    assert sorted(path.name for path in (cache / "shards").iterdir()) == ["b1.parquet"]
    assert b"198.51.100" not in b"".join(path.read_bytes() for path in cache.rglob("*") if path.is_file())
    figures = s3logextraction.status(cache=cache)
    assert (figures["log_objects"], figures["lines_kept"], figures["bytes_sent"]) == (2, 3, 147)
    assert s3logextraction.update_totals(cache=cache).files_written == 1
    published = (cache / "summaries" / "totals.json").read_text()
    assert '"ds"' in published and "147" in published


def test_a_version_5_dandi_attribution_is_kept_and_clustered(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with Cache.open_for_writing(cache, command="test", create=True):
        pass
    db = sqlite3.connect(cache / "state.sqlite")
    as_version_8(db)
    db.executescript(
        "ALTER TABLE changed_objects DROP COLUMN committed_mtime_ns;"  # version 8
        "ALTER TABLE changed_objects DROP COLUMN seen_mtime_ns;"
        "DROP TABLE sealed_folders;"  # version 7
        "DROP INDEX dandi_assets_dandiset; DROP TABLE dandi_assets;"
        "CREATE TABLE dandi_assets (content_id TEXT NOT NULL, dandiset_id TEXT NOT NULL, path TEXT NOT NULL,"
        " version TEXT NOT NULL, version_modified TEXT NOT NULL, source TEXT NOT NULL,"
        " PRIMARY KEY (content_id, dandiset_id, version));"
        "CREATE INDEX dandi_assets_dandiset ON dandi_assets(dandiset_id);"
        "INSERT INTO dandi_assets VALUES ('c1', '000001', 'a.nwb', 'draft', '2024-01-01', 'api');"
        "PRAGMA user_version = 5;"
    )
    db.close()
    with Cache.open_for_writing(cache, command="test") as opened:
        assert opened.db.execute("SELECT * FROM dandi_assets").fetchall() == [
            ("c1", "000001", "a.nwb", "draft", "2024-01-01", "api")
        ]
        sql = opened.db.execute("SELECT sql FROM sqlite_master WHERE name = 'dandi_assets'").fetchone()[0]
        assert "WITHOUT ROWID" in sql and opened.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert opened.db.execute("SELECT count(*) FROM sealed_folders").fetchone()[0] == 0


def test_a_cache_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    logs = write_logs(tmp_path / "logs", {"d/x.bin": 3})
    cache = tmp_path / "cache"
    assert cli("extract", str(logs), "--cache", str(cache)).returncode == 0
    db = sqlite3.connect(cache / "state.sqlite")
    db.execute("PRAGMA user_version = 99")
    db.close()
    for command in (["status"], ["extract", str(logs)], ["update", "summaries"]):
        assert "newer s3logextraction" in one_line(cli(*command, "--cache", str(cache)), ExitCode.ERROR)


# Published set matches the cache ----------------------------------------------------------------


def test_stale_dataset_folders_go_after_a_level_change_and_a_reset(tmp_path: Path) -> None:
    logs = write_logs(tmp_path / "logs", {"alpha/one/x.bin": 3, "beta/two/y.bin": 2})
    cache = tmp_path / "cache"
    tables = {"by_day.tsv", "by_asset.tsv", "by_region.tsv", "requester_count.tsv", "counter_by_month.tsv"}
    archive = {f"archive/{name}" for name in tables - {"by_asset.tsv"}} | {"totals.json", "archive_totals.json"}

    def published() -> set[str]:
        return set(snapshot(cache / "summaries"))

    assert cli("run", str(logs), "--cache", str(cache)).returncode == 0
    assert published() == {f"{dataset}/{name}" for dataset in ("alpha", "beta") for name in tables} | archive
    assert cli("update", "summaries", "--cache", str(cache), "--level", "2").returncode == 0
    level_2 = {f"{dataset}/{name}" for dataset in ("alpha/one", "beta/two") for name in tables}
    assert published() == level_2 | archive
    assert cli("reset", "extraction", "--cache", str(cache), "--yes").returncode == 0
    other = write_logs(tmp_path / "other", {"gamma/z.bin": 1})
    assert cli("run", str(other), "--cache", str(cache)).returncode == 0
    assert published() == {f"gamma/{name}" for name in tables} | archive


# Settings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "code", "named"),
    [
        (["extract", "LOGS", "--batch-size", "12Q"], ExitCode.USAGE, "--batch-size"),
        (["extract", "LOGS", "--batch-size", "abc"], ExitCode.USAGE, "--batch-size"),
        (["extract", "LOGS", "--batch-size=-5M"], ExitCode.USAGE, "--batch-size"),
        (["extract", "LOGS", "--batch-size", "0"], ExitCode.USAGE, "--batch-size"),
        (["extract", "LOGS", "--workers", "0"], ExitCode.USAGE, "--workers"),
        (["extract", "LOGS", "--limit=-1"], ExitCode.USAGE, "--limit"),
        (["run", "LOGS", "--level", "0"], ExitCode.USAGE, "--level"),
        (["update", "summaries", "--level", "0"], ExitCode.USAGE, "--level"),
        (["update", "summaries", "--mode", "dandy"], ExitCode.USAGE, "--mode"),
        (["update", "summaries", "--privacy-threshold", "0"], ExitCode.USAGE, "--privacy-threshold"),
        (["update", "summaries", "--privacy-rounding", "-20"], ExitCode.USAGE, "--privacy-rounding"),
    ],
)
def test_bad_flags_are_usage_errors_before_any_work(
    tmp_path: Path, arguments: list[str], code: int, named: str
) -> None:
    logs = write_logs(tmp_path / "logs", {"d/x.bin": 1})
    cache = tmp_path / "cache"
    result = cli(*[str(logs) if part == "LOGS" else part for part in arguments], "--cache", str(cache))
    assert result.returncode == code, result.stderr
    assert named in result.stderr and "Traceback" not in result.stderr and "unexpected" not in result.stderr
    assert not cache.exists(), "nothing was started"


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"- 1\n- 2\n", "mapping"),
        (b"cache: /tmp/\xff\xfe\n", "UTF-8"),
        (b"worker: 4\n", "worker"),
        (b"privacy_treshold: 0\n", "privacy_treshold"),
        (b"privacy_threshold: 0\n", "privacy_threshold"),
        (b"workers: [1\n", "YAML"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_file_and_key(isolated_home: Path, content: bytes, named: str) -> None:
    config = isolated_home / "config" / "s3logextraction" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_bytes(content)
    message = one_line(cli("status"), ExitCode.CONFIG)
    assert named in message and str(config) in message


@pytest.mark.parametrize(("name", "value"), [("OPERATIONS", "abc"), ("WORKERS", "0"), ("PRIVACY_ROUNDING", "0")])
def test_a_bad_environment_setting_is_refused_like_the_flag(tmp_path: Path, name: str, value: str) -> None:
    logs = write_logs(tmp_path / "logs", {"d/x.bin": 1})
    result = cli(
        "run", str(logs), "--cache", str(tmp_path / "cache"), env={**os.environ, f"S3LOGEXTRACTION_{name}": value}
    )
    assert name.lower() in one_line(result, ExitCode.CONFIG)
    assert not (tmp_path / "cache").exists()


def test_rounding_never_publishes_below_the_threshold(tmp_path: Path) -> None:
    """Threshold 45 with rounding 20: 45..49 requests round to 40, below the threshold."""
    logs = write_logs(tmp_path / "logs", {"d/x.bin": 47})
    cache = tmp_path / "cache"
    result = cli("run", str(logs), "--cache", str(cache), "--privacy-threshold", "45", "--privacy-rounding", "20")
    assert result.returncode == 0, result.stderr
    by_day = (cache / "summaries" / "d" / "by_day.tsv").read_text().splitlines()
    assert by_day[1].split("\t") == ["2019-02-06", str(47 * 1024), "60", "60"], "47 rounds to 40 < 45: 60 instead"
    assert (cache / "summaries" / "d" / "requester_count.tsv").read_text() == "60\n"


# The library is a library -----------------------------------------------------------------------


def test_the_cli_imports_nothing_from_the_testing_package() -> None:
    code = (
        "import sys, s3logextraction.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('s3logextraction.testing')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_importing_the_package_leaves_signal_handling_alone() -> None:
    code = (
        "import signal; before = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]; "
        "import pyarrow, s3logextraction, s3logextraction.cli; "
        "print([signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)] == before)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"


def process_state() -> tuple[Any, ...]:
    mask = os.umask(0o022)
    os.umask(mask)
    handlers = tuple(signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP))
    return mask, handlers, signal.pthread_sigmask(signal.SIG_BLOCK, set())


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The umask this test needs, and the session's own back afterwards."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_every_command_is_a_library_function_that_leaves_the_process_alone(tmp_path: Path, umask_022: None) -> None:
    logs = write_logs(tmp_path / "logs", {"alpha/x.bin": 3, "beta/y.bin": 2})
    cache = tmp_path / "cache"
    before = process_state()
    stop = threading.Event()
    extracted = s3logextraction.extract(
        logs, cache=cache, stop=stop, options=ExtractOptions(workers=2, settle_seconds=0)
    )
    assert extracted.objects_done == 2
    assert s3logextraction.update_ip_indexes(cache=cache) == 0
    assert s3logextraction.status(cache=cache)["lines_kept"] == 5
    assert s3logextraction.update_summaries(cache=cache).files_written == 10  # five files per dataset
    assert s3logextraction.update_totals(cache=cache).files_written == 1
    assert s3logextraction.update_ip_regions(cache=cache).classified == 3, "three requesters, labelled once"
    assert s3logextraction.update_ip_coordinates(cache=cache).unplaced == []
    assert s3logextraction.run(logs, cache=cache, extraction=ExtractOptions(settle_seconds=0)).summaries is not None
    assert s3logextraction.show_ip(cache=cache, ip_id=1, password=None) == "198.51.100.1"
    assert s3logextraction.rotate_key(cache=cache, password=None, new_password="new") == 3
    assert s3logextraction.show_ip(cache=cache, ip_id=1, password="new") == "198.51.100.1"
    assert not s3logextraction.stop(cache=cache, timeout=1).was_running
    assert s3logextraction.reset_extraction(cache=cache) == 1
    parsed = tmp_path / "parsed.tsv"
    with parsed.open("w") as output:
        s3logextraction.parse([next(logs.iterdir())], output=output)
    assert parsed.read_text().count("\tok\t") == 3
    assert process_state() == before
    assert (cache / "state.sqlite").stat().st_mode & 0o777 == 0o600


def test_partial_error_is_exit_3() -> None:
    assert PartialError("x").exit_code == ExitCode.PARTIAL == 3


def test_no_gawk_starts_after_an_abort(tmp_path: Path) -> None:
    children = ChildProcesses()
    children.kill_all()
    with (tmp_path / "rows").open("wb") as output, pytest.raises(s3logextraction.errors.AbortedError):
        children.start(["gawk", "BEGIN{}"], environment=dict(os.environ), keep_fd=0, output=output)
    assert not children.running


def test_shell_completion_is_enabled() -> None:
    result = cli("--show-completion", "bash", env={**os.environ, "SHELL": "/bin/bash"})
    assert result.returncode == 0, result.stderr
    assert "_S3LOGEXTRACTION_COMPLETE" in result.stdout


def test_the_readme_documents_every_exit_code() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, flags=re.MULTILINE)}
    assert documented == {int(code) for code in ExitCode}


def test_the_readme_links_only_files_in_the_repository() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "../" not in readme, "the README names nothing beside the repository"
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if "://" not in target:
            assert (ROOT / target).exists(), target
    for path in re.findall(r"`((?:tests|awk|examples|benchmarks|docs)/[^` ]+)`", readme):
        assert (ROOT / path).exists(), path


def test_library_stops_on_request_without_signals(small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """A stop event set before the run: nothing new is scheduled, nothing is lost, exit is normal."""
    logs, truth = small_corpus
    cache = tmp_path / "cache"
    stop = threading.Event()
    stop.set()
    report = s3logextraction.run(logs, cache=cache, stop=stop, extraction=ExtractOptions(workers=2))
    assert report.stopped_before == "ip regions"
    s3logextraction.extract(logs, cache=cache, options=ExtractOptions(workers=2))
    assert per_key(shard_rows(cache)) == expected_per_key(truth)
