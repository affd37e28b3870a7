"""Ground (MECHANICS M4, M7): advance, withdrawal and change of hands.

Penetration accumulates on each defended node (the fastest advance into it counts); a node
changes hands when penetration reaches its depth (the square root of its area), or when its
defenders' averaged losses pass ``defender_withdrawal_loss`` and they cede it (Epstein's
withdrawal). Every change of hands, whatever its cause (also a pocket mopped up,
:mod:`sim.pockets`), goes through :func:`change_hands`, which records the events and the named
places' fall dates.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np

from sim.kernels.ground import advance as _advance_kernel

if TYPE_CHECKING:
    from sim.combat import CombatResult
    from sim.state import World


def advance(model: World, r: CombatResult) -> np.ndarray:
    """Penetration grows by the fastest advance into each node; nodes fall when it reaches
    their depth, or when their defenders cede them (Epstein's withdrawal, M4, M7).

    Epstein's withdrawal reads sustained losses, an exponential moving average over
    ``withdrawal_memory_days`` (so that one day's intensity shock does not empty a position),
    against ``defender_withdrawal_loss``.

    Parameters
    ----------
    model : World
        Reads the state's penetration and averaged losses, and writes them.
    r : CombatResult
        Today's combat.

    Returns
    -------
    ndarray of int
        The nodes that change hands today, ascending (:func:`change_hands` applies them).
    """
    gain, today = model.caches.node_floats(model.theatre.n_nodes)
    flips: np.ndarray = _advance_kernel(
        r.defended_node,
        r.outcome.advance_km,
        r.assault,
        r.outcome.losses_d,
        r.engaged_d,
        model.state.penetration,
        model.state.loss_memory,
        model.depth_km,
        1.0 - 1.0 / model.p.withdrawal_memory_days,
        model.p.defender_withdrawal_loss,
        gain,
        today,
    )
    return flips


def change_hands(model: World, nodes: np.ndarray) -> None:
    """Pass ``nodes`` to the other side; record the changes and the fall dates.

    Each node starts afresh for its new holder (no penetration, averaged losses or
    fortification) and supply is marked stale. Every change is appended to ``state.events``; a
    named place's first change of hands, in either direction, sets ``state.falls[name]``. The
    day being simulated ends in the state dated one day after ``model.date``, so that is the
    date recorded.

    Parameters
    ----------
    model : World
        Writes the state's control, penetration, averaged losses, fortification, events and falls.
    nodes : ndarray of int
        The nodes changing hands (may be empty).
    """
    if len(nodes) == 0:
        return
    old = model.state.control[nodes].copy()
    model.state.control[nodes] = 1 - old
    model.state.penetration[nodes] = 0.0
    model.state.loss_memory[nodes] = 0.0
    model.state.fortification[nodes] = 0.0
    model.state.supply_stale = True
    # The day being simulated ends in the state dated one day after model.date.
    label = model.date + timedelta(days=1)
    names = model.theatre.name
    for node, was in zip(nodes.tolist(), old.tolist(), strict=True):
        model.state.events.append((label, node, was, 1 - was))
        name = names[node]
        if name and name not in model.state.falls:
            model.state.falls[name] = label


__all__ = ["advance", "change_hands"]
