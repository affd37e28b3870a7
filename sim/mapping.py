"""Map geometry of a theatre, shared by the browser view (:mod:`sim.app`) and the reports.

Computed once per theatre and process: node positions and sizes, the segment of the shared
cell boundary across every edge (a front is drawn as the segments of the edges whose two ends
are held by different sides), the border, the coastline outline and the hubs.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from sim.theatre.theatre import Theatre

__all__ = ["KM_PER_DEG_LAT", "KM_PER_DEG_LON_EQ", "MapGeometry", "map_geometry"]

KM_PER_DEG_LAT = 110.57
KM_PER_DEG_LON_EQ = 111.32


class MapGeometry:
    """Arrays of one theatre drawn on every frame, computed once."""

    def __init__(self, theatre: Theatre) -> None:
        t = theatre
        self.lon = np.asarray(t.lon, float)
        self.lat = np.asarray(t.lat, float)
        self.lat0 = float(np.nanmean(self.lat))
        self.coslat = math.cos(math.radians(self.lat0))
        pad = 0.15
        self.xlim = (float(self.lon.min()) - pad, float(self.lon.max()) + pad)
        self.ylim = (float(self.lat.min()) - pad, float(self.lat.max()) + pad)
        self.side_km = np.sqrt(np.asarray(t.area_km2, float))
        # Front geometry: each edge's share of the boundary between its two cells, drawn as a
        # segment of the shared border's length across the edge's midpoint.
        u, v = np.asarray(t.edge_u), np.asarray(t.edge_v)
        self.edge_u, self.edge_v = u, v
        kx, ky = KM_PER_DEG_LON_EQ * self.coslat, KM_PER_DEG_LAT
        dx = (self.lon[v] - self.lon[u]) * kx
        dy = (self.lat[v] - self.lat[u]) * ky
        norm = np.hypot(dx, dy)
        norm[norm == 0] = 1.0
        half = 0.5 * np.asarray(t.edge_border_km, float)
        half = np.where(half > 0, half, 0.5 * norm)
        px, py = -dy / norm * half / kx, dx / norm * half / ky  # perpendicular, in degrees
        mx, my = 0.5 * (self.lon[u] + self.lon[v]), 0.5 * (self.lat[u] + self.lat[v])
        self.front_segments = np.stack(
            [np.column_stack([mx - px, my - py]), np.column_stack([mx + px, my + py])], axis=1
        )
        self.border = np.asarray(t.border_xy, float)
        self.outline = np.asarray(t.outline_xy, float)
        self.hub_nodes = np.array(sorted(t.hubs.values()), dtype=int)
        self.hub_names = [str(t.name[n]) for n in self.hub_nodes]

    def marker_area(self, width_pt: float) -> np.ndarray:
        """Scatter sizes (pt^2) that make each node's hexagon cover about its area."""
        pt_per_km = width_pt / ((self.xlim[1] - self.xlim[0]) * KM_PER_DEG_LON_EQ * self.coslat)
        return (1.5 * self.side_km * pt_per_km) ** 2


@functools.cache
def map_geometry(theatre: Theatre) -> MapGeometry:
    return MapGeometry(theatre)
