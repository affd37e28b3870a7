"""Sums that add the same numbers in the same order as numpy's pairwise ``sum``.

Compiled with Numba; bit-identical to numpy (see :mod:`sim.kernels`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# --- sums as numpy sums ----------------------------------------------------------------------
_PW_BLOCK = 128  # numpy's PW_BLOCKSIZE


@njit(cache=True, nogil=True)
def _block(a, lo, n):
    # One block of numpy's pairwise summation of float64 (umath/loops_utils.h.src), step for
    # step: below 8 terms a plain loop, up to 128 eight accumulators.
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True, nogil=True)
def _pairwise(a, lo, n):
    # Above 128 terms numpy sums two halves, cut at a multiple of 8, and adds them. Done here
    # with explicit stacks: Numba's on-disk cache mishandles recursive functions (numba#6061).
    if n <= _PW_BLOCK:
        return _block(a, lo, n)
    depth = 64  # halving from 2**63 terms to one block takes fewer levels
    los = np.empty(depth, dtype=np.int64)
    ns = np.empty(depth, dtype=np.int64)
    stage = np.empty(depth, dtype=np.int8)
    vals = np.empty(depth + 1)
    sp, vp = 1, 0
    los[0], ns[0], stage[0] = lo, n, 0
    while sp > 0:
        t = sp - 1
        m = ns[t]
        if m <= _PW_BLOCK:
            vals[vp] = _block(a, los[t], m)
            vp += 1
            sp -= 1
            continue
        half = m // 2
        half -= half % 8
        if stage[t] == 0:
            stage[t] = 1
            los[sp], ns[sp], stage[sp] = los[t], half, 0
            sp += 1
        elif stage[t] == 1:
            stage[t] = 2
            los[sp], ns[sp], stage[sp] = los[t] + half, m - half, 0
            sp += 1
        else:
            vals[vp - 2] = vals[vp - 2] + vals[vp - 1]
            vp -= 1
            sp -= 1
    return vals[0]


@njit(cache=True, nogil=True)
def np_sum(a, n):
    """``a[:n].sum()`` as numpy computes it for a contiguous float64 array, to the bit."""
    return 0.0 + _pairwise(a, 0, n)


__all__ = ["np_sum"]
