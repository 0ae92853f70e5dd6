"""DANDI attribution: a blob or Zarr object key -> (dandiset, asset path).

A DANDI bucket keys blobs as `blobs/<3>/<3>/<blob-id>` and Zarr stores as `zarr/<zarr-id>/...`
(extraction in DANDI mode keeps only those and reduces Zarr keys to the store).  Which dandiset
and path an id stands for comes from the DANDI REST API (`/dandisets/`, `/versions/`,
`/assets/`, paginated by `next` links; draft and published versions) or from a mapping file
`{content_id: {dandiset_id: path}}` (JSON, optionally gzip; a path or an http(s) URL).  Either
is stored in the state DB (`dandi_assets`); an API walk refetches only the dandisets whose
`modified` changed since the last walk.

An id in several dandisets goes to `undetermined`; an id in none to `unassociated`; an id with
several paths in one dandiset is counted once there, under the path of its most recent version.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import itertools
import json
import os
import re
import secrets
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import http
from ..arrow import pa, pc
from ..cache import meta_value, touch_summary_inputs, transaction, utc_now
from ..errors import InputError, ServiceError
from .generic import UNDETERMINED

UNASSOCIATED = "unassociated"
ATTRIBUTION_TOKEN = "dandi_attribution_token"
JSON_SPACE = re.compile(r"[ \t\n\r]*")
KEY_SEPARATOR = re.compile(r"[ \t\n\r]*:[ \t\n\r]*")
ENTRY_END = re.compile(r"[ \t\n\r]*([,}])[ \t\n\r]*")
DEFAULT_API_URL = "https://api.dandiarchive.org/api"
BACKOFF = 0.5  # seconds before the first retry, doubled each time
TIMEOUT = 30.0
PAGE_SIZE = 1000
ASSET_TYPES = ("Neurophysiology", "Microscopy", "Video", "Miscellaneous")
MICROSCOPY = (".nii", ".nii.gz", ".ome.zarr", ".ome.tif", ".ome.tiff", ".tif", ".tiff", ".bvec", ".bvecs", ".bval",
              ".bvals", ".trk")  # fmt: skip
VIDEO = (".mp4", ".mov", ".wmv", ".avi", ".mkv")


def content_id(key: str) -> str | None:
    """The blob or Zarr id of an object key (the last part of a blob key; the store of a Zarr key)."""
    if key.startswith("blobs/"):
        return key.rsplit("/", 1)[-1] or None
    if key.startswith("zarr/"):
        return key[5:].split("/", 1)[0] or None
    return None


def asset_types(paths: pa.Array) -> pa.DictionaryArray:
    """DANDI's asset types by file name, for a column of paths: every Zarr store (an unattributed
    one is published under its key, zarr/<id>) counts as microscopy."""
    lowered = pc.utf8_lower(paths)

    def ending(suffixes: tuple[str, ...]) -> pa.Array:
        matches = [pc.ends_with(lowered, suffix) for suffix in suffixes]
        return functools.reduce(pc.or_, matches)

    microscopy = pc.or_(pc.starts_with(lowered, "zarr/"), ending((*MICROSCOPY, ".zarr")))
    codes = pc.case_when(
        pa.StructArray.from_arrays([ending((".nwb",)), microscopy, ending(VIDEO)], names=ASSET_TYPES[:3]),
        *(pa.scalar(code, pa.int8()) for code in range(len(ASSET_TYPES))),
    )
    return pa.DictionaryArray.from_arrays(codes, pa.array(ASSET_TYPES))


class DandiApi:
    """A read-only client of the DANDI REST API: one session, timeouts, bounded retries with
    backoff for timeouts and 5xx, and every answer checked for the fields used."""

    def __init__(self, url: str, *, backoff: float = BACKOFF) -> None:
        self.url = url.rstrip("/")
        self.session = http.session(backoff=backoff)
        self.session.headers["Accept"] = "application/json"

    def get(self, url: str) -> dict[str, Any]:
        import requests

        try:
            response = self.session.get(url, timeout=TIMEOUT)
        except requests.RequestException as error:
            failure = type(error).__name__
        else:
            if response.status_code < 500:
                return answer_of(response, url=url)
            failure = f"HTTP {response.status_code}"
        raise ServiceError(f"the DANDI API at {url} failed {http.RETRIES + 1} times ({failure}); nothing was published")

    def pages(self, url: str) -> Iterator[dict[str, Any]]:
        """Every result of a paginated listing, following `next` links."""
        next_url: str | None = url
        while next_url:
            page = self.get(next_url)
            results = page.get("results")
            if not isinstance(results, list):
                raise InputError(f"the DANDI API answer for {next_url} has no results list")
            yield from results
            following = page.get("next")
            next_url = following if isinstance(following, str) and following else None


def answer_of(response: Any, *, url: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise InputError(f"the DANDI API answered HTTP {response.status_code} for {url}")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise InputError(f"the DANDI API sent no JSON object for {url}")
    return answer


def field(entry: dict[str, Any], name: str, *, where: str) -> str:
    value = entry.get(name) if isinstance(entry, dict) else None
    if not isinstance(value, str) or not value:
        raise InputError(f"the DANDI API answer for {where} lacks `{name}`")
    return value


def changed_attribution(db: sqlite3.Connection) -> None:
    """Marks the stored attribution as changed (inside the transaction that changes it), so any
    resolution remembered from it is recomputed."""
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (ATTRIBUTION_TOKEN, secrets.token_hex(8).encode()))
    touch_summary_inputs(db)


def attribution_token(db: sqlite3.Connection) -> str:
    """Changes whenever the stored attribution does."""
    return (meta_value(db, ATTRIBUTION_TOKEN) or b"").decode()


def walk_api(db: sqlite3.Connection, *, url: str, backoff: float = BACKOFF) -> int:
    """Brings `dandi_assets` up to date with the API: dandisets whose `modified` changed (or are
    new) are refetched, each in one transaction; dandisets gone from the API are dropped.
    Returns the number of dandisets refetched."""
    api = DandiApi(url, backoff=backoff)
    listing = f"{api.url}/dandisets/"
    seen = {
        field(entry, "identifier", where=listing): field(entry, "modified", where=listing)
        for entry in api.pages(f"{listing}?page_size={PAGE_SIZE}&draft=true&empty=true")
    }
    known = dict(db.execute("SELECT dandiset_id, modified FROM dandi_dandisets").fetchall())
    refetched = 0
    for dandiset, modified in sorted(seen.items()):
        if known.get(dandiset) == modified:
            continue
        rows = list(dandiset_assets(api, dandiset))
        with transaction(db):
            db.execute("DELETE FROM dandi_assets WHERE dandiset_id = ?", (dandiset,))
            db.executemany("INSERT OR REPLACE INTO dandi_assets VALUES (?, ?, ?, ?, ?, 'api')", rows)
            db.execute("INSERT OR REPLACE INTO dandi_dandisets VALUES (?, ?)", (dandiset, modified))
            changed_attribution(db)
        refetched += 1
    gone = [dandiset for dandiset in known if dandiset not in seen]
    if gone:
        with transaction(db):
            for dandiset in gone:
                db.execute("DELETE FROM dandi_assets WHERE dandiset_id = ?", (dandiset,))
                db.execute("DELETE FROM dandi_dandisets WHERE dandiset_id = ?", (dandiset,))
            changed_attribution(db)
    return refetched


def dandiset_assets(api: DandiApi, dandiset: str) -> Iterator[tuple[str, str, str, str, str]]:
    """(content id, dandiset, path, version, version modified) of every asset of every version."""
    versions_url = f"{api.url}/dandisets/{dandiset}/versions/"
    for entry in api.pages(f"{versions_url}?page_size={PAGE_SIZE}"):
        version = field(entry, "version", where=versions_url)
        modified = field(entry, "modified", where=versions_url)
        assets_url = f"{api.url}/dandisets/{dandiset}/versions/{version}/assets/"
        for asset in api.pages(f"{assets_url}?page_size={PAGE_SIZE}"):
            path = field(asset, "path", where=assets_url)
            blob, zarr = asset.get("blob"), asset.get("zarr")
            content = blob if isinstance(blob, str) and blob else zarr
            if not isinstance(content, str) or not content:
                raise InputError(f"the DANDI API answer for {assets_url} has an asset with neither `blob` nor `zarr`")
            yield content, dandiset, path, version, modified


def fetched_mapping(location: str) -> bytes | None:
    """The raw bytes of a mapping given as an http(s) URL; None for a local file (read later,
    and only when its digest says it changed)."""
    if not location.startswith(("http://", "https://")):
        return None
    import requests

    try:
        response = http.session().get(location, timeout=TIMEOUT)
    except requests.RequestException as error:
        raise InputError(f"cannot fetch the mapping {location} ({type(error).__name__})") from None
    if response.status_code != 200:
        raise InputError(f"cannot fetch the mapping {location}: HTTP {response.status_code}")
    return bytes(response.content)


def read_mapping(location: str) -> bytes:
    try:
        return Path(location).read_bytes()
    except OSError as error:
        raise InputError(f"cannot read the mapping {location}: {error.strerror or error}") from None


def mapping_digest(location: str, fetched: bytes | None) -> bytes:
    """SHA-256 of the mapping as stored (a local file is hashed in chunks, never held whole)."""
    if fetched is not None:
        return hashlib.sha256(fetched).hexdigest().encode()
    try:
        with open(location, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest().encode()
    except OSError as error:
        raise InputError(f"cannot read the mapping {location}: {error.strerror or error}") from None


def mapping_stamp(location: str) -> bytes | None:
    """A local mapping file's path, size and modification time: the same stamp as at the last
    load means the same file, and not even its digest is computed (a 1,000,000-entry mapping is
    read every night otherwise).  None for a URL."""
    if location.startswith(("http://", "https://")):
        return None
    try:
        status = os.stat(location)
    except OSError as error:
        raise InputError(f"cannot read the mapping {location}: {error.strerror or error}") from None
    return f"{os.path.abspath(location)}\0{status.st_size}\0{status.st_mtime_ns}".encode()


def mapping_text(location: str, data: bytes) -> str:
    """The mapping's JSON text, gunzipped when gzipped."""
    try:
        return (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8")
    except (OSError, EOFError) as error:
        raise InputError(f"the mapping {location} is a broken gzip file: {str(error)[:80]}") from None
    except UnicodeDecodeError as error:
        raise InputError(f"the mapping {location} is not JSON (or gzipped JSON): {str(error)[:80]}") from None


def mapping_rows(location: str, text: str) -> Iterator[tuple[str, str, str]]:
    """(content id, dandiset, path) of every entry, checked; the first bad entry is named.  The
    top-level object is read one entry at a time: a mapping of a million ids never becomes a
    million Python dicts at once."""
    decoder = json.JSONDecoder()
    at = after_space(text, 0)
    if text[at : at + 1] != "{":
        try:
            json.loads(text)
        except ValueError as error:
            raise InputError(f"the mapping {location} is not JSON (or gzipped JSON): {str(error)[:80]}") from None
        raise InputError(f"the mapping {location} must be an object {{content_id: {{dandiset_id: path}}}}")
    at = after_space(text, at + 1)
    closing = text[at : at + 1] == "}"
    at += closing
    while not closing:
        try:
            content, at = decoder.raw_decode(text, at)
            separator = KEY_SEPARATOR.match(text, at)
            if not isinstance(content, str) or separator is None:
                raise json.JSONDecodeError("expected a string key and ':'", text, at)
            places, at = decoder.raw_decode(text, separator.end())
            end = ENTRY_END.match(text, at)
            if end is None:
                raise json.JSONDecodeError("expected ',' or '}'", text, at)
        except ValueError as error:
            raise InputError(f"the mapping {location} is not JSON (or gzipped JSON): {str(error)[:80]}") from None
        closing, at = end.group(1) == "}", end.end()
        if not isinstance(places, dict) or not all(
            isinstance(dandiset, str) and isinstance(path, str) for dandiset, path in places.items()
        ):
            raise InputError(f"the mapping {location}: entry {content[:80]!r} is not {{dandiset_id: path}}")
        for dandiset, path in places.items():
            yield content, dandiset, path
    if after_space(text, at) != len(text):
        raise InputError(f"the mapping {location} is not JSON (or gzipped JSON): extra data after the object")


def after_space(text: str, at: int) -> int:
    """The index of the first non-whitespace character at or after `at`."""
    space = JSON_SPACE.match(text, at)
    return space.end() if space else at


def load_mapping(db: sqlite3.Connection, *, location: str) -> bool:
    """Replaces the stored attribution with the mapping file's, in one transaction; a file whose
    bytes are what was loaded last time is not loaded again.  True when it was loaded."""
    stamp = mapping_stamp(location)
    if stamp is not None and meta_value(db, "dandi_mapping_stamp") == stamp:
        return False
    fetched = fetched_mapping(location)
    digest = mapping_digest(location, fetched)
    if meta_value(db, "dandi_mapping_sha256") == digest:
        if stamp is not None:
            with transaction(db):
                db.execute("INSERT OR REPLACE INTO meta VALUES ('dandi_mapping_stamp', ?)", (stamp,))
        return False
    text = mapping_text(location, read_mapping(location) if fetched is None else fetched)
    fetched = None  # the text alone stays in memory while it is parsed
    with transaction(db):
        db.execute("DELETE FROM dandi_assets")
        db.execute("DELETE FROM dandi_dandisets")
        db.execute("CREATE TEMP TABLE mapping_rows (content_id TEXT, dandiset_id TEXT, path TEXT)")
        rows = mapping_rows(location, text)
        while chunk := list(itertools.islice(rows, 50_000)):
            db.executemany("INSERT INTO temp.mapping_rows VALUES (?, ?, ?)", chunk)
        db.execute(  # in key order: the clustered table is appended to, not written at random places
            "INSERT OR REPLACE INTO dandi_assets SELECT content_id, dandiset_id, path, 'mapping', '', 'mapping' "
            "FROM temp.mapping_rows ORDER BY content_id, dandiset_id"
        )
        db.execute("DROP TABLE temp.mapping_rows")
        db.execute("INSERT OR REPLACE INTO meta VALUES ('dandi_mapping_sha256', ?)", (digest,))
        db.execute("INSERT OR REPLACE INTO meta VALUES ('dandi_mapping_stamp', ?)", (stamp or b"",))
        changed_attribution(db)
    return True


def dandi_places(keys: Sequence[str], *, db: sqlite3.Connection) -> tuple[list[str], list[str]]:
    """(datasets, asset paths) of object keys from the stored attribution, resolved by one query
    that walks the attribution in content-id order (an id found in several dandisets is
    `undetermined`, in none `unassociated`; both keep the key as their asset path)."""
    ids = [content_id(key) for key in keys]
    rows = db.execute(
        "SELECT a.content_id, a.dandiset_id, a.version_modified, a.path "
        "FROM json_each(?) AS wanted JOIN dandi_assets AS a ON a.content_id = wanted.value",
        (json.dumps(sorted({content for content in ids if content})),),
    ).fetchall()
    found = {content: (dandiset, path) for content, dandiset, _, path in rows}
    if len(found) < len(rows):
        found.update(latest_places(rows))
    datasets, paths = [], []
    for key, content in zip(keys, ids, strict=True):
        dataset, path = found.get(content or "", (UNASSOCIATED, key))
        datasets.append(dataset)
        paths.append(path if dataset not in (UNDETERMINED, UNASSOCIATED) else key)
    return datasets, paths


def latest_places(rows: Sequence[tuple[str, str, str, str]]) -> dict[str, tuple[str, str]]:
    """(dandiset, path) of the ids that have several rows: `undetermined` when they are in
    several dandisets, else the path of the most recent version."""
    counts = Counter(content for content, _, _, _ in rows)
    several: dict[str, list[tuple[str, str, str]]] = {}
    for content, dandiset, modified, path in rows:
        if counts[content] > 1:
            several.setdefault(content, []).append((dandiset, modified, path))
    places = {}
    for content, entries in several.items():
        if len({dandiset for dandiset, _, _ in entries}) > 1:
            places[content] = (UNDETERMINED, "")
        else:
            dandiset, _, path = max(entries)
            places[content] = (dandiset, path)
    return places


SOURCE = "dandi_attribution_source"  # meta: the source of the stored attribution, and when it was refreshed


@dataclass(frozen=True)
class DandiSource:
    """Where DANDI attribution comes from: a mapping file or URL, or the API at `api_url`; neither
    given (None, None) means the source of the last DANDI publish, recorded in the cache (the
    DANDI API at its default URL before any)."""

    api_url: str | None = None
    mapping: str | None = None

    @property
    def given(self) -> bool:
        return self.api_url is not None or self.mapping is not None

    def refresh(self, db: sqlite3.Connection, *, reuse: bool = False) -> None:
        """Brings the stored attribution up to date from this source.  With `reuse` (totals and
        archive outputs) and no source given, the stored attribution is used as it is: no network
        call, and the numbers come from the same attribution as the summaries."""
        recorded = recorded_source(db)
        if reuse and not self.given and recorded is not None:
            return
        chosen = self if self.given or recorded is None else DandiSource(**recorded["source"])
        if chosen.mapping:
            load_mapping(db, location=chosen.mapping)
            sha256 = (meta_value(db, "dandi_mapping_sha256") or b"").decode()
            source: dict[str, Any] = {"mapping": chosen.mapping, "sha256": sha256}
        else:
            url = chosen.api_url or DEFAULT_API_URL
            forget_mapping(db)
            walk_api(db, url=url)
            source = {"api_url": url}
        record = {"source": {key: value for key, value in source.items() if key != "sha256"}, **source,
                  "refreshed_at": utc_now()}  # fmt: skip
        with transaction(db):
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (SOURCE, json.dumps(record).encode()))


def recorded_source(db: sqlite3.Connection) -> dict[str, Any] | None:
    """The source of the stored attribution (`api_url` or `mapping` and its `sha256`) and when it
    was refreshed (`refreshed_at`), or None before the first DANDI publish."""
    value = meta_value(db, SOURCE)
    return json.loads(value) if value else None


def forget_mapping(db: sqlite3.Connection) -> None:
    """Going from a mapping file to the API: the mapping's rows go, the API walk starts afresh."""
    if meta_value(db, "dandi_mapping_sha256") is None:
        return
    with transaction(db):
        db.execute("DELETE FROM dandi_assets")
        db.execute("DELETE FROM meta WHERE name IN ('dandi_mapping_sha256', 'dandi_mapping_stamp')")
        changed_attribution(db)
