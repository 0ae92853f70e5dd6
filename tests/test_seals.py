"""Sealed folders: once a day folder's files are all committed, a night does not read it again,
and anything that changes the folder has it read again."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from s3logextraction import ExtractOptions, extract, status
from s3logextraction.extract import reset_extraction
from s3logextraction.extract import seals as sealing
from s3logextraction.extract.seals import read_seals
from s3logextraction.sources import LocalFolder

from .conftest import age
from .test_summaries import line

ODD = "caf\\xe9\\tbar/"  # the escaped name of the folder b"caf\xe9\tbar"


def write_object(folder: Path | bytes, name: str, *, day: int, lines: int) -> None:
    """A log object of `lines` kept GETs of `day` February 2019."""
    text = "".join(
        line(day=day, key=f"ds/{name}/{n}", status=200, sent=10, ip="192.0.2.7") + "\n" for n in range(lines)
    )
    path = os.path.join(os.fsencode(folder), name.encode())
    with open(path, "w") as handle:
        handle.write(text)


@pytest.fixture
def no_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Folders written a moment ago can be sealed (the floor guards against coarse clocks; the
    test's clock is the kernel's)."""
    monkeypatch.setattr(sealing, "SEAL_FLOOR_SECONDS", 0.0)


def days(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    for day, objects in ((1, 2), (2, 1)):
        folder = logs / "2019" / "02" / f"{day:02d}"
        folder.mkdir(parents=True)
        for number in range(objects):
            write_object(folder, f"2019-02-{day:02d}-00-00-0{number}-AAA", day=day, lines=3)
    odd = os.path.join(os.fsencode(logs), b"caf\xe9\tbar")
    os.mkdir(odd)
    write_object(odd, "2019-02-03-00-00-00-BBB", day=3, lines=1)
    return age(logs)


@pytest.mark.usefixtures("no_floor")
def test_a_committed_day_folder_is_sealed_and_not_read_again(tmp_path: Path) -> None:
    logs, cache = days(tmp_path), tmp_path / "cache"
    first = extract(logs, cache=cache, options=ExtractOptions(settle_seconds=0))
    assert (first.objects_done, first.lines_kept) == (4, 10)
    assert read_seals(cache) == {}, "a folder is sealed by the run after the one that committed its files"
    second = extract(logs, cache=cache, options=ExtractOptions(settle_seconds=0))
    assert (second.objects_total, second.objects_done) == (4, 0)
    sealed = read_seals(cache)
    assert {folder: seal.objects for folder, seal in sealed.items()} == {"2019/02/01/": 2, "2019/02/02/": 1, ODD: 1}
    assert status(cache=cache)["sealed_folders"] == {"folders": 3, "log_objects": 4}
    listing = LocalFolder(logs).list(sealed=sealed)
    assert (listing.objects(), listing.sealed_objects) == ([], 4), "the sealed folders are not read"
    assert set(listing.folders) == {"", "2019/", "2019/02/"}, "folders holding folders are read every time"
    third = extract(logs, cache=cache, options=ExtractOptions(settle_seconds=0))
    assert (third.objects_total, third.objects_done, third.objects_remaining) == (4, 0, 0)

    write_object(logs / "2019" / "02" / "02", "2019-02-02-09-00-00-CCC", day=2, lines=5)  # late delivery
    (logs / "2019" / "02" / "04").mkdir()
    write_object(logs / "2019" / "02" / "04", "2019-02-04-00-00-00-DDD", day=4, lines=2)  # a new day
    age(logs)
    night = extract(logs, cache=cache, options=ExtractOptions(settle_seconds=0))
    assert (night.objects_total, night.objects_done, night.lines_kept) == (6, 2, 7)
    assert status(cache=cache)["lines_kept"] == 17


@pytest.mark.usefixtures("no_floor")
def test_what_keeps_a_folder_open(tmp_path: Path) -> None:
    logs, cache = days(tmp_path), tmp_path / "cache"
    (logs / "2019" / "02" / "01" / ".partial").write_text("an upload in progress\n")
    broken = logs / "2019" / "02" / "02" / "2019-02-02-01-00-00-EEE"
    broken.write_bytes(gzip.compress(b"x" * 1000)[:-12])  # truncated: the object fails
    age(logs)
    for _ in range(2):
        extract(logs, cache=cache, options=ExtractOptions(settle_seconds=0))
    assert set(read_seals(cache)) == {ODD}, "a hidden file, or an object that failed, keeps its folder open"
    assert extract(logs, cache=cache, options=ExtractOptions(settle_seconds=3600)).objects_done == 0
    assert set(read_seals(cache)) == {ODD}, "nothing changed since: the seals stand"


@pytest.mark.usefixtures("no_floor")
def test_a_folder_changed_within_the_settle_time_is_not_sealed(tmp_path: Path) -> None:
    logs, cache = days(tmp_path), tmp_path / "cache"
    extract(logs, cache=cache, options=ExtractOptions(settle_seconds=0))
    extract(logs, cache=cache, options=ExtractOptions(settle_seconds=3600))
    assert read_seals(cache) == {}, "age() just touched every folder: their change time is within the hour"


def test_the_floor_holds_without_a_settle_time(tmp_path: Path) -> None:
    logs, cache = days(tmp_path), tmp_path / "cache"
    extract(logs, cache=cache, options=ExtractOptions(settle_seconds=0))
    extract(logs, cache=cache, options=ExtractOptions(settle_seconds=0))
    assert read_seals(cache) == {}, f"folders changed less than {sealing.SEAL_FLOOR_SECONDS} s ago stay open"


@pytest.mark.usefixtures("no_floor")
def test_reset_extraction_forgets_the_seals(tmp_path: Path) -> None:
    logs, cache = days(tmp_path), tmp_path / "cache"
    for _ in range(2):
        extract(logs, cache=cache, options=ExtractOptions(settle_seconds=0))
    assert read_seals(cache)
    reset_extraction(cache=cache)
    assert read_seals(cache) == {}
    again = extract(logs, cache=cache, options=ExtractOptions(settle_seconds=0))
    assert (again.objects_done, again.lines_kept) == (4, 10), "every file is extracted again"


@pytest.mark.usefixtures("no_floor")
def test_a_cache_path_with_uri_characters_is_read_as_it_is(tmp_path: Path) -> None:
    """The read-only connections (the seals, `status`, `validate`) open the DB by URI."""
    logs, cache = days(tmp_path), tmp_path / "a #1?%41" / "cache"
    for _ in range(2):
        extract(logs, cache=cache, options=ExtractOptions(settle_seconds=0))
    assert status(cache=cache)["sealed_folders"] == {"folders": 3, "log_objects": 4}
    assert set(read_seals(cache)) == {"2019/02/01/", "2019/02/02/", ODD}
