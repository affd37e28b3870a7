"""Compiled passes of ground and fortification (:mod:`sim.ground`, :mod:`sim.fortification`).

Compiled with Numba; bit-identical to numpy (see :mod:`sim.kernels`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


# --- movement ---------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def advance(
    defended,
    advance_km,
    assault,
    losses_d,
    engaged_d,
    penetration,
    loss_memory,
    depth_km,
    keep,
    withdrawal_loss,
    gain,
    today,
):
    """Penetration and the defenders' loss memory after today's fighting (in place), and the
    nodes that change hands, ascending (see :func:`sim.ground.advance`).

    ``gain`` and ``today`` are zero scratch arrays, one entry per node, left zero on return.
    """
    for i in range(len(defended)):
        n = defended[i]
        if advance_km[i] > gain[n]:
            gain[n] = advance_km[i]
        if assault[i]:
            frac = losses_d[i] / engaged_d[i] if engaged_d[i] > 0 else 0.0
            if frac > today[n]:
                today[n] = frac
    for i in range(len(defended)):
        n = defended[i]
        if gain[n] != 0.0:
            penetration[n] += gain[n]  # every other node gains 0.0, which changes nothing
            gain[n] = 0.0
    share = 1.0 - keep
    # The first pass over the nodes, with no branch, is vectorised by the compiler (the same two
    # products and sum per node as a plain loop, no fused multiply-add) and counts the flips;
    # the second gathers them, up to the last.
    n_flips = 0
    for n in range(len(penetration)):
        m = loss_memory[n] * keep + share * today[n]
        loss_memory[n] = m
        today[n] = 0.0
        n_flips += (penetration[n] >= depth_km[n]) | (m > withdrawal_loss)
    flips = np.empty(n_flips, dtype=np.int64)
    k = 0
    n = 0
    while k < n_flips:
        if penetration[n] >= depth_km[n] or loss_memory[n] > withdrawal_loss:
            flips[k] = n
            k += 1
        n += 1
    return flips


@njit(cache=True, nogil=True)
def fortify(
    edge_u,
    edge_v,
    border,
    defended,
    engaged_a,
    engaged_d,
    assault,
    glide_bombs,
    fortification,
    hasty,
    fort_max,
    build_rate,
    density_needed,
    under_assault,
    glide_damage,
    density,
    assaulted,
):
    """Both sides dig in where they hold the front densely enough; glide bombs wear the works
    down (in place; see :func:`sim.fortification.fortify`). ``density`` and ``assaulted`` are zero
    scratch arrays, one entry per node, left zero on return."""
    for i in range(len(defended)):
        d = defended[i]
        own = edge_u[i] + edge_v[i] - d  # the other end
        x = engaged_d[i] / border[i]
        if x > density[d]:
            density[d] = x
        x = engaged_a[i] / border[i]
        if x > density[own]:
            density[own] = x
        if assault[i]:
            assaulted[d] = True
    # Only the fought edges' ends can have a density (the scratch is zero elsewhere): each is
    # built up once, at its first mention, then cleared (a node's result does not depend on
    # the order the nodes are visited in).
    for i in range(len(defended)):
        d = defended[i]
        for n in (d, edge_u[i] + edge_v[i] - d):
            if density[n] > 0:
                phi = fortification[n] if fortification[n] >= hasty else hasty
                ratio = density[n] / density_needed
                rate = build_rate * (1.0 if 1.0 <= ratio else ratio)
                rate = rate * (under_assault if assaulted[n] else 1.0)
                fortification[n] = phi + rate * (1.0 - phi / fort_max)
            density[n] = 0.0
            assaulted[n] = False
    for i in range(len(defended)):
        d = defended[i]
        fortification[d] = fortification[d] - glide_damage * glide_bombs[i]
    for n in range(len(fortification)):
        # np.clip(x, 0, fort_max) as numpy computes it: min(max(x, 0), fort_max), NaN kept
        # (x != x), -0.0 made 0.0; selects only, which the compiler vectorises.
        x = fortification[n]
        x = x if x > 0.0 else (x if x != x else 0.0)
        x = x if x < fort_max else (x if x != x else fort_max)
        fortification[n] = x


__all__ = ["advance", "fortify"]
