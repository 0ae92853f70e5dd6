"""The privacy threshold: small counts are published as `<threshold`, others rounded."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Privacy:
    threshold: int = 50
    rounding: int = 20

    def protect(self, count: int) -> str | int:
        """`<50` below the threshold, else the nearest multiple of `rounding`, halves rounded up
        (70 -> 80, not banker's 60); bytes are never passed here (they are published exact)."""
        if count < self.threshold:
            return f"<{self.threshold}"
        if self.rounding <= 1:
            return count
        return (count + self.rounding // 2) // self.rounding * self.rounding
