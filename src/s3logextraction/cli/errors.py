"""The one place where errors become a one-line message on stderr and a documented exit code.

`main` runs the Typer app without its standalone handling, so the exit codes are decided here: a
library error exits with its class's code, a usage error with 2, Ctrl+C with 130 (Typer turns a
KeyboardInterrupt into a returned 130), anything unexpected with 70 (one line naming only the
error's type and place: its text could quote log data, such as an IP).  S3LOGEXTRACTION_DEBUG=1
lets the traceback through.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Sequence

import typer

from ..errors import ExitCode, S3LogExtractionError, disk_error

ABORTED = "aborted: batches in flight discarded, committed work kept"


def say(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


def is_usage_error(error: Exception) -> bool:
    """Typer's (vendored Click) usage errors: they carry `show()` and an exit code of 2."""
    return callable(getattr(error, "show", None)) and getattr(error, "exit_code", None) == ExitCode.USAGE


def where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "unknown place"
    last = frames[-1]
    return f"{os.path.basename(last.filename)}:{last.lineno}"


def exit_code_of(run: Callable[[Sequence[str]], object], args: Sequence[str]) -> int:
    """Runs the app on `args` and returns the exit code, having printed at most one error line."""
    try:
        result = run(args)
    except S3LogExtractionError as error:
        say(str(error))
        return int(error.exit_code)
    except typer.Exit as error:
        result = error.exit_code
    except typer.Abort:
        say("aborted")
        return int(ExitCode.ERROR)
    except KeyboardInterrupt:
        result = int(ExitCode.ABORTED)
    except Exception as error:
        if os.environ.get("S3LOGEXTRACTION_DEBUG") == "1":
            raise
        if is_usage_error(error):
            getattr(error, "show")()  # noqa: B009 (duck-typed: Typer vendors its own Click)
            return int(ExitCode.USAGE)
        if isinstance(error, OSError):
            known = disk_error(error, what=error.filename or "a file")
            say(str(known))
            return int(known.exit_code)
        name = type(error).__name__
        say(f"unexpected {name} at {where(error)} (please report this; S3LOGEXTRACTION_DEBUG=1 shows it)")
        return int(ExitCode.SOFTWARE)
    code = result if isinstance(result, int) else 0
    if code == ExitCode.ABORTED:
        say(ABORTED)
    return code
