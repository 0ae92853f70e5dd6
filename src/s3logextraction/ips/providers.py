"""Geolocation providers behind one small interface: addresses in, labels out, in batches.

`embedded` (the default) needs nothing: countries from the `iptocc` package's data.  `mmdb` reads
a MaxMind-format file (GeoIP2 nested schema or the flat `country_code`/`state1` schema) for
`CC/Region Name`.  `ipinfo` asks the ipinfo batch API when a token is set.  A provider answers
None for an address it cannot place; a quota that runs out, or a service still failing after its
retries, raises `ProviderStopped`, so the caller keeps what was resolved and stops.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from .. import http
from ..errors import InputError

IPINFO_URL = "https://ipinfo.io"
IPINFO_TIMEOUT = 5.0


class ProviderName(StrEnum):
    embedded = "embedded"
    mmdb = "mmdb"
    ipinfo = "ipinfo"


class ProviderStopped(Exception):
    """The service said no more for now (HTTP 429, a spent quota) or kept failing: rerun later."""


class Provider(Protocol):
    name: str
    batch_size: int

    def source(self) -> str:
        """Provider and data version, stored with every label it gave."""
        ...

    def lookup(self, addresses: Sequence[str]) -> list[str | None]: ...


def label(country: Any, region: Any) -> str | None:
    """`CC/Region Name`, `CC`, or None without a two-letter country."""
    if not isinstance(country, str) or len(country) != 2 or not country.isalpha():
        return None
    code = country.upper()
    name = region.strip() if isinstance(region, str) else ""
    return f"{code}/{name}" if name and "\t" not in name and "\n" not in name else code


class EmbeddedProvider:
    name = "embedded"
    batch_size = 5000

    @cached_property
    def version(self) -> str:
        """Read when a label is given: a night with no new IP does not load importlib.metadata."""
        from importlib.metadata import version

        return version("iptocc")

    def source(self) -> str:
        return f"iptocc {self.version}"

    def lookup(self, addresses: Sequence[str]) -> list[str | None]:
        import iptocc

        return [label(code, None) for code in iptocc.country_code(list(addresses))]


class MmdbProvider:
    name = "mmdb"
    batch_size = 5000

    def __init__(self, path: Path) -> None:
        import maxminddb

        try:
            self.reader = maxminddb.open_database(str(path))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as error:
            raise InputError(f"cannot read the MaxMind database {path}: {error}") from None
        metadata = self.reader.metadata()
        built = time.strftime("%Y-%m-%d", time.gmtime(metadata.build_epoch))
        self.version = f"{metadata.database_type} {built}"

    def source(self) -> str:
        return f"mmdb {self.version}"

    def lookup(self, addresses: Sequence[str]) -> list[str | None]:
        return [self.record_label(self.reader.get(address)) for address in addresses]

    @staticmethod
    def record_label(record: Any) -> str | None:
        if not isinstance(record, dict):
            return None
        if "country" in record and isinstance(record["country"], dict):  # GeoIP2 / DB-IP nested schema
            subdivisions = record.get("subdivisions") or [{}]
            names = subdivisions[0].get("names", {}) if isinstance(subdivisions[0], dict) else {}
            return label(record["country"].get("iso_code"), names.get("en"))
        return label(record.get("country_code"), record.get("state1") or record.get("region"))


class IpinfoProvider:
    """ipinfo's batch API (`POST /batch`, a JSON list of up to 1000 addresses, the token as a
    bearer header; the answer maps each address to its details), through the shared session:
    timeouts and 5xx are retried there, a 429 ends the lookups for this run.  `url` points it at
    an ipinfo-compatible endpoint (a proxy, or a test's server); the `ipinfo` package has no
    setting for that (it reads a module constant), so its protocol is spoken here."""

    name = "ipinfo"
    batch_size = 1000

    def __init__(self, *, token: str, url: str | None = None, backoff: float = 1.0) -> None:
        self.endpoint = f"{(url or IPINFO_URL).rstrip('/')}/batch"
        self.session = http.session(backoff=backoff)
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def source(self) -> str:
        return "ipinfo"

    def lookup(self, addresses: Sequence[str]) -> list[str | None]:
        details = self.batch(list(addresses))
        answers = []
        for address in addresses:
            entry = details.get(address)
            answers.append(label(entry.get("country"), entry.get("region")) if isinstance(entry, dict) else None)
        return answers

    def batch(self, addresses: list[str]) -> dict[str, Any]:
        import requests

        try:
            response = self.session.post(self.endpoint, json=addresses, timeout=IPINFO_TIMEOUT)
        except requests.RequestException as error:
            raise ProviderStopped(f"ipinfo unreachable ({type(error).__name__})") from None
        if response.status_code == 429:
            raise ProviderStopped("ipinfo quota exhausted (HTTP 429)")
        if response.status_code != 200:
            raise ProviderStopped(f"ipinfo answered HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ProviderStopped("ipinfo answered something that is not a JSON object")
        return answer
