"""Compiled passes of the forces mechanic (:mod:`sim.forces`): losses and replacements.

Compiled with Numba; bit-identical to numpy (see :mod:`sim.kernels`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernels.sums import np_sum


@njit(cache=True, nogil=True)
def apply_losses(
    losses,
    units,
    cohesion_per_loss,
    buf,
):
    """Today's losses off each unit (capped at its men), its loss counters and cohesion, in
    place (see :func:`sim.forces.apply_losses`); returns each side's total, summed as numpy
    sums the masked array (``buf``: scratch, shape (2, n))."""
    personnel, establishment, losses_total, losses_since_refit, cohesion, side = units
    c0 = c1 = 0
    for i in range(len(losses)):
        before = personnel[i]
        lost = losses[i] if losses[i] < before else before
        personnel[i] = before - lost
        losses_total[i] += lost
        losses_since_refit[i] += lost / establishment[i]
        frac = lost / before if before > 0 else 0.0
        x = cohesion[i] - cohesion_per_loss * frac
        if not np.isnan(x):  # np.clip(x, 0, 1): min(max(x, 0), 1)
            x = x if x > 0.0 else 0.0
            x = x if x < 1.0 else 1.0
        cohesion[i] = x
        if side[i] == 0:
            buf[0, c0] = lost
            c0 += 1
        elif side[i] == 1:
            buf[1, c1] = lost
            c1 += 1
    return np_sum(buf[0], c0), np_sum(buf[1], c1)


@njit(cache=True, nogil=True)
def fill_up(
    units,
    which,
    pool,
    refit,
    refit_weight,
    buf,
):
    """Recruits in ``pool`` fill side ``which``'s living units (in place), in proportion to
    their deficit, refitting units' deficits weighted by ``refit_weight``; returns what is left
    of the pool. Sums as numpy sums the masked arrays (``buf``: scratch, shape (2, n)).
    ``units``: the unit table's columns unpacked below (:meth:`sim.units.UnitTable.views`)."""
    alive, side, posture, establishment, personnel = units
    m = 0
    for i in range(len(alive)):
        if alive[i] and side[i] == which:
            x = establishment[i] - personnel[i]
            deficit = x if x >= 0.0 else 0.0  # np.maximum(x, 0.0)
            buf[0, m] = deficit * (refit_weight if posture[i] == refit else 1.0)
            m += 1
    total = np_sum(buf[0], m)
    if total > 0 and pool > 0:
        j = 0
        for i in range(len(alive)):
            if alive[i] and side[i] == which:
                x = establishment[i] - personnel[i]
                deficit = x if x >= 0.0 else 0.0
                share = pool * buf[0, j] / total
                give = deficit if deficit <= share else share  # np.minimum(deficit, share)
                personnel[i] += give
                buf[1, j] = give
                j += 1
        pool -= np_sum(buf[1], m)
    return pool


# --- which units: the unit table's small masks in one pass each (a few hundred rows, where
# numpy's per-call cost exceeds the work) ------------------------------------------------------
@njit(cache=True, nogil=True)
def rows_in_posture(alive, side, posture, which_side, which_posture):
    """Rows of side ``which_side``'s living units in posture ``which_posture``, ascending, and
    how many living units that side has."""
    out = np.empty(len(alive), dtype=np.int64)
    n = mine = 0
    for i in range(len(alive)):
        if alive[i] and side[i] == which_side:
            mine += 1
            if posture[i] == which_posture:
                out[n] = i
                n += 1
    return out[:n], mine


@njit(cache=True, nogil=True)
def worn_rows(alive, posture, losses_since_refit, breakpoint, line_top):
    """Rows of the living units in the line (posture <= ``line_top``) whose losses since their
    last refit reached their breakpoint, ascending."""
    out = np.empty(len(alive), dtype=np.int64)
    n = 0
    for i in range(len(alive)):
        if alive[i] and posture[i] <= line_top and losses_since_refit[i] >= breakpoint[i]:
            out[n] = i
            n += 1
    return out[:n]


@njit(cache=True, nogil=True)
def refitted_rows(
    alive, posture, personnel, establishment, cohesion, refit, min_strength, min_cohesion
):
    """Rows of the living units in posture ``refit`` back to ``min_strength`` of their
    establishment and ``min_cohesion``, ascending."""
    out = np.empty(len(alive), dtype=np.int64)
    n = 0
    for i in range(len(alive)):
        if (
            alive[i]
            and posture[i] == refit
            and personnel[i] >= min_strength * establishment[i]
            and cohesion[i] >= min_cohesion
        ):
            out[n] = i
            n += 1
    return out[:n]


@njit(cache=True, nogil=True)
def due_rows(alive, posture, arrival_day, transit, day):
    """Rows of the living units in posture ``transit`` whose march ends by ``day``, ascending."""
    out = np.empty(len(alive), dtype=np.int64)
    n = 0
    for i in range(len(alive)):
        if alive[i] and posture[i] == transit and arrival_day[i] <= day:
            out[n] = i
            n += 1
    return out[:n]


__all__ = ["apply_losses", "due_rows", "fill_up", "refitted_rows", "rows_in_posture", "worn_rows"]
