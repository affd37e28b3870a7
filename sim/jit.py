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


@njit(cache=True, nogil=True)
def node_metrics(control, initial, country, area, penetration, population, buf):
    """The node-wide daily metrics in one pass (see :func:`sim.metrics.metrics_phase`).

    Each area sum adds the same elements in the same (node) order as numpy's ``area[mask].sum()``
    and with its pairwise summation. ``buf`` is scratch, shape (5, n_nodes).

    Returns
    -------
    russia_gain, ukraine_gain, russia_held_in_ukraine, ukraine_held_in_russia, contested (km2),
    nodes changed, population held by Russia
    """
    c0 = c1 = c2 = c3 = c4 = 0
    changed = 0
    pop_ru = 0
    for i in range(len(control)):
        ru = control[i] == 1
        a = area[i]
        if country[i] == 0:
            if ru:
                if initial[i] == 0:
                    buf[0, c0] = a
                    c0 += 1
                buf[2, c2] = a
                c2 += 1
            elif initial[i] == 1:
                buf[1, c1] = a
                c1 += 1
        elif not ru:
            buf[3, c3] = a
            c3 += 1
        if penetration[i] > 0:
            buf[4, c4] = a
            c4 += 1
        if control[i] != initial[i]:
            changed += 1
        if ru:
            pop_ru += population[i]
    return (
        np_sum(buf[0], c0),
        np_sum(buf[1], c1),
        np_sum(buf[2], c2),
        np_sum(buf[3], c3),
        np_sum(buf[4], c4),
        changed,
        pop_ru,
    )


@njit(cache=True, nogil=True)
def front_length(front_edges, edge_u, edge_v, border, country, control, buf):
    """Length of the front edges not on the quiet international border (an end on the other
    side's soil), summed as numpy sums ``border[selected]``."""
    c = 0
    for e in front_edges:
        u, v = edge_u[e], edge_v[e]
        if not (country[u] == control[u] and country[v] == control[v]):
            buf[c] = border[e]
            c += 1
    return np_sum(buf, c)


@njit(cache=True, nogil=True)
def unit_metrics(alive, side, posture, personnel, captured, supply, node, connected, buf):
    """The per-side unit totals of the daily metrics in one pass over the unit table's rows
    (``buf`` is scratch, shape (8, n)); sums as numpy sums the masked arrays.

    Returns
    -------
    line personnel (UA, RU), personnel (UA, RU), captured (UA, RU), mean supply of line units
    (UA, RU; 0 with none), Ukrainian units cut off
    """
    c = np.zeros(8, dtype=np.int64)
    cut = 0
    for i in range(len(alive)):
        s = side[i]
        line = alive[i] and posture[i] <= 1
        if s == 0:
            if line:
                buf[0, c[0]] = personnel[i]
                c[0] += 1
                buf[6, c[6]] = supply[i]
                c[6] += 1
            if alive[i]:
                buf[2, c[2]] = personnel[i]
                c[2] += 1
                if not connected[s, node[i]]:
                    cut += 1
            buf[4, c[4]] = captured[i]
            c[4] += 1
        elif s == 1:
            if line:
                buf[1, c[1]] = personnel[i]
                c[1] += 1
                buf[7, c[7]] = supply[i]
                c[7] += 1
            if alive[i]:
                buf[3, c[3]] = personnel[i]
                c[3] += 1
            buf[5, c[5]] = captured[i]
            c[5] += 1
    sup_ua = np_sum(buf[6], c[6]) / c[6] if c[6] > 0 else 0.0
    sup_ru = np_sum(buf[7], c[7]) / c[7] if c[7] > 0 else 0.0
    return (
        np_sum(buf[0], c[0]),
        np_sum(buf[1], c[1]),
        np_sum(buf[2], c[2]),
        np_sum(buf[3], c[3]),
        np_sum(buf[4], c[4]),
        np_sum(buf[5], c[5]),
        sup_ua,
        sup_ru,
        cut,
    )
