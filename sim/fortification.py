"""Fortification (MECHANICS M5): where each side's works stand, how they grow, what they do.

A node's fortification level ``phi`` runs from 0 (none) through 1 (hasty) and 2 (prepared) to 3
(fortified), for the side holding it:

- at the start, each sector's belt (:func:`lay_belts`);
- every day, both sides dig in where they hold the front densely enough, more slowly under
  assault, and glide bombs wear the works down (:func:`fortify`);
- a node that changes hands starts again at 0 for its new holder (:func:`sim.ground.change_hands`);
- in battle it multiplies the defender's power, cuts its casualties and slows the attacker's
  advance, by the tables below (read by :mod:`sim.combat`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.spatial import cKDTree

from sim.kernels.ground import fortify as _fortify_kernel
from sim.units import SIDES

if TYPE_CHECKING:
    from sim.combat import CombatResult
    from sim.params import Params
    from sim.state import Caches, State, TheatreArrays, World

# Fortification level phi in [0, 3]: none, hasty, prepared, fortified; interpolated between.
# The QJM/TNDM posture factors (Dupuy 1985, "Numbers, Predictions and War", and the TNDM
# manual): defence strength u_s, the defender's casualty factor u_cd, and the infantry advance
# rate v0 at force ratio 1 (km/day).
FORT_LEVELS = np.array([0.0, 1.0, 2.0, 3.0])
FORT_STRENGTH = np.array([1.0, 1.3, 1.5, 1.6])  # u_s, posture strength
FORT_DEF_CASUALTY = np.array([1.0, 0.80, 0.85, 0.90])  # u_cd
FORT_ADVANCE_KM = np.array([6.0, 4.2, 2.05, 1.1])  # v0 at R = 1, km/day (QJM infantry)
FORT_MAX = float(FORT_LEVELS[-1])  # the top of the scale: growth stops there
# Fortification level of troops holding ground from their first day: the QJM's hasty defence
# (posture factor 1.3); "none" is left for empty ground.
HASTY = float(FORT_LEVELS[1])
# Depth behind the front over which a sector's initial fortification lies (km): the depth of a
# first defensive belt, about 10-20 km (Russia's 2023 Zaporizhzhia lines; ISW, 2023).
FORT_BELT_KM = 15.0


def lay_belts(model: World) -> None:
    """Lay each sector's initial fortification belt.

    The sector's ``<side>_fortification`` level (scenario, default 1) goes on the side's own
    nodes of the sector within ``FORT_BELT_KM`` of its front.

    Parameters
    ----------
    model : World
        Writes the state's fortification.
    """
    for (side, k), belt in _belts(model).items():
        spec = model.sectors.specs[k]
        model.state.fortification[belt] = getattr(spec, f"{SIDES[side]}_fortification")


# The belts' nodes by (theatre, control map, sectors): every model of a scenario lays the same
# ones, and finding them is most of a model's construction. A few scenarios' worth are kept.
_BELT_CACHE: dict[tuple[Any, ...], tuple[Any, dict[tuple[int, int], np.ndarray]]] = {}
_BELT_CACHE_SIZE = 8


def _belts(model: World) -> dict[tuple[int, int], np.ndarray]:
    """Nodes of each (side, sector) belt: the side's own nodes of the sector within
    ``FORT_BELT_KM`` of its front there (a function of the theatre, the control map and the
    sectors)."""
    control = model.state.control
    key = (id(model.theatre), control.tobytes(), model.sectors.specs)
    hit = _BELT_CACHE.get(key)
    if hit is not None and hit[0] is model.theatre:  # hit[0]: the id's theatre
        return hit[1]
    belts: dict[tuple[int, int], np.ndarray] = {}
    for side in range(len(SIDES)):
        front = model.front_node_mask() & (control == side)
        own = np.flatnonzero(control == side)
        tree = cKDTree(model.xy[own])
        for k in range(len(model.sectors.specs)):
            edge = np.flatnonzero(front & (model.sectors.of_node == k))
            if len(edge):
                near = np.unique(
                    np.concatenate(tree.query_ball_point(model.xy[edge], FORT_BELT_KM))
                )
                belt = own[near]
                belt = belt[model.sectors.of_node[belt] == k]
                belt.setflags(write=False)  # shared by the models of the process
                belts[side, k] = belt
    if len(_BELT_CACHE) >= _BELT_CACHE_SIZE:
        _BELT_CACHE.clear()
    _BELT_CACHE[key] = (model.theatre, belts)
    return belts


def fortify(
    state: State, params: Params, theatre: TheatreArrays, caches: Caches, r: CombatResult
) -> None:
    """Both sides dig in where they hold the front densely enough; glide bombs wear the works
    down (M5).

    On each node touched by a fought edge, with ρ the most men engaged per km of border there:
    ``φ ← max(φ, HASTY) + g_f · min(1, ρ/ρ_prep) · (under_assault if assaulted) · (1 − φ/FORT_MAX)``,
    then minus the glide-bomb damage, clipped to [0, ``FORT_MAX``]. Troops holding ground are
    at least in a hasty defence from the first day; "none" is left for empty ground.

    Parameters
    ----------
    state : State
        Its fortification grows and wears.
    params : Params
        The ``fortification_*`` rates and ``glide_bomb_fortification_damage``.
    theatre : TheatreArrays
        The edges' ends and border lengths.
    caches : Caches
        Scratch arrays.
    r : CombatResult
        Today's combat (the fought edges, engaged men, assaults and glide bombs).
    """
    p, t = params, theatre
    density, _ = caches.node_floats(t.n_nodes)
    assaulted = caches.node_flags
    if assaulted is None:
        assaulted = caches.node_flags = np.zeros(t.n_nodes, dtype=bool)
    _fortify_kernel(
        t.edge_u[r.edges],
        t.edge_v[r.edges],
        t.edge_border_km[r.edges],
        r.defended_node,
        r.engaged_a,
        r.engaged_d,
        r.assault,
        r.glide_bombs,
        state.fortification,
        HASTY,
        FORT_MAX,
        p.fortification_build_rate,
        p.fortification_density_needed,
        p.fortification_under_assault,
        p.glide_bomb_fortification_damage,
        density,
        assaulted,
    )


__all__ = [
    "FORT_ADVANCE_KM",
    "FORT_BELT_KM",
    "FORT_DEF_CASUALTY",
    "FORT_LEVELS",
    "FORT_MAX",
    "FORT_STRENGTH",
    "HASTY",
    "fortify",
    "lay_belts",
]
