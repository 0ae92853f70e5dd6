"""Generic mode: the dataset is the first `level` path segments of the key, the asset the rest.

Works on the distinct keys only (shards dictionary-encode the key), so the cost does not grow
with the number of requests.  Keys with no asset part belong to the pseudo-dataset
`undetermined`.  Dataset names become folder names: segments that a file system would read as
navigation ("", ".", "..") are percent-encoded, so no key can place a file outside summaries/.
"""

from __future__ import annotations

from urllib.parse import unquote

UNDETERMINED = "undetermined"
UNSAFE_SEGMENTS = {"": "%00", ".": "%2E", "..": "%2E%2E"}
# Names the archive-wide outputs use at the top of summaries/.
RESERVED = {"archive", "totals.json", "archive_totals.json", "region_codes_to_coordinates.yaml"}


def safe_dataset(segments: list[str]) -> str:
    """The folder name of a dataset: navigation segments and reserved top-level names are
    percent-encoded (their first character), so no dataset can overwrite another output."""
    safe = [UNSAFE_SEGMENTS.get(segment, segment.replace("\x00", "%00")) for segment in segments]
    if safe[0] in RESERVED:
        safe[0] = f"%{ord(safe[0][0]):02X}{safe[0][1:]}"
    return "/".join(safe)


def split_key(key: str, *, level: int) -> tuple[str, str]:
    """('ds1', 'sub-1/file+x.nwb') for 'ds1/sub-1/file%2Bx.nwb' at level 1 (asset decoded once)."""
    parts = key.split("/", level)
    if len(parts) <= level or parts[level] == "":
        return UNDETERMINED, unquote(key)
    return safe_dataset(parts[:level]), unquote(parts[level])


def split_keys(keys: list[str], *, level: int) -> tuple[list[str], list[str]]:
    datasets: list[str] = []
    assets: list[str] = []
    for key in keys:
        dataset, asset = split_key(key, level=level)
        datasets.append(dataset)
        assets.append(asset)
    return datasets, assets
