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


__all__ = ["nearest_hub_distance"]
