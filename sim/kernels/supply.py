"""Compiled pass of supply (:mod:`sim.supply`): the hubs' distances to the enemy front.

Compiled with Numba; bit-identical to numpy (see :mod:`sim.kernels`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def nearest_hub_distance(nodes, start, hub_of, dist, n_hubs):
    """Per hub, the least of ``dist`` over the (node, hub) pairs of ``nodes`` (pairs of node
    ``v`` at ``start[v]:start[v+1]``); ``inf`` for a hub with none."""
    out = np.full(n_hubs, np.inf)
    for v in nodes:
        for j in range(start[v], start[v + 1]):
            h = hub_of[j]
            if dist[j] < out[h]:
                out[h] = dist[j]
    return out


@njit(cache=True, nogil=True)
def classes_in_range(nearest, held, ranges, tolerance):
    """For each held hub (``held``, a mask over ``nearest``), how many of ``ranges`` its
    ``nearest`` distance is below (``(nearest[held][:, None] < ranges).sum(axis=1)``), and
    whether any such distance lies within ``tolerance`` of a range (the caller then decides
    another way)."""
    out = np.empty(held.sum(), dtype=np.int64)
    close = False
    j = 0
    for h in range(len(nearest)):
        if not held[h]:
            continue
        c = 0
        for r in ranges:
            if np.abs(nearest[h] - r) <= tolerance:
                close = True
            if nearest[h] < r:
                c += 1
        out[j] = c
        j += 1
    return out, close


@njit(cache=True, nogil=True)
def dirty_levels(idx, dist, own, source, hubs, theta, efold, connected, level):
    """The first half of :meth:`sim.supply.SupplyNetwork.levels_from_tree` on the nodes ``idx``
    (in place): ``connected`` (reached and held), ``level`` 0; returns the connected ones, the
    throughput of each one's source hub (``theta`` of ``hubs``, 1 for another source) and
    ``-dist / efold``, whose exponential (numpy's) the caller multiplies in."""
    out = np.empty(len(idx), dtype=np.int64)
    factor = np.empty(len(idx))
    arg = np.empty(len(idx))
    m = 0
    for v in idx:
        linked = np.isfinite(dist[v]) and own[v]
        connected[v] = linked
        level[v] = 0.0
        if linked:
            f = 1.0
            for h in range(len(hubs)):
                if hubs[h] == source[v]:
                    f = theta[h]  # the last of equal hubs, as full[hubs] = theta leaves it
            out[m], factor[m], arg[m] = v, f, -dist[v] / efold
            m += 1
    return out[:m], factor[:m], arg[:m]


__all__ = ["classes_in_range", "dirty_levels", "nearest_hub_distance"]
