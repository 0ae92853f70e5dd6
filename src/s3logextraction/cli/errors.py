"""The one place where library errors become a message on stderr and an exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from ..errors import S3LogExtractionError

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str, *, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Wraps a command so that an S3LogExtractionError ends it with one line and its exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except S3LogExtractionError as error:
            raise fail(str(error), code=int(error.exit_code)) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as error:
            first = str(error).splitlines()[0] if str(error) else ""
            raise fail(f"unexpected {type(error).__name__}: {first} (please report this)", code=1) from None

    return wrapper
