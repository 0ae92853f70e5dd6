"""Geolocation providers behind one small interface: addresses in, labels out, in batches.

`embedded` (the default) needs nothing: countries from the `iptocc` package's data.  `mmdb` reads
a MaxMind-format file (GeoIP2 nested schema or the flat `country_code`/`state1` schema) for
`CC/Region Name`.  `ipinfo` asks the ipinfo batch API when a token is set.  A provider answers
None for an address it cannot place; a quota that runs out, or a service still failing after its
retries, raises `ProviderStopped`, so the caller keeps what was resolved and stops.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from ..errors import InputError, S3LogExtractionError

RETRIES = 4


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
    """The ipinfo batch endpoint through the `ipinfo` package; timeouts and 5xx are retried with
    backoff a bounded number of times, 429 ends the lookups for this run."""

    name = "ipinfo"
    batch_size = 1000

    def __init__(self, *, token: str, url: str | None = None, backoff: float = 1.0) -> None:
        import ipinfo

        self.handler = ipinfo.getHandler(token, cache_options={"maxsize": 1, "ttl": 1})
        self.url = url
        self.backoff = backoff

    def source(self) -> str:
        return "ipinfo"

    def lookup(self, addresses: Sequence[str]) -> list[str | None]:
        with api_url(self.url):
            details = self.with_retries(list(addresses))
        answers = []
        for address in addresses:
            found: Any = details.get(address)
            entry = getattr(found, "all", found)
            answers.append(label(entry.get("country"), entry.get("region")) if isinstance(entry, dict) else None)
        return answers

    def with_retries(self, addresses: list[str]) -> dict[str, Any]:
        import requests
        from ipinfo.exceptions import RequestQuotaExceededError

        for attempt in range(RETRIES + 1):
            try:
                return dict(self.handler.getBatchDetails(addresses, batch_size=self.batch_size, raise_on_fail=True))
            except RequestQuotaExceededError:
                raise ProviderStopped("ipinfo quota exhausted (HTTP 429)") from None
            except requests.HTTPError as error:
                status = error.response.status_code if error.response is not None else 0
                if status < 500 or attempt == RETRIES:
                    raise ProviderStopped(f"ipinfo answered HTTP {status}") from None
            except requests.RequestException as error:
                if attempt == RETRIES:
                    raise ProviderStopped(f"ipinfo unreachable ({type(error).__name__})") from None
            time.sleep(self.backoff * 2**attempt)
        raise S3LogExtractionError("ipinfo: no answer")  # not reached: the last attempt raises


@contextmanager
def api_url(url: str | None) -> Iterator[None]:
    """Points the ipinfo package at another endpoint (an ipinfo-compatible proxy, or a test's
    fake server) for the duration of one call: the package reads its module-level `API_URL`."""
    if url is None:
        yield
        return
    import ipinfo.handler

    if not hasattr(ipinfo.handler, "API_URL"):
        raise S3LogExtractionError("this ipinfo package version has no API_URL; pin ipinfo<6 or unset ipinfo_url")
    previous = ipinfo.handler.API_URL
    ipinfo.handler.API_URL = url.rstrip("/")
    try:
        yield
    finally:
        ipinfo.handler.API_URL = previous
