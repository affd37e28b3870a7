"""Phase 2, command (MECHANICS M6, M9): where each side puts its units today.

Each side, every day:
1. executes the scenario's events dated today (redeployments, reinforcements, posture changes);
2. lands units whose road march has ended in their new sector;
3. rotates units past their breakpoint out of the line, replacing them from reserve;
4. returns refitted units to reserve;
5. commits one reserve to the sector under most pressure (attacking over defending power,
   measured yesterday) once that ratio passes ``reserve_commit_threshold``;
6. moves line units whose node is no longer on the front back into contact.

Placement spreads holding units along their sector's front (farthest-point sampling), and
concentrates attacking units on the front nodes nearest their sector's objective, so the density
of men per km of front, and hence the fighting, follows the order of battle.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from sim import fortification, surprise
from sim.forces import new_units, rear_node, rotate_and_refit
from sim.graph.kdtree import kd_build, kd_knn
from sim.kernels.forces import due_rows, rows_in_posture
from sim.kernels.front import farthest_from
from sim.march import send
from sim.sectors import Sectors
from sim.units import ATTACK, HOLD, POSTURE_INDEX, POSTURES, RESERVE, SIDE_INDEX, SIDES, TRANSIT

if TYPE_CHECKING:
    from sim.scenario import EventSpec
    from sim.state import World

# Modelling choices of the command mechanic (not calibrated; docs/model.md, M9):
# - an attacking sector concentrates its line units on the share of its front nodes nearest
#   its objective (the attack axis: a main effort on about a third of the sector's front);
ATTACK_AXIS_SHARE = 0.3
# - a sector lends a line unit to a threatened one only while its own threat is below this
#   share of reserve_commit_threshold, and only if it keeps more than MIN_DONOR_LINE units
#   in line (a sector is never stripped bare);
QUIET_SHARE = 0.5
MIN_DONOR_LINE = 3
# - a unit whose node left the front picks among its CONTACT_CANDIDATES nearest own front
#   nodes by distance (km) + CROWDING_KM per unit already there + OTHER_SECTOR_KM if the node
#   lies in another sector: a unit stays in its sector, then spreads out, then goes nearest.
CONTACT_CANDIDATES = 6
CROWDING_KM = 25.0
OTHER_SECTOR_KM = 1000.0


# --- where the front is --------------------------------------------------------------------
def own_front_nodes(model: World, side: int) -> np.ndarray:
    """Nodes held by ``side`` that touch an enemy-held node.

    Parameters
    ----------
    model : World
        Reads the state's control and the model's front.
    side : int
        The side.

    Returns
    -------
    ndarray of bool, shape (n_nodes,)
    """
    mask: np.ndarray = model.front_node_mask() & (model.state.control == side)
    return mask


def _own_fronts(model: World) -> list[np.ndarray]:
    """Both sides' :func:`own_front_nodes` (read-only), kept while the front is unchanged."""
    mask = model.front_node_mask()
    hit = model.caches.own_fronts
    if hit is None or hit[0] is not mask:
        fronts = [own_front_nodes(model, side) for side in (0, 1)]
        for f in fronts:
            f.setflags(write=False)
        hit = model.caches.own_fronts = (mask, fronts)
    return hit[1]


# _farthest_points' picks by (positions as bytes, n, first): every replication of a batch places
# its opening order of battle on the same fronts (~1.5 ms a model). Cleared when full.
_PICKS_CACHE: dict[tuple[bytes, int, int], np.ndarray] = {}
PICKS_CACHE_SIZE = 1024


def _farthest_points(xy: np.ndarray, n: int, first: int) -> np.ndarray:
    # Greedy farthest-point sampling: spreads n picks evenly over a sector's front nodes.
    key = (np.ascontiguousarray(xy, dtype=np.float64).tobytes(), n, first)
    picks = _PICKS_CACHE.get(key)
    if picks is None:
        if len(_PICKS_CACHE) >= PICKS_CACHE_SIZE:
            _PICKS_CACHE.clear()
        picks = _PICKS_CACHE[key] = _farthest_points_uncached(xy, n, first)
    return np.resize(picks, n)  # more units than nodes: several units share nodes


def _farthest_points_uncached(xy: np.ndarray, n: int, first: int) -> np.ndarray:
    chosen = [first]
    dist = np.hypot(*(xy - xy[first]).T)
    for _ in range(1, min(n, len(xy))):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.hypot(*(xy - xy[nxt]).T))
    picks = np.array(chosen)
    picks.setflags(write=False)
    return picks


def placement_nodes(
    model: World, side: int, sector: int, n: int, posture: int, front: np.ndarray
) -> np.ndarray:
    """Nodes for ``n`` line units of ``side`` in ``sector``.

    Holding units spread over the sector's front (farthest-point sampling; with
    ``hold_axis_share`` < 1 and an attacking enemy, over that share of it nearest the enemy's
    objective). Attacking units spread over the ``ATTACK_AXIS_SHARE`` of it nearest the sector
    objective (the attack axis). With no front in the sector, units stand on the side's nodes
    nearest the sector anchor.

    Parameters
    ----------
    model : World
        Reads the sectors, the state's control and postures.
    side, sector, n, posture : int
        Whose units, where, how many, and in which posture (HOLD or ATTACK).
    front : ndarray of bool
        The side's own front nodes (:func:`own_front_nodes`).

    Returns
    -------
    ndarray of int, shape (n,)
        A node per unit (several units share nodes when they outnumber the front nodes).
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    secs = model.sectors
    cand = secs.nodes_of(sector)
    cand = cand[front[cand]]
    if len(cand) == 0:
        own = np.flatnonzero(model.state.control == side)
        _, k = cKDTree(model.xy[own]).query(model.xy[secs.anchor_node[sector]], k=min(n, len(own)))
        return np.resize(own[np.atleast_1d(k)], n)
    target = model.state.objective[side, sector]
    if target < 0:
        target = secs.anchor_node[sector]
    d_target = np.hypot(*(model.xy[cand] - model.xy[target]).T)
    if posture == ATTACK:
        keep = max(n, int(math.ceil(ATTACK_AXIS_SHARE * len(cand))))
        order = np.argsort(d_target, kind="stable")[:keep]
        cand, d_target = cand[order], d_target[order]
    else:
        cand, d_target = _defended_stretch(model, side, sector, cand, d_target, n)
    picks = _farthest_points(model.xy[cand], n, int(np.argmin(d_target)))
    nodes: np.ndarray = cand[picks]
    return nodes


def _defended_stretch(
    model: World, side: int, sector: int, cand: np.ndarray, d_target: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    # Economy of force: where the enemy attacks this sector, its holders cover the stretch of
    # front nearest the enemy's objective (hold_axis_share of it) and only screen the rest.
    share = model.p.hold_axis_share
    enemy = 1 - side
    if share >= 1.0 or model.state.sector_posture[enemy, sector] != ATTACK:
        return cand, d_target
    # The enemy's attack axis lies around its objective, or its sector anchor without one
    # (as placement_nodes places attackers).
    objective = model.state.objective[enemy, sector]
    if objective < 0:
        objective = model.sectors.anchor_node[sector]
    d_enemy = np.hypot(*(model.xy[cand] - model.xy[objective]).T)
    keep = max(n, int(math.ceil(share * len(cand))))
    order = np.argsort(d_enemy, kind="stable")[:keep]
    return cand[order], d_target[order]


def set_up_order_of_battle(model: World) -> None:
    """Lay the sectors' initial fortification belts and create every unit of the scenario's
    order of battle: ``round(units × reserve_fraction)`` of each sector's units wait in reserve at
    the side's hub nearest the sector anchor, the rest stand in line (:func:`placement_nodes`).

    Parameters
    ----------
    model : World
        Its unit table is filled and its fortification laid.
    """
    fortification.lay_belts(model)
    for side, name in enumerate(SIDES):
        front = own_front_nodes(model, side)
        for k, spec in enumerate(model.sectors.specs):
            total = int(getattr(spec, f"{name}_units"))
            reserves = int(round(total * model.p.reserve_fraction))
            posture = int(model.state.sector_posture[side, k])
            nodes = placement_nodes(model, side, k, total - reserves, posture, front)
            new_units(model, side, k, nodes, posture)
            rear = rear_node(model, side, int(model.sectors.anchor_node[k]))
            new_units(model, side, k, np.full(reserves, rear), RESERVE)


# --- the daily phase -----------------------------------------------------------------------
def command_phase(model: World) -> None:
    """Phase 2: events, arrivals, rotation and refit, reserves and re-placement, in the order of
    the module docstring.

    Parameters
    ----------
    model : World
        Writes the unit table and the state's postures and surprise days.
    """
    fronts = _own_fronts(model)
    today = model.date  # a property that makes a new date each time it is read
    for event in model.spec.events:
        if event.date == today:
            _apply_event(model, event, fronts)
    _land_arrivals(model, fronts)
    rotate_and_refit(model)
    _commit_reserves(model)
    _restore_contact(model, fronts)


def _apply_event(model: World, event: EventSpec, fronts: list[np.ndarray]) -> None:
    """Carry out one scenario event: a posture change, a redeployment or a reinforcement (the
    scenario loader has checked that each names the fields its kind needs)."""
    side = SIDE_INDEX[event.side]
    secs = model.sectors
    if event.kind == "posture":
        assert event.sector is not None and event.posture is not None
        _change_posture(model, side, secs.index[event.sector], event.posture, fronts[side])
        return
    if event.kind == "objective":
        # The sector's line units turn to the new objective: placed for it as for a posture.
        assert event.sector is not None and event.objective is not None
        k = secs.index[event.sector]
        model.state.objective[side, k] = model.theatre.node_by_name(event.objective)
        posture = POSTURES[int(model.state.sector_posture[side, k])]
        _change_posture(model, side, k, posture, fronts[side])
        return
    assert event.units is not None
    if event.kind == "redeploy":
        assert event.from_sector is not None and event.to_sector is not None
        dst = secs.index[event.to_sector]
        arrival = _redeploy(model, side, secs.index[event.from_sector], dst, event.units)
    else:  # reinforce: new units appear at the sector's rear, ready today
        assert event.sector is not None
        dst = secs.index[event.sector]
        rear = rear_node(model, side, int(secs.anchor_node[dst]))
        new_units(model, side, dst, np.full(event.units, rear), TRANSIT, model.day)
        arrival = model.day
    if event.posture:
        model.state.sector_posture[side, dst] = POSTURE_INDEX[event.posture]
    if event.surprise:
        surprise.begin(model.state, side, dst, arrival)


def _change_posture(model: World, side: int, k: int, name: str, front: np.ndarray) -> None:
    # The side's line units of sector k take the new posture and are placed for it.
    u = model.units
    posture = POSTURE_INDEX[name]
    model.state.sector_posture[side, k] = posture
    rows = model.line_rows(side)
    rows = rows[u.sector[rows] == k]
    nodes = placement_nodes(model, side, k, len(rows), posture, front)
    for row, node in zip(rows, nodes, strict=True):
        u.posture[row] = posture
        model.unit(row).move_to_node(int(node))


def _redeploy(model: World, side: int, src: int, dst: int, units: int) -> int:
    """Send the ``units`` strongest line units of sector ``src`` to ``dst``; the day the last
    arrives (today with none)."""
    u = model.units
    rows = model.line_rows(side)
    rows = rows[u.sector[rows] == src]
    # The strongest units go: a commander sends formations fit for an offensive.
    rows = rows[np.argsort(-u.personnel[rows], kind="stable")][:units]
    for row in rows:
        send(model, int(row), dst)
    return int(u.arrival_day[rows].max()) if len(rows) else model.day


def _land_arrivals(model: World, fronts: list[np.ndarray]) -> None:
    u = model.units
    alive, posture_of, arrival_day = u.views("alive", "posture", "arrival_day")
    due = due_rows(alive, posture_of, arrival_day, TRANSIT, model.day)
    for row in due:
        side, k = int(u.side[row]), int(u.sector[row])
        posture = int(model.state.sector_posture[side, k])
        u.posture[row] = posture
        node = _least_covered(model, side, k, posture, fronts[side])
        model.unit(int(row)).move_to_node(node)


def _least_covered(model: World, side: int, k: int, posture: int, front: np.ndarray) -> int:
    """Front node of sector k farthest from the side's other line units (or nearest the
    objective, for an attacker), where an arriving unit adds most."""
    secs = model.sectors
    cand = secs.nodes_of(k)
    cand = cand[front[cand]]
    if len(cand) == 0:
        return int(placement_nodes(model, side, k, 1, posture, front)[0])
    if posture == ATTACK:
        goal = model.state.objective[side, k]
        target = goal if goal >= 0 else secs.anchor_node[k]
        d = np.hypot(*(model.xy[cand] - model.xy[target]).T)
        occupancy = np.bincount(model.units.node[model.line_rows(side)], minlength=len(front))
        return int(cand[np.lexsort((d, occupancy[cand]))[0]])
    # A holder sent to a sector under attack reinforces the stretch the enemy attacks, as the
    # holders already there do (economy of force), not the quiet end of the sector.
    cand, _ = _defended_stretch(model, side, k, cand, np.zeros(len(cand)), 1)
    rows = model.line_rows(side)
    if len(rows) == 0:
        return int(cand[0])
    return int(cand[farthest_from(model.xy[model.units.node[rows]], model.xy[cand])])


def _commit_reserves(model: World) -> None:
    """Each side moves at most one unit a day (M9).

    Where it is most threatened, once the threat passes ``reserve_commit_threshold``, it sends the
    nearest reserve; with no reserve left, the line unit nearest the threatened sector's anchor
    from the quiet holding sector with the most line units (a lateral transfer, as Ukraine's
    "fire brigades" of 2024; :func:`_quiet_sector_donors`). Otherwise, if it holds more
    reserves than its reserve fraction, it sends one to the sector where its own attack goes
    best (exploitation).
    """
    u = model.units
    alive, side_of, posture = u.views("alive", "side", "posture")
    threshold = model.p.reserve_commit_threshold
    for side in (0, 1):
        reserves, mine = rows_in_posture(alive, side_of, posture, side, RESERVE)
        # Sectors whose force the scenario's events alone set take no theatre reserves.
        open_ = model.sectors.reserves_sent[side]
        threat = np.where(open_, model.state.threat[side], 0.0)
        k = int(np.argmax(threat))
        target = model.sectors.anchor_node[k]
        if threat[k] > threshold:
            if len(reserves) == 0:
                reserves = _quiet_sector_donors(model, side, k)
            if len(reserves) == 0:
                continue
        else:
            attack = np.where(open_, model.state.attack_ratio[side], 0.0)
            k = int(np.argmax(attack))
            target = model.sectors.anchor_node[k]
            if len(reserves) <= model.p.reserve_fraction * mine or attack[k] <= 0:
                continue
        d = np.hypot(*(model.xy[u.node[reserves]] - model.xy[target]).T)
        send(model, int(reserves[np.argmin(d)]), k)
        model.state.threat[side, k] = (
            0.0  # one commitment per sector until pressure is measured again
        )


def _quiet_sector_donors(model: World, side: int, needy: int) -> np.ndarray:
    """Line units that could be spared: those of the side's holding sector, other than ``needy``,
    with the most line units among those whose threat is below ``QUIET_SHARE`` of the commit
    threshold and that have more than ``MIN_DONOR_LINE`` in line (never stripped bare)."""
    u = model.units
    rows = model.line_rows(side)
    counts = np.bincount(u.sector[rows], minlength=len(model.sectors.names))
    quiet = (
        (model.state.threat[side] < QUIET_SHARE * model.p.reserve_commit_threshold)
        & (model.state.sector_posture[side] == HOLD)
        & (counts > MIN_DONOR_LINE)
    )
    quiet[needy] = False
    if not quiet.any():
        return np.zeros(0, dtype=np.int64)
    donor = int(np.argmax(np.where(quiet, counts, -1)))
    donors: np.ndarray = rows[u.sector[rows] == donor]
    return donors


def _restore_contact(model: World, fronts: list[np.ndarray]) -> None:
    """Line units whose node left the front move to the nearest free front node of their side."""
    u = model.units
    for side in (0, 1):
        rows = model.line_rows(side)
        front = fronts[side]
        lost = rows[~front[u.node[rows]]]
        if len(lost) == 0:
            continue
        # flatnonzero(front): the side's front is a subset of the front nodes, whose ids
        # are cached.
        ids = model.front_node_ids()
        cand = ids[front[ids]]
        if len(cand) == 0:
            continue
        occupancy = np.bincount(u.node[rows], minlength=len(front)).astype(float)
        k = min(CONTACT_CANDIDATES, len(cand))
        dist, idx = _front_knn(model, side, front, cand, model.xy[u.node[lost]], k)
        for i, row in enumerate(lost):
            options = cand[idx[i]]
            same = model.sectors.of_node[options] == u.sector[row]
            # Prefer the own sector, then an empty node, then the nearest.
            score = dist[i] + CROWDING_KM * occupancy[options] + OTHER_SECTOR_KM * ~same
            node = int(options[np.argmin(score)])
            occupancy[node] += 1
            model.unit(int(row)).move_to_node(node)


def _front_knn(
    model: World, side: int, front: np.ndarray, cand: np.ndarray, xy: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """``cKDTree(model.xy[cand]).query(xy, k=k)`` as arrays of shape (len(xy), k): the k-d tree
    of a side's front nodes decides the order among equally near nodes. A compiled copy of
    scipy's tree (:func:`sim.graph.kdtree.kd_build`), kept while the side's front (the same array) is
    unchanged; scipy's own on the rare build the copy does not reproduce."""
    trees = model.caches.front_trees
    hit = trees.get(side)
    if hit is None or hit[0] is not front:
        points = np.ascontiguousarray(model.xy[cand])
        tree = kd_build(points)
        hit = trees[side] = (front, points, tree if tree[-1] else cKDTree(points))
    _, points, tree = hit
    if isinstance(tree, cKDTree):
        dist, idx = tree.query(xy, k=k)
        return dist.reshape(len(xy), k), idx.reshape(len(xy), k)
    dist, idx = kd_knn(points, tree, np.ascontiguousarray(xy), k)
    return dist, idx


# Sectors lives in sim.sectors; it is re-exported here for the modules that still import it
# from sim.command (batch, record, validate).
__all__ = [
    "Sectors",
    "command_phase",
    "own_front_nodes",
    "placement_nodes",
    "set_up_order_of_battle",
]
