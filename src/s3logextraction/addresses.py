"""Requester addresses in one written form, and addresses quoted in user agents masked.

One address is one requester whatever way the log writes it: an IPv6 address in upper case, with
leading zeros or uncompressed is the same requester as its compressed lower-case form (RFC 5952),
and an IPv4-mapped IPv6 address is its IPv4 address.  The parser has already refused what is not
an address; here the written form is made canonical before the keyed digest, so the digest (and
the requester id) is one per address.

A user agent can quote an address (proxies write `curl/8.0 (via 81.2.69.217)`): agents are stored
in the state DB and classified, so every IPv4 or IPv6 literal in them becomes `<ip>` in memory,
before anything is stored.  A dotted quad of numbers up to 255 is masked wherever it stands (a
version string shaped like an address is masked too: a leak costs more than a version); an IPv6
candidate is masked when it parses as an address and is not part of a word (`Data::Dumper` stays).

Both work on the distinct values of a batch only (the columns are dictionaries); the rows are
rewritten with one `take` when any value changed.  Leaf module: pyarrow and the standard library only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from .arrow import one_chunk, pa, pc

MASK = b"<ip>"
QUAD = re.compile(rb"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9]|\.[0-9])")
IPV6_CANDIDATE = re.compile(rb"(?<![0-9A-Za-z:.])[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(?![0-9A-Za-z:])")
# What an agent must hold for the Python pass to look at it (RE2, run by pyarrow on every distinct agent).
AGENT_PREFILTER = r"[0-9]\.[0-9]+\.[0-9]+\.[0-9]|[0-9A-Fa-f]*:[0-9A-Fa-f]*:"
# An IPv6 address written in a form that may not be its RFC 5952 one (RE2): a character besides
# lower-case hex digits and colons (upper case, a dotted IPv4 part), a group with a leading zero,
# two zero groups written out in a row, a zero group written beside `::`, or an IPv4-mapped address.
# What passes is canonical unless `::` stands for a single group, which takes seven colons.
IPV6_MAYBE_NOT_CANONICAL = r"[^0-9a-f:]|(^|:)0[0-9a-f]|(^|:)0:0(:|$)|(^|:)0::|::0(:|$)|^::ffff:"


def canonical_address(text: str) -> str | None:
    """The RFC 5952 form of an address (an IPv4-mapped IPv6 address as its IPv4), None when
    `text` is not an address."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def canonical_ip(text: bytes) -> bytes:
    """`canonical_address` of an address as the parser passed it (`-` and anything unparsable
    as given: the parser has rejected those already)."""
    canonical = canonical_address(text.decode("ascii", "replace"))
    return text if canonical is None else canonical.encode("ascii")


def quad_mask(match: re.Match[bytes]) -> bytes:
    return MASK if all(int(number) <= 255 for number in match.group().split(b".")) else match.group()


def ipv6_mask(match: re.Match[bytes]) -> bytes:
    candidate = match.group().rstrip(b".")
    try:
        ipaddress.IPv6Address(candidate.decode("ascii"))
    except ValueError:
        return match.group()
    return MASK + match.group()[len(candidate) :]


def masked_agent(agent: bytes) -> bytes:
    """`agent` with each IPv4 and IPv6 literal replaced by `<ip>`."""
    return QUAD.sub(quad_mask, IPV6_CANDIDATE.sub(ipv6_mask, agent))


def rewritten(
    column: pa.ChunkedArray, *, change: Callable[[bytes], bytes], prefilter: Callable[[pa.Array], pa.Array]
) -> pa.ChunkedArray:
    """The dictionary column `column` with `change` applied to each distinct value that
    `prefilter` selects (it maps the distinct values to a boolean mask); the column itself when no
    value changes.  Values that become one (two forms of one address) share one entry."""
    encoded = one_chunk(column)
    distinct = encoded.dictionary
    selected = pc.filter(distinct, prefilter(distinct)).to_pylist()
    changes = {value: new for value in selected if (new := change(value)) != value}
    if not changes:
        return column
    values = pc.dictionary_encode(
        pa.array([changes.get(value, value) for value in distinct.to_pylist()], distinct.type)
    )
    return pa.chunked_array(
        [pa.DictionaryArray.from_arrays(pc.take(values.indices, encoded.indices), values.dictionary)]
    )


def maybe_not_canonical(ips: pa.Array) -> pa.Array:
    """True for the IPv6 values the Python pass must parse: a batch holds thousands of distinct
    IPv6 addresses, nearly all written canonically, and parsing each one in Python cost 3% of the
    coordinator's CPU."""
    ipv6 = pc.match_substring(ips, ":")
    suspect = pc.or_(
        pc.match_substring_regex(ips, IPV6_MAYBE_NOT_CANONICAL),
        pc.and_(pc.match_substring(ips, "::"), pc.greater_equal(pc.count_substring(ips, ":"), 7)),
    )
    return pc.and_(ipv6, suspect)


def requester_rows(rows: pa.Table) -> pa.Table:
    """The parser's rows with each requester address in canonical form and the addresses in user
    agents masked (in memory, before the exclusion list, the digest or the agent table see them)."""
    if rows.num_rows == 0:
        return rows
    ips = rewritten(rows["ip"], change=canonical_ip, prefilter=maybe_not_canonical)
    agents = rewritten(
        rows["user_agent"],
        change=masked_agent,
        prefilter=lambda values: pc.match_substring_regex(values, AGENT_PREFILTER),
    )
    if ips is not rows["ip"]:
        rows = rows.set_column(rows.schema.get_field_index("ip"), "ip", ips)
    if agents is not rows["user_agent"]:
        rows = rows.set_column(rows.schema.get_field_index("user_agent"), "user_agent", agents)
    return rows
