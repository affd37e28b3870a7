"""Runtime loader of the built theatre graph (``sim/data/theatre.npz``).

Only numpy (and networkx/scipy on demand) are used here: the geometry libraries are
build-time extras (see :mod:`sim.theatre.build`).
"""

from __future__ import annotations

import difflib
import json
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import networkx as nx

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "data" / "theatre.npz"

NODE_ARRAYS = (
    "lon",
    "lat",
    "x_km",
    "y_km",
    "area_km2",
    "name",
    "kind",
    "population",
    "geonameid",
    "country",
    "terrain",
    "fortification",
    "hub_capacity",
    "front_zone",
)
EDGE_ARRAYS = (
    "edge_u",
    "edge_v",
    "edge_length_km",
    "edge_border_km",
    "edge_river",
    "edge_road",
)


def _key(date: str) -> str:
    return date.replace("-", "_")


def built_file(path: str | Path | None, default: Path, what: str, how: str) -> Path:
    """The path of a file made by ``frontline theatre build`` (``default`` if ``path`` is
    None); FileNotFoundError saying how to build it if it is missing."""
    p = Path(path) if path is not None else default
    if not p.is_file():
        raise FileNotFoundError(
            f"{what} file not found: {p}. Build it with `frontline theatre build` ({how})."
        )
    return p


class Theatre:
    """The theatre graph: nodes (cells), edges (shared cell borders), control per date.

    Attributes mirror the arrays of the npz file: node arrays (``lon``, ``lat``,
    ``x_km``, ``y_km``, ``area_km2``, ``name``, ``kind``, ``population``,
    ``geonameid``, ``country``, ``terrain``, ``fortification``, ``hub_capacity``,
    ``front_zone``), edge arrays (``edge_u``, ``edge_v`` with ``u < v``,
    ``edge_length_km``, ``edge_border_km``, ``edge_river``, ``edge_road``) and the
    drawing polylines ``border_xy`` and ``outline_xy``. Arrays are read-only.

    Use :meth:`load` to construct one.
    """

    # The arrays of the npz file (set from it in __init__), declared for the type checker.
    lon: np.ndarray
    lat: np.ndarray
    x_km: np.ndarray
    y_km: np.ndarray
    area_km2: np.ndarray
    name: np.ndarray
    kind: np.ndarray
    population: np.ndarray
    geonameid: np.ndarray
    country: np.ndarray
    terrain: np.ndarray
    fortification: np.ndarray
    hub_capacity: np.ndarray
    front_zone: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length_km: np.ndarray
    edge_border_km: np.ndarray
    edge_river: np.ndarray
    edge_road: np.ndarray
    border_xy: np.ndarray
    outline_xy: np.ndarray

    def __init__(self, arrays: dict[str, np.ndarray], path: Path | None = None):
        self.path = path
        self._arrays = arrays
        for k, v in arrays.items():
            if k != "meta":
                v.setflags(write=False)
                setattr(self, k, v)
        self.meta: dict[str, Any] = json.loads(str(arrays["meta"]))
        self.dates: list[str] = list(self.meta["dates"])
        self.n_nodes: int = int(len(self.area_km2))
        self.n_edges: int = int(len(self.edge_u))
        self.hubs: dict[str, int] = {h["name"]: int(h["node"]) for h in self.meta["hubs"]}

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, path: str | Path | None = None) -> Theatre:
        """Load a theatre file.

        Parameters
        ----------
        path : str or Path, optional
            The npz file; default the packaged ``sim/data/theatre.npz``.

        Returns
        -------
        Theatre

        Raises
        ------
        FileNotFoundError
            If the file does not exist (build it with ``frontline theatre build``).
        """
        p = built_file(path, DEFAULT_PATH, "theatre", "or `python -m sim.theatre.build`")
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        return cls(arrays, p)

    # ------------------------------------------------------------------ control

    def _check_date(self, date: str) -> str:
        if date not in self.dates:
            raise KeyError(f"no control data for {date!r}; dates are {self.dates}")
        return _key(date)

    def control(self, date: str) -> np.ndarray:
        """Controlling side per node (0 Ukraine, 1 Russia) on ``date`` (ISO, e.g. "2024-01-01")."""
        return self._arrays[f"control_{self._check_date(date)}"]

    def contested(self, date: str) -> np.ndarray:
        """Boolean per node: cell largely in DeepState's grey zone or split on ``date``."""
        return self._arrays[f"contested_{self._check_date(date)}"]

    # ------------------------------------------------------------------ lookup

    @cached_property
    def _name_index(self) -> dict[str, int]:
        idx: dict[str, int] = {}
        # the build puts curated places first, then settlements by population, so a
        # repeated name maps to the curated place or else the largest one
        for i, nm in enumerate(self.name.tolist()):
            if nm and nm not in idx:
                idx[nm] = i
        return idx

    def node_by_name(self, name: str) -> int:
        """Node id of a named place (the most populous if the name repeats).

        Raises
        ------
        KeyError
            With close matches, if no node has this name.
        """
        try:
            return self._name_index[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._name_index), n=5, cutoff=0.6)
            raise KeyError(f"no node named {name!r}; close matches: {close}") from None

    # ------------------------------------------------------------------ graph helpers

    @cached_property
    def _csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = self.n_nodes
        src = np.concatenate([self.edge_u, self.edge_v]).astype(np.int64)
        dst = np.concatenate([self.edge_v, self.edge_u]).astype(np.int64)
        eid = np.concatenate([np.arange(self.n_edges)] * 2)
        order = np.lexsort((dst, src))
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
        out = (indptr, dst[order].astype(np.int32), eid[order].astype(np.int32))
        for a in out:
            a.setflags(write=False)
        return out

    def neighbors_csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Adjacency in CSR form.

        Returns
        -------
        indptr, indices, edge_index : ndarray
            The neighbours of node ``i`` are ``indices[indptr[i]:indptr[i+1]]`` and
            the matching edge ids ``edge_index[indptr[i]:indptr[i+1]]``.
        """
        return self._csr

    def front_edges(self, control: np.ndarray) -> np.ndarray:
        """Indices of edges whose endpoints differ in ``control``."""
        control = np.asarray(control)
        return np.flatnonzero(control[self.edge_u] != control[self.edge_v])

    def front_length_km(self, control: np.ndarray) -> float:
        """Front length: shared border of front edges, without the quiet international border.

        An edge between two cells each held by its own country (the international
        border where nobody has crossed) is not front.
        """
        e = self.front_edges(control)
        u, v = self.edge_u[e], self.edge_v[e]
        control = np.asarray(control)
        quiet = (control[u] == self.country[u]) & (control[v] == self.country[v])
        return float(self.edge_border_km[e[~quiet]].sum())

    def to_networkx(self) -> nx.Graph:
        """The theatre as a networkx graph.

        Nodes are integers with attributes ``name``, ``pos`` (lon, lat), ``area_km2``,
        ``kind``, ``country``, ``terrain``, ``population``, ``hub_capacity``; edges carry
        ``length_km``, ``border_km``, ``river`` and ``road``.
        """
        import networkx as nx

        g = nx.Graph()
        names = self.name.tolist()
        lon, lat = self.lon.tolist(), self.lat.tolist()
        area = self.area_km2.tolist()
        kind, country = self.kind.tolist(), self.country.tolist()
        terrain, pop, cap = (
            self.terrain.tolist(),
            self.population.tolist(),
            self.hub_capacity.tolist(),
        )
        g.add_nodes_from(
            (
                i,
                {
                    "name": names[i],
                    "pos": (lon[i], lat[i]),
                    "area_km2": area[i],
                    "kind": kind[i],
                    "country": country[i],
                    "terrain": terrain[i],
                    "population": pop[i],
                    "hub_capacity": cap[i],
                },
            )
            for i in range(self.n_nodes)
        )
        g.add_edges_from(
            (u, v, {"length_km": ln, "border_km": b, "river": r, "road": rd})
            for u, v, ln, b, r, rd in zip(
                self.edge_u.tolist(),
                self.edge_v.tolist(),
                self.edge_length_km.tolist(),
                self.edge_border_km.tolist(),
                self.edge_river.tolist(),
                self.edge_road.tolist(),
                strict=True,
            )
        )
        return g

    # ------------------------------------------------------------------ summary

    def info(self) -> dict[str, Any]:
        """Summary: sizes, areas and, per date, areas held and front length."""
        area = self.area_km2
        ua = self.country == 0
        lines = {}
        for d in self.dates:
            c = self.control(d)
            lines[d] = {
                "russia_km2": float(area[ua & (c == 1)].sum()),
                "ukraine_km2": float(area[ua & (c == 0)].sum()),
                "russia_in_russia_km2": float(area[~ua & (c == 1)].sum()),
                "ukraine_in_russia_km2": float(area[~ua & (c == 0)].sum()),
                "contested_km2": float(area[self.contested(d)].sum()),
                "front_length_km": self.front_length_km(c),
            }
        return {
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            "total_area_km2": float(self.meta["total_area_km2"]),
            "front_zone_mean_cell_km2": float(area[self.front_zone].mean()),
            "hubs": list(self.hubs),
            "lines": lines,
        }

    def __repr__(self) -> str:
        return f"Theatre({self.n_nodes} nodes, {self.n_edges} edges, dates={self.dates})"
