"""Phase 1, supply (MECHANICS M1): how well each node is supplied, for each side.

Supply reaches a node from the nearest working hub its side controls, along a path through its
own side's territory only::

    d_i   = shortest path (km, road edges count half, river crossings more) from i to a hub
    theta = prod_k (1 - hub_throughput_loss) over the fires classes k whose range reaches the hub
    s_i   = theta(nearest hub) * exp(-d_i / supply_efold_km), and 0 beyond supply_tether_km

A node with no path within the tether is cut off: units there live on their stocks, which decay
by ``pocket_supply_decay`` a day (applied in :mod:`sim.movement`). Supply only changes when
control changes, so the model recomputes it only on days when a node flipped.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from sim.params import Params

# Supply cost multipliers per edge: roads and railways are faster; crossing a large river is
# slow and exposed (bridges are few and targeted). Index = theatre edge_river code.
ROAD_COST = 0.5
RIVER_COST = np.array([1.0, 3.0, 10.0])  # none, Siverskyi Donets/Oskil class, Dnipro


class SupplyNetwork:
    """Precomputed edge costs and hubs; computes supply levels for a control map.

    Parameters
    ----------
    n_nodes : int
        Number of theatre nodes.
    edge_u, edge_v : ndarray of int
        Edge end points.
    edge_cost_km : ndarray of float
        Supply path cost of each edge (km-equivalent).
    hub_nodes : ndarray of int
        Node ids of logistics hubs (either side's, depending on who holds them).
    xy_km : ndarray, shape (n_nodes, 2)
        Projected node coordinates, for fires ranges.
    """

    def __init__(
        self,
        n_nodes: int,
        edge_u: np.ndarray,
        edge_v: np.ndarray,
        edge_cost_km: np.ndarray,
        hub_nodes: np.ndarray,
        xy_km: np.ndarray,
    ) -> None:
        self.n = n_nodes
        self.u, self.v, self.cost = edge_u, edge_v, edge_cost_km
        self.hub_nodes = np.asarray(hub_nodes, dtype=np.int64)
        self.xy = xy_km

    @classmethod
    def from_theatre(cls, theatre) -> SupplyNetwork:
        cost = (
            theatre.edge_length_km
            * np.where(theatre.edge_road, ROAD_COST, 1.0)
            * RIVER_COST[theatre.edge_river]
        )
        hubs = np.flatnonzero(theatre.hub_capacity > 0)
        xy = np.column_stack([theatre.x_km, theatre.y_km])
        return cls(theatre.n_nodes, theatre.edge_u, theatre.edge_v, cost, hubs, xy)

    def hub_throughput(
        self, hubs: np.ndarray, enemy_front_nodes: np.ndarray, params: Params
    ) -> np.ndarray:
        """Share of each hub's throughput left under enemy fires (1 = untouched)."""
        if len(enemy_front_nodes) == 0:
            return np.ones(len(hubs))
        dist, _ = cKDTree(self.xy[enemy_front_nodes]).query(self.xy[hubs])
        ranges = np.array(
            [
                params.fpv_range_km,
                params.tube_artillery_range_km,
                params.glide_bomb_range_km,
                params.mlrs_range_km,
            ]
        )
        classes_in_range = (dist[:, None] < ranges[None, :]).sum(axis=1)
        return (1.0 - params.hub_throughput_loss) ** classes_in_range

    def levels(
        self,
        control: np.ndarray,
        side: int,
        enemy_front_nodes: np.ndarray,
        params: Params,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Supply level of every node for one side.

        Parameters
        ----------
        control : ndarray of int8
            Controlling side of each node.
        side : int
            The side whose supply is computed.
        enemy_front_nodes : ndarray of int
            The enemy's nodes on the front (sources of fires against hubs).
        params : Params
            Uses ``supply_efold_km``, ``supply_tether_km`` and the fires ranges.

        Returns
        -------
        level : ndarray of float
            Supply in [0, 1] for nodes of ``side``; 0 elsewhere and where cut off.
        connected : ndarray of bool
            True where a path within the tether reaches a working hub of ``side``.
        """
        own = control == side
        hubs = self.hub_nodes[own[self.hub_nodes]]
        level = np.zeros(self.n)
        if len(hubs) == 0:
            return level, np.zeros(self.n, dtype=bool)
        mask = own[self.u] & own[self.v]
        graph = csr_array((self.cost[mask], (self.u[mask], self.v[mask])), shape=(self.n, self.n))
        dist, _, source = dijkstra(
            graph,
            directed=False,
            indices=hubs,
            min_only=True,
            limit=params.supply_tether_km,
            return_predecessors=True,
        )
        connected = np.isfinite(dist) & own
        theta = np.ones(self.n)
        theta[hubs] = self.hub_throughput(hubs, enemy_front_nodes, params)
        level[connected] = theta[source[connected]] * np.exp(
            -dist[connected] / params.supply_efold_km
        )
        return level, connected


def supply_phase(model) -> None:
    """Phase 1: recompute both sides' supply levels, only if control changed since last time."""
    if not model.supply_stale:
        return
    t = model.theatre
    front = model.front_edge_mask()
    ends = np.concatenate([t.edge_u[front], t.edge_v[front]])
    for side in (0, 1):
        enemy_front = np.unique(ends[model.control[ends] != side])
        model.supply_level[side], model.connected[side] = model.supply_net.levels(
            model.control, side, enemy_front, model.p
        )
    model.supply_stale = False
