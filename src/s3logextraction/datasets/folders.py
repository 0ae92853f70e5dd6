"""Dataset name -> folder under summaries/, safe on every file system and against every key.

Segments a file system reads as navigation ("", ".", "..") are percent-encoded, so no key can
place a file outside summaries/; a first segment that is a top-level output name (`archive`,
`totals.json`, ...) or starts with a dot has its first character percent-encoded, so no dataset
can overwrite another output; a segment longer than a file name may be (255 bytes) is shortened
with a hash suffix after `%~` (the full name stays in totals.json and in the folder's
`dataset_name.txt`).

The escaping is injective: every `%` of a name is written `%25` first, so a `%` in a folder name
always starts an escape this module made, and two distinct datasets never share a folder (`..`
is `%2E%2E`, the dataset literally named `%2E%2E` is `%252E%252E`).  Only a shortened segment can
meet another, through a collision of 64 bits of SHA-256.
"""

from __future__ import annotations

import hashlib

UNSAFE_SEGMENTS = {"": "%00", ".": "%2E", "..": "%2E%2E"}
# What summaries/ holds beside the dataset folders (and the report's folder when it is put there).
ARCHIVE_FOLDER = "archive"
TOTALS_FILE = "totals.json"
ARCHIVE_TOTALS_FILE = "archive_totals.json"
COORDINATES_FILE = "region_codes_to_coordinates.yaml"
ATTRIBUTION_FILE = "ATTRIBUTION.txt"
REPORT_FOLDER = "report"
RESERVED = {ARCHIVE_FOLDER, TOTALS_FILE, ARCHIVE_TOTALS_FILE, COORDINATES_FILE, ATTRIBUTION_FILE, REPORT_FOLDER}
MAX_SEGMENT_BYTES = 200


def bounded(segment: str) -> str:
    data = segment.encode("utf-8")
    if len(data) <= MAX_SEGMENT_BYTES:
        return segment
    digest = hashlib.sha256(data).hexdigest()[:16]
    head = data[: MAX_SEGMENT_BYTES - len(digest) - 2].decode("utf-8", "ignore")
    return f"{head}%~{digest}"  # no escape writes `%~`: a shortened name is never another's full one


def escaped_segment(segment: str, *, first: bool) -> str:
    if segment in UNSAFE_SEGMENTS:
        return UNSAFE_SEGMENTS[segment]
    safe = segment.replace("%", "%25")
    if first and (safe in RESERVED or safe.startswith(".")):
        safe = f"%{ord(safe[0]):02X}{safe[1:]}"
    return safe


def dataset_folder(dataset: str) -> str:
    """The relative folder of a dataset's summaries (posix separators)."""
    segments = dataset.split("/")
    return "/".join(bounded(escaped_segment(segment, first=not at)) for at, segment in enumerate(segments))
