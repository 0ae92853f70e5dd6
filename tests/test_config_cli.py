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
    assert load_settings(cache=Path("/from/flag"), workers=None).cache == Path("/from/flag")
    assert load_settings(cache=Path("/from/flag")).privacy_threshold == 10


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
