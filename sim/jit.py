"""Compiled loop kernels of the daily phases (Numba, cached on disk).

Each kernel does what a few lines of numpy around it did, in one pass and with the same
floating-point operations in the same order: only ``+ - * /``, comparisons and ``sqrt``, which
IEEE 754 rounds exactly, so results are bit-identical to the numpy expressions they replace.
Transcendental functions (``exp``, ``log``, ``**``) stay in numpy, whose SIMD versions may
round differently from the C library's that compiled code calls.

``cache=True`` keeps the machine code beside this file (``__pycache__``): a fresh process loads
it instead of compiling again.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def nearest_on_candidates(edges, start, count, cand_node, cand_d2, occupancy, first, out_d2, out_k):
    """Nearest occupied candidate node of each edge, and whether the nearest unit is unique.

    Parameters
    ----------
    edges : int array
        Theatre edge ids.
    start, count : int arrays
        Per theatre edge, the run of its candidate nodes in ``cand_node``/``cand_d2``, sorted by
        squared distance from the edge's midpoint (ties in node order), all within reach.
    occupancy : int array
        Per node, how many of the units queried stand on it.
    first : int array
        Per node, the index (among the units queried) of one unit on it.
    out_d2 : float array
        Written: squared distance to the nearest unit, ``inf`` if none within reach.
    out_k : int array
        Written: index of the nearest unit; -1 if none; -2 if several units are equally near
        (the caller decides those).
    """
    for i in range(len(edges)):
        e = edges[i]
        lo = start[e]
        hi = lo + count[e]
        best = np.inf
        units = 0
        k = -1
        for j in range(lo, hi):
            d2 = cand_d2[j]
            if units > 0 and d2 != best:
                break  # sorted: the rest are farther
            node = cand_node[j]
            c = occupancy[node]
            if c > 0:
                if units == 0:
                    best = d2
                    k = first[node]
                units += c
        out_d2[i] = best
        out_k[i] = k if units <= 1 else -2
