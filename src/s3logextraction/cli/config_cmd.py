"""`config`: where settings and the cache live."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from ..config import config_file, load_settings, set_cache_dir

config_app = typer.Typer(help="Show and change settings (YAML file in the user config dir).", no_args_is_help=True)
cache_app = typer.Typer(help="The default cache directory.", no_args_is_help=True)
config_app.add_typer(cache_app, name="cache")


@cache_app.command("set")
def cache_set(directory: Annotated[Path, typer.Argument(help="New default cache directory (created).")]) -> None:
    """Set the default cache directory."""
    target = set_cache_dir(directory)
    typer.echo(f"cache directory set to {target} (in {config_file()})")


@cache_app.command("show")
def cache_show() -> None:
    """Print the cache directory in effect."""
    typer.echo(str(load_settings().cache))


@config_app.command("show")
def show() -> None:
    """Print every setting in effect (secrets masked) and where the file is."""
    settings = load_settings()
    shown = settings.model_dump(mode="json")
    for secret in ("password", "ipinfo_api_key", "opencage_api_key"):
        shown[secret] = "set" if shown.get(secret) else "not set"
    typer.echo(f"# {config_file()}")
    typer.echo(yaml.safe_dump(shown, sort_keys=True).rstrip())
