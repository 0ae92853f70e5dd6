"""`update ip indexes`, `ip show` and `config key rotate`."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from ..config import load_settings
from ..errors import UsageError
from ..ips.admin import MAX_IP_ID, rotate_key, show_ip
from ..ips.index import update_ip_indexes
from .options import CacheOption
from .signals import drain_on_first_signal

update_ip_app = typer.Typer(help="IP stages.", no_args_is_help=True)
ip_app = typer.Typer(help="Operator tools for the IP index.", no_args_is_help=True)
key_app = typer.Typer(help="The key that seals stored IPs.", no_args_is_help=True)
NEW_PASSWORD = "S3_LOG_EXTRACTION_NEW_PASSWORD"


def current_password() -> str | None:
    password = load_settings().password
    return password.get_secret_value() if password else None


@update_ip_app.command("indexes")
def indexes(cache: CacheOption = None) -> None:
    """Convert TSV shards left by a version before 0.2 (raw IPs) into indexed Parquet shards."""
    root = load_settings(cache=cache).cache
    with drain_on_first_signal():
        count = update_ip_indexes(cache=root, password=current_password())
    if count:
        typer.echo(f"indexed {count} shards in {root}", err=True)
    else:
        typer.echo(f"nothing to do in {root}: extract indexes every batch as it commits it", err=True)


@ip_app.command("show")
def show(
    ip_id: Annotated[int, typer.Argument(help="The anonymous id.", min=1, max=MAX_IP_ID)],
    cache: CacheOption = None,
) -> None:
    """Print the IP behind an id, for an operator investigating abuse (needs the key)."""
    typer.echo(show_ip(cache=load_settings(cache=cache).cache, ip_id=ip_id, password=current_password()))


@key_app.command("rotate")
def rotate(cache: CacheOption = None) -> None:
    """Re-seal stored IPs under a new password (S3_LOG_EXTRACTION_NEW_PASSWORD or a prompt); ids stay."""
    new_password = os.environ.get(NEW_PASSWORD)
    if new_password is None:
        if not sys.stdin.isatty():
            raise UsageError(f"no terminal to ask for the new password: set {NEW_PASSWORD}")
        new_password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    if not new_password:
        raise UsageError("the new password is empty")
    with drain_on_first_signal():
        count = rotate_key(
            cache=load_settings(cache=cache).cache, password=current_password(), new_password=new_password
        )
    typer.echo(f"re-sealed {count} IPs; set S3_LOG_EXTRACTION_PASSWORD to the new password from now on")
