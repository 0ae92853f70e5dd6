"""Operator tools on the IP index: reveal one IP for an abuse investigation, rotate the password."""

from __future__ import annotations

import secrets
from pathlib import Path

from ..cache import Cache, CachePaths, connect, storage_errors, transaction
from ..errors import InputError
from .keys import derive_keys, load_keys


def show_ip(*, cache: Path, ip_id: int, password: str | None) -> str:
    """The raw IP behind `ip_id` (the only function that ever returns one).  Reads without the
    lock, so an operator can look while the nightly run is going."""
    paths = CachePaths(cache.expanduser().absolute())
    if not paths.state.exists():
        raise InputError(f"{paths.root} holds no IP index")
    db = connect(paths.state, read_only=True)
    try:
        with storage_errors(what=paths.root):
            keys = load_keys(db, password=password)
            row = db.execute("SELECT sealed FROM ips WHERE ip_id = ?", (ip_id,)).fetchone()
    finally:
        db.close()
    if row is None:
        raise InputError(f"no IP has the id {ip_id} in {paths.root}")
    return keys.unseal(bytes(row[0])).decode("ascii", "replace")


def rotate_key(*, cache: Path, password: str | None, new_password: str) -> int:
    """Re-seals every stored IP under `new_password`; ids do not change.  Returns the IP count."""
    with Cache.open_for_writing(cache, command="config key rotate") as opened, storage_errors(what=opened.paths.root):
        old = load_keys(opened.db, password=password)
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
