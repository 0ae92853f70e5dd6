"""Embedded place tables (countries, GeoNames admin1 regions, ISO 3166-2 subdivisions, aliases,
cloud regions, GitHub's ranges, country outlines) and the label classes built on them; tables.py
and outlines.py read them, scripts/generate_places.py regenerates them."""

from .outlines import inside, outlines
from .tables import (
    GITHUB_SNAPSHOT,
    LABEL_CLASSES,
    Country,
    Place,
    cloud_regions,
    countries,
    countries_with_subdivisions,
    folded,
    github_networks,
    is_place,
    label_class,
    place_tables_digest,
    region_names,
    rows,
    unpublished_cloud_regions,
)

__all__ = [
    "GITHUB_SNAPSHOT",
    "LABEL_CLASSES",
    "Country",
    "Place",
    "cloud_regions",
    "countries",
    "countries_with_subdivisions",
    "folded",
    "github_networks",
    "inside",
    "is_place",
    "label_class",
    "outlines",
    "place_tables_digest",
    "region_names",
    "rows",
    "unpublished_cloud_regions",
]
