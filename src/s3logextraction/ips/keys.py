"""Keys for the IP index: an HMAC key (lookup digests) and a sealing key (AES-GCM), both derived
from one secret.  The secret is `S3_LOG_EXTRACTION_PASSWORD` stretched by scrypt with a random
per-cache salt (once per process), or else a random key file in the user config dir (0600).

A check value stored in the state DB detects a wrong password or a missing key file; the command
then refuses before writing anything.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import tempfile
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ..appinfo import config_dir
from ..cache import meta_value, transaction
from ..errors import InputError, WrongKeyError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger("s3logextraction")
CHECK_TEXT = b"s3logextraction key check v1"
KEY_BYTES = 32
SCRYPT_N = 2**15


def key_file() -> Path:
    return config_dir() / "ip-key"


@dataclass(frozen=True)
class IPKeys:
    digest_key: bytes
    seal_key: bytes

    def digest(self, ip: bytes) -> bytes:
        return hmac.digest(self.digest_key, ip, "sha256")

    @cached_property
    def sealer(self) -> AESGCM:
        """One cipher for every IP; cryptography is imported here, as most commands never seal or
        open an IP (a night with nothing new, `status`, `stop`)."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(self.seal_key)

    def seal(self, ip: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self.sealer.encrypt(nonce, ip, None)

    def unseal(self, sealed: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        try:
            return self.sealer.decrypt(sealed[:12], sealed[12:], None)
        except InvalidTag:
            raise WrongKeyError("a sealed IP does not open with this key: wrong password or key file") from None

    def check_value(self) -> bytes:
        return hmac.digest(self.digest_key, CHECK_TEXT, "sha256")


def split_secret(secret: bytes) -> IPKeys:
    return IPKeys(
        digest_key=hashlib.sha256(b"digest" + secret).digest(), seal_key=hashlib.sha256(b"seal" + secret).digest()
    )


@cache
def stretch(password: str, salt: bytes) -> bytes:
    """scrypt once per process for a given password and salt (it is slow on purpose)."""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=8, p=1).derive(password.encode())


def read_key_file(path: Path) -> bytes:
    """The 32-byte secret of a complete key file; anything else is refused, never used."""
    try:
        text = path.read_text(encoding="ascii").strip()
        secret = bytes.fromhex(text)
    except (UnicodeDecodeError, ValueError):
        raise WrongKeyError(f"the key file {path} is damaged; restore it from your backup") from None
    if len(secret) != KEY_BYTES:
        raise WrongKeyError(f"the key file {path} is damaged; restore it from your backup")
    return secret


def read_or_create_key_file(*, create: bool) -> bytes:
    """The key file's secret.  It is created exactly once, even by runs starting together: the
    complete file is written under a temporary name and linked into place, and a run that loses
    the race reads the winner's key (never an empty or partial file)."""
    path = key_file()
    if path.exists():
        return read_key_file(path)
    if not create:
        raise WrongKeyError(
            f"the IP index of this cache was sealed with the key file {path}, which is missing; restore it "
            "(or set S3_LOG_EXTRACTION_PASSWORD if a password was used)"
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_bytes(KEY_BYTES)
    descriptor, staged = tempfile.mkstemp(dir=path.parent, prefix=".ip-key.")
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(secret.hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(staged, path)
    except FileExistsError:
        return read_key_file(path)
    finally:
        os.unlink(staged)
    log.info("created the IP key file %s: keep it safe, the IP index cannot be opened without it", path)
    return secret


def derive_keys(*, password: str | None, salt: bytes | None, create_key_file: bool) -> IPKeys:
    if password:
        assert salt is not None
        return split_secret(stretch(password, salt))
    return split_secret(read_or_create_key_file(create=create_key_file))


def load_keys(db: sqlite3.Connection, *, password: str | None) -> IPKeys:
    """The cache's keys; the first use records salt, key source and check value."""
    check = meta_value(db, "key_check")
    if check is None:
        salt = secrets.token_bytes(16)
        keys = derive_keys(password=password, salt=salt, create_key_file=True)
        with transaction(db):
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [
                    ("kdf_salt", salt),
                    ("key_source", b"password" if password else b"keyfile"),
                    ("key_check", keys.check_value()),
                ],
            )
        return keys
    return checked_keys(db, check=check, password=password)


def existing_keys(db: sqlite3.Connection, *, password: str | None, where: Path) -> IPKeys:
    """The keys of a cache that already has an IP index; nothing is created or written."""
    check = meta_value(db, "key_check")
    if check is None:
        raise InputError(f"the cache {where} has no IP index yet (nothing was extracted)")
    return checked_keys(db, check=check, password=password)


def checked_keys(db: sqlite3.Connection, *, check: bytes, password: str | None) -> IPKeys:
    source = meta_value(db, "key_source")
    if source == b"password" and not password:
        raise WrongKeyError("this cache's IP index is sealed with a password: set S3_LOG_EXTRACTION_PASSWORD")
    chosen = password if source == b"password" else None
    keys = derive_keys(password=chosen, salt=meta_value(db, "kdf_salt"), create_key_file=False)
    if not hmac.compare_digest(keys.check_value(), check):
        if chosen is None:
            raise WrongKeyError(
                f"the key file {key_file()} does not open this cache (it is another cache's key?); restore the key "
                "file this cache was made with; nothing was changed"
            )
        raise WrongKeyError("wrong password for this cache's IP index; nothing was changed")
    return keys
