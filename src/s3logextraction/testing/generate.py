"""A realistic synthetic S3 access-log corpus with an exact JSON ground truth.

Log objects are named and foldered like AWS writes them (YYYY/MM/DD/YYYY-MM-DD-HH-MM-SS-HEX),
lines mix the operations and statuses a public archive sees (GET 200/206/304/4xx, HEAD, PUT,
LIST, WEBSITE, copy halves with bare "-" fields), user agents and presigned URIs carry raw
quotes, a share of requesters are IPv6, keys and IPs follow a zipf-like popularity, and a few
lines are truncated.  The ground truth is counted while writing, never by parsing the output.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
BUCKET = "example-archive"
HOST_ID = "UZB9xQkdwYOLjKKtJOBuQ1AqhgOpKQaYo3T3BKmEIsJCgxnQ4gsI62Z/8MAtLWeeNKwXfyvBqP0="
USER_AGENTS = (
    "python-requests/2.31.0",
    "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "dandi/0.59.0 requests/2.31.0 CPython/3.11.6",
    "curl/8.5.0",
    "fsspec/2024.2.0 aiohttp/3.9.3",
)
# Agents with raw quotes (real patterns), about one request in a hundred.
QUOTED_AGENTS = (
    'Dalvik/2.1.0 (Linux; U; Android 5.1; Alba 10" Build/LMY47I)',
    'Mozilla/5.0 (iPad; CPU OS 13_1 like Mac OS X) Safari/604.1"',
)
# (operation, weight); GET statuses are drawn separately.
OPERATIONS = (
    ("REST.GET.OBJECT", 70),
    ("REST.HEAD.OBJECT", 10),
    ("REST.GET.BUCKET", 7),
    ("REST.PUT.OBJECT", 5),
    ("WEBSITE.GET.OBJECT", 3),
    ("REST.GET.ACL", 2),
    ("REST.COPY.OBJECT_GET", 2),
    ("REST.GET.OBJECT_TAGGING", 1),
)
GET_STATUSES = (("200", 58), ("206", 27), ("304", 5), ("403", 4), ("404", 5), ("500", 1))
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass
class GroundTruth:
    """Counts the generator wrote; `kept` means REST.GET.OBJECT with status 2xx or 304."""

    lines: int = 0  # every line written, truncated ones included
    truncated_lines: int = 0
    log_bytes: int = 0
    log_objects: int = 0
    lines_per_operation: Counter[str] = field(default_factory=Counter)
    kept_per_status: Counter[str] = field(default_factory=Counter)
    per_key: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: {"kept": 0, "kept_bytes": 0, "get_2xx": 0, "get_2xx_bytes": 0})
    )
    ips: set[str] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "truncated_lines": self.truncated_lines,
            "log_bytes": self.log_bytes,
            "log_objects": self.log_objects,
            "lines_per_operation": dict(sorted(self.lines_per_operation.items())),
            "kept_per_status": dict(sorted(self.kept_per_status.items())),
            "per_key": {key: self.per_key[key] for key in sorted(self.per_key)},
            "distinct_kept_ips": len(self.ips),
        }


def zipf_weights(count: int, *, exponent: float) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank**exponent) for rank in range(1, count + 1)))


def make_keys(rng: random.Random, *, count: int) -> list[str]:
    keys = []
    for number in range(count):
        dataset = f"{rng.randrange(1, 1 + max(1, count // 40)):06d}"
        kind = number % 3
        if kind == 0:
            keys.append(f"blobs/{rng.getrandbits(12):03x}/{rng.getrandbits(12):03x}/{rng.getrandbits(128):032x}")
        elif kind == 1:
            keys.append(f"zarr/{rng.getrandbits(128):032x}/0/{rng.randrange(8)}/{rng.randrange(64)}")
        else:
            keys.append(f"ds{dataset}/sub-{rng.randrange(1, 30):02d}/sub-{number}_ses-1_ecephys%2Bimage.nwb")
    return keys


def make_ips(rng: random.Random, *, count: int) -> list[str]:
    ips = []
    for _ in range(count):
        if rng.random() < 0.1:
            ips.append("2001:db8:" + ":".join(f"{rng.getrandbits(16):x}" for _ in range(3)) + "::1")
        else:
            ips.append(f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}")
    return ips


class LineMaker:
    """Builds one log line at a time and records what it wrote in the ground truth."""

    def __init__(self, rng: random.Random, truth: GroundTruth, *, keys: int, ips: int) -> None:
        self.rng = rng
        self.truth = truth
        self.keys = make_keys(rng, count=keys)
        self.key_weights = zipf_weights(len(self.keys), exponent=1.1)
        self.ips = make_ips(rng, count=ips)
        self.ip_weights = zipf_weights(len(self.ips), exponent=1.2)
        self.operations = [name for name, _ in OPERATIONS]
        self.operation_weights = list(itertools.accumulate(weight for _, weight in OPERATIONS))
        self.statuses = [status for status, _ in GET_STATUSES]
        self.status_weights = list(itertools.accumulate(weight for _, weight in GET_STATUSES))
        self.sizes = {key: rng.randrange(0, 50_000_000) for key in self.keys}

    def lines(self, *, count: int, start: datetime) -> list[str]:
        rng = self.rng
        keys = rng.choices(self.keys, cum_weights=self.key_weights, k=count)
        ips = rng.choices(self.ips, cum_weights=self.ip_weights, k=count)
        operations = rng.choices(self.operations, cum_weights=self.operation_weights, k=count)
        statuses = rng.choices(self.statuses, cum_weights=self.status_weights, k=count)
        out = []
        for key, ip, operation, get_status in zip(keys, ips, operations, statuses, strict=True):
            when = start + timedelta(seconds=rng.randrange(300))
            out.append(self.line(key=key, ip=ip, operation=operation, get_status=get_status, when=when))
        return out

    def line(self, *, key: str, ip: str, operation: str, get_status: str, when: datetime) -> str:
        rng = self.rng
        truth = self.truth
        size = self.sizes[key]
        timestamp = f"[{when.day:02d}/{MONTHS[when.month - 1]}/{when.year}:{when:%H:%M:%S} +0000]"
        agents = QUOTED_AGENTS if rng.random() < 0.01 else USER_AGENTS
        agent = agents[rng.randrange(len(agents))]
        request_id = f"{rng.getrandbits(64):016X}"
        status, sent, error = "200", "-", "-"
        if operation in ("REST.GET.OBJECT", "WEBSITE.GET.OBJECT"):
            status = get_status
            if status == "200":
                sent = str(size) if size else "-"
            elif status == "206":
                sent = str(min(size, rng.randrange(1, 8_388_608))) if size else "-"
            elif status in ("403", "404"):
                error, sent = ("AccessDenied", "243") if status == "403" else ("NoSuchKey", "346")
        elif operation == "REST.GET.BUCKET":
            key, sent = "-", str(rng.randrange(300, 40_000))
        truth.lines += 1
        truth.lines_per_operation[operation] += 1
        if operation == "REST.COPY.OBJECT_GET":
            return (
                f"{OWNER} {BUCKET} {timestamp} {ip} - {request_id} {operation} {key} - 200 - - {size} - - - - - "
                f"{HOST_ID} - - - - - - -"
            )
        if rng.random() < 0.05:
            uri = (
                f'GET /{key}?response-content-disposition=attachment%3B%20filename="{key[-8:]}.nwb"&X-Amz-Expires=3600'
            )
            uri += " HTTP/1.1"
        else:
            method = operation.split(".")[1] if operation.startswith("REST") else "GET"
            uri = f"{method} /{BUCKET}/{key} HTTP/1.1"
        if operation == "REST.GET.OBJECT" and (status[0] == "2" or status == "304"):
            record = truth.per_key[key]
            number = 0 if sent == "-" else int(sent)
            record["kept"] += 1
            record["kept_bytes"] += number
            truth.kept_per_status[status] += 1
            truth.ips.add(ip)
            if status[0] == "2":
                record["get_2xx"] += 1
                record["get_2xx_bytes"] += number
        object_size = str(size) if operation != "REST.GET.BUCKET" else "-"
        return (
            f'{OWNER} {BUCKET} {timestamp} {ip} - {request_id} {operation} {key} "{uri}" {status} {error} {sent} '
            f'{object_size} {rng.randrange(1, 900)} {rng.randrange(1, 90)} "-" "{agent}" - {HOST_ID} SigV4 '
            f"TLS_AES_128_GCM_SHA256 AuthHeader {BUCKET}.s3.us-east-2.amazonaws.com TLSv1.3 - -"
        )


def generate_benchmark(
    directory: Path,
    *,
    size: int,
    seed: int,
    file_size: int = 2 * 1024 * 1024,
    keys: int = 5000,
    ips: int = 20000,
    start: datetime | None = None,
) -> GroundTruth:
    """Writes log objects totalling at least `size` bytes under `directory` and ground_truth.json."""
    rng = random.Random(seed)
    truth = GroundTruth()
    maker = LineMaker(rng, truth, keys=keys, ips=ips)
    logs = directory / "logs"
    when = start or datetime(2024, 1, 1, tzinfo=UTC)
    per_file = max(1, file_size // 420)
    while truth.log_bytes < size:
        lines = maker.lines(count=max(1, int(per_file * rng.uniform(0.5, 1.5))), start=when)
        if rng.random() < 0.02:
            lines.append(lines[0][: rng.randrange(40, 200)])
            truth.truncated_lines += 1
            truth.lines += 1
        data = ("\n".join(lines) + "\n").encode()
        folder = logs / f"{when:%Y/%m/%d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{when:%Y-%m-%d-%H-%M-%S}-{rng.getrandbits(64):016X}").write_bytes(data)
        truth.log_bytes += len(data)
        truth.log_objects += 1
        when += timedelta(seconds=rng.randrange(30, 400))
    (directory / "ground_truth.json").write_text(json.dumps(truth.as_json(), indent=1) + "\n", encoding="utf-8")
    return truth
