"""Operator tools on the IP index: reveal one IP for an abuse investigation, rotate the password."""

from __future__ import annotations

import secrets

from ..cache import Cache, CachePaths, PathLike, reader, transaction
from ..errors import InputError, UsageError, storage_errors
from .keys import derive_keys, existing_keys

MAX_IP_ID = 2**63 - 1


def show_ip(*, cache: PathLike, ip_id: int, password: str | None) -> str:
    """The raw IP behind `ip_id` (the only function that ever returns one).  Reads without the
    lock and writes nothing (no key file either), so an operator can look while the nightly run
    is going."""
    if not 1 <= ip_id <= MAX_IP_ID:
        raise UsageError(f"an IP id is a whole number from 1 to {MAX_IP_ID}")
    paths = CachePaths.of(cache)
    with reader(paths) as db, storage_errors(what=paths.root):
        keys = existing_keys(db, password=password, where=paths.root)
        row = db.execute("SELECT sealed FROM ips WHERE ip_id = ?", (ip_id,)).fetchone()
    if row is None:
        raise InputError(f"no IP has the id {ip_id} in {paths.root}")
    return keys.unseal(bytes(row[0])).decode("ascii", "replace")


def rotate_key(*, cache: PathLike, password: str | None, new_password: str) -> int:
    """Re-seals every stored IP under `new_password`; ids do not change.  Returns the IP count."""
    with Cache.open_for_writing(cache, command="config key rotate") as opened, storage_errors(what=opened.paths.root):
        old = existing_keys(opened.db, password=password, where=opened.paths.root)
        salt = secrets.token_bytes(16)
        new = derive_keys(password=new_password, salt=salt, create_key_file=False)
        rows = opened.db.execute("SELECT ip_id, sealed FROM ips").fetchall()
        resealed = []
        for ip_id, sealed in rows:
            ip = old.unseal(bytes(sealed))
            resealed.append((new.digest(ip), new.seal(ip), ip_id))
        with transaction(opened.db) as db:
            db.execute("UPDATE ips SET digest = randomblob(32)")
            db.executemany("UPDATE ips SET digest = ?, sealed = ? WHERE ip_id = ?", resealed)
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [("kdf_salt", salt), ("key_source", b"password"), ("key_check", new.check_value())],
            )
        opened.db.execute("VACUUM")
        return len(rows)
