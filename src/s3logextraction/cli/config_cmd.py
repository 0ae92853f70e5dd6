"""`config`: where settings and the cache live."""

from pathlib import Path
from typing import Annotated

import typer

from ..appinfo import config_file
from ..config import load_settings, set_cache_dir, settings_shown
from ..ips.exclude import add_excluded_ips, list_excluded_ips, remove_excluded_ips
from .ip_cmd import current_password
from .options import CacheOption

config_app = typer.Typer(help="Show and change settings (YAML file in the user config dir).", no_args_is_help=True)
cache_app = typer.Typer(help="The default cache directory.", no_args_is_help=True)
config_app.add_typer(cache_app, name="cache")


@cache_app.command("set")
def cache_set(directory: Annotated[Path, typer.Argument(help="New default cache directory (created).")]) -> None:
    """Set the default cache directory.

    Settings
    """
    target = set_cache_dir(directory)
    typer.echo(f"cache directory set to {target} (in {config_file()})")


@cache_app.command("show")
def cache_show() -> None:
    """Print the cache directory in effect."""
    typer.echo(str(load_settings().cache))


@config_app.command("show")
def show() -> None:
    """Print every setting in effect (secrets masked) and where the file is."""
    import yaml

    shown = settings_shown(load_settings())
    typer.echo(f"# {config_file()}")
    typer.echo(yaml.safe_dump(shown, sort_keys=True).rstrip())


exclude_app = typer.Typer(
    help="Requester IPs never counted (the archive's own hosts); stored sealed in the cache.", no_args_is_help=True
)
config_app.add_typer(exclude_app, name="exclude-ips")
EntriesArgument = Annotated[
    list[str], typer.Argument(help="CIDR ranges (192.0.2.0/24, 2001:db8::/32, one address) or re:PATTERN.")
]


@exclude_app.command("add")
def exclude_add(entries: EntriesArgument, cache: CacheOption = None) -> None:
    """Exclude requester IPs from every count from the next extraction on.

    Requester IPs never counted (the archive's own backup and mirror hosts): CIDR ranges (a range
    with host bits set is refused, not widened) or `re:PATTERN`; stored sealed in the cache (`list`
    needs the key); lines from them are dropped in memory before indexing and counted as skipped
    (`excluded_ip`) in `status`. An empty list excludes nothing. A bad entry is named by its
    position, never quoted.
    """
    listed = add_excluded_ips(cache=load_settings({"cache": cache}).cache, entries=entries, password=current_password())
    typer.echo(f"{len(listed)} entries in the exclusion list", err=True)


@exclude_app.command("remove")
def exclude_remove(entries: EntriesArgument, cache: CacheOption = None) -> None:
    """Stop excluding these entries (lines already skipped stay skipped)."""
    listed = remove_excluded_ips(
        cache=load_settings({"cache": cache}).cache, entries=entries, password=current_password()
    )
    typer.echo(f"{len(listed)} entries left in the exclusion list", err=True)


@exclude_app.command("list")
def exclude_list(cache: CacheOption = None) -> None:
    """Print the exclusion list (needs the cache's key)."""
    for entry in list_excluded_ips(cache=load_settings({"cache": cache}).cache, password=current_password()):
        typer.echo(entry)
