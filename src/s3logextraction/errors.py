"""Errors that end a command with a one-line message and a documented exit code.

The CLI turns every `S3LogExtractionError` into its message on stderr and its `exit_code`; no
traceback reaches an operator.  Messages never contain a raw IP address.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes, documented in the README (values follow BSD sysexits where one fits)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    DATA = 65
    NO_INPUT = 66
    UNAVAILABLE = 69
    CANT_CREATE = 73
    IO = 74
    LOCKED = 75
    PERMISSION = 77
    CONFIG = 78
    ABORTED = 130


class S3LogExtractionError(Exception):
    """A failure an operator can act on: one line of text and an exit code."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class MissingToolError(S3LogExtractionError):
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
