"""Generic mode: the dataset is the first `level` path segments of the key, the asset the rest.

Works on the distinct keys only (shards dictionary-encode the key), so the cost does not grow
with the number of requests.  Keys are in the escaped-bytes form of `s3logextraction.text`; the
asset path is the rest of the key URL-decoded once, as bytes, and escaped again, so a `%0A` in a
key can never start a new row of a published file.  Keys with no asset part belong to the
pseudo-dataset `undetermined`.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from ..errors import UsageError
from ..text import escape_bytes, unescape

UNDETERMINED = "undetermined"


def check_level(level: int) -> None:
    if level < 1:
        raise UsageError(f"--level must be at least 1 (got {level})")


def decoded(text: str) -> str:
    """Escaped text URL-decoded once (as bytes, lossless) and escaped again."""
    if "%" not in text:
        return text
    return escape_bytes(unquote_to_bytes(unescape(text)))


def split_key(key: str, *, level: int) -> tuple[str, str]:
    """('ds1', 'sub-1/file+x.nwb') for 'ds1/sub-1/file%2Bx.nwb' at level 1 (asset decoded once)."""
    parts = key.split("/", level)
    if len(parts) <= level or parts[level] == "":
        return UNDETERMINED, decoded(key)
    return "/".join(parts[:level]), decoded(parts[level])


def split_keys(keys: list[str], *, level: int) -> tuple[list[str], list[str]]:
    datasets: list[str] = []
    assets: list[str] = []
    for key in keys:
        dataset, asset = split_key(key, level=level)
        datasets.append(dataset)
        assets.append(asset)
    return datasets, assets
