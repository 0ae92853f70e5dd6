"""Dataset name -> folder under summaries/, safe on every file system and against every key.

Segments a file system reads as navigation ("", ".", "..") are percent-encoded, so no key can
place a file outside summaries/; a first segment that is a top-level output name (`archive`,
`totals.json`, ...) has its first character percent-encoded, so no dataset can overwrite another
output; a segment longer than a file name may be (255 bytes) is shortened with a hash suffix
(the full name stays in totals.json and in the folder's `dataset_name.txt`).
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
    head = data[: MAX_SEGMENT_BYTES - len(digest) - 1].decode("utf-8", "ignore")
    return f"{head}~{digest}"


def dataset_folder(dataset: str) -> str:
    """The relative folder of a dataset's summaries (posix separators)."""
    safe = [bounded(UNSAFE_SEGMENTS.get(segment, segment)) for segment in dataset.split("/")]
    if safe[0] in RESERVED or safe[0].startswith("."):
        safe[0] = f"%{ord(safe[0][0]):02X}{safe[0][1:]}"
    return "/".join(safe)
