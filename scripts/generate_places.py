"""Regenerates the embedded place tables in src/s3logextraction/geodata/ from the `iso3166-2`
package (ISO 3166-2 subdivisions with their English and other names and a coordinate each).

    pip install iso3166-2 && python scripts/generate_places.py

subdivisions.tsv: country, code, name, other names (|-separated), latitude, longitude.
countries.tsv:    country, latitude, longitude, south, west, north, east: the centre and the box of
                  the country's subdivisions (padded by 1 degree), or, for the territories ISO lists
                  without subdivisions, the hand-kept centre in TERRITORIES with a 1.5 degree box.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "src" / "s3logextraction" / "geodata"
PAD, SMALL = 1.0, 1.5
# Territories without ISO 3166-2 subdivisions: (latitude, longitude) of their main town.
TERRITORIES = {
    "AI": (18.22, -63.06), "AQ": (-75.0, 0.0), "AS": (-14.28, -170.7), "AW": (12.52, -69.97),
    "AX": (60.1, 19.94), "BL": (17.9, -62.85), "BM": (32.3, -64.78), "BV": (-54.42, 3.36),
    "CC": (-12.16, 96.87), "CK": (-21.21, -159.78), "CW": (12.12, -68.93), "CX": (-10.49, 105.62),
    "EH": (24.22, -12.89), "FK": (-51.7, -59.52), "FO": (62.01, -6.77), "GF": (4.94, -52.33),
    "GG": (49.45, -2.54), "GI": (36.14, -5.35), "GP": (16.24, -61.53), "GS": (-54.28, -36.51),
    "GU": (13.44, 144.79), "HK": (22.32, 114.17), "HM": (-53.08, 73.5), "IM": (54.24, -4.55),
    "IO": (-7.31, 72.41), "JE": (49.21, -2.13), "KY": (19.31, -81.25), "MF": (18.07, -63.08),
    "MO": (22.2, 113.55), "MP": (15.18, 145.75), "MQ": (14.64, -61.02), "MS": (16.74, -62.19),
    "NC": (-22.27, 166.44), "NF": (-29.04, 167.95), "NU": (-19.05, -169.87), "PF": (-17.53, -149.56),
    "PM": (46.78, -56.18), "PN": (-25.07, -130.1), "PR": (18.22, -66.59), "RE": (-21.12, 55.53),
    "SJ": (78.22, 15.65), "SX": (18.04, -63.05), "TC": (21.69, -71.8), "TF": (-49.35, 70.22),
    "TK": (-9.2, -171.85), "VA": (41.9, 12.45), "VG": (18.42, -64.64), "VI": (18.34, -64.9),
    "YT": (-12.83, 45.17),
}  # fmt: skip


def other_names(text: str | None) -> list[str]:
    """The names listed as "Name (lang), Name (lang)", without their language tags."""
    names = [re.sub(r"\s*\([a-z]{3}\)$", "", part.strip()) for part in (text or "").split(",")]
    return [name for name in names if name and "|" not in name and "\t" not in name]


def main() -> None:
    data = json.loads(files("iso3166_2").joinpath("iso3166-2.json").read_text(encoding="utf-8"))
    subdivisions = ["country\tcode\tname\tother_names\tlatitude\tlongitude"]
    countries = ["country\tlatitude\tlongitude\tsouth\twest\tnorth\teast"]
    for country in sorted(data):
        points = []
        for code, entry in sorted(data[country].items()):
            if not entry.get("latLng"):
                continue
            latitude, longitude = entry["latLng"]
            points.append((latitude, longitude))
            others = "|".join(other_names(entry.get("localOtherName")))
            subdivisions.append(f"{country}\t{code}\t{entry['name']}\t{others}\t{latitude}\t{longitude}")
        if points:
            lats, lons = [p[0] for p in points], [p[1] for p in points]
            centre = (round(sum(lats) / len(lats), 4), round(sum(lons) / len(lons), 4))
            box = (min(lats) - PAD, min(lons) - PAD, max(lats) + PAD, max(lons) + PAD)
        else:
            centre = TERRITORIES[country]
            box = (centre[0] - SMALL, centre[1] - SMALL, centre[0] + SMALL, centre[1] + SMALL)
        countries.append("\t".join(map(str, (country, *centre, *(round(value, 4) for value in box)))))
    (TARGET / "subdivisions.tsv").write_text("\n".join(subdivisions) + "\n", encoding="utf-8")
    (TARGET / "countries.tsv").write_text("\n".join(countries) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
