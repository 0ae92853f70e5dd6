"""Logs read straight from S3: moto's real S3 server on loopback, the real CLI in subprocesses,
real gawk; results checked against the generator's ground truth and against a local copy."""

from __future__ import annotations

import csv
import gzip
import hashlib
import http.client
import io
import json
import logging
import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlsplit

import pytest
import requests

from s3logextraction import ExtractOptions, extract, status
from s3logextraction.extract.plan import settle_from
from s3logextraction.sources.s3 import S3Bucket

from .conftest import cli, gawk_left_on
from .test_extract import (
    SCRIPT,
    assert_consistent,
    committed_objects,
    expected_per_key,
    per_key,
    shard_rows,
    wait_for_first_commit,
)
from .test_summaries import line
from .test_validate import EXPECTED, LINES, OBJECT

boto3 = pytest.importorskip("boto3", reason="the [s3] extra is not installed")
moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
PARTITIONED = "logs/123456789012/us-east-1/archive"  # the AWS date-partitioned layout's prefix


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Test credentials only, no instance metadata lookups, no profile files, few retries."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    started = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    started.start()
    yield started
    started.stop()


def endpoint(server: Any) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def s3_client(url: str) -> Any:
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1")


@pytest.fixture
def bucket(server: Any, small_corpus: tuple[Path, dict[str, Any]]) -> str:
    """A new bucket holding the small corpus twice: flat under `flat/` (AWS's default layout) and
    date-partitioned under PARTITIONED (`.../YYYY/MM/DD/name`, as the local corpus is laid out)."""
    logs, _ = small_corpus
    name = f"logs-{uuid.uuid4().hex[:12]}"
    client = s3_client(endpoint(server))
    client.create_bucket(Bucket=name)
    for path in sorted(path for path in logs.rglob("*") if path.is_file()):
        relative = path.relative_to(logs).as_posix()
        client.put_object(Bucket=name, Key=f"flat/{path.name}", Body=path.read_bytes())
        client.put_object(Bucket=name, Key=f"{PARTITIONED}/{relative}", Body=path.read_bytes())
    return name


def s3_extract(source: str, cache: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli(
        "extract", source, "--cache", str(cache), "--endpoint-url", url, "--settle-days", "0", "--workers", "2", *extra
    )


def test_remote_extract_matches_the_ground_truth_and_a_local_copy_adds_nothing(
    server: Any, bucket: str, small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    logs, truth = small_corpus
    url = endpoint(server)
    for layout, prefix in (("flat", "flat"), ("partitioned", PARTITIONED)):
        cache = tmp_path / layout
        done = s3_extract(f"s3://{bucket}/{prefix}", cache, url, "--batch-size", "500K")
        assert done.returncode == 0, done.stderr
        assert per_key(shard_rows(cache)) == expected_per_key(truth)
        figures = status(cache=cache)
        assert (figures["log_objects"], figures["lines_read"]) == (truth["log_objects"], truth["lines"])
        assert_consistent(cache)
    again = extract(
        logs, cache=tmp_path / "partitioned", options=ExtractOptions(workers=2)
    )  # the same objects, reached on disk
    assert (again.objects_done, again.objects_remaining) == (0, 0)
    assert per_key(shard_rows(tmp_path / "partitioned")) == expected_per_key(truth)


def test_sigkill_during_a_remote_extract_then_rerun_gives_exact_totals(
    server: Any, bucket: str, small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, truth = small_corpus
    url, cache = endpoint(server), tmp_path / "cache"
    source = f"s3://{bucket}/{PARTITIONED}"
    command = ["extract", source, "--cache", str(cache), "--endpoint-url", url, "--settle-days", "0"]
    process = start_cli(*command, "--workers", "2", "--batch-size", "40K")
    wait_for_first_commit(cache, process)
    process.kill()
    process.wait()
    killed_at = committed_objects(cache)
    assert 0 < killed_at < truth["log_objects"]
    rerun = cli(*command, "--workers", "2")
    assert rerun.returncode == 0, rerun.stderr
    assert per_key(shard_rows(cache)) == expected_per_key(truth)
    assert status(cache=cache)["lines_read"] == truth["lines"]
    assert_consistent(cache)
    assert gawk_left_on(cache) == []  # every object was a FIFO: none is left waiting on one


def test_s3_going_away_mid_run_is_one_line_and_the_rerun_completes(
    bucket: str, small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """Its own server, stopped while batches stream: the run ends with 69 and one line, nothing
    half-counted; the same server back on the same port, the rerun gives exact totals."""
    _, truth = small_corpus
    own = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    own.start()  # moto's backends are per process: this server serves the same buckets
    host, port = own.get_host_and_port()
    url, cache = f"http://{host}:{port}", tmp_path / "cache"
    command = ["extract", f"s3://{bucket}/flat", "--cache", str(cache), "--endpoint-url", url, "--settle-days", "0"]
    process = start_cli(*command, "--workers", "2", "--batch-size", "40K")
    wait_for_first_commit(cache, process)
    own.stop()
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 69, stderr
    assert "Traceback" not in stderr and "S3 unavailable after 2 attempts" in stderr.splitlines()[-1]
    assert 0 < committed_objects(cache) < truth["log_objects"]
    back = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    back.start()
    try:
        rerun = cli(*command, "--workers", "2")
    finally:
        back.stop()
    assert rerun.returncode == 0, rerun.stderr
    assert per_key(shard_rows(cache)) == expected_per_key(truth)
    assert_consistent(cache)


class CuttingProxy(ThreadingHTTPServer):
    """Forwards every request to moto; the first GET of each object's bytes is cut off halfway,
    with the full Content-Length announced, as a dropped connection does.  Records what came
    next for each cut object: (Range, If-Match) of the resuming requests."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        self.upstream = urlsplit(upstream)
        self.cut: set[str] = set()
        self.resumed: dict[str, list[tuple[str | None, str | None]]] = {}
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CuttingProxy

    def do_GET(self) -> None:
        upstream = http.client.HTTPConnection(
            self.server.upstream.hostname or "", self.server.upstream.port, timeout=30
        )
        upstream.request("GET", self.path, headers=dict(self.headers))
        response = upstream.getresponse()
        data = response.read()
        upstream.close()
        an_object = "?" not in self.path and response.status in (200, 206)
        with self.server.lock:
            cut = an_object and len(data) > 1000 and self.path not in self.server.cut
            if cut:
                self.server.cut.add(self.path)
            elif self.path in self.server.cut:
                self.server.resumed.setdefault(self.path, []).append((self.headers["Range"], self.headers["If-Match"]))
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "server", "date"):
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data[: len(data) // 2] if cut else data)
        self.close_connection = cut

    def log_message(self, *args: Any) -> None:
        return


def test_a_download_cut_off_midway_resumes_where_it_stopped(
    server: Any, bucket: str, small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, truth = small_corpus
    proxy = CuttingProxy(endpoint(server))
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        cache = tmp_path / "cache"
        done = s3_extract(f"s3://{bucket}/flat", cache, proxy.url, "--batch-size", "500K")
    finally:
        proxy.shutdown()
    assert done.returncode == 0, done.stderr
    assert len(proxy.cut) == truth["log_objects"]
    assert proxy.cut == set(proxy.resumed)
    for requests_after in proxy.resumed.values():  # one ranged GET of the same version, from the cut
        ((byte_range, etag),) = requests_after
        assert byte_range is not None and byte_range.startswith("bytes=") and byte_range != "bytes=0-" and etag
    assert per_key(shard_rows(cache)) == expected_per_key(truth)
    assert status(cache=cache)["lines_read"] == truth["lines"]


def start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([SCRIPT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def write_inventory(
    folder: Path, *, client: Any, bucket: str, created: datetime, keys: list[str] | None = None
) -> None:
    """An S3 Inventory of `bucket` in AWS's layout: a dated folder with manifest.json and
    manifest.checksum, gzip CSV data files (URL-encoded keys, `+` for spaces) split in two, and
    the Hive symlink.txt partition naming them."""
    config = folder / bucket / "daily"
    rows = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            if keys is None or entry["Key"] in keys:
                modified = entry["LastModified"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
                rows.append([bucket, quote_plus(entry["Key"], safe="/"), str(entry["Size"]), modified, entry["ETag"]])
    (config / "data").mkdir(parents=True, exist_ok=True)
    files = []
    for part in (rows[: len(rows) // 2], rows[len(rows) // 2 :]):
        text = io.StringIO()
        csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(part)
        data = gzip.compress(text.getvalue().encode())
        key = f"inventory/{bucket}/daily/data/{uuid.uuid4()}.csv.gz"
        (config / "data" / Path(key).name).write_bytes(data)
        files.append({"key": key, "size": len(data), "MD5checksum": hashlib.md5(data).hexdigest()})
    stamp = created.strftime("%Y-%m-%dT%H-%MZ")
    manifest = {
        "sourceBucket": bucket,
        "destinationBucket": "arn:aws:s3:::inventory-destination",
        "version": "2016-11-30",
        "creationTimestamp": str(int(created.timestamp() * 1000)),
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate, ETag",
        "files": files,
    }
    dated = config / stamp
    dated.mkdir()
    content = json.dumps(manifest, indent=2).encode()
    (dated / "manifest.json").write_bytes(content)
    (dated / "manifest.checksum").write_text(hashlib.md5(content).hexdigest())
    hive = config / "hive" / f"dt={created:%Y-%m-%d-%H-%M}"
    hive.mkdir(parents=True)
    (hive / "symlink.txt").write_text("".join(f"s3://inventory-destination/{entry['key']}\n" for entry in files))


def test_an_inventory_lists_what_a_live_listing_does(
    server: Any, bucket: str, small_corpus: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, truth = small_corpus
    url = endpoint(server)
    client = s3_client(url)
    odd = f"{PARTITIONED}/2024/01/01/2024-01-01-23-59-59-with space+plus"
    client.put_object(Bucket=bucket, Key=odd, Body=b"")
    inventory = tmp_path / "inventory"
    now = datetime.now(UTC)
    write_inventory(inventory, client=client, bucket=bucket, created=now - timedelta(days=1), keys=[odd])
    write_inventory(inventory, client=client, bucket=bucket, created=now)  # the newest manifest wins
    live = S3Bucket(f"s3://{bucket}/{PARTITIONED}", endpoint_url=url).list().objects()
    listed = S3Bucket(f"s3://{bucket}/{PARTITIONED}", endpoint_url=url, inventory=inventory).list().objects()
    assert listed == live and len(live) == truth["log_objects"] + 1
    assert any(item.name.endswith("with space+plus") for item in listed)
    cache = tmp_path / "cache"
    source = f"s3://{bucket}/{PARTITIONED}"
    done = s3_extract(source, cache, url, "--inventory", str(inventory))
    assert done.returncode == 0, done.stderr
    assert per_key(shard_rows(cache)) == expected_per_key(truth)
    figures = cli("status", "--cache", str(cache), "--inventory", str(inventory), "--json")
    assert figures.returncode == 0, figures.stderr
    assert json.loads(figures.stdout)["inventory"] == {
        "log_objects": truth["log_objects"] + 1,
        "committed": truth["log_objects"] + 1,
        "percent": 100.0,
    }


def test_inventory_errors_are_one_line(server: Any, bucket: str, tmp_path: Path) -> None:
    url = endpoint(server)
    source = f"s3://{bucket}/flat"
    missing = s3_extract(source, tmp_path / "c1", url, "--inventory", str(tmp_path / "nowhere"))
    assert missing.returncode == 66 and "inventory folder does not exist" in missing.stderr
    inventory = tmp_path / "inventory"
    write_inventory(inventory, client=s3_client(url), bucket=bucket, created=datetime.now(UTC))
    next((inventory / bucket / "daily" / "data").iterdir()).unlink()
    incomplete = s3_extract(source, tmp_path / "c2", url, "--inventory", str(inventory))
    assert incomplete.returncode == 66 and "is missing from the copy" in incomplete.stderr
    other = s3_extract(f"s3://another-{bucket}/flat", tmp_path / "c3", url, "--inventory", str(inventory))
    assert other.returncode == 66 and "no S3 Inventory manifest.json for bucket" in other.stderr
    for done in (missing, incomplete, other):
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "c1").exists()


def test_missing_bucket_bad_and_absent_credentials_are_one_line(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = endpoint(server)
    no_bucket = s3_extract("s3://no-such-bucket-here/logs", tmp_path / "c1", url)
    assert no_bucket.returncode == 66 and "no such bucket" in no_bucket.stderr
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    absent = s3_extract("s3://no-such-bucket-here/logs", tmp_path / "c2", url)
    assert absent.returncode == 66 and "no AWS credentials found" in absent.stderr
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEWRONGKEY1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-never-shown")
    requests.post(f"{url}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()  # moto checks keys now
    try:
        denied = s3_extract("s3://no-such-bucket-here/logs", tmp_path / "c3", url)
    finally:
        requests.post(f"{url}/moto-api/reset-auth", data=b"inf", timeout=10).raise_for_status()
    assert denied.returncode == 66 and "access denied (InvalidAccessKeyId)" in denied.stderr
    for done in (no_bucket, absent, denied):
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert "AKIAEXAMPLEWRONGKEY1" not in done.stderr and "wrong-secret" not in done.stderr
    assert not any((tmp_path / name).exists() for name in ("c1", "c2", "c3"))


def test_settle_days_hold_back_the_newest_days(server: Any, bucket: str, tmp_path: Path) -> None:
    """Objects uploaded now are of today (UTC): the default (1 day) leaves them all for later."""
    url = endpoint(server)
    held = cli("extract", f"s3://{bucket}/flat", "--cache", str(tmp_path / "cache"), "--endpoint-url", url)
    assert held.returncode == 0, held.stderr
    assert "0 log objects in 0 batches" in held.stderr and "too recent (still settling)" in held.stderr


def test_without_the_extra_an_s3_source_says_how_to_install_it(tmp_path: Path) -> None:
    """The message and exit code of a missing boto3, in a process where it cannot be imported."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "boto3.py").write_text("raise ImportError('blocked for this test')\n")
    environment = {**os.environ, "PYTHONPATH": str(blocker)}
    done = cli("extract", "s3://bucket/logs", "--cache", str(tmp_path / "cache"), env=environment)
    assert done.returncode == 69 and "pip install 's3logextraction[s3]'" in done.stderr
    assert done.stderr.count("\n") == 1


def test_settle_from_counts_whole_utc_days() -> None:
    def ns(moment: datetime) -> int:
        return int(moment.timestamp()) * 10**9

    afternoon = datetime(2024, 5, 3, 15, 0, tzinfo=UTC)
    assert settle_from(now_ns=ns(afternoon), settle_seconds=600, settle_days=0) == ns(afternoon) - 600 * 10**9
    assert settle_from(now_ns=ns(afternoon), settle_seconds=600, settle_days=1) == ns(datetime(2024, 5, 3, tzinfo=UTC))
    assert settle_from(now_ns=ns(afternoon), settle_seconds=0, settle_days=2) == ns(datetime(2024, 5, 2, tzinfo=UTC))
    just_after_midnight = datetime(2024, 5, 3, 0, 5, tzinfo=UTC)  # 600 s back is the day before: that wins
    assert settle_from(now_ns=ns(just_after_midnight), settle_seconds=600, settle_days=1) == ns(
        datetime(2024, 5, 2, 23, 55, tzinfo=UTC)
    )


def test_validate_logs_reads_a_bucket_as_it_reads_a_folder(server: Any, tmp_path: Path) -> None:
    name = f"logs-{uuid.uuid4().hex[:12]}"
    client = s3_client(endpoint(server))
    client.create_bucket(Bucket=name)
    client.put_object(Bucket=name, Key=f"logs/{OBJECT}", Body=("\n".join(LINES) + "\n").encode())
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / OBJECT).write_text("\n".join(LINES) + "\n")
    remote, local = tmp_path / "remote.tsv", tmp_path / "local.tsv"
    done = cli("validate", "logs", f"s3://{name}/logs", "--endpoint-url", endpoint(server), "--findings", str(remote))
    assert done.returncode == 1, done.stderr
    assert cli("validate", "logs", str(folder), "--findings", str(local)).returncode == 1
    assert remote.read_text() == local.read_text()
    assert [row.split("\t")[2] for row in remote.read_text().splitlines()[1:]] == [row[2] for row in EXPECTED]


def put_days(
    client: Any, bucket: str, *, prefix: str, days: list[datetime], per_day: int, flat: bool, first: int = 0
) -> int:
    """`per_day` one-line log objects for each day (numbered from `first`), named as AWS names
    them (flat, or in the date-partitioned layout); returns how many."""
    count = 0
    for day in days:
        folder = "" if flat else f"{day:%Y/%m/%d}/"
        for number in range(first, first + per_day):
            name = f"{prefix}{folder}{day:%Y-%m-%d}-{number:02d}-00-00-{day.toordinal() * 100 + number:016X}"
            body = line(day=1, key=f"ds/{day:%Y%m%d}/{number}", status=200, sent=10, ip="192.0.2.9") + "\n"
            client.put_object(Bucket=bucket, Key=name, Body=body.encode())
            count += 1
    return count


def counted_extract(source: S3Bucket, cache: Path, **options: Any) -> tuple[int, int]:
    """(LIST requests sent, objects extracted) of one extract of `source` into `cache`."""
    sent: list[str] = []
    source.client.meta.events.register("before-send.s3.ListObjectsV2", lambda **_: sent.append("LIST"))
    report = extract(source, cache=cache, options=ExtractOptions(settle_days=0, settle_seconds=0, **options))
    return len(sent), report.objects_done


@pytest.mark.parametrize("flat", [False, True], ids=["date-partitioned", "flat"])
def test_a_night_lists_the_days_that_can_be_new_not_the_history(server: Any, tmp_path: Path, flat: bool) -> None:
    url = endpoint(server)
    client = s3_client(url)
    history, alone = (f"history-{uuid.uuid4().hex[:8]}", f"alone-{uuid.uuid4().hex[:8]}")
    for name in (history, alone):
        client.create_bucket(Bucket=name)
    first = datetime(2023, 1, 1, tzinfo=UTC)
    year = [first + timedelta(days=n) for n in range(365)]
    night = [first + timedelta(days=365 + n) for n in range(2)]
    prefix = "" if flat else "123456789012/us-east-1/archive/"
    put_days(client, history, prefix=prefix, days=year, per_day=12, flat=flat)
    cache = tmp_path / "cache"
    source = f"s3://{history}"
    full_requests, done = counted_extract(S3Bucket(source, endpoint_url=url), cache)
    assert done == 365 * 12 and full_requests == 5, "the history takes five pages of 1,000 keys"

    new = put_days(client, history, prefix=prefix, days=night, per_day=3, flat=flat)
    put_days(client, alone, prefix=prefix, days=night, per_day=3, flat=flat)
    night_requests, night_done = counted_extract(S3Bucket(source, endpoint_url=url), cache)
    alone_requests, alone_done = counted_extract(S3Bucket(f"s3://{alone}", endpoint_url=url), tmp_path / "alone")
    assert night_done == alone_done == new
    assert night_requests <= 3 * alone_requests, (night_requests, alone_requests)
    assert status(cache=cache)["log_objects"] == 365 * 12 + new

    late = put_days(client, history, prefix=prefix, days=[year[100]], per_day=1, flat=flat, first=50)  # copied in
    _, again_done = counted_extract(S3Bucket(source, endpoint_url=url), cache)
    assert again_done == 0, "a night does not list days long committed"
    relisted, found = counted_extract(S3Bucket(source, endpoint_url=url), cache, full_listing=True)
    assert found == late and relisted >= full_requests
    assert status(cache=cache)["log_objects"] == 365 * 12 + new + late


def test_a_new_prefix_beside_the_known_one_is_listed_whole(server: Any, tmp_path: Path) -> None:
    url = endpoint(server)
    client = s3_client(url)
    name = f"prefixes-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=name)
    days = [datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=n) for n in range(20)]
    put_days(client, name, prefix="111/us-east-1/b/", days=days, per_day=2, flat=False)
    cache = tmp_path / "cache"
    assert counted_extract(S3Bucket(f"s3://{name}", endpoint_url=url), cache)[1] == 40
    before = put_days(client, name, prefix="000/us-east-1/a/", days=days[:3], per_day=1, flat=False)
    after = put_days(client, name, prefix="222/us-east-1/c/", days=days[:2], per_day=1, flat=False)
    latest = put_days(
        client, name, prefix="111/us-east-1/b/", days=[days[-1] + timedelta(days=1)], per_day=2, flat=False
    )
    _, done = counted_extract(S3Bucket(f"s3://{name}", endpoint_url=url), cache)
    assert done == before + after + latest
    assert status(cache=cache)["log_objects"] == 40 + before + after + latest
