"""`report`: the page opened in a real headless browser (Debian's chromium through Playwright,
every network request blocked and recorded), its numbers against the published JSON, its PNGs."""

from __future__ import annotations

import json
import os
import shutil
import struct
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from .conftest import age, cli

pytest.importorskip("vl_convert", reason="the [report] extra is not installed")
TINY = "tiny-dataset"
TINY_LINE = (
    "79a5 archive [02/Jan/2024:10:00:00 +0000] 192.0.2.77 - REQ1 REST.GET.OBJECT {key} "
    '"GET /{key} HTTP/1.1" 200 - 1234 1234 10 5 "-" "curl/8.0" - HOST SigV4 TLS_AES AuthHeader '
    "archive.s3.amazonaws.com TLSv1.3 - -"
)
COUNTS = ("total_number_of_downloads", "total_number_of_requests", "number_of_requesters")


class Figures(HTMLParser):
    """Every element's data-* attributes, with the dataset section or table row it sits in."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[dict[str, str]] = []
        self.within: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag in ("section", "tr") and "data-dataset" in attributes:
            self.within.append(attributes["data-dataset"])
        elif tag in ("section", "tr"):
            self.within.append("")
        self.elements.append({"tag": tag, "within": self.within[-1] if self.within else "", **attributes})

    def handle_endtag(self, tag: str) -> None:
        if tag in ("section", "tr") and self.within:
            self.within.pop()


@pytest.fixture(scope="module")
def published(small_corpus: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache after `run` over the small corpus plus one request to a dataset of its own (every
    count of it below the threshold), then a report with that dataset's section."""
    logs, _ = small_corpus
    folder = tmp_path_factory.mktemp("report")
    copy = Path(shutil.copytree(logs, folder / "logs"))
    (copy / "2024-01-02-10-00-00-TINY").write_text(TINY_LINE.format(key=f"{TINY}/only.nwb") + "\n")
    age(copy)
    cache = folder / "cache"
    done = cli("run", str(copy), "--cache", str(cache), "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert f"report is {cache / 'report' / 'index.html'}" in done.stdout  # `run` writes it
    biggest = max(json.loads((cache / "summaries" / "totals.json").read_text()).items(),
                  key=lambda item: item[1]["total_bytes_sent"])[0]  # fmt: skip
    made = cli("report", "--cache", str(cache), "--dataset", TINY, "--dataset", biggest)
    assert made.returncode == 0, made.stderr
    return cache


def figures(cache: Path) -> list[dict[str, str]]:
    parser = Figures()
    parser.feed((cache / "report" / "index.html").read_text(encoding="utf-8"))
    return parser.elements


def test_the_numbers_shown_are_the_published_ones(published: Path) -> None:
    totals = json.loads((published / "summaries" / "totals.json").read_text())
    archive = json.loads((published / "summaries" / "archive_totals.json").read_text())
    elements = figures(published)
    shown_archive = {e["data-field"]: e["data-value"] for e in elements if e["tag"] == "dd" and not e["within"]}
    assert shown_archive == {field: str(value) for field, value in archive.items()}
    rows: dict[str, dict[str, str]] = {}
    for element in elements:
        if element["tag"] == "td" and "data-field" in element and element["within"] in totals:
            rows.setdefault(element["within"], {})[element["data-field"]] = element["data-value"]
    assert rows == {name: {k: str(v) for k, v in figures.items()} for name, figures in totals.items()}
    top = [(e["data-dataset"], int(e["data-value"])) for e in elements if e["tag"] == "li" and "data-dataset" in e]
    expected = sorted(((name, f["total_bytes_sent"]) for name, f in totals.items()), key=lambda p: (-p[1], p[0]))
    assert top == expected[:20]


def test_a_dataset_below_the_threshold_shows_less_than_50_and_no_smaller_number(published: Path) -> None:
    section = [e for e in figures(published) if e["within"] == TINY and e["tag"] == "dd"]
    shown = {e["data-field"]: e["data-value"] for e in section}
    assert {field: shown[field] for field in COUNTS} == dict.fromkeys(COUNTS, "<50")
    assert shown["total_bytes_sent"] == "1234"
    page = (published / "report" / "index.html").read_text(encoding="utf-8")
    counts = [
        e["data-value"] for e in figures(published) if e.get("data-field", "").endswith(("downloads", "requests"))
    ]
    assert all(value == "<50" or int(value) >= 50 for value in counts)
    assert "&lt;50" in page


def test_every_link_to_a_tsv_file_resolves(published: Path) -> None:
    elements = figures(published)
    (base,) = [element["href"] for element in elements if element["tag"] == "base"]
    links = [element["href"] for element in elements if element["tag"] == "a"]
    assert base == "../summaries/" and len(links) == 3 * len(
        json.loads((published / "summaries/totals.json").read_text())
    )
    assert all((published / "report" / base / link).resolve().is_file() for link in links)


def test_in_the_cache_the_report_is_private_like_everything_else(published: Path) -> None:
    for folder in (published / "report", published / "assets"):
        assert folder.stat().st_mode & 0o777 == 0o700
        assert {path.stat().st_mode & 0o777 for path in folder.iterdir()} == {0o600}


def test_pngs_are_images_of_the_documented_size(published: Path) -> None:
    for name, size in (("time_series.png", (1800, 600)), ("map.png", (1800, 900))):
        data = (published / "report" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
        assert struct.unpack(">II", data[16:24]) == size


def test_nothing_new_leaves_the_report_as_it_is(published: Path) -> None:
    index = published / "report" / "index.html"
    before = index.stat().st_mtime_ns
    again = cli("report", "--cache", str(published), "--dataset", TINY)  # other options: made again
    assert again.returncode == 0 and "nothing new" not in again.stderr
    assert index.stat().st_mtime_ns != before
    made = index.stat().st_mtime_ns
    same = cli("report", "--cache", str(published), "--dataset", TINY)
    assert same.returncode == 0 and "nothing new since the last report" in same.stderr
    assert index.stat().st_mtime_ns == made


def browser_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_page_renders_offline_in_a_real_browser(published: Path, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    executable = browser_path()
    if executable is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's: apt-get install chromium)")
    page_file = (published / "report" / "index.html").as_uri()
    requests: list[str] = []
    errors: list[str] = []
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.route("**/*", lambda route: route.continue_() if route.request.url == page_file else (
                requests.append(route.request.url), route.abort())[1])  # fmt: skip
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(page_file)
            charts = ["chart-time-series", "chart-map", "chart-top-datasets", "chart-top-regions", "chart-dataset-0"]
            for identifier in charts:
                page.wait_for_selector(f"#{identifier} svg", timeout=30_000)
                box = page.locator(f"#{identifier} svg").first.bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 50, identifier
            assert page.locator("#chart-map svg path").count() > 100  # the countries are drawn
            page.locator("#datasets-table th", has_text="bytes sent").click()
            page.locator("#datasets-table th", has_text="bytes sent").click()  # descending, then ascending
            ordered = [int(value) for value in page.locator("#datasets-table tbody td[data-field=total_bytes_sent]")
                       .evaluate_all("cells => cells.map(cell => cell.dataset.sort)")]  # fmt: skip
            assert ordered == sorted(ordered) and len(ordered) > 2
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert requests == [] and errors == []


def test_without_the_extra_report_says_how_to_install_it(published: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "vl_convert.py").write_text("raise ImportError('blocked for this test')\n")
    done = cli("report", "--cache", str(published), env={**os.environ, "PYTHONPATH": str(blocker)})
    assert done.returncode == 69 and done.stderr.strip() == (
        "error: report needs the [report] extra: pip install 's3logextraction[report]'"
    )


def test_an_unknown_dataset_is_a_usage_error(published: Path) -> None:
    done = cli("report", "--cache", str(published), "--dataset", "no-such-dataset")
    assert done.returncode == 2 and "not a published dataset: no-such-dataset" in done.stderr
