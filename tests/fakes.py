"""Fake services on 127.0.0.1 that speak the real protocols: ipinfo (batch and single lookups),
OpenCage (forward geocoding) and a plain file server.  Each fake answers from a table the test
gives it and follows a script of failures (`fail`: one entry per coming request, e.g. 429, 500,
"slow"), and records the requests it saw."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Fake:
    answers: dict[str, Any] = field(default_factory=dict)
    fail: list[int | str | None] = field(default_factory=list)
    token: str = "test-token"
    seen: list[tuple[str, str, Any]] = field(default_factory=list)
    url: str = ""
    slow_seconds: float = 8.0

    def next_failure(self) -> int | str | None:
        """The scripted outcome of the coming request (None: answer normally)."""
        return self.fail.pop(0) if self.fail else None


def serve(fake: Fake, handle: Any) -> Iterator[Fake]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def reply(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            handle(self, fake, "GET", None)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            handle(self, fake, "POST", json.loads(self.rfile.read(length) or b"null"))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def scripted_failure(handler: Any, fake: Fake) -> bool:
    """Plays the next scripted failure, if any; True when the request was answered by it."""
    failure = fake.next_failure()
    if failure is None:
        return False
    if failure == "slow":
        time.sleep(fake.slow_seconds)
        return False
    handler.reply(int(failure), {"error": {"title": "scripted", "message": str(failure)}})
    return True


def ipinfo_handle(handler: Any, fake: Fake, method: str, body: Any) -> None:
    """POST /batch with a JSON list of IPs, or GET /<ip>; bearer token required (as ipinfo.io)."""
    path = urlsplit(handler.path).path
    fake.seen.append((method, path, body))
    if handler.headers.get("Authorization") != f"Bearer {fake.token}":
        handler.reply(403, {"error": {"title": "Unknown token"}})
        return
    if scripted_failure(handler, fake):
        return
    if method == "POST" and path == "/batch":
        handler.reply(200, {ip: fake.answers.get(ip, {"ip": ip}) for ip in body})
    elif method == "GET":
        ip = path.strip("/")
        handler.reply(200, fake.answers.get(ip, {"ip": ip}))
    else:
        handler.reply(404, {"error": {"title": "Wrong path"}})


def opencage_handle(handler: Any, fake: Fake, method: str, body: Any) -> None:
    """GET /geocode/v1/json?q=...&key=...&countrycode=..; 401 without the key, as OpenCage does."""
    parts = urlsplit(handler.path)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    fake.seen.append((method, parts.path, query))
    if query.get("key") != fake.token:
        handler.reply(401, {"status": {"code": 401, "message": "invalid API key"}, "results": []})
        return
    failure = fake.next_failure()
    if failure in (402, 429):
        handler.reply(int(failure), {"status": {"code": failure, "message": "quota exceeded"}, "results": []})
        return
    results = fake.answers.get(query.get("q", ""), [])
    handler.reply(200, {"status": {"code": 200, "message": "OK"}, "results": results, "total_results": len(results)})


def file_handle(handler: Any, fake: Fake, method: str, body: Any) -> None:
    path = urlsplit(handler.path).path
    fake.seen.append((method, path, None))
    if path in fake.answers:
        handler.reply(200, fake.answers[path], content_type="application/octet-stream")
    else:
        handler.reply(404, b"not found", content_type="text/plain")


@contextmanager
def fake_ipinfo(answers: dict[str, Any], *, fail: list[int | str | None] | None = None) -> Iterator[Fake]:
    yield from serve(Fake(answers=answers, fail=list(fail or [])), ipinfo_handle)


@contextmanager
def fake_opencage(answers: dict[str, Any], *, fail: list[int | str | None] | None = None) -> Iterator[Fake]:
    yield from serve(Fake(answers=answers, fail=list(fail or [])), opencage_handle)


@contextmanager
def file_server(files: dict[str, bytes]) -> Iterator[Fake]:
    yield from serve(Fake(answers=dict(files)), file_handle)


def opencage_result(latitude: float, longitude: float, country: str) -> dict[str, Any]:
    return {
        "geometry": {"lat": latitude, "lng": longitude},
        "components": {"country_code": country.lower(), "_type": "state"},
        "confidence": 5,
    }


@dataclass
class Dandiset:
    identifier: str
    modified: str
    versions: dict[str, tuple[str, list[dict[str, Any]]]]  # version -> (modified, assets)


def dandi_handle(handler: Any, fake: Fake, method: str, body: Any) -> None:
    """The DANDI REST API's read side under /api: dandisets, versions and assets, two results a
    page with absolute `next` links, as the real server paginates."""
    parts = urlsplit(handler.path)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    fake.seen.append((method, parts.path, query))
    if scripted_failure(handler, fake):
        return
    segments = [segment for segment in parts.path.split("/") if segment]
    dandisets: dict[str, Dandiset] = fake.answers
    if segments == ["api", "dandisets"]:
        results: list[Any] = [{"identifier": d.identifier, "modified": d.modified} for d in dandisets.values()]
    elif len(segments) == 4 and segments[3] == "versions" and segments[2] in dandisets:
        versions = dandisets[segments[2]].versions
        results = [{"version": name, "modified": modified} for name, (modified, _) in versions.items()]
    elif len(segments) == 6 and segments[5] == "assets" and segments[2] in dandisets:
        results = dandisets[segments[2]].versions[segments[4]][1]
    else:
        handler.reply(404, {"detail": "Not found."})
        return
    page = int(query.get("page", "1"))
    chunk = results[(page - 1) * 2 : page * 2]
    following = None
    if page * 2 < len(results):
        following = f"{fake.url}{parts.path}?page={page + 1}"
    handler.reply(200, {"count": len(results), "next": following, "previous": None, "results": chunk})


@contextmanager
def fake_dandi(dandisets: dict[str, Dandiset], *, fail: list[int | str | None] | None = None) -> Iterator[Fake]:
    yield from serve(Fake(answers=dandisets, fail=list(fail or [])), dandi_handle)
