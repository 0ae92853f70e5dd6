"""Object key -> (dataset, asset path), and dataset -> the folder that holds its summaries."""

from .folders import dataset_folder
from .generic import UNDETERMINED, check_level, split_keys

__all__ = ["UNDETERMINED", "check_level", "dataset_folder", "split_keys"]
