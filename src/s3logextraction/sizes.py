"""Byte sizes as operators write them (`64M`, `1G`, `500K`, `1.5G` or plain bytes), and as people read them."""

from __future__ import annotations

import re

UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """A positive whole number of bytes; raises ValueError (with the reason) for anything else."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = SIZE.fullmatch(str(text).strip())
        if match is None:
            raise ValueError(f"{text!r} is not a size (use e.g. 64M, 1G or a number of bytes)")
        value = int(float(match.group(1)) * UNITS[match.group(2).upper()])
    if value < 1:
        raise ValueError(f"{text!r} is not a positive size")
    return value


def human_bytes(count: int) -> str:
    """1234 -> "1.2 kB", 1.2e12 -> "1.2 TB" (decimal units, as the archive reports sizes)."""
    size = float(count)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} PB"  # not reached
