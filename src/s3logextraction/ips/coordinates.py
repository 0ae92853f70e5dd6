"""A latitude and longitude for every region label in use.

First the embedded tables (`geodata`): cloud regions by their data-centre city, `CC` by the
country's centre, `CC/Region Name` by the ISO 3166-2 subdivision whose name, other name or alias
matches once normalised (a territory without subdivisions, such as HK, by its centre).  Then,
only with an OpenCage key, OpenCage for the rest: "Region, Country" restricted to the country
code, and any answer outside that country's box rejected.  A quota or an outage keeps what was
placed and ends with exit 3.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..cache import Cache, touch_summary_inputs, transaction
from ..errors import PartialError, storage_errors
from ..geodata import (
    Place,
    cloud_regions,
    countries,
    countries_with_subdivisions,
    is_place,
    label_class,
    normalised,
    subdivisions,
)


@dataclass
class CoordinatesReport:
    placed: int = 0
    from_opencage: int = 0
    unplaced: list[str] = field(default_factory=list)

    def summary(self) -> str:
        missing = f": {', '.join(self.unplaced)}" if self.unplaced else ""
        return (
            f"ip coordinates: {self.placed} regions placed ({self.from_opencage} by OpenCage); "
            f"{len(self.unplaced)} could not be placed{missing}"
        )


def embedded_place(label: str) -> tuple[Place, str] | None:
    """The place of a label from the embedded tables, and which table gave it."""
    kind = label_class(label)
    if kind == "cloud":
        found = cloud_regions().get(label)
        return (found[1], "cloud regions") if found else None
    country, _, name = label.partition("/")
    known = countries().get(country)
    if known is None:
        return None
    if kind == "country":
        return known.centre, "country centres"
    place = subdivisions().get((country, normalised(name)))
    if place is not None:
        return place, "ISO 3166-2"
    if country not in countries_with_subdivisions():
        return known.centre, "country centres"  # a territory without subdivisions (HK, MO, ...)
    return None


class OpenCagePlaces:
    """ "Region, Country" through the `opencage` client, checked against the country's box."""

    def __init__(self, *, key: str, domain: str | None = None, protocol: str = "https") -> None:
        from opencage.geocoder import OpenCageGeocode

        options = {"domain": domain} if domain else {}
        self.geocoder = OpenCageGeocode(key, protocol=protocol, **options)

    def place(self, label: str) -> Place | None:
        from opencage.geocoder import OpenCageGeocodeError, RateLimitExceededError
        from requests import RequestException

        country, _, name = label.partition("/")
        try:
            results = self.geocoder.geocode(
                f"{name}, {country}", countrycode=country.lower(), limit=1, no_annotations=1
            )
        except RateLimitExceededError:
            raise PartialError("OpenCage quota exhausted (HTTP 402/429)") from None
        except (OpenCageGeocodeError, RequestException) as error:
            raise PartialError(f"OpenCage failed ({type(error).__name__})") from None
        box = countries().get(country)
        for result in results or []:
            geometry = result.get("geometry", {})
            place = Place(float(geometry.get("lat", 0.0)), float(geometry.get("lng", 0.0)))
            same_country = str(result.get("components", {}).get("country_code", "")).upper() == country
            if same_country and box is not None and box.contains(place):
                return place
        return None


def labels_to_place(db: sqlite3.Connection) -> list[str]:
    return [
        label
        for (label,) in db.execute(
            "SELECT DISTINCT region FROM ip_regions WHERE region NOT IN (SELECT region FROM region_coordinates) "
            "ORDER BY region"
        )
        if is_place(label)
    ]


def store(db: sqlite3.Connection, rows: Sequence[tuple[str, float, float, str]]) -> None:
    with transaction(db):
        db.executemany("INSERT OR REPLACE INTO region_coordinates VALUES (?, ?, ?, ?)", rows)
        if rows:
            touch_summary_inputs(db)


def place_regions(opened: Cache, *, opencage: OpenCagePlaces | None) -> CoordinatesReport:
    """Stores coordinates for every label in use that has none; OpenCage answers are committed
    one by one, so a quota that runs out loses nothing."""
    report = CoordinatesReport()
    with storage_errors(what=opened.paths.root):
        rest = []
        rows = []
        for label in labels_to_place(opened.db):
            found = embedded_place(label)
            if found is None:
                rest.append(label)
            else:
                rows.append((label, found[0].latitude, found[0].longitude, found[1]))
        store(opened.db, rows)
        report.placed = len(rows)
        for label in rest:
            try:
                place = opencage.place(label) if opencage and label_class(label) == "subdivision" else None
            except PartialError as error:
                report.unplaced = rest[rest.index(label) :]
                raise PartialError(f"{error}: {report.summary()}; run `update ip coordinates` again later") from None
            if place is None:
                report.unplaced.append(label)
                continue
            store(opened.db, [(label, place.latitude, place.longitude, "OpenCage")])
            report.placed += 1
            report.from_opencage += 1
    return report
