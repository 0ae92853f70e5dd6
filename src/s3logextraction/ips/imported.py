"""`import s3-log-extraction`: the region labels dandi/s3-log-extraction already looked up.

That tool keeps `ips/ip_to_region.yaml` in its cache folder: a YAML mapping of raw IP -> region
label (`US/California`, `AWS/us-east-1`, `GitHub`, `bogon` ...), encrypted with Fernet under a
key derived from `S3_LOG_EXTRACTION_PASSWORD` by PBKDF2-HMAC-SHA256 (600,000 iterations, salt
`s3_log_extraction` or `S3_LOG_EXTRACTION_SALT`), or in plain YAML when it ran without encryption.
Each IP is indexed here like any requester (canonical form, keyed digest, sealed) and keeps its
label with the source `s3-log-extraction`, so switching tools sends no IP to ipinfo twice.  A
label this cache already has is kept; `undetermined` (that tool's mark for a lookup it could not
make) is not a label.  Its `region_codes_to_coordinates.yaml` is not read: coordinates come from
the embedded tables.  The file is decrypted and parsed before anything is written, so a wrong
password writes nothing.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from ..addresses import canonical_address
from ..arrow import pa
from ..cache import Cache, PathLike, rows_for, touch_summary_inputs, transaction, utc_now
from ..errors import InputError, WrongKeyError, storage_errors
from .index import open_indexer

SOURCE = "s3-log-extraction"
DEFAULT_SALT = b"s3_log_extraction"
ITERATIONS = 600_000
NOT_LABELS = frozenset({"", "undetermined"})


@dataclass
class ImportReport:
    read: int = 0
    imported: int = 0
    kept: int = 0
    skipped: int = 0

    def summary(self) -> str:
        return (
            f"import: {self.read} IPs read, {self.imported} labels imported (source {SOURCE}), {self.kept} already "
            f"labelled here and kept, {self.skipped} without a label or not an address"
        )


def fernet_key(password: str, *, salt: bytes | None) -> bytes:
    """The Fernet key s3-log-extraction derives from its password (utils/encryption.py)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    derived = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt or DEFAULT_SALT, iterations=ITERATIONS)
    return base64.urlsafe_b64encode(derived.derive(password.encode("utf-8")))


def read_labels(folder: Path, *, password: str | None, salt: bytes | None, encrypted: bool) -> dict[str, str]:
    """IP -> label from that tool's `ips/ip_to_region.yaml` (decrypted in memory only)."""
    import yaml

    path = folder / "ips" / "ip_to_region.yaml"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path} does not exist: is {folder} an s3-log-extraction cache folder?") from None
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    if encrypted and raw.strip():
        if not password:
            raise WrongKeyError("the s3-log-extraction cache is encrypted: set S3_LOG_EXTRACTION_PASSWORD")
        from cryptography.fernet import Fernet, InvalidToken

        try:
            raw = Fernet(fernet_key(password, salt=salt)).decrypt(raw)
        except InvalidToken:
            raise WrongKeyError(f"{path} does not open with this password (and salt); nothing was imported") from None
    try:
        loaded = yaml.safe_load(raw.decode("utf-8")) or {}
    except (UnicodeDecodeError, yaml.YAMLError):
        hint = " (is it encrypted? drop --no-encryption)" if not encrypted else ""
        raise InputError(f"{path} is not a YAML mapping{hint}") from None
    if not isinstance(loaded, dict):
        raise InputError(f"{path} is not a YAML mapping of IP to region")
    return {str(ip): "" if label is None else str(label) for ip, label in loaded.items()}


def import_s3_log_extraction(
    *,
    cache: PathLike,
    folder: PathLike,
    password: str | None = None,
    salt: bytes | None = None,
    encrypted: bool = True,
) -> ImportReport:
    """Imports the region labels of the s3-log-extraction cache at `folder` into `cache` (made if
    need be); `password` and `salt` are that tool's (None: its default salt)."""
    labels = read_labels(Path(folder), password=password, salt=salt, encrypted=encrypted)
    report = ImportReport(read=len(labels))
    wanted: dict[bytes, str] = {}
    for ip, label in labels.items():
        address = canonical_address(ip)
        if label in NOT_LABELS or address is None:
            report.skipped += 1
            continue
        wanted[address.encode("ascii")] = label
    with (
        Cache.open_for_writing(cache, command="import s3-log-extraction", create=True) as opened,
        storage_errors(what=opened.paths.root),
    ):
        indexer = open_indexer(opened, password=password)
        addresses = pa.array(list(wanted), pa.binary())
        assigned = indexer.ips.assign(addresses)
        found = assigned.ids.to_pylist()
        labelled = {
            ip_id for (ip_id,) in rows_for(opened.db, select="SELECT ip_id FROM ip_regions", column="ip_id", keys=found)
        }
        now = utc_now()
        rows = [
            (ip_id, label, SOURCE, now)
            for ip_id, label in zip(found, wanted.values(), strict=True)
            if ip_id not in labelled
        ]
        report.kept = len(wanted) - len(rows)
        report.imported = len(rows)
        with transaction(opened.db) as db:
            db.executemany("INSERT INTO ips VALUES (?, ?, ?)", assigned.new_rows)
            db.executemany("INSERT INTO ip_regions (ip_id, region, source, classified_at) VALUES (?, ?, ?, ?)", rows)
            if rows:
                touch_summary_inputs(db)
    return report
