"""`import s3-log-extraction`: switch from dandi/s3-log-extraction without looking IPs up again."""

import os
from pathlib import Path
from typing import Annotated

import typer

from ..config import load_settings, revealed
from ..ips.imported import import_s3_log_extraction
from .options import CacheOption

import_app = typer.Typer(help="Bring in what another tool already computed.", no_args_is_help=True)


@import_app.command("s3-log-extraction")
def s3_log_extraction_command(
    folder: Annotated[
        Path, typer.Argument(help="The s3-log-extraction cache folder (it holds ips/ip_to_region.yaml).")
    ],
    cache: CacheOption = None,
    encryption: Annotated[
        bool,
        typer.Option("--encryption/--no-encryption", help="Whether that cache was written encrypted (its default)."),
    ] = True,
) -> None:
    """Import the region labels dandi/s3-log-extraction looked up, so no IP is sent to ipinfo again.

    Reads `ips/ip_to_region.yaml` of its cache folder (Fernet-encrypted with a key derived from
    `S3_LOG_EXTRACTION_PASSWORD` and `S3_LOG_EXTRACTION_SALT` as that tool derives it, or plain YAML
    with `--no-encryption`); each IP is indexed here like any requester and keeps its label, with the
    source `s3-log-extraction`. Its coordinates file is not read (the embedded tables place labels).
    A wrong password exits 77 and writes nothing.
    """
    settings = load_settings({"cache": cache})
    salt = os.environ.get("S3_LOG_EXTRACTION_SALT")
    report = import_s3_log_extraction(
        cache=settings.cache,
        folder=folder,
        password=revealed(settings.password),
        salt=None if salt is None else salt.encode("utf-8"),
        encrypted=encryption,
    )
    typer.echo(report.summary(), err=True)
