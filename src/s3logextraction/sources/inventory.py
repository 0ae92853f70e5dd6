"""A local copy of an AWS S3 Inventory, read instead of listing millions of log objects.

AWS publishes, per inventory configuration, `<source-bucket>/<config-id>/<YYYY-MM-DDTHH-MMZ>/
manifest.json` beside the gzip CSV data files in `<source-bucket>/<config-id>/data/` (and Hive
`symlink.txt` partitions, which name the same data files and are not needed here).  The newest
manifest for the bucket wins; its `fileSchema` says where the key, size and last-modified date are
(the configuration must include Size and LastModifiedDate).  Keys in the CSV are URL-encoded with
spaces as `+`.  Each data file is checked against the manifest's MD5 before it is read, so a
half-copied inventory is an error rather than a silently shorter listing.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote_plus

from ..errors import InputError
from ..text import escape_text

REQUIRED = ("Key", "Size", "LastModifiedDate")


@dataclass(frozen=True)
class InventoryEntry:
    key: str
    size: int
    modified: datetime


@dataclass(frozen=True)
class Manifest:
    path: Path
    created_ms: int
    schema: list[str]
    files: list[dict[str, Any]]


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        content = json.loads(path.read_bytes())
    except OSError as error:
        raise InputError(f"{escape_text(str(path))}: cannot read ({error.strerror})") from None
    except ValueError:
        raise InputError(f"{escape_text(str(path))}: not an S3 Inventory manifest (invalid JSON)") from None
    if not isinstance(content, dict) or not {"sourceBucket", "files", "fileSchema"} <= content.keys():
        raise InputError(f"{escape_text(str(path))}: not an S3 Inventory manifest (no sourceBucket, fileSchema, files)")
    return content


def newest_manifest(folder: Path, *, bucket: str) -> Manifest:
    """The manifest with the latest creationTimestamp among those for `bucket` under `folder`."""
    if not folder.is_dir():
        raise InputError(f"{escape_text(str(folder))}: inventory folder does not exist")
    found: list[Manifest] = []
    for path in folder.rglob("manifest.json"):
        content = read_manifest(path)
        if content["sourceBucket"] != bucket:
            continue
        if content.get("fileFormat", "CSV") != "CSV":
            raise InputError(f"{escape_text(str(path))}: inventory format {content['fileFormat']} (only CSV is read)")
        schema = [name.strip() for name in str(content["fileSchema"]).split(",")]
        missing = [name for name in REQUIRED if name not in schema]
        if missing:
            raise InputError(f"{escape_text(str(path))}: the inventory lacks {', '.join(missing)} (add them to it)")
        created = int(content.get("creationTimestamp", 0))
        found.append(Manifest(path=path, created_ms=created, schema=schema, files=list(content["files"])))
    if not found:
        raise InputError(f"{escape_text(str(folder))}: no S3 Inventory manifest.json for bucket {escape_text(bucket)}")
    return max(found, key=lambda manifest: (manifest.created_ms, str(manifest.path)))


def data_file(manifest: Manifest, key: str, *, folder: Path) -> Path:
    """Where the copy of data file `key` (a key in the destination bucket) is: in the data/
    folder beside the manifest's dated folder, or at its full key under the inventory folder."""
    name = PurePosixPath(key)
    for candidate in (manifest.path.parent.parent / "data" / name.name, folder / name):
        if candidate.is_file():
            return candidate
    raise InputError(f"{escape_text(str(manifest.path))}: data file {escape_text(name.name)} is missing from the copy")


def checked_bytes(path: Path, *, md5: str | None) -> bytes:
    data = path.read_bytes()
    if md5 and hashlib.md5(data, usedforsecurity=False).hexdigest() != md5.lower():
        raise InputError(f"{escape_text(str(path))}: does not match the manifest's MD5 (an incomplete copy?)")
    return data


def inventory_entries(folder: Path, *, bucket: str) -> Iterator[InventoryEntry]:
    """Every current object of `bucket` in the newest inventory (delete markers and older
    versions, when the inventory lists versions, left out)."""
    manifest = newest_manifest(folder, bucket=bucket)
    column = {name: index for index, name in enumerate(manifest.schema)}
    for entry in manifest.files:
        path = data_file(manifest, str(entry["key"]), folder=folder)
        try:
            text = gzip.decompress(checked_bytes(path, md5=entry.get("MD5checksum"))).decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError) as error:
            raise InputError(f"{escape_text(str(path))}: not a gzip CSV inventory file ({error})") from None
        for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            try:
                if current(row, column):
                    yield InventoryEntry(
                        key=unquote_plus(row[column["Key"]]),
                        size=int(row[column["Size"]] or 0),
                        modified=datetime.fromisoformat(row[column["LastModifiedDate"]].replace("Z", "+00:00")),
                    )
            except (IndexError, ValueError):
                raise InputError(
                    f"{escape_text(str(path))}: row {number} does not match the manifest's schema"
                ) from None


def current(row: list[str], column: dict[str, int]) -> bool:
    if "IsDeleteMarker" in column and row[column["IsDeleteMarker"]] == "true":
        return False
    return not ("IsLatest" in column and row[column["IsLatest"]] == "false")
