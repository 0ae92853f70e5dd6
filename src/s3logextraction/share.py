"""`share`: the published summaries (and report) committed to a git repository and pushed, the
last step of the nightly job.

The target is a working tree (a local clone the operator made) or a repository URL (or a bare
repository's path), cloned into `<cache>/share/` on first use and brought up to date with the
remote before each share, so a push that was rejected last night is retried on top of whatever
the remote holds now.  Only published files ever enter the repository: the managed folder
(`--path`, default `summaries`) is made equal to the published set, and files no longer published
leave it.  A commit is made only when something changed; its message says what.  The `git`
command line does the work, with the operator's own credentials and SSH configuration; URLs are
shown without any credentials in them.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from .cache import Cache, CachePaths, PathLike, make_private_folder
from .datasets.folders import ARCHIVE_FOLDER, ARCHIVE_TOTALS_FILE, REPORT_FOLDER
from .errors import InputError, MissingToolError, PartialError, S3LogExtractionError, UsageError
from .report.page import rebased
from .sizes import human_bytes

CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
IDENTITY = ["-c", "user.name=s3logextraction", "-c", "user.email=s3logextraction@localhost"]
KEPT_AT_TOP = re.compile(r"^(\..*|README.*|LICENSE.*)$")
REPORT_PAGE = "report/index.html"


def redacted(text: str) -> str:
    """`https://user:token@host/...` shown as `https://host/...`."""
    return CREDENTIALS.sub("", text)


class Layout(StrEnum):
    """How the published set is laid out in the repository: as published (`default`, in the
    target's folder), or as dandi/access-summaries holds it (`access-summaries`), the tree DANDI's
    dashboard (dandi/access-page) reads: `content/` holds totals.json, archive_totals.json and
    region_codes_to_coordinates.yaml, and `content/summaries/` the dataset folders and `archive/`.
    Nothing outside `content/` is touched (the repository's README, workflows)."""

    default = "default"
    access_summaries = "access-summaries"


ACCESS_SUMMARIES_FOLDER = "content"


@dataclass(frozen=True)
class ShareTarget:
    git: str
    branch: str = "main"
    path: str = "summaries"
    message: str | None = None
    push: bool = True
    layout: Layout = Layout.default

    @property
    def folder(self) -> str:
        """The folder of the repository that the published set is made equal to."""
        return ACCESS_SUMMARIES_FOLDER if self.layout is Layout.access_summaries else self.path

    def placed(self, name: str) -> str:
        """Where a published file (named relative to summaries/, or report/...) goes in the folder."""
        if self.layout is Layout.default or "/" not in name or name.startswith(f"{REPORT_FOLDER}/"):
            return name
        return f"summaries/{name}"

    def published(self, name: str) -> str:
        """The published name of a file of the folder (`placed` undone)."""
        return name.removeprefix("summaries/") if self.layout is Layout.access_summaries else name


@dataclass
class ShareReport:
    committed: bool
    pushed: bool
    message: str
    changed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.committed:
            return "share: nothing changed" + (", pushed" if self.pushed else "")
        return f"share: committed {len(self.changed)} changed files ({self.message})" + (
            ", pushed" if self.pushed else ", not pushed"
        )


def git_message(stderr: str) -> str:
    """The first line of git's error that says what is wrong (its last lines are advice such as
    "and the repository exists."), without git's `fatal:` prefix and without credentials."""
    for line in stderr.splitlines():
        text = line.strip()
        if text and not text.startswith(("hint:", "warning:")):
            return redacted(text.removeprefix("fatal: ").removeprefix("error: "))
    return "no message"


def git(*args: str, where: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    if shutil.which("git") is None:
        raise MissingToolError("git is not installed: apt-get install git")
    done = subprocess.run(["git", *args], cwd=where, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise S3LogExtractionError(f"git {args[0]} failed: {git_message(done.stderr)}")
    return done


def working_tree(paths: CachePaths, target: ShareTarget) -> Path:
    """The working tree to commit in, up to date with its remote's branch when there is one."""
    given = Path(target.git)
    if given.is_dir() and (given / ".git").exists():
        tree = given
    else:
        tree = paths.root / "share" / hashlib.sha256(target.git.encode()).hexdigest()[:16]
        if not (tree / ".git").exists():
            make_private_folder(tree.parent)
            done = subprocess.run(["git", "clone", "--quiet", target.git, str(tree)], capture_output=True, text=True)
            if done.returncode != 0:
                raise InputError(f"cannot clone {redacted(target.git)}: {git_message(done.stderr)}")
    remote = git("remote", where=tree).stdout.split()
    if "origin" in remote:
        git("fetch", "--quiet", "origin", where=tree)
        if git("rev-parse", "--verify", "--quiet", f"origin/{target.branch}", where=tree, check=False).returncode == 0:
            git("checkout", "--quiet", "-B", target.branch, f"origin/{target.branch}", where=tree)
            return tree
    if git("rev-parse", "--verify", "--quiet", "HEAD", where=tree, check=False).returncode == 0:
        git("checkout", "--quiet", "-B", target.branch, where=tree)
    else:
        git("symbolic-ref", "HEAD", f"refs/heads/{target.branch}", where=tree)
    return tree


def published_files(paths: CachePaths) -> dict[str, Path]:
    """Relative name in the managed folder -> published file (summaries/, then report/)."""
    files: dict[str, Path] = {}
    summaries = paths.summaries.resolve()  # one generation of the published set, read whole
    if summaries.is_dir():
        files |= {p.relative_to(summaries).as_posix(): p for p in summaries.rglob("*") if p.is_file()}
    if paths.report.is_dir():
        files |= {f"report/{p.relative_to(paths.report).as_posix()}": p for p in paths.report.rglob("*") if p.is_file()}
    return files


def mirror(files: dict[str, Path], folder: Path, *, page_href: str) -> None:
    """Makes `folder` hold exactly `files` (dot files, README and LICENSE at its top are kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.rglob("*"), reverse=True):
        relative = path.relative_to(folder)
        if relative.parts[0] == ".git" or (len(relative.parts) == 1 and KEPT_AT_TOP.match(relative.name)):
            continue
        if path.is_file() and relative.as_posix() not in files:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    for name, source in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        content = shared_bytes(name, source, page_href=page_href)
        if not target.exists() or target.read_bytes() != content:
            target.write_bytes(content)


def shared_bytes(name: str, source: Path, *, page_href: str) -> bytes:
    """A file as the repository holds it: the report's page links to the dataset folders from
    inside the managed folder (`page_href`), not from beside them as in the cache."""
    data = source.read_bytes()
    return rebased(data, href=page_href) if name == REPORT_PAGE else data


def archive_bytes(text: str | None) -> int:
    try:
        return int(json.loads(text or "{}").get("total_bytes_sent", 0))
    except (ValueError, AttributeError, TypeError):
        return 0


def describe(changes: list[tuple[str, str]], *, before: str | None, after: str | None) -> str:
    """ "3 datasets updated, 1 new, 1 removed; archive totals: +1.2 GB" from `git status` lines."""
    folders: dict[str, set[str]] = {}
    for state, name in changes:
        head, _, rest = name.partition("/")
        if rest and head not in (ARCHIVE_FOLDER, REPORT_FOLDER):
            folders.setdefault(head, set()).add(state)
    new = sum(1 for states in folders.values() if states == {"A"})
    removed = sum(1 for states in folders.values() if states == {"D"})
    updated = len(folders) - new - removed
    parts = [f"{updated} datasets updated", f"{new} new"] + ([f"{removed} removed"] if removed else [])
    delta = archive_bytes(after) - archive_bytes(before)
    return ", ".join(parts) + f"; archive totals: {'+' if delta >= 0 else '-'}{human_bytes(abs(delta))}"


def share_into(opened: Cache, *, target: ShareTarget) -> ShareReport:
    """`share` in a cache the caller has opened (and locked), as `run` does."""
    if target.path.startswith("/") or ".." in Path(target.path).parts:
        raise UsageError("--path must be a folder inside the repository")
    if target.layout is Layout.access_summaries and target.path != ShareTarget.path:
        raise UsageError(f"--layout access-summaries places the files in {ACCESS_SUMMARIES_FOLDER}/: drop --path")
    tree = working_tree(opened.paths, target)
    folder = tree / target.folder
    scope = target.folder or "."
    totals = f"{target.folder}/{ARCHIVE_TOTALS_FILE}".lstrip("/")
    before = git("show", f"HEAD:{totals}", where=tree, check=False).stdout or None
    placed = {target.placed(name): path for name, path in published_files(opened.paths).items()}
    mirror(placed, folder, page_href="../" if target.layout is Layout.default else "../summaries/")
    git("add", "--all", "--", scope, where=tree)
    status = git("status", "--porcelain", "--", scope, where=tree).stdout.splitlines()
    changes = [(line[:2].strip()[:1], line[3:].split(" -> ")[-1]) for line in status if line.strip()]
    prefix = f"{target.folder}/" if target.folder else ""
    changes = [(state, target.published(name.removeprefix(prefix))) for state, name in changes]
    committed = False
    message = target.message or ""
    if changes:
        archive_totals = folder / ARCHIVE_TOTALS_FILE
        after = archive_totals.read_text() if archive_totals.exists() else None
        message = target.message or describe(changes, before=before, after=after)
        identity = [] if git("config", "user.email", where=tree, check=False).stdout.strip() else IDENTITY
        git(*identity, "commit", "--quiet", "-m", message, where=tree)
        committed = True
    report = ShareReport(committed=committed, pushed=False, message=message, changed=[name for _, name in changes])
    if target.push and "origin" in git("remote", where=tree).stdout.split():
        done = git("push", "--quiet", "origin", f"HEAD:refs/heads/{target.branch}", where=tree, check=False)
        if done.returncode != 0:
            raise PartialError(
                f"share: push to {redacted(target.git)} failed ({git_message(done.stderr)}); the commit is kept and "
                "the next share retries"
            )
        report.pushed = True
    return report


def share(*, cache: PathLike, target: ShareTarget) -> ShareReport:
    """Commits the published files to `target` and pushes them (see the module docstring)."""
    with Cache.open_for_writing(cache, command="share") as opened:
        return share_into(opened, target=target)
