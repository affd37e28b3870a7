"""Cells of the theatre build: the graded fill lattice, Voronoi cells clipped to each country, and
their adjacency.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from sim.theatre.build_config import (
    AREA_D_KM,
    AREA_KM2,
    FILL_REJECT,
    LEVEL_RATIO,
)
from sim.theatre.geometry import (
    polygons_of,
    voronoi_polys,
)


def interp_area(d: np.ndarray) -> np.ndarray:
    """Target cell area (km²) at distance ``d`` (km) from the front, piecewise linear."""
    return np.interp(d, AREA_D_KM, AREA_KM2)


def hex_lattice(bounds, s: float, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """A hexagonal lattice of spacing ``s`` (km) over ``bounds``, shifted by ``offset`` spacings."""
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
        x, y = hex_lattice(bounds, s_k, offset=0.37 * k)
        ok = shapely.contains_xy(region, x, y) & ~shapely.contains_xy(exclude, x, y)
        x, y = x[ok], y[ok]
        d = dist_fn(np.column_stack([x, y]))
        s_t = to_s(interp_area(d))
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
    orphans: list[tuple[Any, int]] = []  # (geometry, country)
    for c in (0, 1):
        idx = np.flatnonzero(country == c)
        inside = shapely.contains_properly(own[c], vor[idx])
        cells[idx[inside]] = vor[idx[inside]]
        rest = idx[~inside]
        clipped = shapely.intersection(vor[rest], own[c])
        other = shapely.intersection(vor[rest], own[1 - c])
        for i, g_own, g_oth in zip(rest, clipped, other, strict=True):
            parts = polygons_of(g_own)
            if not parts:
                raise RuntimeError(f"node {i} has an empty cell")
            hit = [p for p in parts if shapely.intersects(p, pts[i])]
            main = hit[0] if hit else max(parts, key=lambda p: p.area)
            cells[i] = main
            orphans.extend((p, c) for p in parts if p is not main)
            orphans.extend((p, 1 - c) for p in polygons_of(g_oth))
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
