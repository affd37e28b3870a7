"""Ground (MECHANICS M4, M7): advance, withdrawal and change of hands.

Penetration accumulates on each defended node (the fastest advance into it counts); a node
changes hands when penetration reaches its depth (the square root of its area), or when its
defenders' averaged losses pass ``defender_withdrawal_loss`` and they cede it (Epstein's
withdrawal). Every change of hands, whatever its cause (also a pocket mopped up,
:mod:`sim.pockets`), goes through :func:`change_hands`, which records the events and the named
places' fall dates.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np

from sim.kernels.ground import advance as _advance_kernel

if TYPE_CHECKING:
    from sim.combat import CombatResult
    from sim.params import Params
    from sim.state import Caches, State, TheatreArrays


def advance(
    state: State, params: Params, theatre: TheatreArrays, caches: Caches, r: CombatResult
) -> np.ndarray:
    """Penetration grows by the fastest advance into each node; nodes fall when it reaches
    their depth, or when their defenders cede them (Epstein's withdrawal, M4, M7).

    Epstein's withdrawal reads sustained losses, an exponential moving average over
    ``withdrawal_memory_days`` (so that one day's intensity shock does not empty a position),
    against ``defender_withdrawal_loss``.

    Parameters
    ----------
    state : State
        Its penetration and averaged losses are brought up to date.
    params : Params
        ``withdrawal_memory_days`` and ``defender_withdrawal_loss``.
    theatre : TheatreArrays
        A node's depth is the square root of its area.
    caches : Caches
        Scratch arrays.
    r : CombatResult
        Today's combat.

    Returns
    -------
    ndarray of int
        The nodes that change hands today, ascending (:func:`change_hands` applies them).
    """
    gain, today = caches.node_floats(theatre.n_nodes)
    depth = caches.node_depth_km
    if depth is None:  # made once, not every day
        depth = caches.node_depth_km = np.sqrt(theatre.area_km2)
    flips: np.ndarray = _advance_kernel(
        r.defended_node,
        r.outcome.advance_km,
        r.assault,
        r.outcome.losses_d,
        r.engaged_d,
        state.penetration,
        state.loss_memory,
        depth,
        1.0 - 1.0 / params.withdrawal_memory_days,
        params.defender_withdrawal_loss,
        gain,
        today,
    )
    return flips


def change_hands(state: State, theatre: TheatreArrays, today: date, nodes: np.ndarray) -> None:
    """Pass ``nodes`` to the other side; record the changes and the fall dates.

    Each node starts afresh for its new holder (no penetration, averaged losses or
    fortification) and supply is marked stale. Every change is appended to ``state.events``; a
    named place's first change of hands, in either direction, sets ``state.falls[name]``. The
    day being simulated ends in the state dated one day after ``today``, so that is the date
    recorded.

    Parameters
    ----------
    state : State
        Its control, penetration, averaged losses, fortification, events and falls change.
    theatre : TheatreArrays
        The places' names.
    today : date
        The date of the day being simulated (``model.date``).
    nodes : ndarray of int
        The nodes changing hands (may be empty).
    """
    if len(nodes) == 0:
        return
    old = state.control[nodes].copy()
    state.control[nodes] = 1 - old
    state.penetration[nodes] = 0.0
    state.loss_memory[nodes] = 0.0
    state.fortification[nodes] = 0.0
    state.supply_stale = True
    # The day being simulated ends in the state dated one day after today.
    label = today + timedelta(days=1)
    names = theatre.name
    for node, was in zip(nodes.tolist(), old.tolist(), strict=True):
        state.events.append((label, node, was, 1 - was))
        name = names[node]
        if name and name not in state.falls:
            state.falls[name] = label


__all__ = ["advance", "change_hands"]
