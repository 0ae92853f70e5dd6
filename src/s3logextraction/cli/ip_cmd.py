"""`update ip indexes`, `ip show` and `config key rotate`."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ..config import load_settings
from ..ips.admin import rotate_key, show_ip
from ..ips.index import update_ip_indexes
from .errors import fail, reports_errors
from .options import CacheOption

update_ip_app = typer.Typer(help="IP stages.", no_args_is_help=True)
ip_app = typer.Typer(help="Operator tools for the IP index.", no_args_is_help=True)
key_app = typer.Typer(help="The key that seals stored IPs.", no_args_is_help=True)


def current_password() -> str | None:
    password = load_settings().password
    return password.get_secret_value() if password else None


@update_ip_app.command("indexes")
@reports_errors
def indexes(cache: CacheOption = None) -> None:
    """Replace raw IPs and user agents in extracted shards by anonymous ids (Parquet shards)."""
    root = load_settings(cache=cache).cache
    count = update_ip_indexes(cache=root, password=current_password())
    typer.echo(f"indexed {count} shards in {root}", err=True)


@ip_app.command("show")
@reports_errors
def show(ip_id: Annotated[int, typer.Argument(help="The anonymous id.")], cache: CacheOption = None) -> None:
    """Print the IP behind an id, for an operator investigating abuse (needs the key)."""
    typer.echo(show_ip(cache=load_settings(cache=cache).cache, ip_id=ip_id, password=current_password()))


@key_app.command("rotate")
@reports_errors
def rotate(cache: CacheOption = None) -> None:
    """Re-seal stored IPs under a new password (S3_LOG_EXTRACTION_NEW_PASSWORD or a prompt); ids stay."""
    new_password = os.environ.get("S3_LOG_EXTRACTION_NEW_PASSWORD") or typer.prompt(
        "new password", hide_input=True, confirmation_prompt=True
    )
    if not new_password:
        raise fail("the new password is empty", code=2)
    count = rotate_key(cache=load_settings(cache=cache).cache, password=current_password(), new_password=new_password)
    typer.echo(f"re-sealed {count} IPs; set S3_LOG_EXTRACTION_PASSWORD to the new password from now on")
