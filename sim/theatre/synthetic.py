"""Small synthetic theatres (square grids) in the same file format as the real one.

Used by tests that need a situation whose answer is known by construction (an encircled pocket,
a symmetric front) and by the scaling benchmarks. They go through the ordinary loader, so they
exercise the same code path as the committed theatre.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

DATES = ("2023-01-01", "2024-01-01", "2024-08-06", "2024-11-20")


def grid_arrays(
    nx: int,
    ny: int,
    cell_km: float = 3.0,
    russia_columns: int | None = None,
    control: np.ndarray | None = None,
    hubs: dict[str, int] | None = None,
    names: dict[int, str] | None = None,
) -> dict[str, np.ndarray]:
    """Arrays of an ``nx`` by ``ny`` grid theatre, all inside Ukraine.

    Parameters
    ----------
    nx, ny : int
        Columns (west to east) and rows (south to north).
    cell_km : float
        Side of each square cell (km); each node's area is ``cell_km**2``.
    russia_columns : int, optional
        Russia holds the westmost columns (default: half the grid); ignored if ``control``.
    control : ndarray of int8, optional
        Controlling side of each node (node id = row * nx + column).
    hubs : dict, optional
        Hub name -> node id; default one hub in the middle of each side's back edge.
    names : dict, optional
        Extra node names (node id -> name).
    """
    n = nx * ny
    col, row = np.arange(n) % nx, np.arange(n) // nx
    x, y = (col + 0.5) * cell_km, (row + 0.5) * cell_km
    if control is None:
        split = nx // 2 if russia_columns is None else russia_columns
        control = (col < split).astype(np.int8)
    if hubs is None:
        mid = (ny // 2) * nx
        hubs = {"Russian Hub": mid, "Ukrainian Hub": mid + nx - 1}
    eu, ev = _grid_edges(col, row, nx, ny)
    name, kind, hub_capacity = _labels(n, hubs, names)
    arrays: dict[str, np.ndarray] = {
        "lon": 36.0 + x / 70.0,
        "lat": 48.0 + y / 111.0,
        "x_km": x,
        "y_km": y,
        "area_km2": np.full(n, cell_km * cell_km),
        "name": name,
        "kind": kind,
        "population": np.where(kind > 0, 1000, 0).astype(np.int64),
        "geonameid": np.full(n, -1, dtype=np.int64),
        "country": np.zeros(n, dtype=np.int8),
        "terrain": np.zeros(n, dtype=np.int8),
        "hub_capacity": hub_capacity,
        "front_zone": np.ones(n, dtype=bool),
        "edge_u": eu,
        "edge_v": ev,
        "edge_length_km": np.full(len(eu), cell_km),
        "edge_border_km": np.full(len(eu), cell_km),
        "edge_river": np.zeros(len(eu), dtype=np.int8),
        "edge_road": np.zeros(len(eu), dtype=bool),
        "border_xy": np.zeros((0, 2)),
        "outline_xy": np.zeros((0, 2)),
    }
    for d in DATES:
        key = d.replace("-", "_")
        arrays[f"control_{key}"] = control.astype(np.int8)
        arrays[f"contested_{key}"] = np.zeros(n, dtype=bool)
    meta = {
        "dates": list(DATES),
        "hubs": [{"name": k, "node": int(v)} for k, v in hubs.items()],
        "total_area_km2": float(n * cell_km * cell_km),
        "synthetic": f"grid {nx}x{ny}, {cell_km} km cells",
    }
    arrays["meta"] = np.array(json.dumps(meta))
    return arrays


def write_grid(path: Path, **kwargs) -> Path:
    """Write a grid theatre (see :func:`grid_arrays`) to ``path`` and return it."""
    arrays: dict[str, Any] = grid_arrays(**kwargs)  # np.savez's stub types **kwds as bool
    np.savez_compressed(path, **arrays)
    return Path(path)


def _grid_edges(
    col: np.ndarray, row: np.ndarray, nx: int, ny: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each node's edges to its east and north neighbours, ``u < v``, sorted by ``(u, v)``."""
    right = np.flatnonzero(col < nx - 1)
    up = np.flatnonzero(row < ny - 1)
    eu = np.concatenate([right, up]).astype(np.int32)
    ev = np.concatenate([right + 1, up + nx]).astype(np.int32)
    order = np.lexsort((ev, eu))
    return eu[order], ev[order]


def _labels(
    n: int, hubs: dict[str, int], names: dict[int, str] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node names, kinds (0 unnamed, 1 named, 2 hub) and hub capacities of a grid."""
    name = np.array([""] * n, dtype="<U32")
    labels = dict(names or {})
    labels.update({node: label for label, node in hubs.items()})
    for node, label in labels.items():
        name[node] = label
    kind = np.where(name != "", 1, 0).astype(np.int8)
    hub_capacity = np.zeros(n)
    for node in hubs.values():
        kind[node] = 2
        hub_capacity[node] = 1.0
    return name, kind, hub_capacity
