"""Settings: defaults < YAML file in the user config dir < environment variables < flags.

The YAML file is `<user config dir>/s3logextraction/config.yaml` (platformdirs, so XDG variables
are honoured).  Environment variables use the `S3LOGEXTRACTION_` prefix; the service keys and the
password also keep the names operators already use (`IPINFO_API_KEY`, `OPENCAGE_API_KEY`,
`S3_LOG_EXTRACTION_PASSWORD`).  Flags are applied by the caller through `load_settings(**overrides)`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import platformdirs
import yaml
from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from .errors import ConfigError

APP_NAME = "s3logextraction"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME))


def config_file() -> Path:
    return config_dir() / "config.yaml"


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME))


class Settings(BaseSettings):
    """Every setting a command may read; flags override through `load_settings`."""

    model_config = SettingsConfigDict(env_prefix="S3LOGEXTRACTION_", extra="ignore", populate_by_name=True)

    cache: Path = Field(default_factory=default_cache_dir)
    workers: int = -2
    batch_size: int = 64 * 1024 * 1024
    batch_files: int = 2000
    operations: list[str] = Field(default_factory=lambda: ["REST.GET.OBJECT"])
    privacy_threshold: int = 50
    privacy_rounding: int = 20
    password: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("S3_LOG_EXTRACTION_PASSWORD", "S3LOGEXTRACTION_PASSWORD", "password"),
    )
    ipinfo_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("IPINFO_API_KEY", "S3LOGEXTRACTION_IPINFO_API_KEY", "ipinfo_api_key"),
    )
    opencage_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENCAGE_API_KEY", "S3LOGEXTRACTION_OPENCAGE_API_KEY", "opencage_api_key"),
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, YamlConfigSettingsSource(settings_cls, yaml_file=config_file())


def load_settings(**overrides: Any) -> Settings:
    """Settings with the given flag values on top; `None` means the flag was not given."""
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        raise ConfigError(
            f"invalid setting {where}: {first['msg']} (check {config_file()} and the environment)"
        ) from None
    except yaml.YAMLError as error:
        raise ConfigError(f"cannot read {config_file()}: {str(error).splitlines()[0]}") from None


def resolve_workers(workers: int) -> int:
    """Positive: that many; negative: counted back from all cores (-1 all, -2 all but one); at least 1."""
    cores = os.cpu_count() or 1
    chosen = workers if workers > 0 else cores + 1 + workers
    return max(1, chosen)


def read_file_settings() -> dict[str, Any]:
    path = config_file()
    if not path.exists():
        return {}
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read {path}: {str(error).splitlines()[0]}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} must hold a mapping of settings")
    return loaded


def write_file_setting(*, name: str, value: Any) -> Path:
    """Stores one setting in the YAML file, keeping the others."""
    current = read_file_settings()
    current[name] = value
    path = config_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(yaml.safe_dump(current, sort_keys=True), encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror}") from None
    return path


def set_cache_dir(directory: Path) -> Path:
    """Validates, creates and records the default cache directory; returns its absolute path."""
    target = directory.expanduser().absolute()
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target} is a file, not a directory")
    try:
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise ConfigError(f"cannot create {target}: {error.strerror}") from None
    if not os.access(target, os.W_OK | os.X_OK):
        raise ConfigError(f"{target} is not writable")
    write_file_setting(name="cache", value=str(target))
    return target
