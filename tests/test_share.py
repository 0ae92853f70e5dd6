"""`share` against a bare repository on local disk as the remote: commits only what changed, only
published files, and a rejected push is kept for the next night."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import s3logextraction
from s3logextraction import ExtractOptions

from .conftest import age, cli
from .test_operator_errors import write_logs

IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@localhost"}  # fmt: skip


def git(*args: str, where: Path) -> str:
    env = {**os.environ, **IDENTITY}
    return subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, check=True, env=env).stdout


def commits(bare: Path) -> list[str]:
    return git("log", "--format=%s", "main", where=bare).splitlines()


def tree(bare: Path) -> set[str]:
    return set(git("ls-tree", "-r", "--name-only", "main", where=bare).splitlines())


def test_share_commits_only_what_changed_and_nothing_private(tmp_path: Path, remote: Path) -> None:
    pytest.importorskip("vl_convert", reason="the report it shares needs the [report] extra")
    cache = tmp_path / "cache"
    logs = write_logs(tmp_path / "logs", {"alpha/x.bin": 3, "beta/y.bin": 2})
    assert cli("run", str(logs), "--cache", str(cache)).returncode == 0
    first = cli("share", "--git", str(remote), "--cache", str(cache))
    assert first.returncode == 0, first.stderr
    assert commits(remote) == ["0 datasets updated, 2 new; archive totals: +5.1 kB"]  # 5 requests of 1024 bytes
    assert {"summaries/alpha/by_day.tsv", "summaries/beta/by_day.tsv", "summaries/archive_totals.json"} <= tree(remote)
    assert all(name.startswith("summaries/") for name in tree(remote))

    again = cli("share", "--git", str(remote), "--cache", str(cache))
    assert again.returncode == 0 and "nothing changed" in again.stderr
    assert len(commits(remote)) == 1

    write_logs(tmp_path / "night2", {"beta/z.bin": 4})
    shutil.copy(next((tmp_path / "night2").iterdir()), logs / "2024-05-09-10-00-00-NIGHT2")
    age(logs)
    assert cli("run", str(logs), "--cache", str(cache), "--share", str(remote)).returncode == 0
    assert len(commits(remote)) == 2
    touched = set(git("diff", "--name-only", "main~1", "main", where=remote).splitlines())
    assert touched and all(name.startswith(("summaries/beta/", "summaries/archive", "summaries/report/"))
                           or name.endswith("totals.json") for name in touched), touched  # fmt: skip
    page = git("show", "main:summaries/report/index.html", where=remote)  # links from inside the managed folder
    assert (
        '<base href="../">' in page and 'href="beta/by_day.tsv"' in page and "summaries/beta/by_day.tsv" in tree(remote)
    )
    assert not [name for name in touched if name.startswith("summaries/alpha/")]

    assert cli("reset", "extraction", "--cache", str(cache), "--yes").returncode == 0
    only_beta = write_logs(tmp_path / "only-beta", {"beta/y.bin": 2})
    assert cli("run", str(only_beta), "--cache", str(cache), "--share", str(remote)).returncode == 0
    assert not [name for name in tree(remote) if name.startswith("summaries/alpha/")], "a removed dataset goes"

    history = git("log", "--all", "-p", "--format=%H", where=remote)
    for ip in [f"198.51.100.{n}" for n in range(1, 5)]:
        assert ip not in history
    key_material = [path.read_bytes() for path in (tmp_path.parent).rglob("ip-key")]
    assert key_material and all(material.hex() not in history for material in key_material)
    assert not [name for name in tree(remote) if name.endswith(("ip-key", ".sqlite", ".parquet"))]


def test_a_rejected_push_is_exit_3_and_the_next_share_retries(tmp_path: Path, remote: Path) -> None:
    cache = tmp_path / "cache"
    logs = write_logs(tmp_path / "logs", {"alpha/x.bin": 3})
    assert cli("run", str(logs), "--cache", str(cache), "--share", str(remote)).returncode == 0
    other = tmp_path / "someone-else"
    git("clone", "--quiet", str(remote), str(other), where=tmp_path)
    (other / "NOTES.md").write_text("a commit the tool does not have\n")
    git("add", "NOTES.md", where=other)
    git("commit", "--quiet", "-m", "notes", where=other)
    git("push", "--quiet", "origin", "main", where=other)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'rejected by policy' >&2\nexit 1\n")
    hook.chmod(0o755)
    write_logs(tmp_path / "more", {"alpha/w.bin": 2})
    shutil.copy(next((tmp_path / "more").iterdir()), logs / "2024-05-09-10-00-00-MORE")
    age(logs)
    result = cli("run", str(logs), "--cache", str(cache), "--share", str(remote))
    assert result.returncode == 3, result.stderr
    assert "push" in result.stderr.splitlines()[-1] and "next share retries" in result.stderr
    assert (cache / "summaries" / "archive_totals.json").exists()
    hook.unlink()
    retried = cli("share", "--git", str(remote), "--cache", str(cache))
    assert retried.returncode == 0, retried.stderr
    assert commits(remote)[1] == "notes" and "NOTES.md" in tree(remote), "the other commit is kept"
    assert "summaries/alpha/by_day.tsv" in tree(remote)


def test_credentials_in_a_url_are_never_shown(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    logs = write_logs(tmp_path / "logs", {"alpha/x.bin": 1})
    assert cli("run", str(logs), "--cache", str(cache)).returncode == 0
    result = cli("share", "--git", "http://operator:s3cr3t-token@127.0.0.1:9/repo.git", "--cache", str(cache))
    assert result.returncode != 0 and result.stderr.count("\n") == 1
    assert "s3cr3t-token" not in result.stderr and "operator" not in result.stderr


def test_share_from_python_without_push(tmp_path: Path, remote: Path) -> None:
    cache = tmp_path / "cache"
    s3logextraction.run(
        write_logs(tmp_path / "logs", {"alpha/x.bin": 1}), cache=cache, extraction=ExtractOptions(settle_seconds=0)
    )
    report = s3logextraction.share(cache=cache, target=s3logextraction.ShareTarget(git=str(remote), push=False))
    assert report.committed and not report.pushed
    unborn = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "main"], cwd=remote, capture_output=True)
    assert unborn.returncode != 0, "nothing reached the remote"


def test_share_in_the_config_file_makes_it_the_last_stage(tmp_path: Path, remote: Path, isolated_home: Path) -> None:
    config = isolated_home / "config" / "s3logextraction" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(f"share:\n  git: {remote}\n  path: stats\n")
    logs = write_logs(tmp_path / "logs", {"alpha/x.bin": 3})
    result = cli("run", str(logs), "--cache", str(tmp_path / "cache"))
    assert result.returncode == 0 and "pushed" in result.stderr, result.stderr
    assert "stats/alpha/by_day.tsv" in tree(remote)
