"""What a region label says: is it a place, and in which ISO 3166-1 country.

Labels: `CC/Region Name`, `CC`, `AWS/<region>`, `GCP/<scope>`, `Azure/<region>`, `GitHub`, `VPN`,
`bogon`, `unknown`.  Cloud regions are places (their data centre); GitHub, VPN, bogon and
unknown are not.
"""

from __future__ import annotations

NOT_PLACES = {"unknown", "bogon", "VPN", "GitHub"}
# Country of the data centres of each AWS region (public AWS region list).
AWS_REGION_COUNTRIES = {
    "us-east-1": "US", "us-east-2": "US", "us-west-1": "US", "us-west-2": "US", "us-gov-east-1": "US",
    "us-gov-west-1": "US", "ca-central-1": "CA", "ca-west-1": "CA", "mx-central-1": "MX", "sa-east-1": "BR",
    "eu-west-1": "IE", "eu-west-2": "GB", "eu-west-3": "FR", "eu-central-1": "DE", "eu-central-2": "CH",
    "eu-north-1": "SE", "eu-south-1": "IT", "eu-south-2": "ES", "af-south-1": "ZA", "me-south-1": "BH",
    "me-central-1": "AE", "il-central-1": "IL", "ap-east-1": "HK", "ap-south-1": "IN", "ap-south-2": "IN",
    "ap-northeast-1": "JP", "ap-northeast-2": "KR", "ap-northeast-3": "JP", "ap-southeast-1": "SG",
    "ap-southeast-2": "AU", "ap-southeast-3": "ID", "ap-southeast-4": "AU", "ap-southeast-5": "MY",
    "ap-southeast-7": "TH", "cn-north-1": "CN", "cn-northwest-1": "CN",
}  # fmt: skip


def is_place(region: str) -> bool:
    return region not in NOT_PLACES


def country_of(region: str) -> str | None:
    """The ISO 3166-1 alpha-2 country of a label, or None (not a country, or unknown place)."""
    head, _, rest = region.partition("/")
    if head == "AWS":
        return AWS_REGION_COUNTRIES.get(rest)
    if len(head) == 2 and head.isalpha() and head.isupper():
        return head
    return None
