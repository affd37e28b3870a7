"""Regions of the theatre build: the two countries, the modelled region, front lines, control
polygons and the control rule, and rivers.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from sim.theatre import catalog
from sim.theatre.build_config import (
    DATES,
    GEO_BOX,
)
from sim.theatre.geometry import (
    Projector,
    geojson_to_shape,
    lines_of,
    polygons_of,
    voronoi_polys,
)
from sim.theatre.sources import (
    load_control,
    read_basemap,
)


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
        land_parts.extend(polygons_of(clipped))
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
    faces = polygons_of(shapely.polygonize(lines_of(noded)))
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
    polys = sorted(polygons_of(whole), key=lambda p: -p.area)
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
    occ = proj.geom(geojson_to_shape(feats["occupied"]["geometry"]))
    cont = proj.geom(geojson_to_shape(feats["contested"]["geometry"]))
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
        for s0, s1 in zip(seeds[:-1], seeds[1:], strict=True):
            chain.extend(nx.shortest_path(g, s0, s1, weight="w")[1:])
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
