"""Settings: defaults < YAML file in the user config dir < environment variables < flags.

The YAML file is `<user config dir>/s3logextraction/config.yaml` (platformdirs, so XDG variables
are honoured).  Environment variables use the `S3LOGEXTRACTION_` prefix; the service keys and the
password also keep the names operators already use (`IPINFO_API_KEY`, `OPENCAGE_API_KEY`,
`S3_LOG_EXTRACTION_PASSWORD`).  Flags are applied by the caller through `load_settings(**overrides)`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal, get_origin

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, SecretStr, ValidationError, field_validator

from .agents import DEFAULT_MACHINE_CLIENTS
from .datasets.dandi import DEFAULT_API_URL
from .errors import ConfigError, S3LogExtractionError
from .ips.providers import ProviderName
from .operations import DEFAULT_OPERATIONS, ExtractMode, check_operations
from .sizes import parse_size

APP_NAME = "s3logextraction"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME))


def config_file() -> Path:
    return config_dir() / "config.yaml"


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME))


ENV_PREFIX = "S3LOGEXTRACTION_"
SEED_NAMES = {  # environment names operators already use, tried before the prefixed one
    "password": ("S3_LOG_EXTRACTION_PASSWORD",),
    "ipinfo_api_key": ("IPINFO_API_KEY",),
    "opencage_api_key": ("OPENCAGE_API_KEY",),
}
COMMA_LISTS = frozenset({"operations"})  # A,B in the environment, as on the command line; other lists are JSON


class Settings(BaseModel):
    """Every setting a command may read; flags override through `load_settings`."""

    model_config = ConfigDict(extra="forbid")

    cache: Path = Field(default_factory=default_cache_dir)
    workers: int = -2
    batch_size: int = 64 * 1024 * 1024
    batch_files: PositiveInt = 2000
    settle_seconds: Annotated[float, Field(ge=0)] = 600.0
    settle_days: Annotated[int, Field(ge=0)] | None = None
    s3_endpoint_url: str | None = None
    s3_inventory: Path | None = None
    executor: Literal["local", "dask"] = "local"
    dask_scheduler: str | None = None
    operations: list[str] = Field(default_factory=lambda: list(DEFAULT_OPERATIONS))
    privacy_threshold: PositiveInt = 50
    privacy_rounding: PositiveInt = 20
    counter_machine_clients: list[str] = Field(default_factory=lambda: list(DEFAULT_MACHINE_CLIENTS))
    password: SecretStr | None = None
    ipinfo_api_key: SecretStr | None = None
    opencage_api_key: SecretStr | None = None

    mode: ExtractMode = ExtractMode.generic
    dandi_api_url: str = DEFAULT_API_URL
    dandi_mapping: str | None = None
    share_git: str | None = None
    share_branch: str = "main"
    share_path: str = "summaries"
    ip_provider: ProviderName | None = None
    mmdb: Path | None = None
    vpn_ranges: Path | None = None
    ipinfo_url: str | None = None
    opencage_url: str | None = None

    @field_validator("workers")
    @classmethod
    def _workers(cls, value: int) -> int:
        if value == 0:
            raise ValueError("0 is not a number of workers (use a positive count, or -1 for all cores)")
        return value

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch_size(cls, value: Any) -> int:
        return parse_size(value)

    @field_validator("operations", mode="before")
    @classmethod
    def _operations(cls, value: Any) -> list[str]:
        names = value.split(",") if isinstance(value, str) else list(value)
        try:
            return list(check_operations(names))
        except S3LogExtractionError as error:
            raise ValueError(str(error)) from None


def load_settings(**overrides: Any) -> Settings:
    """Settings with the given flag values on top; `None` means the flag was not given."""
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**(read_file_settings() | environment_settings() | given))
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"invalid setting {where}: {message} (check {config_file()} and the environment)") from None


def environment_settings() -> dict[str, Any]:
    """The settings the environment sets: `S3LOGEXTRACTION_<NAME>` (any case), or a seed name
    first for the password and the service keys.  A list is JSON (`["a", "b"]`), except
    `operations`, which is comma-separated."""
    environment = {name.upper(): value for name, value in os.environ.items()}
    found: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        for variable in (*SEED_NAMES.get(name, ()), f"{ENV_PREFIX}{name.upper()}"):
            if variable in environment:
                found[name] = decoded(environment[variable], name=name, variable=variable, kind=field.annotation)
                break
    return found


def decoded(value: str, *, name: str, variable: str, kind: Any) -> Any:
    if name in COMMA_LISTS or get_origin(kind) is not list:
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ConfigError(f'invalid setting {name}: {variable} must be a JSON list such as ["a", "b"]') from None


def resolve_workers(workers: int) -> int:
    """Positive: that many; negative: counted back from all cores (-1 all, -2 all but one); at
    least 1.  0 is refused where settings enter."""
    cores = os.cpu_count() or 1
    chosen = workers if workers > 0 else cores + 1 + workers
    return max(1, chosen)


def read_file_settings() -> dict[str, Any]:
    """The YAML file's settings, checked: a mapping of known setting names."""
    path = config_file()
    if not path.exists():
        return {}
    import yaml  # only when there is a file: most machines run on defaults and the environment

    try:
        loaded = yaml.safe_load(path.read_bytes().decode("utf-8")) or {}
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read {path}: it is not UTF-8 text") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"cannot read {path}: invalid YAML: {str(error).splitlines()[0]}") from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} must hold a mapping of settings (name: value), not a {type(loaded).__name__}")
    loaded = flattened(loaded, path=path)
    known = set(Settings.model_fields)
    for name in loaded:
        if name not in known:
            raise ConfigError(f"{path}: unknown setting {name!r}; known settings are {', '.join(sorted(known))}")
    return loaded


def flattened(loaded: dict[str, Any], *, path: Path) -> dict[str, Any]:
    """`share: {git: URL, branch: B, path: P}` in the file is `share_git`, `share_branch`, `share_path`."""
    nested = loaded.get("share")
    if nested is None:
        return loaded
    if not isinstance(nested, dict):
        raise ConfigError(f"{path}: share must be a mapping such as {{git: URL, branch: main, path: summaries}}")
    flat = {name: value for name, value in loaded.items() if name != "share"}
    for name, value in nested.items():
        flat[f"share_{name}"] = value
    return flat


def write_file_setting(*, name: str, value: Any) -> Path:
    """Stores one setting in the YAML file, keeping the others."""
    import yaml

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
