"""The Typer app: each command parses options and calls the library function of the same name.

The CLI owns everything process-wide: signals, pyarrow's signal handling, logging, exit codes.
"""

import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from ..appinfo import __version__
from ..arrow import when_imported
from ..errors import ExitCode
from .config_cmd import config_app
from .errors import ABORTED, exit_code_of, say
from .extract_cmd import extract_command, reset_app, status_command, stop_command
from .import_cmd import import_app
from .ip_cmd import ip_app, key_app, update_ip_app
from .parse_cmd import parse_command
from .report_cmd import report_command
from .run_cmd import run_command
from .share_cmd import share_command
from .signals import SIGNALS
from .summarize_cmd import summaries_command, totals_command
from .testing_cmd import testing_app
from .validate_cmd import validate_app

app = typer.Typer(
    name="s3logextraction",
    help="Turn raw Amazon S3 server access logs into privacy-safe public usage statistics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
app.add_typer(config_app, name="config")
app.add_typer(reset_app, name="reset")
app.add_typer(testing_app, name="testing")
app.add_typer(validate_app, name="validate")
update_app = typer.Typer(help="Bring a derived stage up to date (only new work is done).", no_args_is_help=True)
update_app.add_typer(update_ip_app, name="ip")
update_app.command("summaries")(summaries_command)
update_app.command("totals")(totals_command)
app.add_typer(update_app, name="update")
app.command("run")(run_command)
app.add_typer(ip_app, name="ip")
app.add_typer(import_app, name="import")
config_app.add_typer(key_app, name="key")
app.command("parse")(parse_command)
app.command("extract")(extract_command)
app.command("stop")(stop_command)
app.command("status")(status_command)
app.command("share")(share_command)
app.command("report")(report_command)


def show_version(value: bool) -> None:
    if value:
        typer.echo(f"s3logextraction {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Turn raw Amazon S3 server access logs into privacy-safe public usage statistics."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for chatty in ("botocore", "boto3", "urllib3"):  # their INFO lines ("Found credentials ...") are not ours
        logging.getLogger(chatty).setLevel(logging.WARNING)


def configure_process() -> None:
    """What the console script sets for its whole process before a command runs (benchmarks that
    call the library call it too, to measure what the command runs)."""
    # SIGINT/SIGTERM belong to the drain logic (cli/signals.py), not to pyarrow's cancellation.
    when_imported(lambda pyarrow: pyarrow.enable_signal_handlers(False))
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")  # read when Dask loads: its INFO lines are not ours
    # pyarrow imports numpy, whose OpenBLAS starts a spinning thread per core at import: 0.1 s of CPU
    # taken from the gawk processes (extract's coordinator used 10% more CPU), for linear algebra no
    # command does.  A value the operator set wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(args: Sequence[str] | None = None) -> None:
    """The console script: exit codes as the README documents them, whatever Typer's version."""
    configure_process()
    given = list(sys.argv[1:] if args is None else args)
    code = int(ExitCode.ABORTED)
    try:
        code = exit_code_of(
            lambda argv: app(args=list(argv), prog_name="s3logextraction", standalone_mode=False), given
        )
    except KeyboardInterrupt:  # a second Ctrl+C that landed after the command's own handling
        say(ABORTED)
    finally:
        for number in SIGNALS:  # the command is over: one more Ctrl+C must not turn the exit into a kill
            signal.signal(number, signal.SIG_IGN)
    sys.exit(code)
