"""A drop-in for DANDI's live pipeline: `share --layout access-summaries` (and `run --share` with
the `share_layout` setting) writes the tree of dandi/access-summaries, which DANDI's dashboard
(dandi/access-page, src/plots.ts) reads.  Every URL the dashboard fetches is checked to resolve to
a file with the columns its parsers read (src/utils.ts, src/plots.ts)."""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .conftest import cli
from .test_dandi import MAPPING, A, B, C, S, Z, blob
from .test_share import IDENTITY, commits, git, tree
from .test_trust import line, logs

# (key, requester): requesters with embedded country data, so the map has places
REQUESTS = [
    (blob(A), "81.2.69.217"), (blob(A), "81.2.69.218"), (blob(B), "2.16.0.1"), (f"zarr/{Z}/0/0", "81.2.69.217"),
    (blob(C), "2.16.0.1"), (blob(S), "81.2.69.219"), (blob("e1b2c3d4-0000-4000-8000-00000000000e"), "2.16.0.2"),
]  # fmt: skip
ASSET_TYPES = ["Neurophysiology", "Microscopy", "Video", "Miscellaneous"]
DASHBOARD_TOP = ("totals.json", "archive_totals.json", "region_codes_to_coordinates.yaml")


def dandi_run(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[Path, Path]:
    folder = logs(
        tmp_path / "logs", {"2024-05-14-00-00-00-A": b"\n".join(line(key=k, ip=ip) for k, ip in REQUESTS) + b"\n"}
    )
    mapping = tmp_path / "mapping.json.gz"
    mapping.write_bytes(gzip.compress(json.dumps(MAPPING).encode()))
    cache = tmp_path / "cache"
    done = cli("run", str(folder), "--cache", str(cache), "--mode", "dandi", "--mapping", str(mapping), *extra, env=env)
    assert done.returncode == 0, done.stderr
    return cache, folder


def checked_tsv(path: Path, *, first: str, numeric_from: int = 1) -> list[list[str]]:
    """A TSV as the dashboard parses it: a header, rows split on tabs, the value columns integers."""
    rows = [row.split("\t") for row in path.read_text().split("\n") if row.strip()]
    assert len(rows) >= 2 and rows[0][0] == first, path
    for row in rows[1:]:
        assert len(row) == len(rows[0]), path
        for cell in row[numeric_from : numeric_from + 1]:
            assert cell.isdigit(), (path, row)
    return rows


def check_dashboard_urls(content: Path) -> None:
    """Each fetch of src/plots.ts, with the columns its parser reads."""
    totals = json.loads((content / "totals.json").read_text())
    archive = json.loads((content / "archive_totals.json").read_text())
    assert isinstance(archive["total_bytes_sent"], int) and set(archive) >= {"number_of_unique_regions"}
    places = yaml.safe_load((content / "region_codes_to_coordinates.yaml").read_text())
    assert places and all(set(value) == {"latitude", "longitude"} for value in places.values())
    summaries = content / "summaries"
    for dandiset in totals:  # the dropdown: every id of totals.json
        assert isinstance(totals[dandiset]["total_bytes_sent"], int)
        checked_tsv(summaries / dandiset / "by_day.tsv", first="date")
        checked_tsv(summaries / dandiset / "by_asset.tsv", first="asset_path")
        checked_tsv(summaries / dandiset / "by_region.tsv", first="region")
        weekly = checked_tsv(summaries / dandiset / "by_asset_type_per_week.tsv", first="week_start")
        assert weekly[0][1:] == ASSET_TYPES
    checked_tsv(summaries / "archive" / "by_day.tsv", first="date")
    checked_tsv(summaries / "archive" / "by_region.tsv", first="region")


def test_share_writes_the_access_summaries_tree_and_touches_nothing_else(tmp_path: Path, remote: Path) -> None:
    seed = tmp_path / "seed"
    git("clone", "--quiet", str(remote), str(seed), where=tmp_path)
    (seed / ".github" / "workflows").mkdir(parents=True)
    (seed / ".github" / "workflows" / "refresh.yml").write_text("on: push\n")
    (seed / "README.md").write_text("# access-summaries\n")
    (seed / "content").mkdir()
    (seed / "content" / "stale.tsv").write_text("old\n")
    git("add", "--all", where=seed)
    git("commit", "--quiet", "-m", "seed", where=seed)
    git("push", "--quiet", "origin", "HEAD:main", where=seed)
    cache, _ = dandi_run(tmp_path)
    shared = cli("share", "--cache", str(cache), "--git", str(remote), "--layout", "access-summaries")
    assert shared.returncode == 0, shared.stderr
    files = tree(remote)
    assert {".github/workflows/refresh.yml", "README.md"} <= files
    assert "content/stale.tsv" not in files
    assert {f"content/{name}" for name in DASHBOARD_TOP} <= files
    datasets = sorted(json.loads(git("show", "main:content/totals.json", where=remote)))
    assert datasets == ["000001", "000002", "unassociated", "undetermined"]
    for dataset in [*datasets, "archive"]:
        assert f"content/summaries/{dataset}/by_day.tsv" in files, dataset
    assert not [name for name in files if name.startswith("summaries/")], "the default layout's folder is not used"
    checkout = tmp_path / "checkout"
    git("clone", "--quiet", str(remote), str(checkout), where=tmp_path)
    check_dashboard_urls(checkout / "content")
    if importlib.util.find_spec("vl_convert") is not None:  # with the [report] extra, the report is shared too
        page = (checkout / "content" / "report" / "index.html").read_text()
        assert '<base href="../summaries/">' in page, "the page's links reach the dataset folders"
    assert git("show", "main:README.md", where=remote) == "# access-summaries\n"


def test_run_shares_with_the_layout_setting_in_one_commit(tmp_path: Path, remote: Path) -> None:
    config = tmp_path / "config" / "s3logextraction"
    config.mkdir(parents=True)
    (config / "config.yaml").write_text(
        yaml.safe_dump({"share": {"git": str(remote), "layout": "access-summaries"}, "mode": "dandi"})
    )
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), **IDENTITY}
    dandi_run(tmp_path, env=env)
    assert len(commits(remote)) == 1
    files = tree(remote)
    assert {f"content/{name}" for name in DASHBOARD_TOP} <= files
    assert {name.split("/")[0] for name in files} == {"content"}


@contextlib.contextmanager
def file_tree_server(root: Path) -> Iterator[str]:
    """The files under `root` over HTTP on 127.0.0.1 (the dashboard fetches from one origin)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


DASHBOARD = os.environ.get("S3LE_ACCESS_PAGE")  # a checkout of dandi/access-page (not vendored here)


@pytest.mark.skipif(
    not DASHBOARD or shutil.which("npx") is None or shutil.which("chromium") is None,
    reason="set S3LE_ACCESS_PAGE to a checkout of dandi/access-page (with node and chromium) to open the dashboard",
)
def test_dandis_dashboard_renders_the_shared_tree(tmp_path: Path, remote: Path) -> None:
    """DANDI's own dashboard, built with its data URL pointed at a server on 127.0.0.1 that serves
    the tree `share` wrote, opened in Chromium: every dandiset of the dropdown draws its plots, and
    no page error, no missing file (resources of other hosts, such as the map's tiles, are not
    reachable here and not counted)."""
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    source = tmp_path / "access-page"
    shutil.copytree(Path(str(DASHBOARD)), source, ignore=shutil.ignore_patterns("node_modules", "dist", ".git"))
    plots = source / "src" / "plots.ts"
    text = plots.read_text()
    served = tmp_path / "served"
    with file_tree_server(served) as url:
        plots.write_text(re.sub(r'const BASE_URL = "[^"]*";', f'const BASE_URL = "{url}/data";', text))
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=source, check=True,
                       capture_output=True)  # fmt: skip
        subprocess.run(["npx", "vite", "build", "--config", "configs/vite.config.js"], cwd=source, check=True,
                       capture_output=True)  # fmt: skip
        shutil.copytree(source / "dist", served)
        cache, _ = dandi_run(tmp_path)
        assert cli("share", "--cache", str(cache), "--git", str(remote), "--layout", "access-summaries").returncode == 0
        git("clone", "--quiet", str(remote), str(served / "data"), where=tmp_path)
        problems: list[str] = []
        with playwright.sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page()
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("response", lambda answer: problems.append(f"{answer.status} {answer.url}") if (
                answer.url.startswith(url) and answer.status >= 400) else None)  # fmt: skip
            page.goto(f"{url}/index.html")
            page.wait_for_selector(".js-plotly-plot", timeout=30_000)
            for dandiset in json.loads((served / "data" / "content" / "totals.json").read_text()):
                page.select_option("select", dandiset)
                page.wait_for_timeout(1500)
                assert page.locator(".js-plotly-plot").count() >= 2, dandiset
            browser.close()
    assert [problem for problem in problems if "Map" not in problem] == []
