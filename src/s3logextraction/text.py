"""The one text form of log bytes (object keys, user agents, log object names) in shards, the
state DB and every published file: escaped bytes.

Log fields are bytes, not text: a key may hold control bytes, invalid UTF-8 or NUL.  They are
kept as valid UTF-8 text in which a backslash is `\\\\`; tab, newline and carriage return are
`\\t`, `\\n`, `\\r`; every other control byte (0x00-0x1F, 0x7F) and every byte that is not part of
valid UTF-8 is `\\xHH` (two lowercase hex digits).  The form is lossless (`unescape` gives the
bytes back), has no control character, so no value can add a row or a column to a TSV file, and
is what the parser (`awk/extract.awk`) writes for control bytes; Python adds the `\\xHH` of invalid
UTF-8, which the parser leaves as logged.
"""

from __future__ import annotations

import re

CONTROL = re.compile(rb"[\x00-\x1f\x7f\\]")
NAMED = {b"\\": "\\\\", b"\t": "\\t", b"\n": "\\n", b"\r": "\\r"}
ESCAPE = re.compile(r"\\(\\|t|n|r|x[0-9a-f]{2})")
UNNAMED = {"\\": b"\\", "t": b"\t", "n": b"\n", "r": b"\r"}
CONTROL_TEXT = re.compile(r"[\x00-\x1f\x7f]")


def escape_bytes(data: bytes) -> str:
    """Bytes as escaped text (the module's one form)."""
    if CONTROL.search(data):
        data = CONTROL.sub(lambda match: NAMED.get(match.group(), f"\\x{match.group()[0]:02x}").encode(), data)
    return data.decode("utf-8", "backslashreplace")


def from_parser(cell: bytes) -> str:
    """A text cell of the parser's output (control bytes already escaped) as escaped text."""
    return cell.decode("utf-8", "backslashreplace")


def unescape(text: str) -> bytes:
    """The bytes behind escaped text."""
    pieces = ESCAPE.split(text)
    out = bytearray(pieces[0].encode("utf-8"))
    for index in range(1, len(pieces), 2):
        code = pieces[index]
        out += UNNAMED[code] if code in UNNAMED else bytes([int(code[1:], 16)])
        out += pieces[index + 1].encode("utf-8")
    return bytes(out)


def escape_text(text: str) -> str:
    """Text from elsewhere (a path, an operator's input) made safe for a TSV cell or a one-line
    message: its backslashes and control characters escaped, unencodable characters as `\\xHH`."""
    return escape_bytes(text.encode("utf-8", "surrogateescape"))


def has_control(text: str) -> bool:
    return CONTROL_TEXT.search(text) is not None
