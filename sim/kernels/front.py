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
def front_ids_update(ids, changed, inc_ptr, inc_edge, before, after):
    """``np.flatnonzero(after)`` from ``ids = np.flatnonzero(before)``, where the masks (the
    front edges of :func:`front_masks_update`) differ only at edges of the nodes ``changed``:
    the old ids still set, merged with the edges newly set there, ascending (int64)."""
    n_inc = 0
    for n in changed:
        n_inc += inc_ptr[n + 1] - inc_ptr[n]
    added = np.empty(n_inc, dtype=np.int64)
    k = 0
    for n in changed:
        for j in range(inc_ptr[n], inc_ptr[n + 1]):
            e = inc_edge[j]
            if after[e] and not before[e]:
                added[k] = e
                k += 1
    return _merged(ids, np.sort(added[:k]), after)  # sorted: an edge may be there twice


@njit(cache=True, nogil=True)
def front_node_ids_update(ids, changed, inc_ptr, inc_edge, edge_u, edge_v, before, after):
    """:func:`front_ids_update` for the front nodes: ``np.flatnonzero(after)`` from
    ``ids = np.flatnonzero(before)``, where the node masks differ only at the ends of the
    edges of the nodes ``changed`` (the nodes :func:`front_masks_update` computes again)."""
    n_inc = 0
    for n in changed:
        n_inc += inc_ptr[n + 1] - inc_ptr[n]
    added = np.empty(2 * n_inc, dtype=np.int64)
    k = 0
    for n in changed:
        for j in range(inc_ptr[n], inc_ptr[n + 1]):
            e = inc_edge[j]
            for w in (edge_u[e], edge_v[e]):
                if after[w] and not before[w]:
                    added[k] = w
                    k += 1
    return _merged(ids, np.sort(added[:k]), after)


@njit(cache=True, nogil=True)
def _merged(ids, added, after):
    # The ids still set in ``after`` merged with ``added`` (ascending, with repeats, none in
    # ``ids``), ascending and without repeats.
    k = len(added)
    out = np.empty(len(ids) + k, dtype=np.int64)
    m = i = j = 0
    while i < len(ids) or j < k:
        if j >= k or (i < len(ids) and ids[i] < added[j]):
            e = ids[i]
            i += 1
            if after[e]:
                out[m] = e
                m += 1
        else:
            e = added[j]
            j += 1
            if m == 0 or out[m - 1] != e:  # old ids and added edges are disjoint
                out[m] = e
                m += 1
    return out[:m]


@njit(cache=True, nogil=True)
def front_geometry(fe, edge_u, edge_v, border, xy):
    """Ends, border lengths and midpoints ``0.5 * (xy[u] + xy[v])`` of the edges ``fe``.

    The caller has ``fe`` from :meth:`FrontlineModel.front_edge_ids` (``np.flatnonzero`` of the
    front mask, brought up to date from the last front's ids on the days few nodes change
    hands)."""
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


# Relative margin on the distances that decide whether an edge's nearest unit of the last search
# still stands: keeping an answer wrongly would change a result, searching again only costs time.
KEEP_MARGIN = 1e-9


@njit(cache=True, nogil=True)
def _unit_changes(rows, unit_nodes, prev_rows, prev_nodes):
    # By unit-table row: its index in rows, its node now and at the last search (-1: not in the
    # line then); and the indices of the units that entered the line or moved since.
    top = 0
    for r in rows:
        top = max(top, r)
    for r in prev_rows:
        top = max(top, r)
    pos = np.full(top + 1, -1, dtype=np.int64)
    node_now = np.full(top + 1, -1, dtype=np.int64)
    node_was = np.full(top + 1, -1, dtype=np.int64)
    for i in range(len(rows)):
        pos[rows[i]] = i
        node_now[rows[i]] = unit_nodes[i]
    for j in range(len(prev_rows)):
        node_was[prev_rows[j]] = prev_nodes[j]
    fresh = np.empty(len(rows), dtype=np.int64)
    n_fresh = 0
    for i in range(len(rows)):
        if node_was[rows[i]] != unit_nodes[i]:
            fresh[n_fresh] = i
            n_fresh += 1
    return pos, node_now, node_was, fresh[:n_fresh]


@njit(cache=True, nogil=True)
def _search(
    edges, start, count, cand_node, cand_d2, mid, unit_xy, rows, scratch, last, moves, reach
):
    # nearest_on_candidates' pass over the edges (one loop: helpers called per edge cost
    # Numba more than the work). ``moves``: _unit_changes of the units since ``last``.
    occupancy, first = scratch
    last_edges, _, _, last_d2, last_row = last
    pos, node_now, node_was, fresh = moves
    n_units = len(rows)
    reach2 = reach * reach
    n = len(edges)
    dist, best_d2 = np.empty(n), np.empty(n)
    k, best_row = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    tied, lone = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    n_tied = 0
    j = 0
    for i in range(n):
        e = edges[i]
        while j < len(last_edges) and last_edges[j] < e:
            j += 1
        if j < len(last_edges) and last_edges[j] == e and last_row[j] != -2:
            # The last answer stands if its unit (if any) is still in the line on its node and
            # no unit that entered the line or moved is as near (or within reach, if none was).
            was, bd = last_row[j], last_d2[j]
            keep = was < 0 or (node_now[was] >= 0 and node_now[was] == node_was[was])
            if keep:
                bound = (bd if was >= 0 else reach2) * (1.0 + KEEP_MARGIN)
                for u in fresh:
                    dx = unit_xy[u, 0] - mid[i, 0]
                    dy = unit_xy[u, 1] - mid[i, 1]
                    if dx * dx + dy * dy <= bound:
                        keep = False
                        break
            if keep:
                dist[i], best_d2[i], best_row[i] = np.sqrt(bd), bd, was
                k[i] = pos[was] if was >= 0 else n_units
                continue
        best, units, kk, at = np.inf, 0, n_units, -1  # at: -1 once the nearest are on two nodes
        for jj in range(start[e], start[e] + count[e]):
            d2 = cand_d2[jj]
            if units > 0 and d2 != best:
                break  # sorted: the rest are farther
            node = cand_node[jj]
            c = occupancy[node]
            if c > 0:
                if units == 0:
                    best, kk, at = d2, first[node], node
                else:
                    at = -1
                units += c
        dist[i], best_d2[i] = np.sqrt(best), best
        best_row[i] = -1 if units == 0 else (rows[kk] if units == 1 else -2)
        if units > 1:
            kk = -2
            tied[n_tied], lone[n_tied] = i, at
            n_tied += 1
        k[i] = kk
    return dist, k, tied[:n_tied], lone[:n_tied], best_d2, best_row


@njit(cache=True, nogil=True)
def nearest_on_candidates(
    edges, start, count, cand_node, cand_d2, mid, unit_xy, rows, unit_nodes, scratch, last, reach
):
    """Nearest unit of each edge among its candidate nodes, as ``cKDTree.query`` answers, from
    the last search's answers where they still stand.

    Parameters
    ----------
    edges : int array
        Theatre edge ids, ascending.
    start, count : int arrays
        Per theatre edge, the run of its candidate nodes in ``cand_node``/``cand_d2``, sorted by
        squared distance from the edge's midpoint (ties in node order), all within reach.
    mid : float array, shape (len(edges), 2)
        The edges' midpoints.
    unit_xy, rows, unit_nodes : arrays
        Position, unit-table row and node of each unit queried.
    scratch : (int array, int array), one entry per node each
        Zero on entry and on return.
    last : tuple of arrays
        The last search's edges (ascending), rows, nodes, and per edge its ``best_d2`` and
        ``best_row`` (below); empty arrays for none. An edge's answer is kept if it was no tie,
        its unit (if any) is still in the line on the same node, and no unit that entered the
        line or moved is as near as it (or within reach, if none was); otherwise its
        candidates are searched again.
    reach : float
        The search's reach (the candidates lie within it).

    Returns
    -------
    dist : float array
        Distance to the nearest unit, ``inf`` if none within reach.
    k : int array
        Index of the nearest unit in ``rows``; ``len(rows)`` if none.
    tied : int array
        Positions in ``edges`` where several units are equally near (``k`` is then -2):
        the caller decides those.
    lone : int array
        For each of ``tied``, the node all those units stand on, or -1 where they stand on
        several nodes.
    best_d2, best_row : arrays
        Per edge, the least squared distance and the nearest unit's row (-1 none, -2 a tie):
        the next search's ``last``.
    """
    occupancy, first = scratch
    moves = _unit_changes(rows, unit_nodes, last[1], last[2])
    for r in range(len(unit_nodes)):
        occupancy[unit_nodes[r]] += 1
        first[unit_nodes[r]] = r
    out = _search(
        edges, start, count, cand_node, cand_d2, mid, unit_xy, rows, scratch, last, moves, reach
    )
    for r in range(len(unit_nodes)):
        occupancy[unit_nodes[r]] = 0
        first[unit_nodes[r]] = 0
    return out


__all__ = [
    "farthest_from",
    "front_geometry",
    "front_ids_update",
    "front_node_ids_update",
    "front_masks",
    "front_masks_update",
    "line_rows",
    "nearest_on_candidates",
]
