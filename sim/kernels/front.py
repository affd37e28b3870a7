"""Compiled passes over the front: its masks and geometry, line units, nearest candidates.

Compiled with Numba; bit-identical to numpy (see :mod:`sim.kernels`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


# --- the front ----------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def front_masks(control, edge_u, edge_v, edges, nodes):
    """``edges[e]``: the ends of edge ``e`` are held by different sides; ``nodes[n]``: node ``n``
    is an end of such an edge (both written in full)."""
    nodes[:] = False
    for e in range(len(edge_u)):
        u, v = edge_u[e], edge_v[e]
        front = control[u] != control[v]
        edges[e] = front
        if front:
            nodes[u] = True
            nodes[v] = True


@njit(cache=True, nogil=True)
def front_masks_update(changed, control, inc_ptr, inc_edge, edge_u, edge_v, edges, nodes):
    """Bring the front masks of :func:`front_masks` (in place) to ``control`` from the map
    they were computed for, which differed from it at the nodes ``changed`` (ascending): only
    the edges at those nodes, and the front flags of those edges' ends, are computed again
    (the same booleans as a full pass)."""
    for n in changed:
        for j in range(inc_ptr[n], inc_ptr[n + 1]):
            e = inc_edge[j]
            edges[e] = control[edge_u[e]] != control[edge_v[e]]
    for n in changed:
        for j in range(inc_ptr[n], inc_ptr[n + 1]):
            e = inc_edge[j]
            for w in (edge_u[e], edge_v[e]):
                front = False
                for i in range(inc_ptr[w], inc_ptr[w + 1]):
                    if edges[inc_edge[i]]:
                        front = True
                        break
                nodes[w] = front


@njit(cache=True, nogil=True)
def front_geometry(fe, edge_u, edge_v, border, xy):
    """Ends, border lengths and midpoints ``0.5 * (xy[u] + xy[v])`` of the edges ``fe``.

    The caller finds ``fe`` with ``np.flatnonzero`` of the front mask: numpy's vectorised scan
    of the ~40k edges is several times faster than a loop here."""
    n = len(fe)
    eu = np.empty(n, dtype=np.int64)
    ev = np.empty(n, dtype=np.int64)
    b = np.empty(n)
    mid = np.empty((n, 2))
    for j in range(n):
        e = fe[j]
        u, v = edge_u[e], edge_v[e]
        eu[j], ev[j], b[j] = u, v, border[e]
        mid[j, 0] = 0.5 * (xy[u, 0] + xy[v, 0])
        mid[j, 1] = 0.5 * (xy[u, 1] + xy[v, 1])
    return eu, ev, b, mid


@njit(cache=True, nogil=True)
def line_rows(alive, side, posture, personnel, which):
    """Rows of side ``which``'s living units in the line (hold or attack) with men left."""
    out = np.empty(len(alive), dtype=np.int64)
    n = 0
    for i in range(len(alive)):
        if alive[i] and side[i] == which and posture[i] <= 1 and personnel[i] > 0:
            out[n] = i
            n += 1
    return out[:n]


# --- command ----------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def farthest_from(points, candidates):
    """Index of the candidate farthest from its nearest point: ``argmax`` (first of equals) of
    the distances ``cKDTree(points).query(candidates)`` returns, which are the square roots of
    the least ``dx*dx + dy*dy``, computed the same way here."""
    best, arg = -1.0, 0
    for c in range(len(candidates)):
        cx, cy = candidates[c, 0], candidates[c, 1]
        near = np.inf
        for p in range(len(points)):
            dx = points[p, 0] - cx
            dy = points[p, 1] - cy
            d2 = dx * dx + dy * dy
            if d2 < near:
                near = d2
        d = np.sqrt(near)
        if d > best:
            best, arg = d, c
    return arg


@njit(cache=True, nogil=True)
def nearest_on_candidates(edges, start, count, cand_node, cand_d2, unit_nodes, occupancy, first):
    """Nearest unit of each edge among its candidate nodes, as ``cKDTree.query`` answers.

    Parameters
    ----------
    edges : int array
        Theatre edge ids.
    start, count : int arrays
        Per theatre edge, the run of its candidate nodes in ``cand_node``/``cand_d2``, sorted by
        squared distance from the edge's midpoint (ties in node order), all within reach.
    unit_nodes : int array
        Node of each unit queried.
    occupancy, first : int arrays, one entry per node
        Scratch, all zero on entry and on return.

    Returns
    -------
    dist : float array
        Distance to the nearest unit, ``inf`` if none within reach.
    k : int array
        Index of the nearest unit in ``unit_nodes``; ``len(unit_nodes)`` if none.
    tied : int array
        Positions in ``edges`` where several units are equally near (``k`` is then -2):
        the caller decides those.
    lone : int array
        For each of ``tied``, the node all those units stand on, or -1 where they stand on
        several nodes.
    """
    n_units = len(unit_nodes)
    for r in range(n_units):
        occupancy[unit_nodes[r]] += 1
        first[unit_nodes[r]] = r
    n = len(edges)
    dist = np.empty(n)
    k = np.empty(n, dtype=np.int64)
    tied = np.empty(n, dtype=np.int64)
    lone = np.empty(n, dtype=np.int64)
    n_tied = 0
    for i in range(n):
        e = edges[i]
        lo = start[e]
        hi = lo + count[e]
        best = np.inf
        units = 0
        kk = n_units
        at = -1  # the node of the nearest units, -1 once they are on two
        for j in range(lo, hi):
            d2 = cand_d2[j]
            if units > 0 and d2 != best:
                break  # sorted: the rest are farther
            node = cand_node[j]
            c = occupancy[node]
            if c > 0:
                if units == 0:
                    best = d2
                    kk = first[node]
                    at = node
                else:
                    at = -1
                units += c
        dist[i] = np.sqrt(best)
        if units > 1:
            kk = -2
            tied[n_tied] = i
            lone[n_tied] = at
            n_tied += 1
        k[i] = kk
    for r in range(n_units):
        occupancy[unit_nodes[r]] = 0
        first[unit_nodes[r]] = 0
    return dist, k, tied[:n_tied], lone[:n_tied]


__all__ = [
    "farthest_from",
    "front_geometry",
    "front_masks",
    "front_masks_update",
    "line_rows",
    "nearest_on_candidates",
]
