"""COUNTER metrics against hand-computed values: double clicks at 29 s and 31 s, sessions, robots,
machine clients, statuses, months; folded night by night with logs that overlap in time."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3logextraction import ExtractOptions, PublishOptions
from s3logextraction.agents import CounterRules
from s3logextraction.config import config_file
from s3logextraction.errors import ConfigError
from s3logextraction.pipeline import run
from s3logextraction.summarize import Mode, update_summaries
from s3logextraction.summarize.privacy import Privacy

from .conftest import age, cli
from .test_parser import GOOD

EXACT = Privacy(threshold=1, rounding=1)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
SAFARI = "Mozilla/5.0 (Macintosh) Safari/605.1"
GOOGLEBOT = "Googlebot/2.1 (+http://www.google.com/bot.html)"
REQUESTS = "python-requests/2.31.0"
HEADER = "month\tAccess_Method\tTotal_Item_Requests\tUnique_Item_Requests\n"


def request(
    when: str, *, ip: str, key: str, agent: str = FIREFOX, status: int = 200, operation: str = "REST.GET.OBJECT"
) -> str:
    """One log line; `when` is `DD/Mon/YYYY:HH:MM:SS`."""
    return (
        GOOD.replace("06/Feb/2019:00:00:38", when)
        .replace("192.0.2.10", ip)
        .replace("REST.GET.OBJECT", operation)
        .replace("data/file.bin", key)
        .replace("200 - 1024 2048", f"{status} - 1024 2048")
        .replace('"curl/8.5.0"', f'"{agent}"')
    )


A, B = "ds1/a.nwb", "ds1/b.nwb"
NIGHT_ONE = [
    request("06/Feb/2019:10:00:00", ip="192.0.2.1", key=A),  # double click at 29 s: one
    request("06/Feb/2019:10:00:00", ip="192.0.2.2", key=A),  # 31 s apart: two, one session
    request("06/Feb/2019:10:00:31", ip="192.0.2.2", key=A),
    request("06/Feb/2019:11:00:00", ip="192.0.2.3", key=A),  # one IP, two agents: two sessions
    request("06/Feb/2019:11:10:00", ip="192.0.2.3", key=A, agent=SAFARI),
    request("06/Feb/2019:12:00:00", ip="192.0.2.4", key=A, agent=GOOGLEBOT),  # a robot: removed
    request("06/Feb/2019:13:00:00", ip="192.0.2.5", key=B, agent=REQUESTS),  # allow-listed: Machine
    request("06/Feb/2019:13:20:00", ip="192.0.2.5", key=B, agent=REQUESTS),
    request("06/Feb/2019:14:00:00", ip="192.0.2.6", key=B, status=304),  # counted
    request("06/Feb/2019:14:30:00", ip="192.0.2.6", key=B, status=404),  # not
    request("06/Feb/2019:14:40:00", ip="192.0.2.6", key=B, operation="REST.HEAD.OBJECT"),  # not
    request("06/Feb/2019:15:00:00", ip="192.0.2.7", key=B, status=206),  # counted
    request("06/Feb/2019:16:00:00", ip="192.0.2.8", key=A),  # two items in one session: two unique
    request("06/Feb/2019:16:00:10", ip="192.0.2.8", key=B),
    request("06/Feb/2019:17:00:00", ip="192.0.2.9", key=A),  # a run of clicks 20 s apart: the last
    request("06/Feb/2019:17:00:20", ip="192.0.2.9", key=A),
    request("06/Feb/2019:17:59:50", ip="192.0.2.10", key=A),  # across the hour: the one at 18:00:10
]
NIGHT_TWO = [
    request("06/Feb/2019:10:00:29", ip="192.0.2.1", key=A),  # the second click of the first pair
    request("06/Feb/2019:17:00:40", ip="192.0.2.9", key=A),
    request("06/Feb/2019:18:00:10", ip="192.0.2.10", key=A),
    request("01/Mar/2019:09:00:00", ip="192.0.2.1", key=A),
    request("01/Mar/2019:09:00:05", ip="192.0.2.1", key="ds2/c.nwb", agent=REQUESTS),
]
# February, Regular: pair at 29 s 1/1, at 31 s 2/1, two agents 2/2, 304 1/1, 206 1/1, two items 2/2,
# run of three 1/1, across the hour 1/1 -> 11 requests in 10 sessions x items.  Machine: 2/1.
DS1 = HEADER + "2019-02\tMachine\t2\t1\n2019-02\tRegular\t11\t10\n2019-03\tRegular\t1\t1\n"
ARCHIVE = HEADER + "2019-02\tMachine\t2\t1\n2019-02\tRegular\t11\t10\n2019-03\tMachine\t1\t1\n2019-03\tRegular\t1\t1\n"


def deliver(logs: Path, name: str, lines: list[str]) -> None:
    logs.mkdir(exist_ok=True)
    (logs / name).write_text("\n".join(lines) + "\n")
    age(logs)


def counter_files(cache: Path) -> tuple[str, str]:
    summaries = cache / "summaries"
    return (summaries / "ds1" / "counter_by_month.tsv").read_text(), (
        summaries / "archive" / "counter_by_month.tsv"
    ).read_text()


def test_counter_metrics_by_hand_night_by_night_and_in_one_run(tmp_path: Path) -> None:
    logs, cache = tmp_path / "logs", tmp_path / "cache"
    # the second night's objects hold requests of the first night's hours (logs arrive late)
    deliver(logs, "2019-02-06-23-00-00-AAAA", NIGHT_ONE[:9])
    deliver(logs, "2019-02-06-23-00-01-BBBB", NIGHT_ONE[9:])
    run(logs, cache=cache, extraction=ExtractOptions(batch_bytes=1), publishing=PublishOptions(privacy=EXACT))
    first_ds1, _ = counter_files(cache)
    # before the second click arrives the first pair is one request; so is the 17:00 run (two
    # clicks, 20 s apart) and 17:59:50 alone
    assert first_ds1 == HEADER + "2019-02\tMachine\t2\t1\n2019-02\tRegular\t11\t10\n"
    deliver(logs, "2019-03-01-10-00-00-CCCC", NIGHT_TWO)
    run(logs, cache=cache, extraction=ExtractOptions(batch_bytes=1), publishing=PublishOptions(privacy=EXACT))
    assert counter_files(cache) == (DS1, ARCHIVE)
    # the DANDI-compatible counts are untouched: every 2xx GET (robots and double clicks included)
    by_day = (cache / "summaries" / "ds1" / "by_day.tsv").read_text().splitlines()
    assert by_day[1].split("\t")[2] == "17"  # 14 of the first night (no 304, 404, HEAD), 3 of the second
    fresh = tmp_path / "fresh"
    run(logs, cache=fresh, publishing=PublishOptions(privacy=EXACT))
    assert counter_files(fresh) == (DS1, ARCHIVE)
    rebuilt = update_summaries(cache=cache, mode=Mode.archive, rebuild=True, options=PublishOptions(privacy=EXACT))
    assert rebuilt.files_written == 0, "a rebuild gives the same files"


def test_the_allow_list_decides_and_a_change_recomputes(tmp_path: Path) -> None:
    logs, cache = tmp_path / "logs", tmp_path / "cache"
    deliver(logs, "2019-02-06-23-00-00-AAAA", NIGHT_ONE + NIGHT_TWO)
    run(logs, cache=cache, publishing=PublishOptions(privacy=EXACT))
    assert counter_files(cache) == (DS1, ARCHIVE)
    strict = CounterRules(machine_clients=())  # COUNTER's robots list alone: python-requests is a robot
    update_summaries(cache=cache, options=PublishOptions(privacy=EXACT, counter=strict))
    ds1 = (cache / "summaries" / "ds1" / "counter_by_month.tsv").read_text()
    assert ds1 == HEADER + "2019-02\tRegular\t11\t10\n2019-03\tRegular\t1\t1\n"
    update_summaries(
        cache=cache, options=PublishOptions(privacy=EXACT, counter=CounterRules(machine_clients=("Firefox",)))
    )
    ds1 = (cache / "summaries" / "ds1" / "counter_by_month.tsv").read_text()
    # Firefox now Machine: everything Firefox did; Safari stays Regular; python-requests a robot
    assert ds1 == HEADER + "2019-02\tMachine\t10\t9\n2019-02\tRegular\t1\t1\n2019-03\tMachine\t1\t1\n"


def test_counter_counts_obey_the_privacy_threshold(tmp_path: Path) -> None:
    logs, cache = tmp_path / "logs", tmp_path / "cache"
    deliver(logs, "2019-02-06-23-00-00-AAAA", NIGHT_ONE + NIGHT_TWO)
    run(logs, cache=cache)
    ds1, archive = counter_files(cache)
    assert ds1 == HEADER + "2019-02\tMachine\t<50\t<50\n2019-02\tRegular\t<50\t<50\n2019-03\tRegular\t<50\t<50\n"
    assert "192.0.2" not in ds1 + archive


def test_a_bad_allow_list_pattern_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="counter_machine_clients"):
        CounterRules(machine_clients=("python(",))
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text("counter_machine_clients: ['python(']\n")
    result = cli("update", "summaries", "--cache", str(tmp_path / "cache"))
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "counter_machine_clients" in result.stderr
