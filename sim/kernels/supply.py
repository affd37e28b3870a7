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


__all__ = ["classes_in_range", "nearest_hub_distance"]
