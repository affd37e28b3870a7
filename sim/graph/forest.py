"""Shortest-path forests from a set of sources on a weighted graph, updated as nodes leave or
join the searchable set (:class:`sim.supply.SupplyNetwork` keeps one per side, from its hubs).

A forest holds, for every node, its distance from the nearest source, its predecessor on that
path and that source (``dist``, ``pred``, ``source``), within a distance ``limit``. When nodes
leave the searchable set, only their descendants are searched again (:func:`forest_remove`);
when nodes join it, a search relaxes outwards from them (:func:`forest_add`). The plain-Python
:func:`remove_reference` and :func:`add_reference` do the same steps and are their oracles.

Compiled with Numba; bit-identical to numpy (see :mod:`sim.kernels`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Protocol

import numpy as np
from numba import njit

# Row pointers, neighbours and edge costs of the search-order CSR, as Python lists.
Adjacency = tuple[list[int], list[int], list[float]]


class Forest(Protocol):
    """A shortest-path forest, updated in place (``dirty``: the nodes changed since its user
    last read it, or None for all)."""

    dist: np.ndarray
    pred: np.ndarray
    source: np.ndarray
    limit: float
    dirty: set[int] | None


# --- compiled updates -------------------------------------------------------------------
# Dijkstra searches on keys (distance, node): no key is ever pushed twice (a node is pushed
# again only at a strictly shorter distance), so any binary heap pops them in the same order
# as Python's heapq did.
@njit(cache=True, nogil=True)
def _hpush(hd, hv, n, d, v):
    if n == len(hd):
        hd2 = np.empty(2 * n + 16)
        hv2 = np.empty(2 * n + 16, dtype=np.int64)
        hd2[:n] = hd[:n]
        hv2[:n] = hv[:n]
        hd, hv = hd2, hv2
    i = n
    hd[i], hv[i] = d, v
    while i > 0:
        q = (i - 1) // 2
        if hd[i] < hd[q] or (hd[i] == hd[q] and hv[i] < hv[q]):
            hd[i], hd[q] = hd[q], hd[i]
            hv[i], hv[q] = hv[q], hv[i]
            i = q
        else:
            break
    return hd, hv, n + 1


@njit(cache=True, nogil=True)
def _hpop(hd, hv, n):
    d, v = hd[0], hv[0]
    n -= 1
    hd[0], hv[0] = hd[n], hv[n]
    i = 0
    while True:
        a, b = 2 * i + 1, 2 * i + 2
        m = i
        if a < n and (hd[a] < hd[m] or (hd[a] == hd[m] and hv[a] < hv[m])):
            m = a
        if b < n and (hd[b] < hd[m] or (hd[b] == hd[m] and hv[b] < hv[m])):
            m = b
        if m == i:
            break
        hd[i], hd[m] = hd[m], hd[i]
        hv[i], hv[m] = hv[m], hv[i]
        i = m
    return d, v, n


@njit(cache=True, nogil=True)
def _forest_search(
    hd, hv, hn, indptr, col, cost, dist, pred, source, limit, allowed, touched, track, budget
):
    """Dijkstra from the seeded heap over the nodes ``allowed``; if ``track``, improved nodes
    not yet flagged in ``touched`` are flagged and listed. Returns (ok, that list): ok is False
    past ``budget`` settled nodes (budget < 0: no limit)."""
    settled = 0
    out = np.empty(64, dtype=np.int64)
    n_out = 0
    while hn > 0:
        d, u, hn = _hpop(hd, hv, hn)
        if d > dist[u]:
            continue  # a stale entry
        settled += 1
        if budget >= 0 and settled > budget:
            return False, out[:n_out]
        src = source[u]
        for k in range(indptr[u], indptr[u + 1]):
            v = col[k]
            nd = d + cost[k]
            if nd < dist[v] and nd <= limit and allowed[v]:
                dist[v], pred[v], source[v] = nd, u, src
                hd, hv, hn = _hpush(hd, hv, hn, nd, v)
                if track and not touched[v]:
                    touched[v] = True
                    if n_out == len(out):
                        out2 = np.empty(2 * n_out, dtype=np.int64)
                        out2[:n_out] = out
                        out = out2
                    out[n_out] = v
                    n_out += 1
    return True, out[:n_out]


@njit(cache=True, nogil=True)
def forest_remove(indptr, col, cost, dist, pred, source, own, lost, limit, budget, no_node):
    """The searchable set lost ``lost``: reset them and their descendants in the forest, seed those
    from their unaffected own neighbours and search again among them (see
    :func:`remove_reference`). Returns (ok, affected nodes); ok False, with
    nothing changed, when the descendants pass ``budget``."""
    n = len(dist)
    affected = np.zeros(n, dtype=np.bool_)
    is_lost = np.zeros(n, dtype=np.bool_)
    aff = np.empty(n, dtype=np.int64)
    n_aff = 0
    stack = np.empty(n, dtype=np.int64)
    sp = 0
    for u in lost:
        if not affected[u]:
            affected[u] = True
            aff[n_aff] = u
            n_aff += 1
        is_lost[u] = True
    for u in lost:
        if dist[u] != np.inf:
            stack[sp] = u
            sp += 1
    while sp > 0:
        sp -= 1
        u = stack[sp]
        for k in range(indptr[u], indptr[u + 1]):
            v = col[k]
            if not affected[v] and pred[v] == u:
                affected[v] = True
                aff[n_aff] = v
                n_aff += 1
                stack[sp] = v
                sp += 1
        if n_aff > budget:
            return False, aff[:0]
    for i in range(n_aff):
        v = aff[i]
        dist[v] = np.inf
        pred[v] = no_node
        source[v] = no_node
    redo = affected & ~is_lost
    hd = np.empty(max(n_aff, 16))
    hv = np.empty(max(n_aff, 16), dtype=np.int64)
    hn = 0
    for i in range(n_aff):
        v = aff[i]
        if is_lost[v]:
            continue
        best, by = np.inf, no_node
        for k in range(indptr[v], indptr[v + 1]):
            u = col[k]
            if affected[u] or not own[u]:
                continue
            d = dist[u] + cost[k]
            if d < best:
                best, by = d, u
        if best <= limit:
            dist[v], pred[v], source[v] = best, by, source[by]
            hd, hv, hn = _hpush(hd, hv, hn, best, v)
    _forest_search(hd, hv, hn, indptr, col, cost, dist, pred, source, limit, redo, redo, False, -1)
    return True, aff[:n_aff]


@njit(cache=True, nogil=True)
def forest_add(
    indptr, col, cost, dist, pred, source, own, gained, is_source, limit, budget, no_node
):
    """The searchable set gained ``gained`` (ascending, as the seeds read each other): seed
    them from their neighbours (a source at 0) and relax outwards while distances shrink (see
    :func:`add_reference`). Returns (ok, nodes whose distance changed besides
    ``gained``); ok False past ``budget`` settled nodes (the forest is then half-updated)."""
    hd = np.empty(max(len(gained), 16))
    hv = np.empty(max(len(gained), 16), dtype=np.int64)
    hn = 0
    for g in gained:
        if is_source[g]:
            dist[g], pred[g], source[g] = 0.0, no_node, g
            hd, hv, hn = _hpush(hd, hv, hn, 0.0, g)
            continue
        best, by = np.inf, no_node
        for k in range(indptr[g], indptr[g + 1]):
            u = col[k]
            if own[u] and dist[u] != np.inf:
                d = dist[u] + cost[k]
                if d < best:
                    best, by = d, u
        if best <= limit:
            dist[g], pred[g], source[g] = best, by, source[by]
            hd, hv, hn = _hpush(hd, hv, hn, best, g)
    touched = np.zeros(len(dist), dtype=np.bool_)
    for g in gained:
        touched[g] = True
    return _forest_search(
        hd, hv, hn, indptr, col, cost, dist, pred, source, limit, own, touched, True, budget
    )


# --- the plain-Python reference -------------------------------------------------------------
def remove_reference(
    tree: Forest, own: np.ndarray, lost: list[int], adj: Adjacency, budget: int, no_node: int
) -> bool:
    """The forest's sources lost nodes ``lost``: distances grow, so the lost nodes' descendants
    are reset and searched again among themselves. False past ``budget`` of them (what
    :func:`forest_remove` does, in plain Python)."""
    indptr, col, cost = adj
    dist, pred, source = tree.dist, tree.pred, tree.source
    # Descendants in the forest: children of a node are among its graph neighbours.
    affected = set(lost)
    stack = [u for u in lost if dist[u] != np.inf]
    while stack:
        u = stack.pop()
        for v in col[indptr[u] : indptr[u + 1]]:
            if v not in affected and pred[v] == u:
                affected.add(v)
                stack.append(v)
        if len(affected) > budget:
            return False
    if tree.dirty is not None:
        tree.dirty |= affected
    idx = np.fromiter(affected, dtype=np.intp, count=len(affected))
    dist[idx] = np.inf
    pred[idx] = no_node
    source[idx] = no_node
    redo = affected.difference(lost)
    limit = tree.limit
    heap = []
    for v in redo:  # seed from the unaffected own neighbours
        best, by = np.inf, no_node
        lo, hi = indptr[v], indptr[v + 1]
        for k in range(lo, hi):
            u = col[k]
            if u in affected or not own[u]:
                continue
            d = dist[u] + cost[k]
            if d < best:
                best, by = d, u
        if best <= limit:
            dist[v], pred[v], source[v] = best, by, source[by]
            heap.append((best, v))
    search_reference(heap, tree, redo.__contains__, adj, None)
    return True


def add_reference(
    tree: Forest,
    own: np.ndarray,
    gained: list[int],
    adj: Adjacency,
    sources: frozenset[int],
    budget: int,
    no_node: int,
) -> bool:
    """The searchable set gained nodes ``gained``: distances shrink, so seed them (a source
    at 0) and relax outwards. False past ``budget`` settled nodes (what :func:`forest_add`
    does, in plain Python)."""
    indptr, col, cost = adj
    dist, pred, source = tree.dist, tree.pred, tree.source
    limit = tree.limit
    heap = []
    for g in gained:
        if g in sources:
            dist[g], pred[g], source[g] = 0.0, no_node, g
            heap.append((0.0, g))
            continue
        best, by = np.inf, no_node
        for k in range(indptr[g], indptr[g + 1]):
            u = col[k]
            if own[u] and dist[u] != np.inf:
                d = dist[u] + cost[k]
                if d < best:
                    best, by = d, u
        if best <= limit:
            dist[g], pred[g], source[g] = best, by, source[by]
            heap.append((best, g))
    touched = tree.dirty
    if touched is not None:
        touched.update(gained)
    return search_reference(heap, tree, own.__getitem__, adj, touched, budget)


def search_reference(
    heap: list[tuple[float, int]],
    tree: Forest,
    allowed: Callable[[int], bool],
    adj: Adjacency,
    touched: set[int] | None,
    budget: int | None = None,
) -> bool:
    """Dijkstra from the seeded ``heap`` over the nodes ``allowed`` accepts, improving
    ``tree`` where a path is shorter and within its tether, and adding the nodes it
    improves to ``touched`` (unless None). False if it settled more than ``budget`` nodes
    (the tree is then half-updated: the caller recomputes it)."""
    indptr, col, cost = adj
    dist, pred, source = tree.dist, tree.pred, tree.source
    limit = tree.limit
    heapq.heapify(heap)
    settled = 0
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue  # a stale entry
        settled += 1
        if budget is not None and settled > budget:
            return False
        src = source[u]
        for k in range(indptr[u], indptr[u + 1]):
            v = col[k]
            nd = d + cost[k]
            if nd < dist[v] and nd <= limit and allowed(v):
                dist[v], pred[v], source[v] = nd, u, src
                heapq.heappush(heap, (nd, v))
                if touched is not None:
                    touched.add(v)
    return True


__all__ = [
    "Adjacency",
    "Forest",
    "add_reference",
    "remove_reference",
    "search_reference",
    "forest_add",
    "forest_remove",
]
