"""A compiled copy of scipy's ``cKDTree``: the same tree, walked the same way.

Compiled with Numba; bit-identical to numpy (see :mod:`sim.kernels`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# --- scipy's cKDTree, for its choice among equally near points -----------------------------------
# A k-d tree search picks, among several points at exactly the nearest distance, the first it
# meets, which depends on how the tree was built and is walked. The model's combat has always
# used scipy.spatial.cKDTree (leafsize 16, balanced, compact nodes) for that choice; what
# follows builds the same tree and walks it the same way, so the choice is the same, without
# scipy's per-call overhead. The building blocks are those of libstdc++ (std::nth_element as
# introselect with median-of-three pivots and its heap-select fallback, std::partition,
# std::min_element), which scipy's build calls. tests/test_jit.py checks tree order and
# answers against scipy's.
_LEAFSIZE = 16


@njit(cache=True, nogil=True)
def _lg(n):
    k = 0
    while n > 1:
        n >>= 1
        k += 1
    return k


@njit(cache=True, nogil=True)
def _adjust_heap(idx, first, hole, length, value, key):
    # libstdc++ std::__adjust_heap then std::__push_heap (a max-heap on key)
    top = hole
    child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if key[idx[first + child]] < key[idx[first + child - 1]]:
            child -= 1
        idx[first + hole] = idx[first + child]
        hole = child
    if (length & 1) == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        idx[first + hole] = idx[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and key[idx[first + parent]] < key[value]:
        idx[first + hole] = idx[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    idx[first + hole] = value


@njit(cache=True, nogil=True)
def _heap_select(idx, first, middle, last, key):
    # libstdc++ std::__heap_select: make_heap(first, middle), then pop_heap for smaller ones
    length = middle - first
    if length >= 2:
        parent = (length - 2) // 2
        while True:
            _adjust_heap(idx, first, parent, length, idx[first + parent], key)
            if parent == 0:
                break
            parent -= 1
    for i in range(middle, last):
        if key[idx[i]] < key[idx[first]]:
            value = idx[i]
            idx[i] = idx[first]
            _adjust_heap(idx, first, 0, length, value, key)


@njit(cache=True, nogil=True)
def _nth_element(idx, first, nth, last, key):
    # std::nth_element (libstdc++ __introselect)
    if first == last or nth == last:
        return True
    depth = 2 * _lg(last - first)
    while last - first > 3:
        if depth == 0:
            _heap_select(idx, first, nth + 1, last, key)
            idx[first], idx[nth] = idx[nth], idx[first]
            return True
        depth -= 1
        # __unguarded_partition_pivot: median of (first+1, mid, last-1) moved to first
        mid = first + (last - first) // 2
        a, b, c = first + 1, mid, last - 1
        ka, kb, kc = key[idx[a]], key[idx[b]], key[idx[c]]
        if ka < kb:
            if kb < kc:
                m = b
            elif ka < kc:
                m = c
            else:
                m = a
        elif ka < kc:
            m = a
        elif kb < kc:
            m = c
        else:
            m = b
        idx[first], idx[m] = idx[m], idx[first]
        # __unguarded_partition(first + 1, last, pivot=first)
        pivot = key[idx[first]]
        lo, hi = first + 1, last
        while True:
            while key[idx[lo]] < pivot:
                lo += 1
            hi -= 1
            while pivot < key[idx[hi]]:
                hi -= 1
            if not lo < hi:
                break
            idx[lo], idx[hi] = idx[hi], idx[lo]
            lo += 1
        cut = lo
        if cut <= nth:
            first = cut
        else:
            last = cut
    # __insertion_sort(first, last)
    if first == last:
        return True
    for i in range(first + 1, last):
        val = idx[i]
        if key[val] < key[idx[first]]:
            for j in range(i, first, -1):
                idx[j] = idx[j - 1]
            idx[first] = val
        else:
            j = i
            while key[val] < key[idx[j - 1]]:
                idx[j] = idx[j - 1]
                j -= 1
            idx[j] = val
    return True


@njit(cache=True, nogil=True)
def _partition(idx, first, last, key, split):
    # std::partition(first, last, key < split) (libstdc++, bidirectional)
    while True:
        while True:
            if first == last:
                return first
            if key[idx[first]] < split:
                first += 1
            else:
                break
        last -= 1
        while True:
            if first == last:
                return first
            if not key[idx[last]] < split:
                last -= 1
            else:
                break
        idx[first], idx[last] = idx[last], idx[first]
        first += 1


@njit(cache=True, nogil=True)
def _widest(xs, ys, idx, s, e):
    # The dimension of widest spread of points idx[s:e] (compact bounds), with its max and min.
    i0 = idx[s]
    mx0, mn0, mx1, mn1 = xs[i0], xs[i0], ys[i0], ys[i0]
    for j in range(s + 1, e):
        t0, t1 = xs[idx[j]], ys[idx[j]]
        mx0 = mx0 if mx0 > t0 else t0
        mn0 = mn0 if mn0 < t0 else t0
        mx1 = mx1 if mx1 > t1 else t1
        mn1 = mn1 if mn1 < t1 else t1
    d = 0
    size = 0.0
    if mx0 - mn0 > size:
        d, size = 0, mx0 - mn0
    if mx1 - mn1 > size:
        d, size = 1, mx1 - mn1
    return d, (mx0 if d == 0 else mx1), (mn0 if d == 0 else mn1)


@njit(cache=True, nogil=True)
def kd_build(points):
    """scipy's cKDTree(points) for 2-d points: (indices, split_dim, split, start, end, less,
    greater, ok); nodes in scipy's (pre)order, -1 split_dim for leaves; ok False where scipy's
    build would take a path not reproduced here (the caller then uses scipy)."""
    n = len(points)
    xs = np.ascontiguousarray(points[:, 0])
    ys = np.ascontiguousarray(points[:, 1])
    idx = np.arange(n)
    cap = 2 * n + 1  # a binary tree with at most n leaves
    split_dim = np.full(cap, -1, dtype=np.int64)
    split = np.zeros(cap)
    start = np.zeros(cap, dtype=np.int64)
    end = np.zeros(cap, dtype=np.int64)
    less = np.full(cap, -1, dtype=np.int64)
    greater = np.full(cap, -1, dtype=np.int64)
    # Preorder with an explicit stack of (start, end, parent, is_greater).
    st_s = np.empty(cap, dtype=np.int64)
    st_e = np.empty(cap, dtype=np.int64)
    st_p = np.empty(cap, dtype=np.int64)
    st_g = np.empty(cap, dtype=np.int64)
    sp = 0
    st_s[0], st_e[0], st_p[0], st_g[0] = 0, n, -1, 0
    sp = 1
    count = 0
    while sp > 0:
        sp -= 1
        s, e, parent, is_g = st_s[sp], st_e[sp], st_p[sp], st_g[sp]
        if count >= cap:
            return idx, split_dim, split, start, end, less, greater, False
        node = count
        count += 1
        start[node], end[node] = s, e
        if parent >= 0:
            if is_g:
                greater[parent] = node
            else:
                less[parent] = node
        if e - s <= _LEAFSIZE:
            continue
        d, maxval, minval = _widest(xs, ys, idx, s, e)
        if maxval == minval:
            continue  # all points identical: a leaf
        key = xs if d == 0 else ys
        mid = s + (e - s) // 2
        if not _nth_element(idx, s, mid, e, key):
            return idx, split_dim, split, start, end, less, greater, False
        sv = key[idx[mid]]
        p = _partition(idx, s, mid, key, sv)
        if p == s:
            # slide: just above the smallest coordinate
            m_i = idx[s]
            for j in range(s + 1, e):
                if key[idx[j]] < key[m_i]:
                    m_i = idx[j]
            sv = np.nextafter(key[m_i], np.inf)
            p = _partition(idx, s, e, key, sv)
        if p == s or p == e:
            return idx, split_dim, split, start, end, less, greater, False
        split_dim[node] = d
        split[node] = sv
        # push greater first so that less is built (numbered) first
        st_s[sp], st_e[sp], st_p[sp], st_g[sp] = p, e, node, 1
        sp += 1
        st_s[sp], st_e[sp], st_p[sp], st_g[sp] = s, p, node, 0
        sp += 1
    return idx, split_dim, split, start, end, less, greater, True


@njit(cache=True, nogil=True)
def _root_bounds(points):
    # The root's bounds, as np.amax / np.amin of the data.
    mx0, mn0, mx1, mn1 = points[0, 0], points[0, 0], points[0, 1], points[0, 1]
    for j in range(1, len(points)):
        t0, t1 = points[j, 0], points[j, 1]
        mx0 = mx0 if mx0 >= t0 else t0
        mn0 = mn0 if mn0 <= t0 else t0
        mx1 = mx1 if mx1 >= t1 else t1
        mn1 = mn1 if mn1 <= t1 else t1
    return mx0, mn0, mx1, mn1


@njit(cache=True, nogil=True)
def _side_distance(x, mx, mn):
    # Squared distance from a coordinate to an interval [mn, mx], as scipy's rectangle does it.
    s = 0.0
    t = x - mx
    if t > s:
        s = t
    else:
        t = mn - x
        if t > s:
            s = t
    return s * s


@njit(cache=True, nogil=True)
def _queue_push(q, hn, slots, pri, node, s0, s1):
    # scipy's search queue, a binary heap of (priority, node, side distances): the heap holds
    # (priority, slot) and sifts as scipy's heap::push; the slot keeps the rest. Returns the
    # queue, grown if it was full.
    h_pri, h_slot, p_node, p_s0, p_s1 = q
    if hn == len(h_pri):
        h_pri = np.concatenate((h_pri, np.empty(len(h_pri))))
        h_slot = np.concatenate((h_slot, np.empty(len(h_slot), dtype=np.int64)))
    if slots == len(p_node):
        p_node = np.concatenate((p_node, np.empty(len(p_node), dtype=np.int64)))
        p_s0 = np.concatenate((p_s0, np.empty(len(p_s0))))
        p_s1 = np.concatenate((p_s1, np.empty(len(p_s1))))
    p_node[slots], p_s0[slots], p_s1[slots] = node, s0, s1
    _heap_push(h_pri, h_slot, hn, pri, slots)
    return (h_pri, h_slot, p_node, p_s0, p_s1)


@njit(cache=True, nogil=True)
def _queue_pop(q, hn):
    # scipy's heap::remove on the search queue: (priority, node, side distances) of the root.
    h_pri, h_slot, p_node, p_s0, p_s1 = q
    pri, slot = h_pri[0], h_slot[0]
    _heap_remove(h_pri, h_slot, hn)
    return pri, p_node[slot], p_s0[slot], p_s1[slot]


@njit(cache=True, nogil=True)
def _walk(points, tree, bounds, x0, x1, ub, kmax, nb_pri, nb_idx, q):
    """scipy's ``query_single_point`` traversal (p=2, eps=0) for one point: the ``kmax``
    nearest points closer than sqrt(``ub``) go into the neighbour heap ``nb_pri``/``nb_idx``
    (priority -d, the farthest on top), in scipy's order among equals. Returns their count and
    the search queue (grown if it had to be, so that the caller can reuse it)."""
    idx, split_dim, split, start, end, less, greater, _ = tree
    mx0, mn0, mx1, mn1 = bounds
    cur_s0 = _side_distance(x0, mx0, mn0)
    cur_s1 = _side_distance(x1, mx1, mn1)
    cur_node = 0
    cur_min = 0.0
    cur_min += cur_s0 - 0.0
    cur_min += cur_s1 - 0.0
    hn = 0  # nodes in the search queue
    slots = 0  # nodes ever queued
    nn = 0  # neighbours held
    while True:
        if split_dim[cur_node] == -1:
            for i in range(start[cur_node], end[cur_node]):
                j = idx[i]
                u0 = points[j, 0] - x0
                u1 = points[j, 1] - x1
                d = 0.0
                d += u0 * u0
                d += u1 * u1
                if d < ub:
                    if nn == kmax:  # remove the farthest
                        nn = _heap_remove(nb_pri, nb_idx, nn)
                    nn = _heap_push(nb_pri, nb_idx, nn, -d, j)
                    if nn == kmax:
                        ub = -nb_pri[0]
            if hn == 0:
                break
            cur_min, cur_node, cur_s0, cur_s1 = _queue_pop(q, hn)
            hn -= 1
            continue
        if cur_min > ub * 1.0:
            break
        sd = split_dim[cur_node]
        sv = split[cur_node]
        xv = x0 if sd == 0 else x1
        far_min, far_s0, far_s1 = cur_min, cur_s0, cur_s1
        if xv < sv:
            near, far = less[cur_node], greater[cur_node]
            side = sv - xv
        else:
            near, far = greater[cur_node], less[cur_node]
            side = xv - sv
        side = side * side
        if sd == 0:
            far_min += side - far_s0
            far_s0 = side
        else:
            far_min += side - far_s1
            far_s1 = side
        cur_node = near
        if cur_min > far_min:
            cur_node, far = far, cur_node
            cur_min, far_min = far_min, cur_min
            cur_s0, far_s0 = far_s0, cur_s0
            cur_s1, far_s1 = far_s1, cur_s1
        if far_min <= ub * 1.0:
            q = _queue_push(q, hn, slots, far_min, far, far_s0, far_s1)
            hn += 1
            slots += 1
    return nn, q


@njit(cache=True, nogil=True)
def _new_queue():
    cap = 64
    slots = np.empty(cap, dtype=np.int64)
    return (np.empty(cap), slots, np.empty(cap, dtype=np.int64), np.empty(cap), np.empty(cap))


@njit(cache=True, nogil=True)
def kd_query(points, tree, x0, x1, bound):
    """scipy's ``cKDTree.query(x, distance_upper_bound=bound)`` (k=1, p=2, eps=0) on a tree
    from :func:`kd_build`: (distance, index), (inf, len(points)) if none within bound."""
    nb_pri = np.empty(2)
    nb_idx = np.empty(2, dtype=np.int64)
    bounds = _root_bounds(points)
    nn, _ = _walk(points, tree, bounds, x0, x1, bound * bound, 1, nb_pri, nb_idx, _new_queue())
    if nn == 0:
        return np.inf, len(points)
    return np.sqrt(-nb_pri[0]), nb_idx[0]


@njit(cache=True, nogil=True)
def kd_resolve(points, mids, rows, bound, dist, k):
    """``dist[r], k[r] = cKDTree(points).query(mids[r], distance_upper_bound=bound)`` for each
    ``r`` in ``rows``, in place. False (nothing written) where scipy's build would take a
    path :func:`kd_build` does not reproduce."""
    tree = kd_build(points)
    if not tree[-1]:
        return False
    # kd_query for each row, with the root's bounds, the neighbour heap and the search queue
    # made once: a day has a few dozen ties, and their allocation cost more than their walks.
    nb_pri = np.empty(2)
    nb_idx = np.empty(2, dtype=np.int64)
    bounds = _root_bounds(points)
    q = _new_queue()
    ub = bound * bound
    for r in rows:
        nn, q = _walk(points, tree, bounds, mids[r, 0], mids[r, 1], ub, 1, nb_pri, nb_idx, q)
        if nn == 0:
            dist[r], k[r] = np.inf, len(points)
        else:
            dist[r], k[r] = np.sqrt(-nb_pri[0]), nb_idx[0]
    return True


@njit(cache=True, nogil=True)
def kd_resolve_ties(points, keys, mids, rows, lone, bound, dist, k, lead):
    """:func:`kd_resolve`, told which ties are among coincident points.

    Where the points nearest ``mids[rows[i]]`` all share one position (``lone[i] >= 0``, the
    ``keys`` of those points, e.g. units stacked on one node), the tree's answer does not depend
    on the query point: the build splits by coordinate, so coincident points always end in the
    same leaf, and the walk takes the first of them in that leaf (the rest are not closer).
    So ``k[rows[i]]`` becomes the first point of key ``lone[i]`` in the tree's point order,
    with no walk, and ``dist`` is left as given. Other rows (``lone[i] < 0``) are walked as
    :func:`kd_resolve` walks them. ``lead`` is scratch indexed by key, zero on entry and on
    return. False (nothing written) where :func:`kd_build` does not reproduce scipy's build.
    """
    tree = kd_build(points)
    if not tree[-1]:
        return False
    idx = tree[0]
    # The first point of each key in tree order, plus one (0: not seen yet).
    for i in range(len(idx)):
        j = idx[i]
        if lead[keys[j]] == 0:
            lead[keys[j]] = j + 1
    nb_pri = np.empty(2)
    nb_idx = np.empty(2, dtype=np.int64)
    bounds = _root_bounds(points)
    q = _new_queue()
    ub = bound * bound
    for i in range(len(rows)):
        r = rows[i]
        if lone[i] >= 0:
            k[r] = lead[lone[i]] - 1
            continue
        nn, q = _walk(points, tree, bounds, mids[r, 0], mids[r, 1], ub, 1, nb_pri, nb_idx, q)
        if nn == 0:
            dist[r], k[r] = np.inf, len(points)
        else:
            dist[r], k[r] = np.sqrt(-nb_pri[0]), nb_idx[0]
    for j in range(len(keys)):
        lead[keys[j]] = 0
    return True


@njit(cache=True, nogil=True)
def kd_knn(points, tree, queries, kmax):
    """scipy's ``cKDTree.query(queries, k=kmax)`` (p=2, eps=0, no bound) on a tree from
    :func:`kd_build`: distances and indices, shape (len(queries), kmax), nearest first, with
    scipy's order among equals (its neighbour heap, emptied from the back)."""
    n = len(points)
    bounds = _root_bounds(points)
    out_d = np.full((len(queries), kmax), np.inf)
    out_i = np.full((len(queries), kmax), n, dtype=np.int64)
    nb_pri = np.empty(kmax + 1)
    nb_idx = np.empty(kmax + 1, dtype=np.int64)
    q = _new_queue()
    for r in range(len(queries)):
        x0, x1 = queries[r, 0], queries[r, 1]
        nn, q = _walk(points, tree, bounds, x0, x1, np.inf, kmax, nb_pri, nb_idx, q)
        # scipy's heapsort: pop into place from the back
        for c in range(nn - 1, -1, -1):
            pri, j = nb_pri[0], nb_idx[0]
            nn = _heap_remove(nb_pri, nb_idx, nn)
            out_d[r, c] = np.sqrt(-pri)
            out_i[r, c] = j
    return out_d, out_i


@njit(cache=True, nogil=True)
def _heap_push(pri, val, n, p, v):
    # scipy ckdtree's heap::push (sift up while strictly smaller than the parent)
    i = n
    pri[i], val[i] = p, v
    while i > 0 and pri[i] < pri[(i - 1) // 2]:
        q = (i - 1) // 2
        pri[i], pri[q] = pri[q], pri[i]
        val[i], val[q] = val[q], val[i]
        i = q
    return n + 1


@njit(cache=True, nogil=True)
def _heap_remove(pri, val, n):
    # scipy ckdtree's heap::remove (last to the root, sift down)
    pri[0], val[0] = pri[n - 1], val[n - 1]
    n -= 1
    i, j, k = 0, 1, 2
    while (j < n and pri[i] > pri[j]) or (k < n and pri[i] > pri[k]):
        c = k if (k < n and pri[j] > pri[k]) else j
        pri[i], pri[c] = pri[c], pri[i]
        val[i], val[c] = val[c], val[i]
        i = c
        j = 2 * i + 1
        k = 2 * i + 2
    return n


__all__ = ["kd_build", "kd_knn", "kd_query", "kd_resolve", "kd_resolve_ties"]
