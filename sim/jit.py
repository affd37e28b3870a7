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
    """
    n_units = len(unit_nodes)
    for r in range(n_units):
        occupancy[unit_nodes[r]] += 1
        first[unit_nodes[r]] = r
    n = len(edges)
    dist = np.empty(n)
    k = np.empty(n, dtype=np.int64)
    tied = np.empty(n, dtype=np.int64)
    n_tied = 0
    for i in range(n):
        e = edges[i]
        lo = start[e]
        hi = lo + count[e]
        best = np.inf
        units = 0
        kk = n_units
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
                units += c
        dist[i] = np.sqrt(best)
        if units > 1:
            kk = -2
            tied[n_tied] = i
            n_tied += 1
        k[i] = kk
    for r in range(n_units):
        occupancy[unit_nodes[r]] = 0
        first[unit_nodes[r]] = 0
    return dist, k, tied[:n_tied]


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


# --- combat -----------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def presence_frontage(
    dist, k, n_rows, posture, personnel, border, attack_frontage, present, per_km
):
    """First half of :func:`sim.combat._presence`, after the nearest-unit search.

    ``k`` (index among the rows, ``n_rows`` where ``dist`` is infinite) is made 0 where no unit
    is near; ``present`` is written (a unit covers the edge: attackers only within
    ``attack_frontage``) and ``per_km`` (men per km of each row's stretch of front). The
    frontage sums add each edge's border in edge order, as ``np.bincount`` does.
    """
    frontage = np.zeros(n_rows)
    for e in range(len(dist)):
        ok = dist[e] < np.inf
        if not ok:
            k[e] = 0
        ok = ok and (posture[k[e]] != 1 or dist[e] <= attack_frontage)
        present[e] = ok
        if ok:
            frontage[k[e]] += border[e]
    for r in range(n_rows):
        per_km[r] = personnel[r] / frontage[r] if frontage[r] > 0 else 0.0


@njit(cache=True, nogil=True)
def presence_power(
    k, present, posture, rows, per_km, cap, border, eff, depth, owner, engaged, power, attacking
):
    """Second half of :func:`sim.combat._presence`: men engaged and combat power per edge
    (``eff`` and ``depth`` per row), the owning row and whether it assaults."""
    for e in range(len(k)):
        r = k[e]
        if present[e]:
            m = per_km[r]
            engaged[e] = (m if m < cap else cap) * border[e]
            owner[e] = rows[r]
            attacking[e] = posture[r] == 1
        else:
            engaged[e] = 0.0
            owner[e] = -1
            attacking[e] = False
        power[e] = engaged[e] * (eff[r] * depth[r])


# --- counter-based uniforms ------------------------------------------------------------------
@njit(cache=True, nogil=True)
def splitmix_uniforms(heads, ids, out):
    """``out[s, i]`` = :func:`sim.rng.uniforms` of ``ids[i]`` for the stream whose head (the
    hash of key, day and stream) is ``heads[s]``: the same wrapping uint64 arithmetic."""
    golden = np.uint64(0x9E3779B97F4A7C15)
    m1 = np.uint64(0xBF58476D1CE4E5B9)
    m2 = np.uint64(0x94D049BB133111EB)
    scale = 1.0 / 9007199254740992.0
    for s in range(len(heads)):
        h = heads[s]
        for i in range(len(ids)):
            x = (np.uint64(ids[i]) ^ h) + golden
            x = (x ^ (x >> np.uint64(30))) * m1
            x = (x ^ (x >> np.uint64(27))) * m2
            x = x ^ (x >> np.uint64(31))
            out[s, i] = (np.float64(x >> np.uint64(11)) + 0.5) * scale


@njit(cache=True, nogil=True)
def select_battles(
    fe, eu, ev, border, control, engaged0, engaged1, power0, power1, att0, att1, owner0, owner1
):
    """The front edges where anyone is engaged, with who assaults and who defends (the middle
    of :func:`sim.combat.combat_phase`).

    Returns
    -------
    tuple of arrays over the selected edges
        edge, u end, v end, border, attacker (int8), assault, defended node, engaged (attacker,
        defender), power (attacker, defender), owner row (attacker, defender).
    """
    n = 0
    for i in range(len(fe)):
        if engaged0[i] > 0 or engaged1[i] > 0:
            n += 1
    s_fe = np.empty(n, dtype=fe.dtype)
    s_u = np.empty(n, dtype=eu.dtype)
    s_v = np.empty(n, dtype=ev.dtype)
    s_border = np.empty(n)
    a = np.empty(n, dtype=np.int8)
    assault = np.empty(n, dtype=np.bool_)
    defended = np.empty(n, dtype=eu.dtype)
    eng_a, eng_d = np.empty(n), np.empty(n)
    pow_a, pow_d = np.empty(n), np.empty(n)
    own_a = np.empty(n, dtype=owner0.dtype)
    own_d = np.empty(n, dtype=owner0.dtype)
    j = 0
    for i in range(len(fe)):
        if not (engaged0[i] > 0 or engaged1[i] > 0):
            continue
        # One assaulting side per edge; in a meeting engagement the stronger side leads.
        side_a = 1 if att1[i] and (not att0[i] or power1[i] >= power0[i]) else 0
        s_fe[j], s_u[j], s_v[j], s_border[j] = fe[i], eu[i], ev[i], border[i]
        a[j] = side_a
        assault[j] = att0[i] or att1[i]
        defended[j] = eu[i] if control[eu[i]] == 1 - side_a else ev[i]
        if side_a == 1:
            eng_a[j], eng_d[j] = engaged1[i], engaged0[i]
            pow_a[j], pow_d[j] = power1[i], power0[i]
            own_a[j], own_d[j] = owner1[i], owner0[i]
        else:
            eng_a[j], eng_d[j] = engaged0[i], engaged1[i]
            pow_a[j], pow_d[j] = power0[i], power1[i]
            own_a[j], own_d[j] = owner0[i], owner1[i]
        j += 1
    return (
        s_fe,
        s_u,
        s_v,
        s_border,
        a,
        assault,
        defended,
        eng_a,
        eng_d,
        pow_a,
        pow_d,
        own_a,
        own_d,
    )


@njit(cache=True, nogil=True)
def fires_and_surprise(
    border,
    assault,
    a,
    fires_total,
    glide_per_day,
    focus_share,
    sector,
    surprise_day,
    day,
    surprise_days,
    surprise_multiplier,
    surprise_exploitation,
    scratch,
):
    """Fires delivered on each edge (a share spread along the front, the rest on the assault
    axes), glide bombs, and the fading surprise multiplier and unseen share, as the numpy
    expressions of :func:`sim.combat.combat_phase` compute them (``scratch``: len(border))."""
    n = len(border)
    weight = np.empty(n)
    norm = max(np_sum(border, n), 1e-9)
    for i in range(n):
        scratch[i] = border[i] * (1.0 if assault[i] else 0.0)
    focus_total = np_sum(scratch, n)
    if focus_total > 0:
        for i in range(n):
            weight[i] = (1.0 - focus_share) * border[i] / norm + focus_share * scratch[
                i
            ] / focus_total
    else:
        for i in range(n):
            weight[i] = border[i] / norm
    fires_a, fires_d, glide = np.empty(n), np.empty(n), np.empty(n)
    surprise, unseen = np.empty(n), np.empty(n)
    for i in range(n):
        fires_a[i] = fires_total[a[i]] * weight[i]
        fires_d[i] = fires_total[1 - a[i]] * weight[i]
        glide[i] = glide_per_day * weight[i] if a[i] == 1 else 0.0
        since = day - surprise_day[a[i], sector[i]]
        f = 0.0
        if since >= 0 and assault[i]:
            f = 1.0 - since / surprise_days
            if not f > 0.0:  # np.maximum(0.0, f)
                f = 0.0
        surprise[i] = 1.0 + (surprise_multiplier - 1.0) * f
        unseen[i] = surprise_exploitation * f
    return fires_a, fires_d, glide, surprise, unseen


@njit(cache=True, nogil=True)
def losses_and_threat(
    n_units,
    losses_a,
    losses_d,
    owner_a,
    owner_d,
    assault,
    a,
    sector,
    power_a,
    power_d,
    posture,
    max_ratio,
    threat,
    attack_ratio,
):
    """Men each unit lost today, and each side's threat and attack ratio by sector, as the
    bincounts of :func:`sim.combat.combat_phase` sum them (edge order; ``threat`` and
    ``attack_ratio`` are written in place).
    """
    lost_a = np.zeros(n_units)
    lost_d = np.zeros(n_units)
    for i in range(len(losses_a)):
        if owner_a[i] >= 0:
            lost_a[owner_a[i]] += losses_a[i]
        if owner_d[i] >= 0:
            lost_d[owner_d[i]] += losses_d[i]
    unit_losses = lost_a + lost_d
    k = threat.shape[1]
    threat[:] = 0.0
    attack_ratio[:] = 0.0
    for side in range(2):
        push = np.zeros(k)
        hold = np.zeros(k)
        seen = False
        for i in range(len(a)):
            if assault[i] and 1 - a[i] == side:
                seen = True
                push[sector[i]] += power_a[i]
                hold[sector[i]] += power_d[i] * posture[i]
        if not seen:
            continue
        for s in range(k):
            if hold[s] > 0:
                ratio = push[s] / max(hold[s], 1e-9)
            else:
                ratio = max_ratio if push[s] > 0 else 0.0
            threat[side, s] = ratio
            other = attack_ratio[1 - side, s]
            attack_ratio[1 - side, s] = other if other >= ratio else ratio
    return unit_losses


# --- movement ---------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def advance(
    defended,
    advance_km,
    assault,
    losses_d,
    engaged_d,
    penetration,
    loss_memory,
    depth_km,
    keep,
    withdrawal_loss,
    gain,
    today,
):
    """Penetration and the defenders' loss memory after today's fighting (in place), and the
    nodes that change hands, ascending (see :func:`sim.movement._advance`).

    ``gain`` and ``today`` are zero scratch arrays, one entry per node, left zero on return.
    """
    for i in range(len(defended)):
        n = defended[i]
        if advance_km[i] > gain[n]:
            gain[n] = advance_km[i]
        if assault[i]:
            frac = losses_d[i] / engaged_d[i] if engaged_d[i] > 0 else 0.0
            if frac > today[n]:
                today[n] = frac
    for i in range(len(defended)):
        n = defended[i]
        if gain[n] != 0.0:
            penetration[n] += gain[n]  # every other node gains 0.0, which changes nothing
            gain[n] = 0.0
    share = 1.0 - keep
    flips = np.empty(len(penetration), dtype=np.int64)
    n_flips = 0
    for n in range(len(penetration)):
        m = loss_memory[n] * keep
        loss_memory[n] = m + share * today[n]
        today[n] = 0.0
        if penetration[n] >= depth_km[n] or loss_memory[n] > withdrawal_loss:
            flips[n_flips] = n
            n_flips += 1
    return flips[:n_flips]


@njit(cache=True, nogil=True)
def fortify(
    edge_u,
    edge_v,
    border,
    defended,
    engaged_a,
    engaged_d,
    assault,
    glide_bombs,
    fortification,
    hasty,
    build_rate,
    density_needed,
    under_assault,
    glide_damage,
    density,
    assaulted,
):
    """Both sides dig in where they hold the front densely enough; glide bombs wear the works
    down (in place; see :func:`sim.movement._fortify`). ``density`` and ``assaulted`` are zero
    scratch arrays, one entry per node, left zero on return."""
    for i in range(len(defended)):
        d = defended[i]
        own = edge_u[i] + edge_v[i] - d  # the other end
        x = engaged_d[i] / border[i]
        if x > density[d]:
            density[d] = x
        x = engaged_a[i] / border[i]
        if x > density[own]:
            density[own] = x
        if assault[i]:
            assaulted[d] = True
    for n in range(len(fortification)):
        if density[n] > 0:
            phi = fortification[n] if fortification[n] >= hasty else hasty
            ratio = density[n] / density_needed
            rate = build_rate * (1.0 if 1.0 <= ratio else ratio)
            rate = rate * (under_assault if assaulted[n] else 1.0)
            fortification[n] = phi + rate * (1.0 - phi / 3.0)
        density[n] = 0.0
        assaulted[n] = False
    for i in range(len(defended)):
        d = defended[i]
        fortification[d] = fortification[d] - glide_damage * glide_bombs[i]
    for n in range(len(fortification)):
        # np.clip(x, 0, 3) as numpy computes it: min(max(x, 0), 3), NaN kept.
        x = fortification[n]
        if not np.isnan(x):
            x = x if x > 0.0 else 0.0
            x = x if x < 3.0 else 3.0
        fortification[n] = x


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
        # compact bounds of the node's points
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
        maxval = mx0 if d == 0 else mx1
        minval = mn0 if d == 0 else mn1
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
def kd_query(points, tree, x0, x1, bound):
    """scipy's ``cKDTree.query(x, distance_upper_bound=bound)`` (k=1, p=2, eps=0) on a tree
    from :func:`kd_build`: (distance, index), (inf, len(points)) if none within bound."""
    idx, split_dim, split, start, end, less, greater, _ = tree
    n = len(points)
    # root bounds, as np.amax / np.amin of the data
    mx0, mn0, mx1, mn1 = points[0, 0], points[0, 0], points[0, 1], points[0, 1]
    for j in range(1, n):
        t0, t1 = points[j, 0], points[j, 1]
        mx0 = mx0 if mx0 >= t0 else t0
        mn0 = mn0 if mn0 <= t0 else t0
        mx1 = mx1 if mx1 >= t1 else t1
        mn1 = mn1 if mn1 <= t1 else t1
    # the node being visited: node, min distance, side distances
    s0 = 0.0
    t = x0 - mx0
    if t > s0:
        s0 = t
    else:
        t = mn0 - x0
        if t > s0:
            s0 = t
    s0 = s0 * s0
    s1 = 0.0
    t = x1 - mx1
    if t > s1:
        s1 = t
    else:
        t = mn1 - x1
        if t > s1:
            s1 = t
    s1 = s1 * s1
    cur_node = 0
    cur_min = 0.0
    cur_min += s0 - 0.0
    cur_min += s1 - 0.0
    cur_s0, cur_s1 = s0, s1
    ub = bound * bound
    # the search queue: a binary heap as scipy's (priority, node, side distances)
    cap = 64
    h_pri = np.empty(cap)
    h_node = np.empty(cap, dtype=np.int64)
    h_s0 = np.empty(cap)
    h_s1 = np.empty(cap)
    hn = 0
    best_d = np.inf
    best_i = n
    found = False
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
                    found = True
                    best_d, best_i = d, j
                    ub = d
            if hn == 0:
                break
            # pop the root, then scipy's remove()
            cur_min, cur_node, cur_s0, cur_s1 = h_pri[0], h_node[0], h_s0[0], h_s1[0]
            hn -= 1
            h_pri[0], h_node[0], h_s0[0], h_s1[0] = h_pri[hn], h_node[hn], h_s0[hn], h_s1[hn]
            i, j, k = 0, 1, 2
            while (j < hn and h_pri[i] > h_pri[j]) or (k < hn and h_pri[i] > h_pri[k]):
                c = k if (k < hn and h_pri[j] > h_pri[k]) else j
                h_pri[i], h_pri[c] = h_pri[c], h_pri[i]
                h_node[i], h_node[c] = h_node[c], h_node[i]
                h_s0[i], h_s0[c] = h_s0[c], h_s0[i]
                h_s1[i], h_s1[c] = h_s1[c], h_s1[i]
                i = c
                j = 2 * i + 1
                k = 2 * i + 2
        else:
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
                if hn == cap:
                    cap *= 2
                    h_pri = np.concatenate((h_pri, np.empty(cap - hn)))
                    h_node = np.concatenate((h_node, np.empty(cap - hn, dtype=np.int64)))
                    h_s0 = np.concatenate((h_s0, np.empty(cap - hn)))
                    h_s1 = np.concatenate((h_s1, np.empty(cap - hn)))
                i = hn
                hn += 1
                h_pri[i], h_node[i], h_s0[i], h_s1[i] = far_min, far, far_s0, far_s1
                while i > 0 and h_pri[i] < h_pri[(i - 1) // 2]:
                    q = (i - 1) // 2
                    h_pri[i], h_pri[q] = h_pri[q], h_pri[i]
                    h_node[i], h_node[q] = h_node[q], h_node[i]
                    h_s0[i], h_s0[q] = h_s0[q], h_s0[i]
                    h_s1[i], h_s1[q] = h_s1[q], h_s1[i]
                    i = q
    if not found:
        return np.inf, n
    return np.sqrt(best_d), best_i


@njit(cache=True, nogil=True)
def kd_resolve(points, mids, rows, bound, dist, k):
    """``dist[r], k[r] = cKDTree(points).query(mids[r], distance_upper_bound=bound)`` for each
    ``r`` in ``rows``, in place. False (nothing written) where scipy's build would take a
    path :func:`kd_build` does not reproduce."""
    tree = kd_build(points)
    if not tree[-1]:
        return False
    for r in rows:
        dist[r], k[r] = kd_query(points, tree, mids[r, 0], mids[r, 1], bound)
    return True


# --- supply ------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def nearest_hub_distance(nodes, start, hub_of, dist, n_hubs):
    """Per hub, the least of ``dist`` over the (node, hub) pairs of ``nodes`` (pairs of node
    ``v`` at ``start[v]:start[v+1]``); ``inf`` for a hub with none."""
    out = np.full(n_hubs, np.inf)
    for v in nodes:
        for j in range(start[v], start[v + 1]):
            h = hub_of[j]
            if dist[j] < out[h]:
                out[h] = dist[j]
    return out


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


@njit(cache=True, nogil=True)
def front_geometry(mask, edge_u, edge_v, border, xy):
    """Ids, ends, border lengths and midpoints ``0.5 * (xy[u] + xy[v])`` of the edges in
    ``mask``, ascending."""
    n = 0
    for e in range(len(mask)):
        if mask[e]:
            n += 1
    fe = np.empty(n, dtype=np.int64)
    eu = np.empty(n, dtype=np.int64)
    ev = np.empty(n, dtype=np.int64)
    b = np.empty(n)
    mid = np.empty((n, 2))
    j = 0
    for e in range(len(mask)):
        if mask[e]:
            u, v = edge_u[e], edge_v[e]
            fe[j], eu[j], ev[j], b[j] = e, u, v, border[e]
            mid[j, 0] = 0.5 * (xy[u, 0] + xy[v, 0])
            mid[j, 1] = 0.5 * (xy[u, 1] + xy[v, 1])
            j += 1
    return fe, eu, ev, b, mid


@njit(cache=True, nogil=True)
def apply_losses(
    losses,
    personnel,
    establishment,
    losses_total,
    losses_since_refit,
    cohesion,
    side,
    cohesion_per_loss,
    buf,
):
    """Today's losses off each unit (capped at its men), its loss counters and cohesion, in
    place (see :func:`sim.movement._apply_losses`); returns each side's total, summed as numpy
    sums the masked array (``buf``: scratch, shape (2, n))."""
    c0 = c1 = 0
    for i in range(len(losses)):
        before = personnel[i]
        lost = losses[i] if losses[i] < before else before
        personnel[i] = before - lost
        losses_total[i] += lost
        losses_since_refit[i] += lost / establishment[i]
        frac = lost / before if before > 0 else 0.0
        x = cohesion[i] - cohesion_per_loss * frac
        if not np.isnan(x):  # np.clip(x, 0, 1): min(max(x, 0), 1)
            x = x if x > 0.0 else 0.0
            x = x if x < 1.0 else 1.0
        cohesion[i] = x
        if side[i] == 0:
            buf[0, c0] = lost
            c0 += 1
        elif side[i] == 1:
            buf[1, c1] = lost
            c1 += 1
    return np_sum(buf[0], c0), np_sum(buf[1], c1)


@njit(cache=True, nogil=True)
def supply_units(
    alive,
    side,
    node,
    posture,
    personnel,
    establishment,
    supply,
    cohesion,
    captured_total,
    connected,
    supply_level,
    decay_keep,
    decay,
    surrender,
    min_surrender,
    recovery_reserve,
    recovery_line,
    reserve_posture,
):
    """Supply reaches each living unit, or its stocks run down and, cut off, it loses cohesion
    and men to surrender; cohesion recovers (in place; see :func:`sim.movement._supply_units`).
    Returns the rows of units now below 5% of establishment."""
    dead = np.empty(len(alive), dtype=np.int64)
    n_dead = 0
    for i in range(len(alive)):
        if not alive[i]:
            continue
        s, v = side[i], node[i]
        linked = connected[s, v]
        if linked:
            supply[i] = supply_level[s, v]
        else:
            supply[i] = supply[i] * decay_keep
            x = cohesion[i] - decay * (1 - supply[i])
            cohesion[i] = x if x >= 0.0 else 0.0  # np.maximum(0.0, x)
            rate = surrender * (1 - supply[i]) * (1 - cohesion[i])
            rate = min_surrender if min_surrender >= rate else rate
            captured = personnel[i] * rate
            personnel[i] -= captured
            captured_total[i] += captured
        recovery = recovery_reserve if posture[i] >= reserve_posture else recovery_line
        y = cohesion[i] + recovery * (1.0 if linked else 0.0)
        cohesion[i] = 1.0 if 1.0 <= y else y  # np.minimum(1.0, y)
        if personnel[i] < 0.05 * establishment[i]:
            dead[n_dead] = i
            n_dead += 1
    return dead[:n_dead]


@njit(cache=True, nogil=True)
def kd_knn(points, tree, queries, kmax):
    """scipy's ``cKDTree.query(queries, k=kmax)`` (p=2, eps=0, no bound) on a tree from
    :func:`kd_build`: distances and indices, shape (len(queries), kmax), nearest first, with
    scipy's order among equals (its neighbour heap, emptied from the back)."""
    idx, split_dim, split, start, end, less, greater, _ = tree
    n = len(points)
    mx0, mn0, mx1, mn1 = points[0, 0], points[0, 0], points[0, 1], points[0, 1]
    for j in range(1, n):
        t0, t1 = points[j, 0], points[j, 1]
        mx0 = mx0 if mx0 >= t0 else t0
        mn0 = mn0 if mn0 <= t0 else t0
        mx1 = mx1 if mx1 >= t1 else t1
        mn1 = mn1 if mn1 <= t1 else t1
    out_d = np.full((len(queries), kmax), np.inf)
    out_i = np.full((len(queries), kmax), n, dtype=np.int64)
    cap = 64
    h_pri = np.empty(cap)
    h_node = np.empty(cap, dtype=np.int64)
    h_s0 = np.empty(cap)
    h_s1 = np.empty(cap)
    nb_pri = np.empty(kmax + 1)
    nb_idx = np.empty(kmax + 1, dtype=np.int64)
    for q in range(len(queries)):
        x0, x1 = queries[q, 0], queries[q, 1]
        s0 = 0.0
        t = x0 - mx0
        if t > s0:
            s0 = t
        else:
            t = mn0 - x0
            if t > s0:
                s0 = t
        s0 = s0 * s0
        s1 = 0.0
        t = x1 - mx1
        if t > s1:
            s1 = t
        else:
            t = mn1 - x1
            if t > s1:
                s1 = t
        s1 = s1 * s1
        cur_node = 0
        cur_min = 0.0
        cur_min += s0 - 0.0
        cur_min += s1 - 0.0
        cur_s0, cur_s1 = s0, s1
        ub = np.inf
        hn = 0
        nn = 0  # neighbours held, a heap on priority -d (the farthest on top)
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
                cur_min, cur_node, cur_s0, cur_s1 = h_pri[0], h_node[0], h_s0[0], h_s1[0]
                hn -= 1
                h_pri[0], h_node[0], h_s0[0], h_s1[0] = h_pri[hn], h_node[hn], h_s0[hn], h_s1[hn]
                i, j, k = 0, 1, 2
                while (j < hn and h_pri[i] > h_pri[j]) or (k < hn and h_pri[i] > h_pri[k]):
                    c = k if (k < hn and h_pri[j] > h_pri[k]) else j
                    h_pri[i], h_pri[c] = h_pri[c], h_pri[i]
                    h_node[i], h_node[c] = h_node[c], h_node[i]
                    h_s0[i], h_s0[c] = h_s0[c], h_s0[i]
                    h_s1[i], h_s1[c] = h_s1[c], h_s1[i]
                    i = c
                    j = 2 * i + 1
                    k = 2 * i + 2
            else:
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
                    if hn == cap:
                        cap *= 2
                        h_pri = np.concatenate((h_pri, np.empty(cap - hn)))
                        h_node = np.concatenate((h_node, np.empty(cap - hn, dtype=np.int64)))
                        h_s0 = np.concatenate((h_s0, np.empty(cap - hn)))
                        h_s1 = np.concatenate((h_s1, np.empty(cap - hn)))
                    i = hn
                    hn += 1
                    h_pri[i], h_node[i], h_s0[i], h_s1[i] = far_min, far, far_s0, far_s1
                    while i > 0 and h_pri[i] < h_pri[(i - 1) // 2]:
                        p = (i - 1) // 2
                        h_pri[i], h_pri[p] = h_pri[p], h_pri[i]
                        h_node[i], h_node[p] = h_node[p], h_node[i]
                        h_s0[i], h_s0[p] = h_s0[p], h_s0[i]
                        h_s1[i], h_s1[p] = h_s1[p], h_s1[i]
                        i = p
        # scipy's heapsort: pop into place from the back
        for r in range(nn - 1, -1, -1):
            pri, j = nb_pri[0], nb_idx[0]
            nn = _heap_remove(nb_pri, nb_idx, nn)
            out_d[q, r] = np.sqrt(-pri)
            out_i[q, r] = j
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


@njit(cache=True, nogil=True)
def fill_up(alive, side, posture, establishment, personnel, which, pool, refit, buf):
    """Recruits in ``pool`` fill side ``which``'s living units (in place), in proportion to
    their deficit, refitting units weighted three times; returns what is left of the pool.
    Sums as numpy sums the masked arrays (``buf``: scratch, shape (2, n))."""
    m = 0
    for i in range(len(alive)):
        if alive[i] and side[i] == which:
            x = establishment[i] - personnel[i]
            deficit = x if x >= 0.0 else 0.0  # np.maximum(x, 0.0)
            buf[0, m] = deficit * (3.0 if posture[i] == refit else 1.0)
            m += 1
    total = np_sum(buf[0], m)
    if total > 0 and pool > 0:
        j = 0
        for i in range(len(alive)):
            if alive[i] and side[i] == which:
                x = establishment[i] - personnel[i]
                deficit = x if x >= 0.0 else 0.0
                share = pool * buf[0, j] / total
                give = deficit if deficit <= share else share  # np.minimum(deficit, share)
                personnel[i] += give
                buf[1, j] = give
                j += 1
        pool -= np_sum(buf[1], m)
    return pool


@njit(cache=True, nogil=True)
def front_masks_update(control, before, inc_ptr, inc_edge, edge_u, edge_v, edges, nodes):
    """Bring the front masks of :func:`front_masks` (in place) from the control map ``before``
    to ``control``: only the edges at nodes that changed hands, and the front flags of those
    edges' ends, are computed again (the same booleans as a full pass)."""
    for n in range(len(control)):
        if control[n] == before[n]:
            continue
        for j in range(inc_ptr[n], inc_ptr[n + 1]):
            e = inc_edge[j]
            edges[e] = control[edge_u[e]] != control[edge_v[e]]
    for n in range(len(control)):
        if control[n] == before[n]:
            continue
        for j in range(inc_ptr[n], inc_ptr[n + 1]):
            e = inc_edge[j]
            for w in (edge_u[e], edge_v[e]):
                front = False
                for i in range(inc_ptr[w], inc_ptr[w + 1]):
                    if edges[inc_edge[i]]:
                        front = True
                        break
                nodes[w] = front


# --- the combat law (sim.combat.fight) -----------------------------------------------------------
# fight() keeps numpy for ndtri, exp, log and **; the arithmetic between them is done here, in
# the same order as the numpy expressions it replaces (``a * b * c`` is ``(a * b) * c``).
@njit(cache=True, nogil=True)
def _interp(v, xp, fp):
    # np.interp at one point inside or outside a short sorted table, as numpy computes it.
    n = len(xp)
    if v > xp[n - 1]:
        return fp[n - 1]
    if v < xp[0]:
        return fp[0]
    j = 0
    while j < n - 1 and xp[j + 1] <= v:
        j += 1
    if j == n - 1 or xp[j] == v:
        return fp[j]
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    return slope * (v - xp[j]) + fp[j]


@njit(cache=True, nogil=True)
def fight_ratio(
    power_a,
    power_d,
    fires_a,
    fires_d,
    fortification,
    terrain,
    levels,
    strength,
    def_casualty,
    advance_km,
    terrain_defence,
    max_ratio,
):
    """Fortification tables at each edge (posture, defender casualty factor, v0), and the raw
    force ratio and fires ratio base ``(F_a + 1) / (F_d + 1)``."""
    n = len(power_a)
    posture, def_cas, v0 = np.empty(n), np.empty(n), np.empty(n)
    raw, fire_base = np.empty(n), np.empty(n)
    for i in range(n):
        f = fortification[i]
        posture[i] = _interp(f, levels, strength)
        def_cas[i] = _interp(f, levels, def_casualty)
        v0[i] = _interp(f, levels, advance_km)
        pd = power_d[i] * posture[i] * terrain_defence[terrain[i]]
        raw[i] = power_a[i] / pd if pd > 0 else max_ratio
        fire_base[i] = (fires_a[i] + 1.0) / (fires_d[i] + 1.0)
    return posture, def_cas, v0, raw, fire_base


@njit(cache=True, nogil=True)
def fight_clip_ratio(raw, fire_ratio, surprise, lo, hi, midpoint):
    """The force ratio, clipped as np.clip does, and ``ratio / midpoint`` for the logistic."""
    n = len(raw)
    ratio, scaled = np.empty(n), np.empty(n)
    for i in range(n):
        x = raw[i] * fire_ratio[i] * surprise[i]
        if not np.isnan(x):
            x = x if x > lo else lo
            x = x if x < hi else hi
        ratio[i] = x
        scaled[i] = x / midpoint
    return ratio, scaled


@njit(cache=True, nogil=True)
def fight_hazards(
    assault,
    terrain,
    shock,
    pow_neg,
    pow_pos,
    def_cas,
    fires_a,
    fires_d,
    border,
    c_att,
    c_def,
    positional_factor,
    lethality,
    terrain_casualty,
    log_scaled,
    slope,
):
    """The exponents of each side's daily loss chance, ``-(direct + area)``, and ``-x`` of the
    success logistic."""
    n = len(assault)
    neg_a, neg_d, neg_x = np.empty(n), np.empty(n), np.empty(n)
    cp = c_def * positional_factor
    for i in range(n):
        r_c = terrain_casualty[terrain[i]]
        if assault[i]:
            direct_a = c_att * r_c * pow_neg[i] * shock[i]
            direct_d = c_def * r_c * pow_pos[i] * def_cas[i] * shock[i]
        else:
            direct_a = direct_d = cp * r_c * shock[i]
        neg_a[i] = -(direct_a + lethality * fires_d[i] / border[i])
        neg_d[i] = -(direct_d + lethality * fires_a[i] / border[i])
        neg_x[i] = -(slope * log_scaled[i])
    return neg_a, neg_d, neg_x


@njit(cache=True, nogil=True)
def fight_outcome(
    engaged_a,
    engaged_d,
    exp_a,
    exp_d,
    z_a,
    z_d,
    assault,
    ratio,
    min_ratio,
    kappa,
    unseen,
    has_unseen,
    v0,
    terrain,
    river,
    terrain_advance,
    river_advance,
    pow_adv,
    exp_x,
    shock,
):
    """Losses and advance. Losses are Binomial(engaged, 1 - exp(-hazard)) in the normal
    approximation by inverse CDF (``z`` = ndtri(u)), clipped to [0, engaged]: one uniform per
    draw keeps common random numbers aligned across parameter values, which a rejection
    sampler would not."""
    n = len(engaged_a)
    loss_a, loss_d, advance = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        for side in range(2):
            m_e = engaged_a[i] if side == 0 else engaged_d[i]
            p = 1.0 - (exp_a[i] if side == 0 else exp_d[i])
            z = z_a[i] if side == 0 else z_d[i]
            mean = m_e * p
            sd = np.sqrt(mean * (1.0 - p))
            x = mean + sd * z
            if not np.isnan(x):
                x = x if x > 0.0 else 0.0
                x = x if x < m_e else m_e
            if side == 0:
                loss_a[i] = x
            else:
                loss_d[i] = x
        if assault[i] and ratio[i] > min_ratio:
            k = kappa + (1.0 - kappa) * unseen[i] if has_unseen else kappa
            chance = 1.0 / (1.0 + exp_x[i])
            advance[i] = (
                k
                * v0[i]
                * terrain_advance[terrain[i]]
                * river_advance[river[i]]
                * pow_adv[i]
                * chance
                * shock[i]
            )
        else:
            advance[i] = 0.0
    return loss_a, loss_d, advance


# --- incremental supply forests (sim.supply.SupplyNetwork.update_tree) -----------------------------
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
    """The side lost ``lost``: reset them and their descendants in the forest, seed those
    from their unaffected own neighbours and search again among them (see
    :meth:`sim.supply.SupplyNetwork._remove`). Returns (ok, affected nodes); ok False, with
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
def forest_add(indptr, col, cost, dist, pred, source, own, gained, is_hub, limit, budget, no_node):
    """The side gained ``gained`` (ascending, as the seeds read each other): seed them from
    their neighbours (a hub at 0) and relax outwards while distances shrink (see
    :meth:`sim.supply.SupplyNetwork._add`). Returns (ok, nodes whose distance changed besides
    ``gained``); ok False past ``budget`` settled nodes (the forest is then half-updated)."""
    hd = np.empty(max(len(gained), 16))
    hv = np.empty(max(len(gained), 16), dtype=np.int64)
    hn = 0
    for g in gained:
        if is_hub[g]:
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
