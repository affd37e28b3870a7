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
        self.u = np.asarray(edge_u, dtype=np.intp)
        self.v = np.asarray(edge_v, dtype=np.intp)
        self.cost = np.asarray(edge_cost_km, dtype=np.float64)
        self.hub_nodes = np.asarray(hub_nodes, dtype=np.int64)
        self.xy = xy_km
        self._build_structure()

    def _build_structure(self) -> None:
        # The graph of all edges, built once, in the layout scipy's undirected Dijkstra walks:
        # row i holds i's entries of the (canonical) u->v matrix, then its entries of the
        # transpose. A day's graph is this one with the edges not wholly inside a side's
        # territory dropped (a boolean mask over entries), and a directed search of it visits
        # the same edges in the same order as ``dijkstra(..., directed=False)`` on the u->v
        # matrix, so distances, ties and sources are identical; it saves building the sparse
        # matrix and its transpose every time.
        n = self.n
        edge_id = np.arange(len(self.u))
        fwd = csr_array((edge_id + 1.0, (self.u, self.v)), shape=(n, n))  # canonical order
        fwd_edge = fwd.data.astype(np.intp) - 1
        if len(fwd_edge) != len(self.u):
            raise ValueError("supply graph: repeated edges")
        fwd_row = np.repeat(np.arange(n), np.diff(fwd.indptr))
        bwd = fwd.T.tocsr()
        bwd_edge = bwd.data.astype(np.intp) - 1
        bwd_row = np.repeat(np.arange(n), np.diff(bwd.indptr))
        row = np.concatenate([fwd_row, bwd_row])
        rank = np.concatenate([np.zeros(len(fwd_row), np.int8), np.ones(len(bwd_row), np.int8)])
        order = np.lexsort((rank, row))  # stable: keeps each part's order in a row
        self._entry_edge = np.concatenate([fwd_edge, bwd_edge])[order]
        self._entry_col = np.concatenate([fwd.indices, bwd.indices]).astype(np.int32)[order]
        self._entry_cost = self.cost[self._entry_edge]
        self._entry_row = row[order]
        self._indptr = np.zeros(n + 1, dtype=np.int32)
        self._indptr[1:] = fwd.indptr[1:] + bwd.indptr[1:]

    def graph(self, edge_mask: np.ndarray, drop: bool = True) -> csr_array:
        """The supply graph restricted to the edges in ``edge_mask``, in search order.

        With ``drop=False`` the other edges are kept with an infinite cost instead of being
        removed (cheaper to build): a search with a finite ``limit`` never crosses them, and
        visits the remaining edges in the same order, but a graph algorithm that ignores costs
        would still see them.
        """
        if not drop:
            weight = np.where(edge_mask, self.cost, np.inf)[self._entry_edge]
            return csr_array((weight, self._entry_col, self._indptr), shape=(self.n, self.n))
        keep = edge_mask[self._entry_edge]
        indptr = np.zeros(self.n + 1, dtype=np.int32)
        np.cumsum(np.bincount(self._entry_row[keep], minlength=self.n), out=indptr[1:])
        return csr_array(
            (self._entry_cost[keep], self._entry_col[keep], indptr), shape=(self.n, self.n)
        )

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
        limit = params.supply_tether_km
        graph = self.graph(own[self.u] & own[self.v], drop=not np.isfinite(limit))
        dist, _, source = dijkstra(
            graph,
            directed=True,  # the graph holds both directions, in undirected search order
            indices=hubs,
            min_only=True,
            limit=limit,
            return_predecessors=True,
        )
        connected = np.isfinite(dist) & own
        theta = np.ones(self.n)
        theta[hubs] = self.hub_throughput(hubs, enemy_front_nodes, params)
        level[connected] = theta[source[connected]] * np.exp(
            -dist[connected] / params.supply_efold_km
        )
        return level, connected

    def levels_reference(
        self,
        control: np.ndarray,
        side: int,
        enemy_front_nodes: np.ndarray,
        params: Params,
    ) -> tuple[np.ndarray, np.ndarray]:
        """What :meth:`levels` computes, the way a networkx user would first write it: a graph
        of the side's own edges, one Dijkstra per hub, and each node served by its nearest hub.

        Kept as the oracle of a differential test and the baseline of the supply benchmark.
        Distances are sums along the same paths, so they equal the fast kernel's exactly; a
        node exactly equidistant from two hubs goes to the lower hub id here, while the fast
        kernel's heap order decides (never seen on the real theatre).
        """
        import networkx as nx

        own = control == side
        level = np.zeros(self.n)
        connected = np.zeros(self.n, dtype=bool)
        hubs = [int(h) for h in self.hub_nodes if own[h]]
        if not hubs:
            return level, connected
        graph = nx.Graph()
        graph.add_nodes_from(int(i) for i in np.flatnonzero(own))
        for a, b, cost in zip(self.u.tolist(), self.v.tolist(), self.cost.tolist(), strict=True):
            if own[a] and own[b]:
                graph.add_edge(a, b, weight=cost)
        theta = dict(
            zip(hubs, self.hub_throughput(np.array(hubs), enemy_front_nodes, params), strict=True)
        )
        best: dict[int, tuple[float, int]] = {}
        for hub in hubs:
            reached = nx.single_source_dijkstra_path_length(
                graph, hub, cutoff=params.supply_tether_km
            )
            for node, dist in reached.items():
                if node not in best or dist < best[node][0]:
                    best[node] = (dist, hub)
        for node, (dist, hub) in best.items():
            connected[node] = True
            level[node] = theta[hub] * np.exp(-dist / params.supply_efold_km)
        return level, connected


def supply_phase(model) -> None:
    """Phase 1: recompute both sides' supply levels, only if control changed since last time."""
    if not model.supply_stale:
        return
    front_nodes = model.front_node_mask()
    for side in (0, 1):
        enemy_front = np.flatnonzero(front_nodes & (model.control != side))
        model.supply_level[side], model.connected[side] = model.supply_net.levels(
            model.control, side, enemy_front, model.p
        )
    model.supply_stale = False
