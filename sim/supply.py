"""Phase 1, supply (MECHANICS M1): how well each node is supplied, for each side.

Supply reaches a node from the nearest working hub its side controls, along a path through its
own side's territory only::

    d_i   = shortest path (km, road edges count half, river crossings more) from i to a hub
    theta = prod_k (1 - hub_throughput_loss) over the fires classes k whose range reaches the hub
    s_i   = theta(nearest hub) * exp(-d_i / supply_efold_km), and 0 beyond supply_tether_km

A node with no path within the tether is cut off: units there live on their stocks, which decay
by ``pocket_supply_decay`` a day (applied in :mod:`sim.pockets`). Supply only changes when
control changes, so the model recomputes it only on days when a node flipped, and then
incrementally (:meth:`SupplyNetwork.update_tree`): a day's few changes of hands only touch the
distances of the nodes whose shortest path they cut or shorten.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from sim.graph.forest import Adjacency, forest_add, forest_remove
from sim.kernels.supply import classes_in_range, dirty_levels, nearest_hub_distance
from sim.params import Params

if TYPE_CHECKING:
    from sim.state import TheatreArrays, World

# Supply cost multipliers per edge: roads and railways are faster; crossing a large river is
# slow and exposed (bridges are few and targeted). Index = theatre edge_river code. A modelling
# choice, not calibrated (docs/model.md, M1).
ROAD_COST = 0.5
RIVER_COST = np.array([1.0, 3.0, 10.0])  # none, Siverskyi Donets/Oskil class, Dnipro

NO_NODE = -9999  # scipy's marker for "no predecessor / no source"
# An incremental update falls back to a full recomputation when more than this share of the
# nodes changed hands, or when the nodes it would have to search pass FULL_SEARCH_NODES (a
# lost hub's whole tree, say): past that, scipy's compiled search of the whole graph is faster
# than the Python heap search of a part of it.
FULL_SHARE = 0.05
# A hub whose nearest enemy front node lies this close (km) to a fires range is decided by the
# direct computation (hub_throughput): far above the rounding differences of two ways of
# computing a distance, far below any distance that matters.
RANGE_TOLERANCE_KM = 1e-6
FULL_SEARCH_NODES = 1500


@dataclass
class SupplyTree:
    """One side's shortest-path forest from its hubs: what an incremental update starts from.

    Attributes
    ----------
    own : ndarray of bool
        The side's ground the forest was computed for.
    dist : ndarray of float
        Supply path cost from the nearest hub; inf where cut off (or beyond the tether, or not
        the side's ground).
    pred : ndarray of int32
        Predecessor on that path (``NO_NODE`` at hubs and where cut off).
    source : ndarray of int32
        The nearest hub (``NO_NODE`` where cut off).
    limit : float
        The tether it was computed with.
    dirty : set of int or None
        Nodes whose distance or source changed since :meth:`SupplyNetwork.levels_from_tree`
        last turned the forest into levels (None: all of them).
    """

    own: np.ndarray
    dist: np.ndarray
    pred: np.ndarray
    source: np.ndarray
    limit: float
    dirty: set[int] | None = None
    # The levels last computed from the forest, and what they were computed with.
    level: np.ndarray | None = None
    connected: np.ndarray | None = None
    level_key: tuple[bytes, bytes, float] | None = None
    # The control map (as bytes) ``own`` was last checked against, so that bringing the
    # forest to that same map again (the supply phase, after the movement phase's mop-up has
    # already updated it) costs a comparison of bytes.
    own_key: bytes | None = None


def _noted(tree: SupplyTree, ok: bool, *changed: np.ndarray) -> bool:
    # After a compiled forest update: False if it gave up (the caller recomputes the forest),
    # else the nodes it changed are noted as dirty for levels_from_tree.
    if not ok:
        return False
    if tree.dirty is not None:
        for nodes in changed:
            tree.dirty.update(nodes.tolist())
    return True


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

    # False: supply_phase recomputes from scratch, and movement's mop-up searches the whole
    # graph (a test switch: the outputs must not change)
    incremental = True

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
        # Caches filled on first use, functions of the structure alone (see each user).
        self._hub_pairs: dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._hub_mask_cache: np.ndarray | None = None
        self._adj: Adjacency | None = None
        self._hubs: frozenset[int] | None = None
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
    def from_theatre(cls, theatre: TheatreArrays) -> SupplyNetwork:
        """The supply network of a theatre: edge costs from length, roads and rivers, and the
        nodes with a hub capacity as hubs."""
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
        theta: np.ndarray = (1.0 - params.hub_throughput_loss) ** classes_in_range
        return theta

    def levels(
        self,
        control: np.ndarray,
        side: int,
        enemy_front_nodes: np.ndarray,
        params: Params,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Supply level of every node for one side (a full recomputation).

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
        tree = self.tree(control, side, params.supply_tether_km)
        hubs = self.hub_nodes[tree.own[self.hub_nodes]]
        if len(hubs) == 0:
            return np.zeros(self.n), np.zeros(self.n, dtype=bool)
        theta = self.hub_throughput(hubs, enemy_front_nodes, params)
        return self._apply(tree, hubs, theta, params)

    def tree(self, control: np.ndarray, side: int, limit: float) -> SupplyTree:
        """The side's shortest-path forest from its hubs, computed from scratch."""
        own = control == side
        hubs = self.hub_nodes[own[self.hub_nodes]]
        if len(hubs) == 0:
            none = np.full(self.n, NO_NODE, dtype=np.int32)
            return SupplyTree(own, np.full(self.n, np.inf), none, none.copy(), limit)
        graph = self.graph(own[self.u] & own[self.v], drop=not np.isfinite(limit))
        dist, pred, source = dijkstra(
            graph,
            directed=True,  # the graph holds both directions, in undirected search order
            indices=hubs,
            min_only=True,
            limit=limit,
            return_predecessors=True,
        )
        return SupplyTree(own, dist, pred, source, limit)

    def levels_from_tree(
        self,
        tree: SupplyTree,
        enemy_front_nodes: np.ndarray,
        params: Params,
        out: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``level = theta(source) * exp(-dist / supply_efold_km)`` over a side's forest.

        What :meth:`levels` returns for the same control map, computed incrementally: while the
        hub throughput ``theta`` (evaluated afresh, :meth:`_theta`), the side's hubs and
        ``supply_efold_km`` are unchanged, only the nodes the forest's updates touched
        (``tree.dirty``) are computed again. The levels and connection flags are copies (the
        tree keeps its own), written into ``out`` (level, connected) if given.
        """
        held = tree.own[self.hub_nodes]
        hubs = self.hub_nodes[held]
        theta = self._theta(held, enemy_front_nodes, params)
        key = (hubs.tobytes(), theta.tobytes(), params.supply_efold_km)
        if (
            tree.dirty is None
            or tree.level is None
            or tree.connected is None
            or tree.level_key != key
        ):
            tree.level, tree.connected = self._apply(tree, hubs, theta, params)
        elif tree.dirty:
            idx = np.fromiter(tree.dirty, dtype=np.intp, count=len(tree.dirty))
            linked, factor, arg = dirty_levels(
                idx,
                tree.dist,
                tree.own,
                tree.source,
                hubs,
                theta,
                params.supply_efold_km,
                tree.connected,
                tree.level,
            )
            tree.level[linked] = factor * np.exp(arg)
        tree.dirty, tree.level_key = set(), key
        if out is None:
            return tree.level.copy(), tree.connected.copy()
        np.copyto(out[0], tree.level)
        np.copyto(out[1], tree.connected)
        return out

    def _apply(
        self, tree: SupplyTree, hubs: np.ndarray, theta: np.ndarray, params: Params
    ) -> tuple[np.ndarray, np.ndarray]:
        level = np.zeros(self.n)
        connected = np.isfinite(tree.dist) & tree.own
        if len(hubs) == 0:
            return level, connected
        full = np.ones(self.n)
        full[hubs] = theta
        level[connected] = full[tree.source[connected]] * np.exp(
            -tree.dist[connected] / params.supply_efold_km
        )
        return level, connected

    def _theta(self, held: np.ndarray, enemy_front_nodes: np.ndarray, params: Params) -> np.ndarray:
        """:meth:`hub_throughput` of the hubs ``held`` (a mask over ``hub_nodes``), from the
        distances between hubs and the nodes near them, computed once.

        A hub's count of fires classes in range only depends on whether its nearest enemy front
        node is closer than each range. The distances from each hub to the nodes within the
        longest range (and a kilometre) are kept; the nearest of today's front nodes among them
        decides, unless it lies within a hair (1e-6 km, far above the rounding differences of
        two ways of computing a distance) of a range, where :meth:`hub_throughput` decides.
        """
        ranges = np.array(
            [
                params.fpv_range_km,
                params.tube_artillery_range_km,
                params.glide_bomb_range_km,
                params.mlrs_range_km,
            ]
        )
        reach = float(ranges.max())
        pairs = self._hub_pairs.get(reach)
        if pairs is None:
            # Node-major: for each node, the hubs within reach (and a km) and their distances.
            near = cKDTree(self.xy[self.hub_nodes]).query_ball_point(self.xy, reach + 1.0)
            count = np.array([len(x) for x in near])
            hub_of = np.concatenate([np.asarray(x, dtype=np.intp) for x in near])
            node = np.repeat(np.arange(self.n), count)
            d = np.hypot(*(self.xy[node] - self.xy[self.hub_nodes[hub_of]]).T)
            start = np.zeros(self.n + 1, dtype=np.intp)
            np.cumsum(count, out=start[1:])
            pairs = self._hub_pairs[reach] = (start, hub_of, d)
        start, hub_of, d = pairs
        # The least distance from each hub to today's enemy front nodes (a minimum: exact in
        # any order).
        nearest = nearest_hub_distance(enemy_front_nodes, start, hub_of, d, len(self.hub_nodes))
        classes, close = classes_in_range(nearest, held, ranges, RANGE_TOLERANCE_KM)
        if close:
            return self.hub_throughput(self.hub_nodes[held], enemy_front_nodes, params)
        theta: np.ndarray = (1.0 - params.hub_throughput_loss) ** classes
        return theta

    def update_tree(self, tree: SupplyTree, control: np.ndarray, side: int, limit: float) -> str:
        """Bring ``tree`` (in place) to the side's forest under ``control``.

        Only what the changes of hands since the tree was computed can affect is searched
        again:

        - the nodes the side lost, and their descendants in the forest (the nodes whose
          shortest path ran through a lost node), are reset, seeded from their unaffected
          neighbours and searched again among themselves: distances can only grow, so no other
          node's changes; those now beyond the tether are cut off;
        - the nodes the side gained are seeded from their neighbours (a hub at 0), then a
          search relaxes outwards from them while distances shrink, within the tether.

        Both are Dijkstra searches summing the same edge costs in the same order as a full
        search along the same paths, so distances are identical to :meth:`tree`'s, float for
        float; predecessors and sources may differ only where two paths tie exactly.

        Returns the mode used: ``"none"``, ``"incremental"`` or ``"full"`` (a fallback when
        many nodes changed hands, the tether changed, or the search would be large).
        """
        key = control.tobytes()
        if key == tree.own_key and limit == tree.limit:
            return "none"
        own = control == side
        lost = np.flatnonzero(tree.own & ~own)
        gained = np.flatnonzero(own & ~tree.own)
        if len(lost) == 0 and len(gained) == 0 and limit == tree.limit:
            tree.own_key = key
            return "none"
        if limit != tree.limit or len(lost) + len(gained) > FULL_SHARE * self.n:
            return self._replace(tree, control, side, limit)
        # Compiled searches (sim.graph.forest.forest_remove / forest_add), the same steps as the
        # plain remove_reference and add_reference there, which stay as their readable oracle.
        graph = (self._indptr, self._entry_col, self._entry_cost)
        forest = (tree.dist, tree.pred, tree.source, own)
        if len(lost):
            ok, affected = forest_remove(
                *graph, *forest, lost, tree.limit, FULL_SEARCH_NODES, NO_NODE
            )
            if not _noted(tree, ok, affected):
                return self._replace(tree, control, side, limit)
        if len(gained):
            ok, touched = forest_add(
                *graph, *forest, gained, self._hub_mask(), tree.limit, FULL_SEARCH_NODES, NO_NODE
            )
            if not _noted(tree, ok, gained, touched):
                return self._replace(tree, control, side, limit)
        tree.own, tree.own_key = own, key
        return "incremental"

    def _hub_mask(self) -> np.ndarray:
        mask = self._hub_mask_cache
        if mask is None:
            mask = self._hub_mask_cache = np.zeros(self.n, dtype=bool)
            mask[self.hub_nodes] = True
        return mask

    def _replace(self, tree: SupplyTree, control: np.ndarray, side: int, limit: float) -> str:
        fresh = self.tree(control, side, limit)
        tree.own, tree.dist, tree.pred, tree.source = (
            fresh.own,
            fresh.dist,
            fresh.pred,
            fresh.source,
        )
        tree.limit = limit
        tree.dirty = None
        tree.own_key = control.tobytes()
        return "full"

    def _adjacency(self) -> tuple[list[int], list[int], list[float]]:
        # Python lists of the search-order CSR (row pointers, neighbours, costs): indexing and
        # iterating plain ints and floats is several times faster than numpy scalars.
        adj = self._adj
        if adj is None:
            adj = (self._indptr.tolist(), self._entry_col.tolist(), self._entry_cost.tolist())
            self._adj = adj
        return adj

    def _hub_set(self) -> frozenset[int]:
        hubs = self._hubs
        if hubs is None:
            hubs = self._hubs = frozenset(self.hub_nodes.tolist())
        return hubs

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


def supply_phase(model: World) -> None:
    """Phase 1: bring both sides' supply levels up to date.

    Only if control changed since last time (``state.supply_stale``); incrementally from the
    previous forests (:meth:`SupplyNetwork.update_tree`), from scratch the first time. Writes
    ``state.supply_level``, ``state.connected`` and ``state.supply_trees``.

    Parameters
    ----------
    model : World
        Writes the state's supply levels, connection and forests.
    """
    if not model.state.supply_stale:
        return
    net, limit = model.supply_net, model.p.supply_tether_km
    front = model.front_node_ids()  # flatnonzero(front_node_mask()), cached
    for side in (0, 1):
        tree = model.state.supply_trees[side]
        if tree is None or not net.incremental:
            tree = model.state.supply_trees[side] = net.tree(model.state.control, side, limit)
        else:
            net.update_tree(tree, model.state.control, side, limit)
        # flatnonzero(front_node_mask() & (control != side)), selected from the front alone.
        enemy_front = front[model.state.control[front] != side]
        # Into the state's rows, with no intermediate copies.
        state = model.state
        net.levels_from_tree(
            tree, enemy_front, model.p, out=(state.supply_level[side], state.connected[side])
        )
    model.state.supply_stale = False
