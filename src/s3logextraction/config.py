"""Settings: defaults < YAML file in the user config dir < environment variables < flags.

One pydantic-settings model: the YAML file `<user config dir>/s3logextraction/config.yaml`
(platformdirs, so XDG variables are honoured; unknown names refused), environment variables with
the `S3LOGEXTRACTION_` prefix (any case; the service keys and the password also under the names
operators already use: `IPINFO_API_KEY`, `OPENCAGE_API_KEY`, `S3_LOG_EXTRACTION_PASSWORD`), and
the flags a command was given, passed as the model's init values.  Each value is validated once,
by the type of its field; a refused one is one line naming the setting and why (exit 78, or 2
when the value came from a flag); a secret is a `SecretStr` and never echoed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AliasChoices, Field, PlainValidator, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from .agents import DEFAULT_MACHINE_CLIENTS
from .appinfo import config_file, default_cache_dir
from .errors import ConfigError, S3LogExtractionError, UsageError
from .ips.providers import ProviderName
from .operations import DEFAULT_OPERATIONS, ExtractMode, check_operations
from .share import Layout
from .sizes import parse_size

ENV_PREFIX = "S3LOGEXTRACTION_"
# Bounds of the numbers settings and flags take: past them a value means nothing (a settle time
# of 31 years, a key of more segments than S3 allows) and would overflow the clock arithmetic and
# the int64 columns downstream.
MAX_SECONDS = 10**9
MAX_DAYS = 36_500
MAX_LEVEL = 1024  # an S3 key is at most 1024 bytes
MAX_COUNT = 10**12
MAX_WORKERS = 4096


def revealed(value: SecretStr | None) -> str | None:
    """The secret's text, for the one call that needs it (a key derivation, an HTTP header)."""
    return value.get_secret_value() if value else None


# The checks behind the constrained types below: each takes what a file, the environment (text)
# or a flag gives and raises ValueError with the reason, which becomes the one line an operator sees.
Check = Callable[[Any], Any]


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


def path(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    return Path(text(value))


def whole(value: Any) -> int:
    """An int, or its decimal text (the environment is text): not a bool, not 2.5, and within
    what a 64-bit integer holds."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = int(value.strip())
    if number is None:
        raise ValueError(f"{value!r} is not a whole number")
    if abs(number) > MAX_COUNT:
        raise ValueError(f"{number} is beyond {MAX_COUNT}")
    return number


def at_most(check: Check, limit: int) -> Check:
    def bounded(value: Any) -> Any:
        number = check(value)
        if number > limit:
            raise ValueError(f"{number} is more than {limit}")
        return number

    return bounded


def positive(value: Any) -> int:
    number = whole(value)
    if number < 1:
        raise ValueError(f"{number} is not greater than 0")
    return number


def at_least_zero(value: Any) -> int:
    number = whole(value)
    if number < 0:
        raise ValueError(f"{number} is below 0")
    return number


def seconds(value: Any) -> float:
    number = math.nan  # not a number of seconds, as NaN itself is not
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        with contextlib.suppress(ValueError):
            number = float(value)
    if math.isnan(number):
        raise ValueError(f"{value!r} is not a number of seconds")
    if number < 0:
        raise ValueError(f"{value!r} is below 0")
    if number > MAX_SECONDS:
        raise ValueError(f"{value!r} is more than {MAX_SECONDS} seconds")
    return number


def workers_count(value: Any) -> int:
    number = whole(value)
    if number == 0:
        raise ValueError("0 is not a number of workers (use a positive count, or -1 for all cores)")
    if abs(number) > MAX_WORKERS:
        raise ValueError(f"{number} is more than {MAX_WORKERS} workers")
    return number


def size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not a size")
    return parse_size(value)


def texts(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"{value!r} is not a list")
    return [text(item) for item in value]


def json_texts(variable: str) -> Check:
    """A list; from the environment (text), JSON such as `["a", "b"]`."""

    def parse(value: Any) -> list[str]:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError(f'{variable} must be a JSON list such as ["a", "b"]') from None
        return texts(value)

    return parse


def operation_names(value: Any) -> list[str]:
    """A list, or `A,B` text as on the command line (and in the environment)."""
    try:
        return list(check_operations(text(value).split(",") if isinstance(value, str) else texts(value)))
    except S3LogExtractionError as error:
        raise ValueError(str(error)) from None


def secret_text(value: Any) -> SecretStr | None:
    """A secret; an empty one is none (a service key set to "" is not set)."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        raise ValueError("it must be text")  # the value itself is never echoed
    return SecretStr(value) if value else None


def password_text(value: Any) -> SecretStr:
    """An empty password is refused, not taken as none: an operator who set the variable believes
    the index is sealed with a password."""
    secret = secret_text(value)
    if secret is None:
        raise ValueError("it is set but empty (unset S3_LOG_EXTRACTION_PASSWORD to use the key file, or set one)")
    return secret


def member(kind: type[Enum]) -> Check:
    def parse(value: Any) -> Enum:
        try:
            return kind(value)
        except ValueError:
            raise ValueError(f"{value!r} is not one of {', '.join(str(item.value) for item in kind)}") from None

    return parse


def one_of(*choices: str) -> Check:
    def parse(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return str(value)

    return parse


def optional(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


# The constrained types of the settings (and of the flags, which feed the same model).
Workers = Annotated[int, PlainValidator(workers_count)]
Size = Annotated[int, PlainValidator(size)]
Count = Annotated[int, PlainValidator(at_most(positive, MAX_COUNT))]
Seconds = Annotated[float, PlainValidator(seconds)]
Days = Annotated[int | None, PlainValidator(optional(at_most(at_least_zero, MAX_DAYS)))]
Text = Annotated[str, PlainValidator(text)]
OptionalText = Annotated[str | None, PlainValidator(optional(text))]
OptionalPath = Annotated[Path | None, PlainValidator(optional(path))]
ServiceKey = Annotated[SecretStr | None, PlainValidator(optional(secret_text))]


def seeded(name: str, seed: str) -> Any:
    """A field also read from the environment name operators already use (first), as pydantic
    reads an aliased field from its aliases only: the prefixed name is listed too."""
    return Field(default=None, validation_alias=AliasChoices(seed, f"{ENV_PREFIX}{name.upper()}"))


class YamlFile(PydanticBaseSettingsSource):
    """The YAML file's settings (read at each load: the config dir follows the environment)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ returns the whole mapping

    def __call__(self) -> dict[str, Any]:
        return read_file_settings()


class Settings(BaseSettings):
    """Every setting a command may read; `load_settings` puts the flags on top."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, case_sensitive=False, extra="forbid", frozen=True, validate_by_name=True
    )
    flags: ClassVar[dict[str, str]] = {  # the flag that sets a setting, where it is not --<name>
        "s3_endpoint_url": "--endpoint-url", "s3_inventory": "--inventory", "dask_scheduler": "--scheduler",
        "dandi_api_url": "--api-url", "dandi_mapping": "--mapping", "share_git": "--git", "share_branch": "--branch",
        "share_path": "--path", "share_layout": "--layout", "ip_provider": "--provider",
    }  # fmt: skip

    # the secrets first: a refused one is reported before any other (and never echoed)
    password: Annotated[SecretStr | None, PlainValidator(optional(password_text))] = seeded(
        "password", "S3_LOG_EXTRACTION_PASSWORD"
    )
    ipinfo_api_key: ServiceKey = seeded("ipinfo_api_key", "IPINFO_API_KEY")
    opencage_api_key: ServiceKey = seeded("opencage_api_key", "OPENCAGE_API_KEY")
    cache: Annotated[Path, PlainValidator(path)] = Field(default_factory=default_cache_dir)
    workers: Workers = -2
    batch_size: Size = 64 * 1024 * 1024
    batch_files: Count = 2000
    settle_seconds: Seconds = 600.0
    settle_days: Days = None
    s3_endpoint_url: OptionalText = None
    s3_inventory: OptionalPath = None
    executor: Annotated[Literal["local", "dask"], PlainValidator(one_of("local", "dask"))] = "local"
    dask_scheduler: OptionalText = None
    operations: Annotated[list[str], NoDecode, PlainValidator(operation_names)] = list(DEFAULT_OPERATIONS)
    privacy_threshold: Count = 50
    privacy_rounding: Count = 20
    counter_machine_clients: Annotated[
        list[str], NoDecode, PlainValidator(json_texts(f"{ENV_PREFIX}COUNTER_MACHINE_CLIENTS"))
    ] = list(DEFAULT_MACHINE_CLIENTS)

    mode: Annotated[ExtractMode, PlainValidator(member(ExtractMode))] = ExtractMode.generic
    dandi_api_url: OptionalText = None  # None: the source of the last DANDI publish (DANDI's API before any)
    dandi_mapping: OptionalText = None
    share_git: OptionalText = None
    share_branch: Text = "main"
    share_path: Text = "summaries"
    share_layout: Annotated[Layout, PlainValidator(member(Layout))] = Layout.default
    ip_provider: Annotated[ProviderName | None, PlainValidator(optional(member(ProviderName)))] = None
    mmdb: OptionalPath = None
    vpn_ranges: OptionalPath = None
    ipinfo_url: OptionalText = None
    opencage_url: OptionalText = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags (init values) over the environment over the YAML file over the defaults."""
        return init_settings, env_settings, YamlFile(settings_cls)


def load_settings(flags: Mapping[str, object] | None = None) -> Settings:
    """Settings with the given flag values (by setting name) on top (`None`: the flag was not
    given).  A refused value is one line: a usage error (exit 2) when a flag gave it, else a
    setting error (78)."""
    given: dict[str, Any] = {name: value for name, value in (flags or {}).items() if value is not None}
    try:
        return Settings(**given)
    except SettingsError as error:
        raise ConfigError(f"invalid settings: {str(error).splitlines()[0]}") from None
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        name = next((field for field in Settings.model_fields if name.lower().endswith(field)), name)
        why = str(first["ctx"]["error"]) if first["type"] == "value_error" else first["msg"]
        if name in given:
            option = Settings.flags.get(name, f"--{name.replace('_', '-')}")
            raise UsageError(f"{why} (given as {option})") from None
        raise ConfigError(f"invalid setting {name}: {why} (check {config_file()} and the environment)") from None


SECRETS = frozenset(name for name, info in Settings.model_fields.items() if "SecretStr" in str(info.annotation))


def settings_shown(settings: Settings) -> dict[str, Any]:
    """Every setting as plain text, numbers and lists (for `config show`); secrets only say whether they are set."""
    shown: dict[str, Any] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if name in SECRETS:
            shown[name] = "set" if value else "not set"
        elif isinstance(value, Enum):
            shown[name] = value.value
        elif isinstance(value, Path):
            shown[name] = str(value)
        else:
            shown[name] = value
    return shown


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
