"""Compiled passes of the daily metrics (:mod:`sim.metrics`).

Compiled with Numba; bit-identical to numpy (see :mod:`sim.kernels`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernels.sums import np_sum


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
def contested_area(area, penetration, buf):
    """The contested area of :func:`node_metrics` alone (the same sum of the same elements)."""
    c = 0
    for i in range(len(penetration)):
        if penetration[i] > 0:
            buf[c] = area[i]
            c += 1
    return np_sum(buf, c)


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
def unit_metrics(
    units,
    connected,
    buf,
):
    """The per-side unit totals of the daily metrics in one pass over the unit table's rows
    (``buf`` is scratch, shape (8, n)); sums as numpy sums the masked arrays.

    Returns
    -------
    line personnel (UA, RU), personnel (UA, RU), captured (UA, RU), mean supply of line units
    (UA, RU; 0 with none), Ukrainian units cut off
    """
    alive, side, posture, personnel, captured, supply, node = units
    c = np.zeros(8, dtype=np.int64)
    cut = 0
    for i in range(len(alive)):
        s = side[i]
        if s != 0 and s != 1:
            continue
        # Rows of buf: line men (UA, RU), all men, captured, line units' supply.
        if alive[i] and posture[i] <= 1:
            buf[s, c[s]] = personnel[i]
            c[s] += 1
            buf[6 + s, c[6 + s]] = supply[i]
            c[6 + s] += 1
        if alive[i]:
            buf[2 + s, c[2 + s]] = personnel[i]
            c[2 + s] += 1
            if s == 0 and not connected[s, node[i]]:
                cut += 1
        buf[4 + s, c[4 + s]] = captured[i]
        c[4 + s] += 1
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


__all__ = ["contested_area", "front_length", "node_metrics", "unit_metrics"]
