"""Frontage: which line unit holds or attacks each front edge, with how many men.

Every front edge goes to the nearest line unit of each side within ``unit_frontage_km`` of its
midpoint (an attacker only within ``attack_frontage_km``); each unit spreads its men over the
stretch of front it is nearest to (force-to-space), up to ``frontage_cap_per_km`` firing and the
rest adding power in depth. :func:`presence` is the fast path, :func:`presence_reference` its
plain-Python oracle. The nearest-unit search reproduces scipy's ``cKDTree`` answers exactly,
ties included (:func:`nearest_unit`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from sim.graph.kdtree import kd_resolve_ties
from sim.kernels.combat import presence_frontage, presence_power
from sim.kernels.front import front_geometry, nearest_on_candidates
from sim.units import ATTACK

if TYPE_CHECKING:
    from sim.state import TheatreArrays, World

# Per side and edge: the covering unit's row (-1 for none), its engaged men, combat power, and
# whether it attacks.
Presence = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Stacks:
    """Line units of one side that stand on the same node in the same role (attacking or
    holding): they fight as one stack, led by its first row.

    Without stacks the nearest-unit rule hands each edge to one unit, so the men of a second
    unit on the same node never fight and massing on an axis (a brigade landing beside another on
    the node nearest the objective) adds nothing. ``stack_pooling`` is the share of the other
    members' men that join the lead (1: all of them).
    """

    rows: np.ndarray  # the line rows, as model.line_rows gives them
    group: np.ndarray  # stack index of each row
    lead: np.ndarray  # first row of each stack
    men: np.ndarray  # men each row puts into its stack

    @property
    def pooled(self) -> np.ndarray:
        """Men of each stack."""
        return np.bincount(self.group, weights=self.men, minlength=len(self.lead))

    def pool(self, eff: np.ndarray) -> np.ndarray:
        """Each stack's effectiveness: its members' ``eff``, weighted by the men they put in."""
        pooled = self.pooled
        weighted = np.bincount(self.group, weights=self.men * eff, minlength=len(self.lead))
        return np.asarray(weighted / np.maximum(pooled, 1e-12))

    def spread(self, unit_losses: np.ndarray) -> None:
        """Share each stack's losses, booked on its lead row, among its members by the men they
        put in (in place)."""
        share = self.men / np.maximum(self.pooled[self.group], 1e-12)
        lost = unit_losses[self.lead][self.group] * share
        unit_losses[self.lead] = 0.0
        np.add.at(unit_losses, self.rows, lost)


def stacks(model: World, side: int, rows: np.ndarray, pooling: float) -> Stacks | None:
    """The stacks of ``side``'s line units ``rows``, or None when no two share a node and role.

    >>> from types import SimpleNamespace as NS
    >>> units = NS(node=np.array([5, 5, 7]), posture=np.array([1, 1, 1]),
    ...            personnel=np.array([100.0, 50.0, 80.0]))
    >>> s = stacks(NS(units=units), 1, np.array([0, 1, 2]), 1.0)
    >>> s.lead.tolist(), s.pooled.tolist()
    ([0, 2], [150.0, 80.0])
    """
    u = model.units
    key = u.node[rows].astype(np.int64) * 2 + (u.posture[rows] == ATTACK)
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    if len(first) == len(rows):
        return None
    own = np.arange(len(rows)) == first[group]
    men = np.where(own, 1.0, pooling) * u.personnel[rows]
    return Stacks(rows, group.astype(np.int64), rows[first], men)


def spread_stack_losses(model: World, unit_losses: np.ndarray, pooling: float) -> None:
    """Share the losses each stack's lead row took today among the stack's members (in place);
    nothing to do without pooling, which leaves every unit its own losses."""
    if pooling <= 0:
        return
    for side in (0, 1):
        stacked = stacks(model, side, model.line_rows(side), pooling)
        if stacked is not None:
            stacked.spread(unit_losses)


def presence(
    model: World, side: int, mid: np.ndarray, border: np.ndarray, edges: np.ndarray | None = None
) -> Presence:
    """Which line unit of ``side`` covers each front edge, and with how many men per km.

    ``mid`` are the edges' midpoints; with the edges' ids ``edges``, the nearest units are found
    from each edge's nearby nodes instead of a k-d tree (the same answer, see
    :func:`nearest_unit`)."""
    p, u = model.p, model.units
    n_edges = len(mid)
    rows = model.line_rows(side)
    if len(rows) == 0:
        none = np.zeros(n_edges)
        return np.full(n_edges, -1), none, none, np.zeros(n_edges, dtype=bool)
    eff = (
        u.quality[rows]
        * u.cohesion[rows]
        * np.maximum(u.supply[rows], 0.0) ** p.supply_power_exponent
    )
    personnel = u.personnel[rows]
    stacked = stacks(model, side, rows, p.stack_pooling) if p.stack_pooling > 0 else None
    if stacked is not None:
        rows, personnel, eff = stacked.lead, stacked.pooled, stacked.pool(eff)
    dist, k = nearest_unit(model, side, rows, mid, p.unit_frontage_km, edges)
    k = k.astype(np.int64)  # a copy: the nearest-unit answer is cached
    n_rows = len(rows)
    posture = u.posture[rows]
    present = np.empty(n_edges, dtype=np.bool_)
    per_km = np.empty(n_rows)
    # An attacking unit puts all its men on its assault frontage; the edges farther from it are
    # left to whoever else is near (an attacker does not also hold a long line). Each unit
    # spreads its men over the stretch of front it is nearest to: force-to-space.
    presence_frontage(
        dist, k, n_rows, posture, personnel, border, p.attack_frontage_km, present, per_km
    )
    # Men beyond the frontage cap cannot all fire at once, but echelons in depth replace losses
    # and keep up the pressure: they add power with diminishing returns.
    depth = np.maximum(per_km / p.frontage_cap_per_km, 1.0) ** p.depth_exponent
    owner = np.empty(n_edges, dtype=rows.dtype)
    engaged, power = np.empty(n_edges), np.empty(n_edges)
    attacking = np.empty(n_edges, dtype=np.bool_)
    presence_power(
        k,
        present,
        posture,
        rows,
        per_km,
        p.frontage_cap_per_km,
        border,
        eff,
        depth,
        owner,
        engaged,
        power,
        attacking,
    )
    return owner, engaged, power, attacking


def presence_reference(
    model: World,
    side: int,
    mid: np.ndarray,
    border: np.ndarray,
    tie_break: np.ndarray | None = None,
) -> Presence:
    """What :func:`presence` computes, one front edge and one unit at a time in plain Python.

    Kept as the oracle of a differential test and the baseline of the presence benchmark. Each
    edge goes to the nearest line unit within ``unit_frontage_km`` of its midpoint. Exact ties
    are common (units stacked on one node; edge midpoints equidistant from two nodes of the
    theatre's hexagonal fill) and the fast kernel's k-d tree breaks them by its traversal order,
    which no plain rule reproduces. So ``tie_break`` (one row per edge, -1 for none) may name the
    unit the fast kernel chose: it is checked to be one of the nearest units and then used, and
    everything else is computed here from scratch. Without it, the lowest row wins a tie.

    Raises
    ------
    ValueError
        If ``tie_break`` names a unit that is not among the nearest ones within reach.
    """
    p, u = model.p, model.units
    n_edges = len(mid)
    rows = [int(r) for r in model.line_rows(side)]
    owner, engaged, power = [-1] * n_edges, [0.0] * n_edges, [0.0] * n_edges
    attacking = [False] * n_edges
    reach2 = p.unit_frontage_km * p.unit_frontage_km
    nearest: list[tuple[int, float] | None] = []
    for e in range(n_edges):
        mx, my = float(mid[e, 0]), float(mid[e, 1])
        best, tied = None, []
        for row in rows:
            node = int(u.node[row])
            dx, dy = float(model.xy[node, 0]) - mx, float(model.xy[node, 1]) - my
            d2 = dx * dx + dy * dy
            if d2 >= reach2:
                continue
            if best is None or d2 < best[1]:
                best, tied = (row, d2), [row]
            elif d2 == best[1]:
                tied.append(row)
        if tie_break is not None:
            want = int(tie_break[e])
            if (want < 0) != (best is None) or (want >= 0 and want not in tied):
                raise ValueError(f"edge {e}: row {want} is not a nearest unit (nearest: {tied})")
            if best is not None:
                best = (want, best[1])
        if best is not None:
            row, d2 = best
            dist = math.sqrt(d2)
            if int(u.posture[row]) == 1 and not dist <= p.attack_frontage_km:
                best = None  # an attacker leaves its far edges to others
        nearest.append(best)
    frontage = dict.fromkeys(rows, 0.0)
    for e, best in enumerate(nearest):
        if best is not None:
            frontage[best[0]] += float(border[e])
    for e, best in enumerate(nearest):
        if best is None:
            continue
        row = best[0]
        per_km = float(u.personnel[row]) / frontage[row]
        engaged[e] = min(per_km, p.frontage_cap_per_km) * float(border[e])
        eff = (
            float(u.quality[row])
            * float(u.cohesion[row])
            * max(float(u.supply[row]), 0.0) ** p.supply_power_exponent
        )
        depth = max(per_km / p.frontage_cap_per_km, 1.0) ** p.depth_exponent
        power[e] = engaged[e] * (eff * depth)
        owner[e] = row
        attacking[e] = int(u.posture[row]) == 1
    return np.array(owner), np.array(engaged), np.array(power), np.array(attacking, dtype=bool)


class _EdgeReach:
    """The theatre's nodes within ``reach`` of each edge's midpoint, nearest first: built for an
    edge the first time it is asked for, and shared by every model of the process.

    Squared distances are computed as ``cKDTree`` computes them (``dx*dx + dy*dy`` from the same
    midpoint), so comparing them reproduces its answers exactly; ties keep node order.
    """

    def __init__(self, xy: np.ndarray, edge_u: np.ndarray, edge_v: np.ndarray, reach: float):
        self.xy, self.edge_u, self.edge_v, self.reach = xy, edge_u, edge_v, reach
        # 32-bit where it fits: the daily search reads these at random, so smaller is faster.
        self.start = np.zeros(len(edge_u), dtype=np.int32)
        self.count = np.full(len(edge_u), -1, dtype=np.int32)  # -1: not built yet
        # The lists of all built edges, end to end: the first ``size`` entries of ``node`` and
        # ``d2`` are used, the rest is room to grow. Growing by doubling, not by concatenating
        # each day's new lists to all the old ones: on a front that moves fast (a calibration
        # point with a quick advance) new edges come every day, and copying the whole store
        # each time cost ~0.2 s of CPU in a year.
        self.size = 0
        self.node = np.zeros(0, dtype=np.int32)
        self.d2 = np.zeros(0)
        self.tree: cKDTree | None = None
        self.ensured: np.ndarray | None = None  # the edges array last passed to ensure()

    def ensure(self, edges: np.ndarray) -> None:
        """Build the candidate lists of those ``edges`` that have none yet."""
        built = self.count[edges]
        if len(built) == 0 or built.min() >= 0:
            return
        missing = np.unique(edges[built < 0])
        if self.tree is None:
            self.tree = cKDTree(self.xy)
        xy = self.xy
        mid = 0.5 * (xy[self.edge_u[missing]] + xy[self.edge_v[missing]])
        # A kilometre of slack: the exact test below decides.
        near = self.tree.query_ball_point(mid, self.reach + 1.0, return_sorted=False)
        lens = np.fromiter((len(x) for x in near), dtype=np.int64, count=len(near))
        node = np.fromiter(itertools.chain.from_iterable(near), dtype=np.int64, count=lens.sum())
        group = np.repeat(np.arange(len(missing)), lens)
        dx = xy[node, 0] - mid[group, 0]
        dy = xy[node, 1] - mid[group, 1]
        d2 = dx * dx + dy * dy
        keep = d2 < self.reach * self.reach
        node, group, d2 = node[keep], group[keep], d2[keep]
        order = np.lexsort((node, d2, group))  # by edge, then distance, then node
        counts = np.bincount(group, minlength=len(missing))
        size, end = self.size, self.size + len(order)
        if end >= 2**31:
            raise OverflowError("candidate lists beyond 2**31 entries")
        if end > len(self.node):
            room = min(max(end, 2 * len(self.node)), 2**31 - 1)
            self.node = np.concatenate([self.node[:size], np.zeros(room - size, dtype=np.int32)])
            self.d2 = np.concatenate([self.d2[:size], np.zeros(room - size)])
        self.node[size:end] = node[order]
        self.d2[size:end] = d2[order]
        self.start[missing] = size + np.cumsum(counts) - counts
        self.count[missing] = counts
        self.size = end


_REACH_CACHE: dict[tuple[int, float], tuple[TheatreArrays, _EdgeReach]] = {}


def _edge_reach(model: World, reach: float) -> _EdgeReach:
    key = (id(model.theatre), reach)
    hit = _REACH_CACHE.get(key)
    if hit is None or hit[0] is not model.theatre:
        hit = _REACH_CACHE[key] = (
            model.theatre,
            _EdgeReach(model.xy, model.edge_u, model.edge_v, reach),
        )
    return hit[1]


def nearest_unit(
    model: World,
    side: int,
    rows: np.ndarray,
    mid: np.ndarray,
    reach: float,
    edges: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Distance to, and index in ``rows`` of, the nearest unit within ``reach`` of each point
    (``inf`` and ``len(rows)`` beyond it), as ``cKDTree.query`` gives them.

    With ``edges`` (the theatre edges whose midpoints ``mid`` are), the nearest unit is read off
    each edge's list of nearby nodes (:class:`_EdgeReach`); where several units are equally near
    (units share nodes, and the theatre's regular fill makes equidistant nodes common), the
    k-d tree decides, as it did for every edge before, since its choice among equals follows
    its build and traversal order, which no plain rule reproduces: a compiled copy of scipy's
    cKDTree (:func:`sim.graph.kdtree.kd_resolve_ties`), or scipy's own on the rare build it does not copy.

    On about half the days neither the front nor any line unit moved: the last answer is kept
    per side and reused when the points, the rows, their nodes and ``reach`` are all unchanged.
    """
    nodes = model.units.node[rows]
    cache = model.caches.nearest_unit
    hit = cache.get(side)
    if (
        hit is not None
        and hit[3] == reach
        and np.array_equal(hit[1], rows)
        and np.array_equal(hit[2], nodes)
        and np.array_equal(hit[0], mid)
    ):
        cached: tuple[np.ndarray, np.ndarray] = hit[4]
        return cached
    answer: tuple[np.ndarray, np.ndarray]
    if edges is None:
        answer = cKDTree(model.xy[nodes]).query(mid, distance_upper_bound=reach)
    else:
        answer = nearest_by_edge(model, rows, nodes, mid, reach, edges, side)
    cache[side] = (mid.copy(), rows.copy(), nodes.copy(), reach, answer)
    return answer


def nearest_by_edge(
    model: World,
    rows: np.ndarray,
    nodes: np.ndarray,
    mid: np.ndarray,
    reach: float,
    edges: np.ndarray,
    side: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nearest_unit` read off the edges' lists of nearby nodes, ties settled by the k-d
    tree as scipy's would. With ``side``, the side's last search (``model.caches.nearest_edges``)
    is kept for the edges where it still stands (most of them: a day moves a few units)."""
    near = _edge_reach(model, reach)
    if near.ensured is not edges:
        near.ensure(edges)
        near.ensured = edges
    scratch = model.caches.node_int_scratch
    if scratch is None:
        n = len(model.xy)
        scratch = model.caches.node_int_scratch = (
            np.zeros(n, dtype=np.int32),
            np.zeros(n, dtype=np.int32),
        )
    last = model.caches.nearest_edges.get(side) if side is not None else None
    if last is None or last[0] != reach:
        last = (reach, *_NO_LAST)
    unit_nodes = nodes.astype(np.int64)
    unit_xy = model.xy[nodes]
    dist, k, tied, lone, best_d2, best_row = nearest_on_candidates(
        edges,
        near.start,
        near.count,
        near.node,
        near.d2,
        mid,
        unit_xy,
        rows.astype(np.int64),
        unit_nodes,
        scratch,
        last[1:],
        reach,
    )
    if side is not None:
        model.caches.nearest_edges[side] = (
            reach,
            edges,
            rows.copy(),
            unit_nodes,
            best_d2,
            best_row,
        )
    # Most ties are units stacked on one node, which the tree settles without a walk.
    if len(tied) and not kd_resolve_ties(
        unit_xy, unit_nodes, mid, tied, lone, reach, dist, k, scratch[0]
    ):
        dist_t, k_t = cKDTree(unit_xy).query(mid[tied], distance_upper_bound=reach)
        dist[tied], k[tied] = dist_t, k_t
    return dist, k


# An empty last search: every edge is searched.
_NO_LAST = (
    np.zeros(0, dtype=np.int64),
    np.zeros(0, dtype=np.int64),
    np.zeros(0, dtype=np.int64),
    np.zeros(0),
    np.zeros(0, dtype=np.int64),
)


def front_edges(model: World) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ids, end nodes, border lengths and midpoints of the front edges, recomputed only when the
    model's cached front (:meth:`FrontlineModel.front_edge_mask`) changes.

    Parameters
    ----------
    model : World
        Reads the model's front; caches the geometry in ``model.caches``.

    Returns
    -------
    ids, u, v, border_km, mid : ndarray
        Shapes (n,), (n,), (n,), (n,) and (n, 2).
    """
    mask = model.front_edge_mask()
    hit = model.caches.front_geometry
    if hit is None or hit[0] is not mask:
        ids = model.front_edge_ids()  # flatnonzero(mask), int64, ascending
        geometry = front_geometry(
            ids, model.edge_u, model.edge_v, model.theatre.edge_border_km, model.xy
        )
        hit = model.caches.front_geometry = (mask, ids, *geometry)
    _, ids, u, v, border, mid = hit
    return ids, u, v, border, mid


__all__ = ["front_edges", "nearest_unit", "presence", "presence_reference"]
