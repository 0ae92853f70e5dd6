"""The privacy threshold: small counts are published as `<threshold`, others rounded."""

from __future__ import annotations

from dataclasses import dataclass

from ..arrow import pa, pc
from ..errors import ConfigError


@dataclass(frozen=True)
class Privacy:
    threshold: int = 50
    rounding: int = 20

    def __post_init__(self) -> None:
        for name, value in (("privacy_threshold", self.threshold), ("privacy_rounding", self.rounding)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"invalid setting {name}: must be a positive whole number (got {value!r})")

    def protect(self, count: int) -> str | int:
        """`<50` below the threshold, else the nearest multiple of `rounding`, halves rounded up
        (70 -> 80, not banker's 60), and never a value below the threshold (45 with rounding 20
        publishes 60, not 40); bytes are never passed here (they are published exact)."""
        if count < self.threshold:
            return f"<{self.threshold}"
        rounded = (count + self.rounding // 2) // self.rounding * self.rounding
        if rounded < self.threshold:
            rounded = -(-self.threshold // self.rounding) * self.rounding
        return rounded

    def protect_array(self, counts: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
        """`protect` over a column of counts, as text: each distinct count (most are small and
        repeat) goes once through the kernels, then every row takes its text."""
        encoded = pc.dictionary_encode(counts)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        distinct = encoded.dictionary
        rounded = pc.multiply(pc.divide(pc.add(distinct, self.rounding // 2), self.rounding), self.rounding)
        floor = -(-self.threshold // self.rounding) * self.rounding
        rounded = pc.if_else(pc.less(rounded, self.threshold), floor, rounded)
        texts = pc.if_else(pc.less(distinct, self.threshold), f"<{self.threshold}", pc.cast(rounded, pa.string()))
        return pc.take(texts, encoded.indices)
