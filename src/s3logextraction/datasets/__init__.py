"""Object key -> (dataset, asset path)."""

from .generic import UNDETERMINED, split_keys

__all__ = ["UNDETERMINED", "split_keys"]
