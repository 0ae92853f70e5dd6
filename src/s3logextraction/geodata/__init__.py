"""Embedded place tables (countries, ISO 3166-2 subdivisions, aliases, cloud regions, GitHub's
ranges) and the label classes built on them; tables.py reads them, scripts/generate_places.py
regenerates them."""

from .tables import (
    GITHUB_SNAPSHOT,
    LABEL_CLASSES,
    Country,
    Place,
    cloud_regions,
    countries,
    countries_with_subdivisions,
    github_networks,
    is_place,
    label_class,
    normalised,
    rows,
    subdivisions,
)

__all__ = [
    "GITHUB_SNAPSHOT",
    "LABEL_CLASSES",
    "Country",
    "Place",
    "cloud_regions",
    "countries",
    "countries_with_subdivisions",
    "github_networks",
    "is_place",
    "label_class",
    "normalised",
    "rows",
    "subdivisions",
]
