"""What a region label says: is it a place, and in which ISO 3166-1 country.

Labels: `CC/Region Name`, `CC`, `AWS/<region>`, `GCP/<scope>`, `Azure/<region>`, `GitHub`, `VPN`,
`bogon`, `unknown`.  Cloud regions are places (their data centre); GitHub, VPN, bogon and
unknown are not.
"""

from __future__ import annotations

from ..geodata import cloud_regions, is_place

__all__ = ["country_of", "is_place"]


def country_of(region: str) -> str | None:
    """The ISO 3166-1 alpha-2 country of a label, or None (not a country, or unknown place)."""
    head = region.partition("/")[0]
    if head in ("AWS", "GCP", "Azure"):
        found = cloud_regions().get(region)
        return found[0] if found else None
    if len(head) == 2 and head.isalpha() and head.isupper():
        return head
    return None
