"""Errors that end a command with a one-line message and a documented exit code.

The CLI turns every `S3LogExtractionError` into its message on stderr and its `exit_code`; no
traceback reaches an operator.  Messages never contain a raw IP address.  Failures of the
storage (a full disk, a read-only cache) are classified here, from `errno` and from SQLite's
own error code, never from message text.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Iterator
from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Exit codes, documented in the README (values follow BSD sysexits where one fits)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    PARTIAL = 3
    DATA = 65
    NO_INPUT = 66
    UNAVAILABLE = 69
    SOFTWARE = 70
    CANT_CREATE = 73
    LOCKED = 75
    PERMISSION = 77
    CONFIG = 78
    ABORTED = 130


class S3LogExtractionError(Exception):
    """A failure an operator can act on: one line of text and an exit code."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message.replace("\n", "\\n").replace("\r", "\\r"))


class MissingToolError(S3LogExtractionError):
    exit_code = ExitCode.UNAVAILABLE


class ServiceError(S3LogExtractionError):
    """An external service (the DANDI API) kept failing after its retries."""

    exit_code = ExitCode.UNAVAILABLE


class InputError(S3LogExtractionError):
    exit_code = ExitCode.NO_INPUT


class ConfigError(S3LogExtractionError):
    exit_code = ExitCode.CONFIG


class LockedError(S3LogExtractionError):
    exit_code = ExitCode.LOCKED


class WrongKeyError(S3LogExtractionError):
    """A wrong password or a missing key file: refused before anything is written."""

    exit_code = ExitCode.PERMISSION


class DiskError(S3LogExtractionError):
    exit_code = ExitCode.CANT_CREATE


class AbortedError(S3LogExtractionError):
    exit_code = ExitCode.ABORTED


class UsageError(S3LogExtractionError):
    """A value given on the command line (or to a library function) that cannot be used."""

    exit_code = ExitCode.USAGE


class ReadOnlyError(S3LogExtractionError):
    exit_code = ExitCode.CANT_CREATE


class FindingsError(S3LogExtractionError):
    """A validation found problems (they were listed before this one line)."""

    exit_code = ExitCode.ERROR


class DataError(S3LogExtractionError):
    """Committed data of the cache that cannot be read (a damaged or missing shard): nothing is
    published from it; `validate cache` lists every such problem."""

    exit_code = ExitCode.DATA


class PartialError(S3LogExtractionError):
    """Everything that could be done is done and published; some log objects failed (see status)."""

    exit_code = ExitCode.PARTIAL


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def no_space(what: Path | str) -> DiskError:
    return DiskError(f"no space left writing {what}: free some space and run again (committed work is kept)")


def disk_error(error: OSError, *, what: Path | str) -> S3LogExtractionError:
    """Turns an OSError into the one-line error an operator sees, naming the file."""
    if error.errno in DISK_FULL_ERRNOS:
        return no_space(what)
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return ReadOnlyError(f"cannot write {what}: {error.strerror} (is the cache read-only?)")
    return S3LogExtractionError(f"cannot write {what}: {error.strerror or error}")


def nearly_full(path: Path) -> bool:
    """Less than 1 MiB free where `path` lives: SQLite reports some ENOSPC as an I/O error."""
    try:
        info = os.statvfs(path)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < 1 << 20


def sqlite_error(error: sqlite3.Error, *, what: Path) -> S3LogExtractionError:
    """Classifies a SQLite failure by its primary result code (the low byte of the extended code);
    an I/O error on a file system with no room left is a full disk."""
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == sqlite3.SQLITE_FULL or (primary == sqlite3.SQLITE_IOERR and nearly_full(what)):
        return no_space(what)
    if primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM):
        return ReadOnlyError(f"cannot write the state DB in {what}: it is read-only or cannot be opened")
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return S3LogExtractionError(f"the state DB in {what} is damaged ({error}); restore it from a backup")
    if primary == sqlite3.SQLITE_IOERR:
        return S3LogExtractionError(f"input/output error on the state DB in {what}: check the disk and run again")
    return S3LogExtractionError(f"state DB in {what}: {error}")


@contextlib.contextmanager
def storage_errors(*, what: Path) -> Iterator[None]:
    """Turns a full disk, a read-only cache or a failing DB file under `what` into a one-line error."""
    try:
        yield
    except sqlite3.Error as error:
        raise sqlite_error(error, what=what) from None
    except OSError as error:
        if isinstance(error, (BlockingIOError, InterruptedError)):
            raise
        raise disk_error(error, what=getattr(error, "filename", None) or what) from None
