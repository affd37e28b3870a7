"""Compiled pass of supply to the units and surrender in pockets (:mod:`sim.pockets`).

Compiled with Numba; bit-identical to numpy (see :mod:`sim.kernels`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def supply_units(
    units,
    connected,
    supply_level,
    decay_keep,
    decay,
    surrender,
    min_surrender,
    recovery_reserve,
    recovery_line,
    reserve_posture,
    destroyed_share,
):
    """Supply reaches each living unit, or its stocks run down and, cut off, it loses cohesion
    and men to surrender; cohesion recovers (in place; see :func:`sim.pockets.supply_units`).
    Returns the rows of units now below ``destroyed_share`` of establishment."""
    alive, side, node, posture, personnel, establishment, supply, cohesion, captured_total = units
    dead = np.empty(len(alive), dtype=np.int64)
    n_dead = 0
    for i in range(len(alive)):
        if not alive[i]:
            continue
        s, v = side[i], node[i]
        linked = connected[s, v]
        if linked:
            supply[i] = supply_level[s, v]
        else:
            supply[i] = supply[i] * decay_keep
            x = cohesion[i] - decay * (1 - supply[i])
            cohesion[i] = x if x >= 0.0 else 0.0  # np.maximum(0.0, x)
            rate = surrender * (1 - supply[i]) * (1 - cohesion[i])
            rate = min_surrender if min_surrender >= rate else rate
            captured = personnel[i] * rate
            personnel[i] -= captured
            captured_total[i] += captured
        recovery = recovery_reserve if posture[i] >= reserve_posture else recovery_line
        y = cohesion[i] + recovery * (1.0 if linked else 0.0)
        cohesion[i] = 1.0 if 1.0 <= y else y  # np.minimum(1.0, y)
        if personnel[i] < destroyed_share * establishment[i]:
            dead[n_dead] = i
            n_dead += 1
    return dead[:n_dead]


__all__ = ["supply_units"]


@njit(cache=True, nogil=True)
def fall_back_targets(indptr, indices, control, supply_level, nodes, sides):
    """Where each stranded unit (on ``nodes``, of ``sides``) falls back to: its own neighbour
    of highest supply level, the first in neighbour order among equals (``np.argmax``'s
    choice, NaN included), or -1 when it has no own neighbour (encircled)."""
    out = np.full(len(nodes), -1, dtype=np.int64)
    for i in range(len(nodes)):
        node, side = nodes[i], sides[i]
        best = -1
        best_level = 0.0
        for j in range(indptr[node], indptr[node + 1]):
            nbr = indices[j]
            if control[nbr] != side:
                continue
            level = supply_level[side, nbr]
            # np.argmax: the first maximum, a NaN counting as the maximum.
            if best < 0 or (not np.isnan(best_level) and (np.isnan(level) or level > best_level)):
                best, best_level = nbr, level
        out[i] = best
    return out
