"""Settings: defaults < YAML file in the user config dir < environment variables < flags.

The YAML file is `<user config dir>/s3logextraction/config.yaml` (platformdirs, so XDG variables
are honoured).  Environment variables use the `S3LOGEXTRACTION_` prefix; the service keys and the
password also keep the names operators already use (`IPINFO_API_KEY`, `OPENCAGE_API_KEY`,
`S3_LOG_EXTRACTION_PASSWORD`).  Flags are applied by the caller through `load_settings(**overrides)`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any

from .agents import DEFAULT_MACHINE_CLIENTS
from .appinfo import config_file, default_cache_dir
from .datasets.dandi import DEFAULT_API_URL
from .errors import ConfigError, S3LogExtractionError
from .ips.providers import ProviderName
from .operations import DEFAULT_OPERATIONS, ExtractMode, check_operations
from .sizes import parse_size

ENV_PREFIX = "S3LOGEXTRACTION_"
SEED_NAMES = {  # environment names operators already use, tried before the prefixed one
    "password": ("S3_LOG_EXTRACTION_PASSWORD",),
    "ipinfo_api_key": ("IPINFO_API_KEY",),
    "opencage_api_key": ("OPENCAGE_API_KEY",),
}


class Secret:
    """A password or service key: its repr and str never show it, so no log line or traceback can."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


def revealed(value: Secret | None) -> str | None:
    """The secret's text, for the one call that needs it (a key derivation, an HTTP header)."""
    return value.reveal() if value else None


Parser = Callable[[Any], Any]


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


def path(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    return Path(text(value))


# Bounds of the numbers settings and flags take: past them a value means nothing (a settle time
# of 31 years, a key of more segments than S3 allows) and would overflow the clock arithmetic and
# the int64 columns downstream.
MAX_SECONDS = 10**9
MAX_DAYS = 36_500
MAX_LEVEL = 1024  # an S3 key is at most 1024 bytes
MAX_COUNT = 10**12
MAX_WORKERS = 4096


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


def at_most(parse: Parser, limit: int) -> Parser:
    def bounded(value: Any) -> Any:
        number = parse(value)
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
    return number


def texts(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"{value!r} is not a list")
    return [text(item) for item in value]


def operation_names(value: Any) -> list[str]:
    """A list, or `A,B` text as on the command line."""
    try:
        return list(check_operations(text(value).split(",") if isinstance(value, str) else texts(value)))
    except S3LogExtractionError as error:
        raise ValueError(str(error)) from None


def secret_text(value: Any) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise ValueError("it must be text")  # the value itself is never echoed
    return Secret(value)


def password_text(value: Any) -> Secret:
    """An empty password is refused, not taken as none: an operator who set the variable believes
    the index is sealed with a password (a service key that is empty is simply not set)."""
    secret = secret_text(value)
    if not secret.reveal():
        raise ValueError("it is set but empty (unset S3_LOG_EXTRACTION_PASSWORD to use the key file, or set one)")
    return secret


def one_of(*choices: str) -> Parser:
    def parse(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return str(value)

    return parse


def member(kind: type[Enum]) -> Parser:
    def parse(value: Any) -> Enum:
        try:
            return kind(value)
        except ValueError:
            raise ValueError(f"{value!r} is not one of {', '.join(str(item.value) for item in kind)}") from None

    return parse


def optional(parse: Parser) -> Parser:
    return lambda value: None if value is None else parse(value)


def setting(
    default: Any = None,
    *,
    parse: Parser,
    factory: Callable[[], Any] | None = None,
    json_list: bool = False,
    secret: bool = False,
) -> Any:
    """A field whose value from a file, the environment or a flag goes through `parse` (which
    raises ValueError with the reason); `json_list` settings are JSON lists in the environment;
    `secret` ones are only ever shown as set or not."""
    metadata = {"parse": parse, "json_list": json_list, "secret": secret}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting a command may read; flags override through `load_settings`.

    Plain checks instead of a validation library: every command, and so every night's `run`,
    starts by loading these, and the checks cost microseconds where a model build costs tens
    of milliseconds."""

    cache: Path = setting(parse=path, factory=default_cache_dir)
    workers: int = setting(-2, parse=at_most(workers_count, MAX_WORKERS))
    batch_size: int = setting(64 * 1024 * 1024, parse=parse_size)
    batch_files: int = setting(2000, parse=positive)
    settle_seconds: float = setting(600.0, parse=seconds)
    settle_days: int | None = setting(parse=optional(at_most(at_least_zero, MAX_DAYS)))
    s3_endpoint_url: str | None = setting(parse=optional(text))
    s3_inventory: Path | None = setting(parse=optional(path))
    executor: str = setting("local", parse=one_of("local", "dask"))
    dask_scheduler: str | None = setting(parse=optional(text))
    operations: list[str] = setting(parse=operation_names, factory=lambda: list(DEFAULT_OPERATIONS))
    privacy_threshold: int = setting(50, parse=positive)
    privacy_rounding: int = setting(20, parse=positive)
    counter_machine_clients: list[str] = setting(
        parse=texts, factory=lambda: list(DEFAULT_MACHINE_CLIENTS), json_list=True
    )
    password: Secret | None = setting(parse=optional(password_text), secret=True)
    ipinfo_api_key: Secret | None = setting(parse=optional(secret_text), secret=True)
    opencage_api_key: Secret | None = setting(parse=optional(secret_text), secret=True)

    mode: ExtractMode = setting(ExtractMode.generic, parse=member(ExtractMode))
    dandi_api_url: str = setting(DEFAULT_API_URL, parse=text)
    dandi_mapping: str | None = setting(parse=optional(text))
    share_git: str | None = setting(parse=optional(text))
    share_branch: str = setting("main", parse=text)
    share_path: str = setting("summaries", parse=text)
    ip_provider: ProviderName | None = setting(parse=optional(member(ProviderName)))
    mmdb: Path | None = setting(parse=optional(path))
    vpn_ranges: Path | None = setting(parse=optional(path))
    ipinfo_url: str | None = setting(parse=optional(text))
    opencage_url: str | None = setting(parse=optional(text))


SETTINGS = {item.name: item for item in fields(Settings)}


def load_settings(**overrides: Any) -> Settings:
    """Settings with the given flag values on top; `None` means the flag was not given."""
    given = {name: value for name, value in overrides.items() if value is not None}
    chosen = read_file_settings() | environment_settings() | given
    checked: dict[str, Any] = {}
    for name, value in chosen.items():
        try:
            checked[name] = SETTINGS[name].metadata["parse"](value)
        except ValueError as error:
            raise ConfigError(f"invalid setting {name}: {error} (check {config_file()} and the environment)") from None
    return Settings(**checked)


def settings_shown(settings: Settings) -> dict[str, Any]:
    """Every setting as plain text, numbers and lists (for `config show`); secrets only say whether they are set."""
    shown: dict[str, Any] = {}
    for name, item in SETTINGS.items():
        value = getattr(settings, name)
        if item.metadata["secret"]:
            shown[name] = "set" if value else "not set"
        elif isinstance(value, Enum):
            shown[name] = value.value
        elif isinstance(value, Path):
            shown[name] = str(value)
        else:
            shown[name] = value
    return shown


def environment_settings() -> dict[str, Any]:
    """The settings the environment sets: `S3LOGEXTRACTION_<NAME>` (any case), or a seed name
    first for the password and the service keys.  A list is JSON (`["a", "b"]`), except
    `operations`, which is comma-separated."""
    environment = {name.upper(): value for name, value in os.environ.items()}
    found: dict[str, Any] = {}
    for name, item in SETTINGS.items():
        for variable in (*SEED_NAMES.get(name, ()), f"{ENV_PREFIX}{name.upper()}"):
            if variable in environment:
                found[name] = decoded(
                    environment[variable], name=name, variable=variable, json_list=item.metadata["json_list"]
                )
                break
    return found


def decoded(value: str, *, name: str, variable: str, json_list: bool) -> Any:
    if not json_list:
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
    known = set(SETTINGS)
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
