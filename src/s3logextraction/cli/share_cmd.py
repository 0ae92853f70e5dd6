"""`share`: publish the summaries (and report) to a git repository."""

from typing import Annotated

import typer

from ..config import Settings, load_settings
from ..errors import UsageError
from ..share import Layout, ShareTarget, share
from .options import CacheOption
from .signals import drain_on_first_signal


def share_target(settings: Settings, *, message: str | None = None, push: bool = True) -> ShareTarget | None:
    """The target from settings (`share_git`, `share_branch`, `share_path`), or None (also used by `run`)."""
    if not settings.share_git:
        return None
    return ShareTarget(
        git=settings.share_git,
        branch=settings.share_branch,
        path=settings.share_path,
        message=message,
        push=push,
        layout=settings.share_layout,
    )


def share_command(
    git: Annotated[
        str | None,
        typer.Option(
            "--git", help="A working tree, or a repository URL or path (cloned into the cache).", show_default=False
        ),
    ] = None,
    cache: CacheOption = None,
    branch: Annotated[
        str | None, typer.Option("--branch", help="Branch to commit to (default main).", show_default=False)
    ] = None,
    path: Annotated[
        str | None, typer.Option("--path", help="Folder in the repository (default summaries).", show_default=False)
    ] = None,
    message: Annotated[
        str | None, typer.Option("--message", help="Commit message (default: what changed).", show_default=False)
    ] = None,
    push: Annotated[bool, typer.Option("--push/--no-push", help="Push the commit.")] = True,
    layout: Annotated[
        Layout | None,
        typer.Option(
            "--layout",
            help="default (the published set in --path) or access-summaries (the tree of dandi/access-summaries, "
            "which DANDI's dashboard reads: content/...). Default: the share_layout setting.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Commit the published summaries (and report) to a git repository and push them.

    Commit the published summaries (and `report/`) to a git repository and push: a working tree, or a URL (or
    bare repository path) cloned into `<cache>/share/` and brought up to date with the remote first; the
    folder `--path` (default `summaries`) is made equal to the published set (files no longer published leave
    it); a commit only when something changed, with a message saying what ("3 datasets updated, 1 new; archive
    totals: +1.2 TB"). Uses the `git` command line with your credentials; URLs are never shown with
    credentials. `run --share DIR_OR_URL` (or `share_git` in the config) makes it the last stage; a failed
    push exits 3 after everything else is done and the next share retries
    """
    settings = load_settings(
        {"cache": cache, "share_git": git, "share_branch": branch, "share_path": path, "share_layout": layout}
    )
    target = share_target(settings, message=message, push=push)
    if target is None:
        raise UsageError("share needs a repository: --git DIR_OR_URL (or share_git in the config)")
    with drain_on_first_signal():
        report = share(cache=settings.cache, target=target)
    typer.echo(report.summary(), err=True)
