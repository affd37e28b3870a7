"""Compiled pass of surprise (:mod:`sim.surprise`).

Compiled with Numba; bit-identical to numpy (see :mod:`sim.kernels`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def surprise_fade(
    assault,
    a,
    sector,
    surprise_day,
    day,
    surprise_days,
    surprise_multiplier,
    surprise_exploitation,
):
    """The fading surprise of each edge's assaulting side in its sector: the force-ratio
    multiplier and the share of the transparent-battlefield slowdown escaped."""
    n = len(assault)
    surprise, unseen = np.empty(n), np.empty(n)
    for i in range(n):
        since = day - surprise_day[a[i], sector[i]]
        f = 0.0
        if since >= 0 and assault[i]:
            f = 1.0 - since / surprise_days
            if not f > 0.0:  # np.maximum(0.0, f)
                f = 0.0
        surprise[i] = 1.0 + (surprise_multiplier - 1.0) * f
        unseen[i] = surprise_exploitation * f
    return surprise, unseen


__all__ = ["surprise_fade"]
