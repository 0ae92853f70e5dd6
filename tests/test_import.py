"""Switching from dandi/s3-log-extraction keeps its geolocation: its cache's `ip_to_region.yaml`,
written here in its format (Fernet under a PBKDF2-HMAC-SHA256 key, 600,000 iterations, salt
`s3_log_extraction` or S3_LOG_EXTRACTION_SALT), is imported; no IP it labelled is asked again."""

from __future__ import annotations

import base64
import os
import sqlite3
from pathlib import Path

import yaml
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from .conftest import cli
from .fakes import fake_ipinfo
from .test_trust import line, logs

PASSWORD = "correct-horse-battery-staple-9f3Kq"
LABELS = {
    "81.2.69.217": "GB/England",
    "2A00:1450:4001:81C::200F": "DE/Hesse",  # written as that tool found it: one requester here
    "52.94.76.5": "AWS/us-west-2",
    "198.51.100.9": "undetermined",  # that tool's quota mark: not a label
    "not-an-ip": "US/California",
}


def old_cache(folder: Path, *, password: str | None, salt: bytes = b"s3_log_extraction") -> Path:
    """A cache folder as dandi/s3-log-extraction writes it (utils/encryption.py, ip_utils/_ip_cache.py)."""
    text = yaml.dump(LABELS).encode()
    if password is not None:
        kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=600_000)
        text = Fernet(base64.urlsafe_b64encode(kdf.derive(password.encode()))).encrypt(text)
    (folder / "ips").mkdir(parents=True)
    (folder / "ips" / "ip_to_region.yaml").write_bytes(text)
    (folder / "ips" / "region_codes_to_coordinates.yaml").write_text("AL/Tirana: {latitude: -15.8, longitude: -47.9}\n")
    return folder


def labels(cache: Path) -> dict[int, tuple[str, str]]:
    db = sqlite3.connect(cache / "state.sqlite")
    try:
        return {ip_id: (region, source) for ip_id, region, source in db.execute(
            "SELECT ip_id, region, source FROM ip_regions")}  # fmt: skip
    finally:
        db.close()


def test_labels_are_imported_sealed_and_never_asked_again(tmp_path: Path) -> None:
    old = old_cache(tmp_path / "old", password=PASSWORD)
    cache = tmp_path / "cache"
    env = {**os.environ, "S3_LOG_EXTRACTION_PASSWORD": PASSWORD}
    done = cli("import", "s3-log-extraction", str(old), "--cache", str(cache), env=env)
    assert done.returncode == 0, done.stderr
    assert "5 IPs read, 3 labels imported" in done.stderr and "2 without a label" in done.stderr
    assert sorted(labels(cache).values()) == [
        ("AWS/us-west-2", "s3-log-extraction"), ("DE/Hesse", "s3-log-extraction"), ("GB/England", "s3-log-extraction"),
    ]  # fmt: skip
    state = (cache / "state.sqlite").read_bytes()
    assert b"81.2.69.217" not in state and b"2a00:1450" not in state.lower(), "IPs are sealed, never in clear"
    # the same requesters in the logs: indexed to the imported ids, and ipinfo is asked about none of them
    folder = logs(
        tmp_path / "logs",
        {"a": b"\n".join(line(ip=ip) for ip in ("81.2.69.217", "2a00:1450:4001:81c::200f", "52.94.76.5")) + b"\n"},
    )
    assert cli("extract", str(folder), "--cache", str(cache), env=env).returncode == 0
    with fake_ipinfo({}) as fake:
        regions = cli("update", "ip", "regions", "--cache", str(cache),
                      env={**env, "IPINFO_API_KEY": "test-token", "S3LOGEXTRACTION_IPINFO_URL": fake.url})  # fmt: skip
        assert regions.returncode == 0, regions.stderr
    assert fake.seen == [], "no IP that s3-log-extraction looked up is sent to ipinfo again"
    assert len(labels(cache)) == 3


def test_a_wrong_password_is_exit_77_and_writes_nothing(tmp_path: Path) -> None:
    old = old_cache(tmp_path / "old", password=PASSWORD)
    cache = tmp_path / "cache"
    wrong = cli("import", "s3-log-extraction", str(old), "--cache", str(cache),
                env={**os.environ, "S3_LOG_EXTRACTION_PASSWORD": "another-long-password-Zq8"})  # fmt: skip
    assert wrong.returncode == 77 and "does not open with this password" in wrong.stderr
    assert not cache.exists()
    other_salt = {**os.environ, "S3_LOG_EXTRACTION_PASSWORD": PASSWORD, "S3_LOG_EXTRACTION_SALT": "other"}
    salted = cli("import", "s3-log-extraction", str(old), "--cache", str(cache), env=other_salt)
    assert salted.returncode == 77 and not cache.exists()


def test_a_plain_cache_with_no_encryption_and_its_own_salt(tmp_path: Path) -> None:
    plain = old_cache(tmp_path / "plain", password=None)
    cache = tmp_path / "cache"
    done = cli("import", "s3-log-extraction", str(plain), "--cache", str(cache), "--no-encryption")
    assert done.returncode == 0, done.stderr
    assert len(labels(cache)) == 3
    salted = old_cache(tmp_path / "salted", password=PASSWORD, salt=b"site-salt")
    other = tmp_path / "other"
    env = {**os.environ, "S3_LOG_EXTRACTION_PASSWORD": PASSWORD, "S3_LOG_EXTRACTION_SALT": "site-salt"}
    assert cli("import", "s3-log-extraction", str(salted), "--cache", str(other), env=env).returncode == 0
    assert len(labels(other)) == 3
