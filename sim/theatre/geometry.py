"""Geometry helpers of the theatre build: projection, shapes from GeoJSON, densified lines and
Voronoi polygons.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from sim.theatre.build_config import (
    PROJ,
)


class Projector:
    """Lon/lat <-> equal-area km, vectorised, for arrays and shapely geometries."""

    def __init__(self, proj: str = PROJ):
        from pyproj import Transformer

        self.fwd = Transformer.from_crs("EPSG:4326", proj, always_xy=True)
        self.inv = Transformer.from_crs(proj, "EPSG:4326", always_xy=True)

    def xy(self, lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Project lon/lat (degrees) to x/y (km)."""
        x, y = self.fwd.transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.asarray(x), np.asarray(y)

    def lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Invert :meth:`xy`: x/y (km) to lon/lat (degrees)."""
        lon, lat = self.inv.transform(np.asarray(x, float), np.asarray(y, float))
        return np.asarray(lon), np.asarray(lat)

    def geom(self, g, inverse: bool = False):
        """A shapely geometry projected from lon/lat to km."""
        import shapely

        t = self.inv if inverse else self.fwd

        def f(c: np.ndarray) -> np.ndarray:
            x, y = t.transform(c[:, 0], c[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(g, f)


def polygons_of(g) -> list:
    """Polygons of a (multi)polygon or collection."""
    import shapely

    parts = shapely.get_parts(g)
    out = []
    for p in parts:
        if p.geom_type == "Polygon" and not p.is_empty:
            out.append(p)
        elif p.geom_type in ("MultiPolygon", "GeometryCollection"):
            out.extend(polygons_of(p))
    return out


def lines_of(g) -> list:
    """The line parts of a (multi)line geometry."""
    import shapely

    out = []
    for p in shapely.get_parts(g):
        if p.geom_type in ("LineString", "LinearRing") and not p.is_empty:
            out.append(shapely.LineString(p.coords))
        elif p.geom_type in ("MultiLineString", "GeometryCollection"):
            out.extend(lines_of(p))
    return out


def densify_points(lines, step_km: float) -> np.ndarray:
    """Points along lines every ``step_km`` (projected coords), for KD-tree distances."""
    import shapely

    pts = []
    for ln in lines:
        d = shapely.segmentize(ln, step_km)
        pts.append(shapely.get_coordinates(d))
    if not pts:
        return np.empty((0, 2))
    return np.vstack(pts)


def geojson_to_shape(geom: dict):
    """A shapely geometry from a GeoJSON geometry mapping."""
    import shapely.geometry

    return shapely.make_valid(shapely.geometry.shape(geom))


def xy_rows(geoms, proj: Projector, simplify_km: float) -> np.ndarray:
    """Lon/lat polyline rows of line geometries (projected), NaN rows between parts."""
    import shapely

    rows = []
    for g in geoms:
        g = shapely.simplify(g, simplify_km) if simplify_km > 0 else g
        for ln in lines_of(g):
            c = shapely.get_coordinates(ln)
            lon, lat = proj.lonlat(c[:, 0], c[:, 1])
            rows.append(np.column_stack([lon, lat]))
            rows.append(np.full((1, 2), np.nan))
    if not rows:
        return np.empty((0, 2))
    return np.round(np.vstack(rows[:-1]), 5)


def voronoi_polys(xy: np.ndarray) -> np.ndarray:
    """Bounded Voronoi cells (shapely polygons, in input order) of distinct points.

    Uses qhull (scipy) rather than GEOS: GEOS's ``voronoi_polygons`` returned a few
    self-intersecting cells on our lattices. A ring of far points bounds every cell; each
    cell is the convex hull of its Voronoi vertices, so it is always valid.
    """
    import shapely
    from scipy.spatial import Voronoi

    c = xy.mean(axis=0)
    r = 4.0 * float(np.ptp(xy, axis=0).max()) + 1000.0
    ang = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    ring = c + r * np.column_stack([np.cos(ang), np.sin(ang)])
    vor = Voronoi(np.vstack([xy, ring]))
    out = np.empty(len(xy), dtype=object)
    for i in range(len(xy)):
        reg = vor.regions[vor.point_region[i]]
        if -1 in reg or len(reg) < 3:
            raise RuntimeError(f"unbounded Voronoi cell for point {i}")
        out[i] = shapely.convex_hull(shapely.multipoints(vor.vertices[reg]))
    return out
