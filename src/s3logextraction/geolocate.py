"""The geolocation commands: `update ip regions`, `update ip coordinates` (places, then the
published coordinates file) and `update ip database` (the DB-IP City Lite file, into the cache).

`Geolocation` holds the choices (provider, files, service keys) once, for these commands and for
`run`.  This module sits above `ips` and `summarize`, as `pipeline.py` does, so neither reaches
into the other.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sqlite3
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .cache import (
    Cache,
    PathLike,
    create_private,
    fsync_directory,
    make_private_folder,
    meta_value,
    summary_inputs,
    transaction,
)
from .errors import InputError, S3LogExtractionError, storage_errors
from .geodata import place_tables_digest
from .ips.classify import read_vpn_ranges
from .ips.coordinates import CoordinatesReport, OpenCagePlaces, place_regions
from .ips.providers import EmbeddedProvider, IpinfoProvider, MmdbProvider, Provider, ProviderName
from .ips.regions import RegionsReport, classify_into
from .summarize import publish_coordinates

PLACED_FOR = "coordinates_placed_for"  # meta: the summary inputs and provider of the last complete placement
DBIP_URL = "https://download.db-ip.com/free/dbip-city-lite-{month}.mmdb.gz"


@dataclass(frozen=True)
class Geolocation:
    """Where labels and coordinates come from.  Offline by default; `ipinfo_url` and
    `opencage_url` point the clients at a compatible endpoint (a proxy, or a test's server)."""

    provider: ProviderName = ProviderName.embedded
    mmdb: Path | None = None
    vpn_ranges: Path | None = None
    ipinfo_token: str | None = None
    ipinfo_url: str | None = None
    opencage_key: str | None = None
    opencage_url: str | None = None

    def make_provider(self) -> Provider:
        if self.provider is ProviderName.mmdb:
            if self.mmdb is None:
                raise InputError("the mmdb provider needs a database: --mmdb FILE (or `update ip database`)")
            return MmdbProvider(self.mmdb)
        if self.provider is ProviderName.ipinfo:
            if not self.ipinfo_token:
                raise InputError("the ipinfo provider needs IPINFO_API_KEY")
            return IpinfoProvider(token=self.ipinfo_token, url=self.ipinfo_url)
        return EmbeddedProvider()

    def opencage(self) -> OpenCagePlaces | None:
        if not self.opencage_key:
            return None
        if not self.opencage_url:
            return OpenCagePlaces(key=self.opencage_key)
        parts = urlsplit(self.opencage_url)
        return OpenCagePlaces(key=self.opencage_key, domain=parts.netloc, protocol=parts.scheme or "https")


def regions_into(
    opened: Cache,
    *,
    geolocation: Geolocation,
    password: str | None = None,
    limit: int | None = None,
    refresh_days: int | None = None,
    show_progress: bool | None = None,
) -> RegionsReport:
    vpn = read_vpn_ranges(geolocation.vpn_ranges) if geolocation.vpn_ranges else []
    return classify_into(
        opened,
        provider=geolocation.make_provider(),
        vpn_ranges=vpn,
        password=password,
        limit=limit,
        refresh_days=refresh_days,
        show_progress=show_progress,
    )


def coordinates_into(opened: Cache, *, geolocation: Geolocation) -> CoordinatesReport:
    """Places every region label in use and rewrites region_codes_to_coordinates.yaml when its
    content changes (also after a quota stopped OpenCage: what was placed is published).  When
    no label changed since the last complete pass, there is nothing to place: a nightly run does
    not scan every label, nor ask OpenCage again about labels it could not place."""
    db = opened.db
    opencage = geolocation.opencage()
    if meta_value(db, PLACED_FOR) == placement_stamp(db, opencage=opencage):
        return CoordinatesReport()
    try:
        report = place_regions(opened, opencage=opencage)
    finally:
        publish_coordinates(opened)
    with transaction(db):
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (PLACED_FOR, placement_stamp(db, opencage=opencage)))
    return report


def placement_stamp(db: sqlite3.Connection, *, opencage: OpenCagePlaces | None) -> bytes:
    """The summary inputs, the places source and the place tables a placement pass saw (a new
    OpenCage key, or a release with other tables: a new pass)."""
    return f"{summary_inputs(db)} {'opencage' if opencage else 'embedded'} {place_tables_digest()}".encode()


def update_ip_regions(
    *,
    cache: PathLike,
    geolocation: Geolocation | None = None,
    password: str | None = None,
    limit: int | None = None,
    refresh_days: int | None = None,
    show_progress: bool | None = None,
) -> RegionsReport:
    """Labels every indexed IP without a region: bogon, GitHub, cloud, VPN, then the provider."""
    with Cache.open_for_writing(cache, command="update ip regions") as opened:
        return regions_into(
            opened,
            geolocation=geolocation or Geolocation(),
            password=password,
            limit=limit,
            refresh_days=refresh_days,
            show_progress=show_progress,
        )


def update_ip_coordinates(*, cache: PathLike, geolocation: Geolocation | None = None) -> CoordinatesReport:
    """A latitude and longitude for every region label in use (embedded tables, then OpenCage)."""
    with Cache.open_for_writing(cache, command="update ip coordinates") as opened:
        return coordinates_into(opened, geolocation=geolocation or Geolocation())


def update_ip_database(*, cache: PathLike, url: str | None = None, timeout: float = 60.0) -> Path:
    """Downloads the current monthly DB-IP City Lite file (or `url`), checks that it opens as a
    MaxMind database, and renames it into the cache; the previous file stays until then."""
    import maxminddb
    import requests

    source = url or DBIP_URL.format(month=time.strftime("%Y-%m", time.gmtime()))
    with Cache.open_for_writing(cache, command="update ip database") as opened, storage_errors(what=opened.paths.root):
        target = opened.paths.ip_database
        make_private_folder(target.parent)
        staged = opened.paths.staging / (target.name + ".download")
        staged.unlink(missing_ok=True)
        try:
            with requests.get(source, stream=True, timeout=timeout) as response:
                if response.status_code != 200:
                    raise InputError(f"cannot download the IP database from {source}: HTTP {response.status_code}")
                with os.fdopen(create_private(staged), "wb") as handle:
                    raw = response.raw
                    raw.decode_content = True
                    stream = gzip.GzipFile(fileobj=raw) if source.endswith(".gz") else raw
                    shutil.copyfileobj(stream, handle, 1 << 20)
                    handle.flush()
                    os.fsync(handle.fileno())
            try:
                maxminddb.open_database(str(staged)).close()
            except (ValueError, maxminddb.InvalidDatabaseError):
                raise S3LogExtractionError(
                    f"{source} is not a MaxMind-format database; the previous file is kept"
                ) from None
            os.replace(staged, target)
            fsync_directory(target.parent)
        except (requests.RequestException, EOFError, gzip.BadGzipFile, zlib.error) as error:
            # (before storage_errors sees them: requests' errors are OSErrors, and so is BadGzipFile)
            raise InputError(f"cannot download the IP database from {source}: {type(error).__name__}") from None
        finally:
            staged.unlink(missing_ok=True)
    return target
