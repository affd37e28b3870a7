"""Phase 4, movement and consequences (MECHANICS M4-M8, M10).

In order:
1. losses from combat come off the units; cohesion falls with the day's loss fraction;
2. penetration accumulates on each defended node (the fastest advance into it counts); a node
   changes hands when penetration reaches its depth (sqrt of its area), or when its defender's
   losses pass ``defender_withdrawal_loss`` and it cedes the ground (Epstein);
3. fortification grows where the defender is dense enough, and glide bombs wear it down;
4. pockets of territory with no hub and no unit of their holder are mopped up;
5. units on lost nodes fall back to a neighbouring own node; with none, they are encircled and
   break out to the nearest own ground, leaving prisoners behind;
6. supply reaches the units; cut-off units use up stocks and surrender at a rate that grows as
   supply and cohesion fall;
7. units out of contact recover cohesion; replacements arrive after training and fill units up,
   and a pool of surplus recruits forms new units in reserve.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from sim.combat import CombatResult
from sim.jit import advance, apply_losses, fill_up, fortify, supply_units
from sim.units import REFIT, RESERVE

if TYPE_CHECKING:
    from sim.model import FrontlineModel

HASTY = 1.0  # fortification level of a hasty defence
MIN_SURRENDER_RATE = 0.003  # Dupuy Institute capture table: ~0.3%/day even when not enveloped
MOP_UP_SEARCH_NODES = 4000  # past this many cut-off nodes, the whole graph's components


def movement_phase(model: FrontlineModel, result: CombatResult) -> None:
    """Phase 4: apply today's combat result to units and ground (see module doc)."""
    _apply_losses(model, result.unit_losses)
    flips = _advance(model, result)
    _fortify(model, result)
    if len(flips):
        _change_hands(model, flips)
        _change_hands(model, _mop_up(model))
        _fall_back(model)
    if _supply_units(model):  # a garrison died: its ground may now be an empty pocket
        _change_hands(model, _mop_up(model))
    _replace(model)


def _apply_losses(model: FrontlineModel, losses: np.ndarray) -> None:
    """Losses come off the units (at most their men); cohesion falls with the day's loss
    fraction."""
    u = model.units
    n = u.n
    model.state.losses_today = np.array(
        apply_losses(
            losses,
            u.personnel[:n],
            u.establishment[:n],
            u.losses_total[:n],
            u.losses_since_refit[:n],
            u.cohesion[:n],
            u.side[:n],
            model.p.cohesion_loss_per_loss,
            np.empty((2, n)),
        )
    )


def _advance(model: FrontlineModel, r: CombatResult) -> np.ndarray:
    """Penetration grows by the fastest advance into each node; Epstein's withdrawal reads
    sustained losses (an exponential moving average, so that one day's intensity shock does
    not empty a position). Returns the nodes that change hands, ascending."""
    gain, today = _node_scratch(model)
    return advance(
        r.defended_node,
        r.outcome.advance_km,
        r.assault,
        r.outcome.losses_d,
        r.engaged_d,
        model.penetration,
        model.loss_memory,
        model.depth_km,
        1.0 - 1.0 / model.p.withdrawal_memory_days,
        model.p.defender_withdrawal_loss,
        gain,
        today,
    )


def _fortify(model: FrontlineModel, r: CombatResult) -> None:
    """Both sides dig in where they hold the front densely enough, more slowly on a node under
    assault, where the works are being fought over; glide bombs wear them down (M5). Troops
    holding ground are at least in a hasty defence (QJM posture 1.3) from the first day; "none"
    is left for empty ground."""
    p, t = model.p, model.theatre
    density, _ = _node_scratch(model)
    assaulted = model.caches.node_flags
    if assaulted is None:
        assaulted = model.caches.node_flags = np.zeros(t.n_nodes, dtype=bool)
    fortify(
        t.edge_u[r.edges],
        t.edge_v[r.edges],
        t.edge_border_km[r.edges],
        r.defended_node,
        r.engaged_a,
        r.engaged_d,
        r.assault,
        r.glide_bombs,
        model.fortification,
        HASTY,
        p.fortification_build_rate,
        p.fortification_density_needed,
        p.fortification_under_assault,
        p.glide_bomb_fortification_damage,
        density,
        assaulted,
    )


def _node_scratch(model: FrontlineModel) -> tuple[np.ndarray, np.ndarray]:
    # Two zeroed float arrays over the nodes, reused day after day (the kernels zero them).
    scratch = model.caches.node_float_scratch
    if scratch is None:
        n = model.theatre.n_nodes
        scratch = model.caches.node_float_scratch = (np.zeros(n), np.zeros(n))
    return scratch


def _change_hands(model: FrontlineModel, nodes: np.ndarray) -> None:
    if len(nodes) == 0:
        return
    old = model.control[nodes].copy()
    model.control[nodes] = 1 - old
    model.penetration[nodes] = 0.0
    model.loss_memory[nodes] = 0.0
    model.fortification[nodes] = 0.0
    model.supply_stale = True
    # The day being simulated ends in the state dated one day after model.date.
    label = model.date + timedelta(days=1)
    names = model.theatre.name
    for node, was in zip(nodes.tolist(), old.tolist(), strict=True):
        model.events.append((label, node, was, 1 - was))
        name = names[node]
        if name and name not in model.falls:
            model.falls[name] = label


def _mop_up(model: FrontlineModel) -> np.ndarray:
    """Nodes in pockets holding neither a hub nor a unit of their side pass to the other side.

    Only nodes cut off from every hub within the tether can be in such a pocket (a node the
    supply search reaches shares its hub's component), and they are few: the supply forests,
    brought up to date with today's changes of hands, say which they are. Among them, a
    component (of the edges inside the side's ground) is kept if a node of it holds a unit of
    the side or borders a supplied node of the side. The same nodes, in the same order, as
    :func:`mop_up_reference` finds from the components of the whole graph.
    """
    net, control, limit = model.supply_net, model.control, model.p.supply_tether_km
    if not net.incremental:
        return mop_up_reference(model)
    u = model.units
    alive = np.flatnonzero(u.alive[: u.n])
    garrisons = np.zeros(len(control), dtype=bool)
    garrisons[u.node[alive][control[u.node[alive]] == u.side[alive]]] = True
    out = []
    for side in (0, 1):
        tree = model.supply_trees[side]
        if tree is None:
            tree = model.supply_trees[side] = net.tree(control, side, limit)
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
    net, cut: np.ndarray, supplied: np.ndarray, garrisons: np.ndarray, parts: dict, side: int
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
    return keep[label]


def mop_up_reference(model: FrontlineModel) -> np.ndarray:
    """What :func:`_mop_up` finds, from the components of the whole graph of edges inside each
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
    keep[label[u.node[alive][model.control[u.node[alive]] == u.side[alive]]]] = True
    return np.flatnonzero(~keep[label])


def _fall_back(model: FrontlineModel) -> None:
    u = model.units
    alive = np.flatnonzero(u.alive[: u.n])
    stranded = alive[model.control[u.node[alive]] != u.side[alive]]
    indptr, indices = model.neighbors[0], model.neighbors[1]
    for row in stranded:
        node, side = int(u.node[row]), int(u.side[row])
        nbrs = indices[indptr[node] : indptr[node + 1]]
        own = nbrs[model.control[nbrs] == side]
        if len(own):
            target = int(own[np.argmax(model.supply_level[side, own])])
        else:
            # Encircled: break out to the nearest own ground, leaving prisoners behind.
            held = np.flatnonzero(model.control == side)
            if len(held) == 0:
                model.unit(int(row)).remove()
                continue
            _, k = cKDTree(model.xy[held]).query(model.xy[node])
            target = int(held[k])
            captured = u.personnel[row] * model.p.pocket_surrender_rate
            u.personnel[row] -= captured
            u.captured_total[row] += captured
        model.unit(int(row)).move_to_node(target)


def _supply_units(model: FrontlineModel) -> bool:
    """Deliver supply; cut-off units starve and surrender: hunger and isolation erode cohesion,
    which in turn speeds surrender (M8). True if a unit died."""
    p, u = model.p, model.units
    n = u.n
    dead = supply_units(
        u.alive[:n],
        u.side[:n],
        u.node[:n],
        u.posture[:n],
        u.personnel[:n],
        u.establishment[:n],
        u.supply[:n],
        u.cohesion[:n],
        u.captured_total[:n],
        model.connected,
        model.supply_level,
        1.0 - p.pocket_supply_decay,
        p.pocket_supply_decay,
        p.pocket_surrender_rate,
        MIN_SURRENDER_RATE,
        p.cohesion_recovery,
        p.cohesion_recovery_in_line,
        RESERVE,
    )
    for row in dead:
        model.unit(int(row)).remove()
    return len(dead) > 0


def _replace(model: FrontlineModel) -> None:
    """Recruits join after the training delay; surplus forms new units in reserve (M10)."""
    from sim.command import _rear_node, new_units

    p, u = model.p, model.units
    pipe = model.recruit_pipeline
    arriving = pipe[:, 0].copy()
    pipe[:, :-1] = pipe[:, 1:]
    # Only the share of each side's intake that reaches its line units joins the theatre's
    # units (x * 1.0 is exact, so the default share leaves runs unchanged bit for bit).
    pipe[:, -1] = [
        model.inputs["ukraine_recruits_per_day"] * p.ukraine_recruit_line_share,
        model.inputs["russia_recruits_per_day"] * p.russia_recruit_line_share,
    ]
    n = u.n  # units formed today are not filled up today
    buf = np.empty((2, n))
    for side in (0, 1):
        pool = model.recruit_pool[side] + arriving[side]
        # Refitting units are filled first: that is what pulling them out of the line is for.
        pool = np.float64(
            fill_up(
                u.alive[:n],
                u.side[:n],
                u.posture[:n],
                u.establishment[:n],
                u.personnel[:n],
                side,
                pool,
                REFIT,
                buf,
            )
        )
        est = p.ukraine_unit_personnel if side == 0 else p.russia_unit_personnel
        if pool >= est and (model.control == side).any():
            anchor = int(model.sectors.anchor_node[0])
            count = int(pool // est)
            new_units(model, side, 0, np.full(count, _rear_node(model, side, anchor)), RESERVE)
            pool -= count * est
        model.recruit_pool[side] = pool
