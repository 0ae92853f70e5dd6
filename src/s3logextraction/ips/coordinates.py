"""A latitude and longitude for every region label in use.

First the embedded tables (`geodata`): cloud regions by their data-centre city, `CC` by the
country's representative point (inside its main territory), `CC/Region Name` by the GeoNames
admin1 region or ISO 3166-2 subdivision of that name (accents, case and punctuation aside; then
without words such as Division, Krai or City where that names one place only), or by the country's
point when the region is named as the country is (SG/Singapore) or the country has no subdivisions
(HK).  Then, only with an OpenCage key, OpenCage for the rest: "Region, Country" restricted to the
country code, and any answer outside that country's outline rejected.  A quota or an outage keeps
what was placed and ends with exit 3.  `ip place` shows the same lookup for any label.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..cache import Cache, meta_value, touch_summary_inputs, transaction
from ..errors import PartialError, storage_errors
from ..geodata import (
    Place,
    cloud_regions,
    countries,
    countries_with_subdivisions,
    folded,
    is_place,
    label_class,
    place_tables_digest,
    region_names,
    unpublished_cloud_regions,
)

PLACES_CHECKED_WITH = (
    "places_checked_with"  # meta: the digest of the place tables stored places were last checked against
)


@dataclass
class CoordinatesReport:
    placed: int = 0
    from_opencage: int = 0
    moved: int = 0
    unplaced: list[str] = field(default_factory=list)

    def summary(self) -> str:
        missing = f": {', '.join(self.unplaced)}" if self.unplaced else ""
        moved = f"; {self.moved} stored places moved to where the tables now put them" if self.moved else ""
        return (
            f"ip coordinates: {self.placed} regions placed ({self.from_opencage} by OpenCage){moved}; "
            f"{len(self.unplaced)} could not be placed{missing}"
        )


def embedded_place(label: str) -> tuple[Place, str] | None:
    """The place of a label from the embedded tables, and which table gave it."""
    kind = label_class(label)
    if kind == "cloud":
        cloud = cloud_regions().get(label)
        return (cloud[1], "cloud regions") if cloud else None
    country, _, name = label.partition("/")
    known = countries().get(country)
    if known is None:
        return None
    if kind == "country":
        return known.point, "countries"
    found = region_names().find(country, name)
    if found is not None:
        return found
    if folded(name) in {folded(other) for other in known.names} or country not in countries_with_subdivisions():
        return known.point, "countries"  # SG/Singapore; a territory without subdivisions (HK, MO, ...)
    return None


@dataclass(frozen=True)
class PlacedLabel:
    label: str
    place: Place | None
    source: str  # the table that placed it, or why it could not be placed

    def row(self) -> str:
        """`label  latitude  longitude  source`, as `ip place` prints it."""
        assert self.place is not None
        return f"{self.label}\t{self.place.latitude}\t{self.place.longitude}\t{self.source}"


def place(labels: Iterable[str]) -> list[PlacedLabel]:
    """The offline lookup `update ip coordinates` makes, for any labels (no cache needed): what an
    operator runs to see why a label is missing from the map."""
    placed = []
    for label in labels:
        found = embedded_place(label) if is_place(label) else None
        if found is not None:
            placed.append(PlacedLabel(label, found[0], found[1]))
        else:
            placed.append(PlacedLabel(label, None, why_unplaced(label)))
    return placed


def why_unplaced(label: str) -> str:
    kind = label_class(label)
    country = label.partition("/")[0]
    if not is_place(label):
        return "not a place"
    if kind == "cloud":
        return "location not published" if label in unpublished_cloud_regions() else "a cloud region not in the table"
    if country not in countries():
        return "not an ISO 3166-1 country code"
    return "a region name not in the tables (OpenCage, with a key, is asked)"


class OpenCagePlaces:
    """ "Region, Country" through the `opencage` client, checked against the country's outline."""

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
        known = countries().get(country)
        for result in results or []:
            geometry = result.get("geometry", {})
            place = Place(float(geometry.get("lat", 0.0)), float(geometry.get("lng", 0.0)))
            same_country = str(result.get("components", {}).get("country_code", "")).upper() == country
            if same_country and known is not None and known.holds(place):
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


def moved_places(db: sqlite3.Connection) -> tuple[list[tuple[str, float, float, str]], list[str]]:
    """Stored places the embedded tables now answer otherwise (a country's point moved inside its
    outline, a better region name), and OpenCage places outside their country's outline: the
    rows to store again, and the labels to place again."""
    again: list[tuple[str, float, float, str]] = []
    dropped: list[str] = []
    for label, latitude, longitude, source in db.execute(
        "SELECT region, latitude, longitude, source FROM region_coordinates"
    ):
        found = embedded_place(label) if is_place(label) else None
        if found is not None:
            row = (label, found[0].latitude, found[0].longitude, found[1])
            if row != (label, latitude, longitude, source):
                again.append(row)
        elif source != "OpenCage":
            dropped.append(label)
        else:
            known = countries().get(label.partition("/")[0])
            if known is None or not known.holds(Place(latitude, longitude)):
                dropped.append(label)
    return again, dropped


def move_stored_places(db: sqlite3.Connection) -> int:
    """`moved_places`, applied once per set of place tables (a nightly pass with the tables it
    checked against last time loads neither outlines nor names for it): how many moved."""
    digest = place_tables_digest().encode()
    if meta_value(db, PLACES_CHECKED_WITH) == digest:
        return 0
    again, dropped = moved_places(db)
    store(db, again)
    with transaction(db):  # a run killed before this checks again: moving a place twice is harmless
        db.executemany("DELETE FROM region_coordinates WHERE region = ?", [(label,) for label in dropped])
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (PLACES_CHECKED_WITH, digest))
        if dropped:
            touch_summary_inputs(db)
    return len(again) + len(dropped)


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
        report.moved = move_stored_places(opened.db)
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
