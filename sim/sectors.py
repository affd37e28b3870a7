"""The scenario's sectors: every node belongs to the sector of its nearest anchor place.

A sector is a stretch of the front with its own order of battle, postures and objectives
(``[[sector]]`` in a scenario). :class:`Sectors` holds what is fixed about them for a run: the
sector of each node, the anchor and objective nodes, and where a side's attacks stop at the
state border.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from sim.units import POSTURE_INDEX, SIDES

if TYPE_CHECKING:
    from sim.scenario import SectorSpec
    from sim.state import TheatreArrays


class Sectors:
    """The scenario's sectors: every node belongs to the sector of its nearest anchor place."""

    def __init__(self, theatre: TheatreArrays, specs: tuple[SectorSpec, ...]) -> None:
        t = theatre
        xy = np.column_stack([t.x_km, t.y_km])
        self.specs = specs
        self.names = [s.name for s in specs]
        self.index = {name: k for k, name in enumerate(self.names)}
        anchor_nodes, anchor_sector = [], []
        for k, s in enumerate(specs):
            for place in s.anchors:
                anchor_nodes.append(t.node_by_name(place))
                anchor_sector.append(k)
        self.anchor_node = np.array([t.node_by_name(s.anchors[0]) for s in specs])
        _, nearest = cKDTree(xy[anchor_nodes]).query(xy)
        self.of_node = np.asarray(anchor_sector, dtype=np.int16)[nearest]
        # own_soil_only[side, k]: the side's attacks in sector k stop at the state border.
        self.own_soil_only = np.array(
            [[getattr(s, f"{name}_own_soil_only") for s in specs] for name in SIDES], dtype=bool
        )
        # reserves_sent[side, k]: the side's theatre reserves may be committed to sector k.
        self.reserves_sent = np.array(
            [[getattr(s, f"{name}_reserves_sent") for s in specs] for name in SIDES], dtype=bool
        )
        self.objective = np.full((2, len(specs)), -1)
        for k, s in enumerate(specs):
            for side, name in enumerate(SIDES):
                objective = getattr(s, f"{name}_objective", None)
                if objective:
                    self.objective[side, k] = t.node_by_name(objective)
        self._nodes_of: list[np.ndarray] | None = None  # made on first use

    def nodes_of(self, k: int) -> np.ndarray:
        """The nodes of sector ``k``, ascending (a read-only array, made once)."""
        lists = self._nodes_of
        if lists is None:
            order = np.argsort(self.of_node, kind="stable")
            bounds = np.searchsorted(self.of_node[order], np.arange(len(self.names) + 1))
            lists = self._nodes_of = [
                order[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)
            ]
            for x in lists:
                x.setflags(write=False)
        return lists[k]

    def initial_postures(self) -> np.ndarray:
        """Posture (HOLD or ATTACK) of each side in each sector, shape (2, n_sectors)."""
        return np.array(
            [[POSTURE_INDEX[getattr(s, f"{name}_posture")] for s in self.specs] for name in SIDES],
            dtype=np.int8,
        )


__all__ = ["Sectors"]
