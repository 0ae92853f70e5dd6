"""Country outlines (world-atlas 50m, from Natural Earth's admin-0 countries, TopoJSON with each
country's ISO 3166-1 code added by `scripts/generate_places.py`), and whether a point is inside one.

They decide whether a point can be a country's: the embedded tables are checked against them by
the tests, and an OpenCage answer is accepted only inside its country's outline.  Natural Earth's
coastlines are simplified (50m: a few kilometres), so a point within `MARGIN_DEGREES` of an outline
counts as inside; that is small next to the error they fix (a box around France spans Spain).
Longitudes are compared modulo 360, so a point just across the antimeridian from Fiji or the
Chukchi peninsula is measured to the right edge.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

MARGIN_DEGREES = 1.0
Point = tuple[float, float]  # (longitude, latitude), as in GeoJSON


@dataclass(frozen=True)
class Ring:
    points: tuple[Point, ...]
    west: float
    south: float
    east: float
    north: float

    @classmethod
    def of(cls, points: list[Point]) -> Ring:
        longitudes, latitudes = [point[0] for point in points], [point[1] for point in points]
        return cls(tuple(points), min(longitudes), min(latitudes), max(longitudes), max(latitudes))

    def crossings(self, longitude: float, latitude: float) -> int:
        """Edges a ray from the point towards the east crosses (even-odd rule)."""
        if not (self.south <= latitude <= self.north) or longitude > self.east:
            return 0
        count = 0
        points = self.points
        for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
            if (y1 > latitude) != (y2 > latitude) and longitude < x1 + (latitude - y1) * (x2 - x1) / (y2 - y1):
                count += 1
        return count

    def distance(self, longitude: float, latitude: float) -> float:
        """Degrees (a degree of longitude shrunk by the cosine of the latitude) to the nearest edge."""
        scale = math.cos(math.radians(latitude))
        best = math.inf
        points = self.points
        for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
            ax, ay = wrapped(x1 - longitude) * scale, y1 - latitude
            bx, by = ax + (x2 - x1) * scale, y2 - latitude  # rings are continuous: the edge is never wrapped
            dx, dy = bx - ax, by - ay
            length = dx * dx + dy * dy
            t = 0.0 if length == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length))
            best = min(best, math.hypot(ax + t * dx, ay + t * dy))
        return best


def wrapped(degrees: float) -> float:
    """A longitude difference in [-180, 180)."""
    return (degrees + 180.0) % 360.0 - 180.0


def decoded_arcs(topology: dict[str, object]) -> list[list[Point]]:
    """TopoJSON's quantized, delta-encoded arcs as absolute coordinates."""
    transform = topology["transform"]
    assert isinstance(transform, dict)
    (scale_x, scale_y), (move_x, move_y) = transform["scale"], transform["translate"]
    arcs = []
    for arc in topology["arcs"]:  # type: ignore[attr-defined]
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * scale_x + move_x, y * scale_y + move_y))
        arcs.append(points)
    return arcs


def ring_points(indexes: list[int], arcs: list[list[Point]]) -> list[Point]:
    """A ring's points, continuous across the antimeridian: a ring that crosses it (Fiji's, the
    Chukchi peninsula's) goes on past 180 degrees east instead of jumping to -180."""
    points: list[Point] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc[1:] if points else arc)
    shift = 0.0
    for at in range(1, len(points)):
        step = points[at][0] + shift - points[at - 1][0]
        shift -= 360.0 * round(step / 360.0)
        points[at] = (points[at][0] + shift, points[at][1])
    return points


def polygons_of(geometry: dict[str, object]) -> Iterator[list[list[int]]]:
    if geometry["type"] == "Polygon":
        yield geometry["arcs"]  # type: ignore[misc]
    elif geometry["type"] == "MultiPolygon":
        yield from geometry["arcs"]  # type: ignore[misc]


@cache
def outlines() -> dict[str, tuple[Ring, ...]]:
    """ISO 3166-1 code -> the rings of its outline (a country's outer rings and holes together)."""
    topology = json.loads(files(__package__).joinpath("world-50m.json").read_text(encoding="utf-8"))
    arcs = decoded_arcs(topology)
    found: dict[str, list[Ring]] = {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        for code in geometry["properties"]["iso"].split():
            for polygon in polygons_of(geometry):
                found.setdefault(code, []).extend(Ring.of(ring_points(ring, arcs)) for ring in polygon)
    return {code: tuple(rings) for code, rings in found.items()}


def inside(code: str, *, latitude: float, longitude: float, margin: float = MARGIN_DEGREES) -> bool | None:
    """Whether a point is inside the outline of `code` (or within `margin` degrees of it); None
    when there is no outline to tell (a territory too small for the 50m outlines)."""
    rings = outlines().get(code)
    if rings is None:
        return None
    longitude = wrapped(longitude)
    if sum(ring.crossings(longitude + turn, latitude) for ring in rings for turn in (-360.0, 0.0, 360.0)) % 2:
        return True
    return margin > 0 and any(
        ring.south - margin <= latitude <= ring.north + margin and ring.distance(longitude, latitude) <= margin
        for ring in rings
    )


@cache
def boxes() -> dict[str, tuple[float, float, float, float]]:
    """Each outline's (west, south, east, north), longitudes as its continuous rings have them."""
    return {
        code: (
            min(ring.west for ring in rings),
            min(ring.south for ring in rings),
            max(ring.east for ring in rings),
            max(ring.north for ring in rings),
        )
        for code, rings in outlines().items()
    }


def holders(*, latitude: float, longitude: float, besides: Collection[str] = ()) -> list[str]:
    """The codes but `besides` whose outline holds the point, no margin (the generator drops an
    ISO 3166-2 coordinate that lies in another country; the tests look for any placed label that does)."""
    return [
        code
        for code, (west, south, east, north) in boxes().items()
        if code not in besides
        and south <= latitude <= north
        and any(west <= longitude + turn <= east for turn in (-360.0, 0.0, 360.0))
        and inside(code, latitude=latitude, longitude=longitude, margin=0.0)
    ]
