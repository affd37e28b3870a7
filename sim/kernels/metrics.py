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
def _node_classes(control, initial, country, i):
    # The bits of node i's masks in node_metrics: 1 Russia's gain, 2 Ukraine's gain, 4 held by
    # Russia in Ukraine, 8 held by Ukraine in Russia.
    ru = control[i] == 1
    if country[i] == 0:
        if ru:
            return 5 if initial[i] == 0 else 4
        return 2 if initial[i] == 1 else 0
    return 0 if ru else 8


@njit(cache=True, nogil=True)
def _relisted(ids, changed, bits, bit):
    # ``ids`` (ascending) with the nodes ``changed`` (ascending) in or out as ``bits & bit`` says.
    out = np.empty(len(ids) + len(changed), dtype=np.int64)
    m = i = j = 0
    while i < len(ids) or j < len(changed):
        if j >= len(changed) or (i < len(ids) and ids[i] < changed[j]):
            out[m] = ids[i]
            m += 1
            i += 1
        else:
            if i < len(ids) and ids[i] == changed[j]:
                i += 1  # a member before: in again only if it still is
            if bits[j] & bit:
                out[m] = changed[j]
                m += 1
            j += 1
    return out[:m]


@njit(cache=True, nogil=True)
def node_metrics_update(changed, before, control, initial, country, area, population, state, buf):
    """:func:`node_metrics` but the contested area, from its last answer ``state`` for the map
    ``before``, which differs from ``control`` at the nodes ``changed`` (ascending).

    ``state`` is (nodes of each of the four area masks, ascending; nodes changed; population
    held by Russia), as :func:`node_metrics_state` makes it. Each area sum adds the same
    elements in the same order as the full pass (gathered into ``buf``), so they are equal
    to its sums; the counts are updated exactly.

    Returns
    -------
    russia_gain, ukraine_gain, russia_held_in_ukraine, ukraine_held_in_russia (km2), nodes
    changed, population held by Russia, and the new ``state``
    """
    lists, n_changed, pop_ru = state
    bits = np.empty(len(changed), dtype=np.int64)
    for j in range(len(changed)):
        i = changed[j]
        bits[j] = _node_classes(control, initial, country, i)
        n_changed += (control[i] != initial[i]) - (before[i] != initial[i])
        pop_ru += population[i] * ((control[i] == 1) - (before[i] == 1))
    new = (
        _relisted(lists[0], changed, bits, 1),
        _relisted(lists[1], changed, bits, 2),
        _relisted(lists[2], changed, bits, 4),
        _relisted(lists[3], changed, bits, 8),
    )
    sums = np.empty(4)
    for k in range(4):
        ids = new[k]
        for j in range(len(ids)):
            buf[k, j] = area[ids[j]]
        sums[k] = np_sum(buf[k], len(ids))
    return sums[0], sums[1], sums[2], sums[3], n_changed, pop_ru, (new, n_changed, pop_ru)


@njit(cache=True, nogil=True)
def node_metrics_state(control, initial, country, population):
    """The ``state`` of :func:`node_metrics_update` for ``control``, from scratch."""
    n = len(control)
    bits = np.empty(n, dtype=np.int64)
    counts = np.zeros(4, dtype=np.int64)
    n_changed = 0
    pop_ru = 0
    for i in range(n):
        b = _node_classes(control, initial, country, i)
        bits[i] = b
        for k in range(4):
            if b & (1 << k):
                counts[k] += 1
        if control[i] != initial[i]:
            n_changed += 1
        if control[i] == 1:
            pop_ru += population[i]
    lists = (
        np.empty(counts[0], dtype=np.int64),
        np.empty(counts[1], dtype=np.int64),
        np.empty(counts[2], dtype=np.int64),
        np.empty(counts[3], dtype=np.int64),
    )
    fill = np.zeros(4, dtype=np.int64)
    for i in range(n):
        for k in range(4):
            if bits[i] & (1 << k):
                lists[k][fill[k]] = i
                fill[k] += 1
    return lists, n_changed, pop_ru


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


__all__ = [
    "contested_area",
    "front_length",
    "node_metrics",
    "node_metrics_state",
    "node_metrics_update",
    "unit_metrics",
]
