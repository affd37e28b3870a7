"""Pockets (MECHANICS M8): encirclement, cut-off supply and surrender.

Who is cut off is decided by supply (:mod:`sim.supply`: ``connected``). Here:

- pockets of ground holding neither a hub nor a unit of their holder are mopped up
  (:func:`mop_up`, with :func:`mop_up_reference` its oracle and fallback);
- units on lost ground fall back, or, encircled, break out leaving prisoners
  (:func:`fall_back`);
- supply reaches the units; cut-off units use up their stocks, lose cohesion and surrender at a
  rate that grows as supply and cohesion fall (:func:`supply_units`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from sim.kernels.pockets import fall_back_targets as _fall_back_targets
from sim.kernels.pockets import supply_units as _supply_units_kernel
from sim.units import RESERVE

if TYPE_CHECKING:
    from sim.state import World
    from sim.supply import SupplyNetwork

# Dupuy Institute capture table: ~0.3%/day of a force surrenders even when not enveloped.
MIN_SURRENDER_RATE = 0.003
# A unit below this share of its establishment no longer exists as a unit: the model stops
# tracking the remnant (a modelling choice, not calibrated; a unit stops fighting long before,
# through its breakpoint and cohesion).
DESTROYED_SHARE = 0.05
MOP_UP_SEARCH_NODES = 4000  # past this many cut-off nodes, the whole graph's components


def mop_up(model: World) -> np.ndarray:
    """Nodes in pockets holding neither a hub nor a unit of their side pass to the other side.

    Only nodes cut off from every hub within the tether can be in such a pocket (a node the
    supply search reaches shares its hub's component), and they are few: the supply forests,
    brought up to date with today's changes of hands, say which they are. Among them, a
    component (of the edges inside the side's ground) is kept if a node of it holds a unit of
    the side or borders a supplied node of the side. The same nodes, in the same order, as
    :func:`mop_up_reference` finds from the components of the whole graph.
    """
    net, control, limit = model.supply_net, model.state.control, model.p.supply_tether_km
    if not net.incremental:
        return mop_up_reference(model)
    u = model.units
    alive = np.flatnonzero(u.alive[: u.n])
    garrisons = np.zeros(len(control), dtype=bool)
    garrisons[u.node[alive][control[u.node[alive]] == u.side[alive]]] = True
    out = []
    for side in (0, 1):
        tree = model.state.supply_trees[side]
        if tree is None:
            tree = model.state.supply_trees[side] = net.tree(control, side, limit)
        else:
            net.update_tree(tree, control, side, limit)
        supplied = np.isfinite(tree.dist)
        cut = np.flatnonzero(tree.own & ~supplied)
        if len(cut) > MOP_UP_SEARCH_NODES:
            return mop_up_reference(model)
        if len(cut):
            parts = model.caches.cut_off_parts
            out.append(cut[~_anchored(net, cut, supplied, garrisons, parts, side)])
    return np.sort(np.concatenate(out)) if out else np.zeros(0, dtype=np.intp)


def _anchored(
    net: SupplyNetwork,
    cut: np.ndarray,
    supplied: np.ndarray,
    garrisons: np.ndarray,
    parts: dict[int, tuple[Any, ...]],
    side: int,
) -> np.ndarray:
    """Which of a side's cut-off nodes ``cut`` are joined, through cut-off nodes, to one holding
    a unit of the side or bordering a supplied node of the side.

    The components of the cut-off nodes only change when they do (rarely: most are the same
    stretch beyond the tether day after day), so they are kept in ``parts[side]`` with the
    graph entries of their rows and reused while ``cut`` is unchanged.
    """
    hit = parts.get(side)
    if hit is not None and np.array_equal(hit[0], cut):
        _, row, nbr, label = hit
    else:
        # Every graph entry (edge end) of the cut-off nodes' rows, in the network's layout.
        lo, hi = net._indptr[cut], net._indptr[cut + 1]
        lens = hi - lo
        entry = np.arange(lens.sum()) + np.repeat(lo - np.cumsum(lens) + lens, lens)
        row = np.repeat(np.arange(len(cut)), lens)
        nbr = net._entry_col[entry]
        local = np.full(len(supplied), -1, dtype=np.int32)
        local[cut] = np.arange(len(cut), dtype=np.int32)
        inside = local[nbr] >= 0  # the neighbour is cut off too (so of the same side)
        # The entries come row by row, both directions of every edge: a symmetric CSR matrix
        # whose strong components are the undirected ones (no transpose, no COO conversion).
        indptr = np.zeros(len(cut) + 1, dtype=np.int32)
        np.cumsum(np.bincount(row[inside], minlength=len(cut)), out=indptr[1:])
        graph = csr_array(
            (np.ones(indptr[-1]), local[nbr[inside]], indptr), shape=(len(cut), len(cut))
        )
        _, label = connected_components(graph, directed=True, connection="strong")
        parts[side] = (cut, row, nbr, label)
    anchor = garrisons[cut]
    anchor[row[supplied[nbr]]] = True
    keep = np.zeros(label.max() + 1, dtype=bool)
    keep[label[anchor]] = True
    anchored: np.ndarray = keep[label]
    return anchored


def mop_up_reference(model: World) -> np.ndarray:
    """What :func:`mop_up` finds, from the components of the whole graph of edges inside each
    side's ground (the oracle of its differential test, and its fallback)."""
    u = model.units
    # The edges inside one side's ground, both directions (the supply network's cached
    # structure): on a symmetric graph the strong components are the undirected components,
    # and finding them needs no transpose.
    graph = model.supply_net.graph(~model.front_edge_mask())
    _, label = connected_components(graph, directed=True, connection="strong")
    keep = np.zeros(label.max() + 1, dtype=bool)
    keep[label[model.supply_net.hub_nodes]] = True
    alive = np.flatnonzero(u.alive[: u.n])
    keep[label[u.node[alive][model.state.control[u.node[alive]] == u.side[alive]]]] = True
    return np.flatnonzero(~keep[label])


def fall_back(model: World) -> None:
    """Units on ground their side lost fall back, or, encircled, break out.

    A unit falls back to its best-supplied own neighbour; with none it is encircled, breaks out
    to the nearest own node and leaves ``pocket_surrender_rate`` of its men behind as prisoners
    (``captured_total``). A side with no ground left loses the unit.

    Parameters
    ----------
    model : World
        Moves units of the unit table; reads the state's control and supply levels.
    """
    u = model.units
    control = model.state.control
    alive = np.flatnonzero(u.alive[: u.n])
    stranded = alive[control[u.node[alive]] != u.side[alive]]
    indptr, indices = model.neighbors[0], model.neighbors[1]
    # A fast-moving front strands a dozen units a day: their best own neighbours are found in
    # one compiled pass (a Python loop over them cost ~25 us a unit).
    targets = _fall_back_targets(
        indptr, indices, control, model.state.supply_level, u.node[stranded], u.side[stranded]
    )
    # Each side's own ground and its k-d tree, built for the first encircled unit of the side
    # and reused by the others (falling back moves units, never control): on a fast-moving
    # front several units a day break out, and a tree over ~7,000 nodes costs ~1 ms.
    grounds: dict[int, tuple[np.ndarray, cKDTree | None]] = {}
    for row, target in zip(stranded.tolist(), targets.tolist(), strict=True):
        if target < 0:
            node, side = int(u.node[row]), int(u.side[row])
            # Encircled: break out to the nearest own ground, leaving prisoners behind.
            ground = grounds.get(side)
            if ground is None:
                held = np.flatnonzero(control == side)
                ground = grounds[side] = (held, cKDTree(model.xy[held]) if len(held) else None)
            held, tree = ground
            if tree is None:
                model.unit(int(row)).remove()
                continue
            _, k = tree.query(model.xy[node])
            target = int(held[k])
            captured = u.personnel[row] * model.p.pocket_surrender_rate
            u.personnel[row] -= captured
            u.captured_total[row] += captured
        model.unit(int(row)).move_to_node(target)


def supply_units(model: World) -> bool:
    """Deliver supply; cut-off units starve and surrender (M8).

    A connected unit's supply is its node's level; a cut-off unit's stocks decay by
    ``pocket_supply_decay`` a day, its cohesion falls with hunger, and it surrenders
    ``max(MIN_SURRENDER_RATE, pocket_surrender_rate · (1 − s)(1 − κ))`` of its men a day.
    Connected units recover cohesion at ``cohesion_recovery`` out of the line (reserve, refit,
    transit) and ``cohesion_recovery_in_line`` in it. A unit below ``DESTROYED_SHARE`` of its establishment is removed.

    Parameters
    ----------
    model : World
        Reads the state's supply levels and connection; writes the unit table.

    Returns
    -------
    bool
        True if a unit was removed (its ground may now be an empty pocket).
    """
    p, u = model.p, model.units
    dead = _supply_units_kernel(
        u.views(
            "alive",
            "side",
            "node",
            "posture",
            "personnel",
            "establishment",
            "supply",
            "cohesion",
            "captured_total",
        ),
        model.state.connected,
        model.state.supply_level,
        1.0 - p.pocket_supply_decay,
        p.pocket_supply_decay,
        p.pocket_surrender_rate,
        MIN_SURRENDER_RATE,
        p.cohesion_recovery,
        p.cohesion_recovery_in_line,
        RESERVE,
        DESTROYED_SHARE,
    )
    for row in dead:
        model.unit(int(row)).remove()
    return len(dead) > 0


__all__ = ["MIN_SURRENDER_RATE", "fall_back", "mop_up", "mop_up_reference", "supply_units"]
