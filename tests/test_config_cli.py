"""Configuration precedence and the CLI, through Typer's runner and the installed console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from s3logextraction import __version__
from s3logextraction.cli import app
from s3logextraction.config import config_file, load_settings, resolve_workers
from s3logextraction.errors import ConfigError
from s3logextraction.ips.providers import ProviderName
from s3logextraction.operations import ExtractMode

from .conftest import CORPUS, cli

runner = CliRunner()


def write_config(values: dict[str, object]) -> None:
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text(yaml.safe_dump(values))


def test_defaults_then_file_then_environment_then_flags(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().cache == isolated_home / "cache" / "s3logextraction"
    assert load_settings().privacy_threshold == 50
    write_config({"cache": "/from/file", "privacy_threshold": 10, "workers": 3})
    assert (load_settings().cache, load_settings().privacy_threshold) == (Path("/from/file"), 10)
    monkeypatch.setenv("S3LOGEXTRACTION_CACHE", "/from/env")
    monkeypatch.setenv("S3LOGEXTRACTION_WORKERS", "5")
    assert (load_settings().cache, load_settings().workers) == (Path("/from/env"), 5)
    assert load_settings({"cache": Path("/from/flag"), "workers": None}).cache == Path("/from/flag")
    assert load_settings({"cache": Path("/from/flag")}).privacy_threshold == 10


def test_service_keys_and_password_keep_their_seed_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPINFO_API_KEY", "k1")
    monkeypatch.setenv("S3_LOG_EXTRACTION_PASSWORD", "pw")
    settings = load_settings()
    assert settings.ipinfo_api_key is not None and settings.ipinfo_api_key.get_secret_value() == "k1"
    assert settings.password is not None and settings.password.get_secret_value() == "pw"


def test_invalid_setting_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3LOGEXTRACTION_WORKERS", "many")
    result = cli("config", "show")
    assert result.returncode == 78
    assert result.stderr.count("\n") == 1 and "workers" in result.stderr


def test_workers_count_back_from_all_cores() -> None:
    cores = os.cpu_count() or 1
    assert resolve_workers(3) == 3
    assert resolve_workers(-1) == cores
    assert resolve_workers(-2) == max(1, cores - 1)
    assert resolve_workers(-1000) == 1


def test_config_cache_set_creates_and_records(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "cache"
    result = runner.invoke(app, ["config", "cache", "set", str(target)])
    assert result.exit_code == 0, result.output
    assert target.is_dir()
    assert runner.invoke(app, ["config", "cache", "show"]).output.strip() == str(target)
    assert yaml.safe_load(config_file().read_text())["cache"] == str(target)


def test_config_cache_set_refuses_a_file(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    result = cli("config", "cache", "set", str(a_file))
    assert result.returncode == 78
    assert "is a file" in result.stderr and "Traceback" not in result.stderr


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCAGE_API_KEY", "very-secret-value")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0
    assert "very-secret-value" not in result.output and "opencage_api_key: set" in result.output


def test_version_through_runner_console_script_and_module() -> None:
    assert runner.invoke(app, ["--version"]).output.strip() == f"s3logextraction {__version__}"
    assert cli("--version", check=True).stdout.strip() == f"s3logextraction {__version__}"
    module = subprocess.run([sys.executable, "-m", "s3logextraction", "--version"], capture_output=True, text=True)
    assert module.stdout.strip() == f"s3logextraction {__version__}"


def test_parse_through_the_console_script(gawk: str) -> None:
    result = cli("parse", "--all", "network.log", cwd=CORPUS)
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows[1][:9] == [
        "network.log",
        "1",
        "ok",
        "data/file.bin",
        "2019-02-06T00:00:38Z",
        "2001:db8::1",
        "200",
        "1024",
        "REST.GET.OBJECT",
    ]


def test_missing_gawk_is_one_line_with_the_install_command(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}
    for command in (["parse", str(CORPUS / "crlf.log")], ["extract", str(tmp_path), "--cache", str(tmp_path / "c")]):
        result = cli(*command, env=env)
        assert result.returncode == 69
        assert (
            result.stderr.strip()
            == "error: gawk is required but was not found on PATH; install it with: apt-get install gawk"
        )


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    result = cli("parse", str(tmp_path / "nope.log"))
    assert result.returncode == 66
    assert result.stderr.count("\n") == 1 and "no such file" in result.stderr


def test_a_folder_given_to_parse_is_one_line(tmp_path: Path) -> None:
    folder = cli("parse", str(tmp_path))
    assert folder.returncode == 66 and folder.stderr.count("\n") == 1
    assert "is a directory, not a log file" in folder.stderr


def test_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3LOGEXTRACTION_OPERATIONS", "REST.GET.OBJECT,REST.HEAD.OBJECT")
    monkeypatch.setenv("s3logextraction_counter_machine_clients", '["^my-mirror/", "curl"]')
    settings = load_settings()
    assert settings.operations == ["REST.GET.OBJECT", "REST.HEAD.OBJECT"], "comma-separated, as the flag"
    assert settings.counter_machine_clients == ["^my-mirror/", "curl"], "JSON, and the name in any case"
    monkeypatch.delenv("s3logextraction_counter_machine_clients")
    monkeypatch.setenv("S3LOGEXTRACTION_COUNTER_MACHINE_CLIENTS", "curl")
    result = cli("config", "show")
    assert result.returncode == 78 and result.stderr.count("\n") == 1
    assert "S3LOGEXTRACTION_COUNTER_MACHINE_CLIENTS must be a JSON list" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("S3LOGEXTRACTION_WORKERS", "0", "0 is not a number of workers"),
        ("S3LOGEXTRACTION_WORKERS", "2.5", "'2.5' is not a whole number"),
        ("S3LOGEXTRACTION_PRIVACY_THRESHOLD", "0", "0 is not greater than 0"),
        ("S3LOGEXTRACTION_SETTLE_SECONDS", "-1", "'-1' is below 0"),
        ("S3LOGEXTRACTION_SETTLE_SECONDS", "nan", "'nan' is not a number of seconds"),
        ("S3LOGEXTRACTION_SETTLE_DAYS", "-2", "-2 is below 0"),
        ("S3LOGEXTRACTION_BATCH_SIZE", "lots", "'lots' is not a size"),
        ("S3LOGEXTRACTION_EXECUTOR", "spark", "'spark' is not one of local, dask"),
        ("S3LOGEXTRACTION_MODE", "openneuro", "'openneuro' is not one of generic, dandi"),
        ("S3LOGEXTRACTION_IP_PROVIDER", "maxmind", "'maxmind' is not one of embedded, mmdb, ipinfo"),
        ("S3LOGEXTRACTION_OPERATIONS", "REST.GET.NOPE", "unknown operation REST.GET.NOPE"),
    ],
)
def test_each_refused_value_names_its_setting_and_why(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(variable, value)
    name = variable.removeprefix("S3LOGEXTRACTION_").lower()
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith(f"invalid setting {name}: {reason}")
    assert "\n" not in str(raised.value)


def test_text_from_the_environment_and_the_file_becomes_typed_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config({"settle_days": 3, "operations": ["REST.HEAD.OBJECT", "REST.GET.OBJECT"], "mmdb": "/data/city.mmdb"})
    monkeypatch.setenv("S3LOGEXTRACTION_SETTLE_SECONDS", " 1.5")
    monkeypatch.setenv("S3LOGEXTRACTION_BATCH_SIZE", "2M")
    monkeypatch.setenv("S3LOGEXTRACTION_MODE", "dandi")
    monkeypatch.setenv("S3LOGEXTRACTION_IP_PROVIDER", "mmdb")
    monkeypatch.setenv("S3LOGEXTRACTION_WORKERS", " -1 ")
    settings = load_settings()
    assert settings.settle_days == 3 and settings.settle_seconds == 1.5 and settings.workers == -1
    assert settings.batch_size == 2 * 1024 * 1024
    assert settings.operations == ["REST.GET.OBJECT", "REST.HEAD.OBJECT"]
    assert settings.mode is ExtractMode.dandi and settings.ip_provider is ProviderName.mmdb
    assert settings.mmdb == Path("/data/city.mmdb") and settings.s3_inventory is None


def test_a_secret_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config({"password": 982451653, "workers": True})
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith("invalid setting password: it must be text")
    assert "982451653" not in str(raised.value)
    write_config({"workers": True})
    with pytest.raises(ConfigError, match="invalid setting workers: True is not a whole number"):
        load_settings()
    write_config({})
    monkeypatch.setenv("S3_LOG_EXTRACTION_PASSWORD", "hunter2-but-long")
    settings = load_settings()
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.password)
    assert settings.password is not None and settings.password.get_secret_value() == "hunter2-but-long"
