"""Shared fixtures: real gawk, real SQLite, an isolated config/cache home per test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from s3logextraction.testing import generate_benchmark

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own XDG config and cache dirs, and no S3LOGEXTRACTION_* from outside."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    for name in list(os.environ):
        if name.startswith("S3LOGEXTRACTION_") or name in ("S3_LOG_EXTRACTION_PASSWORD", "IPINFO_API_KEY"):
            monkeypatch.delenv(name)
    return home


@pytest.fixture(scope="session")
def gawk() -> str:
    found = shutil.which("gawk")
    assert found, "gawk must be installed for the tests (apt-get install gawk)"
    return found


@pytest.fixture(scope="session")
def corpus() -> Path:
    assert (CORPUS / "EXPECTED.tsv").exists(), f"the shared parser corpus is missing at {CORPUS}"
    return CORPUS


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """About 6 MB of generated logs in 200 objects, with the generator's ground truth."""
    directory = tmp_path_factory.mktemp("small_corpus")
    generate_benchmark(directory, size=6_000_000, seed=11, file_size=30_000, keys=400, ips=500)
    return directory / "logs", json.loads((directory / "ground_truth.json").read_text())


def cli(
    *args: str, env: dict[str, str] | None = None, check: bool = False, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """The installed console script in a real subprocess."""
    script = Path(sys.executable).with_name("s3logextraction")
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=env, check=check, **kwargs)
