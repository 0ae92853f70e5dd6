"""The package's name, its version and the user's folders for it: a leaf that any module may
import (the version is written here once; pyproject.toml reads it from here)."""

from __future__ import annotations

from pathlib import Path

import platformdirs

__version__ = "0.1.0"
APP_NAME = "s3logextraction"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME))


def config_file() -> Path:
    return config_dir() / "config.yaml"


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME))
