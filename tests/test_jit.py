"""The compiled kernels of sim/kernels and sim/graph against the numpy expressions they replace: equal to the
bit, which is what keeps the golden runs (tests/test_golden.py) unchanged."""

import numpy as np
import pytest

from sim.graph.kdtree import kd_build, kd_knn, kd_query, kd_resolve_ties
from sim.kernels.combat import _interp
from sim.kernels.front import farthest_from
from sim.kernels.ground import advance, fortify
from sim.kernels.metrics import (
    contested_area,
    front_length,
    node_metrics,
    node_metrics_state,
    node_metrics_update,
    unit_metrics,
)
from sim.kernels.sums import np_sum
from sim.model import FrontlineModel


def test_np_sum_is_numpy_sum_to_the_bit():
    rng = np.random.default_rng(0)
    lengths = [*range(300), 1000, 1023, 1024, 1025, 8191, 8192, 8193, 40_000, 100_003]
    for n in lengths:
        # Magnitudes over nine decades make every difference in summation order show.
        a = rng.standard_normal(n) * 10.0 ** rng.integers(-3, 6, n)
        buf = np.concatenate([a, rng.standard_normal(7)])  # only the first n count
        assert np_sum(buf, n) == a.sum(), n


def test_a_plain_loop_sum_would_differ():
    """The test above can fail: a sequential sum of the same numbers is not numpy's."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal(5000) * 10.0 ** rng.integers(-3, 6, 5000)
    seq = 0.0
    for x in a.tolist():
        seq += x
    assert seq != a.sum()


@pytest.fixture(scope="module")
def state():
    m = FrontlineModel("kursk_2024", rng=2)
    m.run_for(200)  # into the incursion: ground held on both sides of the border
    return m


def test_node_metrics_equal_masked_sums(state):
    m = state
    t, init = m.theatre, m.initial_control
    area, in_ua = t.area_km2, t.country == 0
    # Ukraine also retakes some ground inside Ukraine, so that every mask selects something.
    ctrl = m.control.copy()
    ctrl[np.flatnonzero(in_ua & (init == 1) & (ctrl == 1))[::97]] = 0
    got = node_metrics(
        ctrl, init, t.country, area, m.penetration, t.population, np.empty((5, t.n_nodes))
    )
    ru, ua = ctrl == 1, ctrl != 1
    want = (
        area[in_ua & (init == 0) & ru].sum(),
        area[in_ua & (init == 1) & ua].sum(),
        area[in_ua & ru].sum(),
        area[~in_ua & ua].sum(),
        area[m.penetration > 0].sum(),
        int((ctrl != init).sum()),
        int(t.population @ ru),
    )
    assert got == want
    assert all(x > 0 for x in want)  # every mask selected something
    # What metrics_phase reuses on a day without a change of hands: the contested area alone.
    assert contested_area(area, m.penetration, np.empty(t.n_nodes)) == want[4]


def test_front_length_equals_masked_sum(state):
    m = state
    t = m.theatre
    fe = np.flatnonzero(m.front_edge_mask())
    own = t.country == m.control
    want = t.edge_border_km[fe[~(own[m.edge_u[fe]] & own[m.edge_v[fe]])]].sum()
    got = front_length(
        fe, m.edge_u, m.edge_v, t.edge_border_km, t.country, m.control, np.empty(len(fe))
    )
    assert got == want
    assert want < t.edge_border_km[fe].sum()  # the border's quiet stretch was left out


def test_unit_metrics_equal_masked_sums(state):
    u = state.units
    n = u.n
    alive, side, pers = u.alive[:n], u.side[:n], u.personnel[:n]
    line = alive & (u.posture[:n] <= 1)
    got = unit_metrics(
        (alive, side, u.posture[:n], pers, u.captured_total[:n], u.supply[:n], u.node[:n]),
        state.connected,
        np.empty((8, n)),
    )
    want = (
        pers[line & (side == 0)].sum(),
        pers[line & (side == 1)].sum(),
        pers[alive & (side == 0)].sum(),
        pers[alive & (side == 1)].sum(),
        u.captured_total[:n][side == 0].sum(),
        u.captured_total[:n][side == 1].sum(),
        u.supply[:n][line & (side == 0)].mean(),
        u.supply[:n][line & (side == 1)].mean(),
        int((alive & ~state.connected[side, u.node[:n]] & (side == 0)).sum()),
    )
    assert got == want
    assert (~alive).any() and (alive & ~line).any()  # dead and reserve units were left out


def test_uniforms_streams_equal_uniforms():
    from sim.rng import uniforms, uniforms_streams

    rng = np.random.default_rng(2)
    for key in (0, 1, 2**63 - 2, int(rng.integers(2**62))):
        for day in (0, 17, 400):
            ids = rng.integers(0, 40_000, 700)
            rows = uniforms_streams(key, day, (0, 1, 2), ids)
            for stream in (0, 1, 2):
                np.testing.assert_array_equal(rows[stream], uniforms(key, day, stream, ids))
    assert not np.array_equal(rows[0], rows[1])  # streams differ


def test_farthest_from_equals_kd_tree_argmax():
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(3)
    for n_points, n_cand in ((1, 5), (40, 60), (150, 300)):
        # Points on a coarse grid: many equal distances, as on the theatre's regular fill.
        points = rng.integers(0, 30, (n_points, 2)) * 3.0
        cand = rng.integers(0, 30, (n_cand, 2)) * 3.0
        d, _ = cKDTree(points).query(cand)
        assert farthest_from(points, cand) == int(np.argmax(d))


def test_sector_node_lists(state):
    secs = state.sectors
    for k in range(len(secs.names)):
        np.testing.assert_array_equal(secs.nodes_of(k), np.flatnonzero(secs.of_node == k))


def test_kd_tree_emulation_equals_scipy():
    """The emulated cKDTree has scipy's point order and gives its answers, equal distances and
    stacked points included (where its choice among equals is what is being reproduced)."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(4)
    checked = 0
    for _ in range(400):
        n = int(rng.integers(1, 300))
        step = float(rng.choice([0.5, 3.0, 1e-3]))
        pts = rng.integers(0, 25, (n, 2)) * step
        pts[rng.integers(0, n, n // 3)] = pts[rng.integers(0, n, n // 3)]  # stacked points
        ref = cKDTree(pts)
        tree = kd_build(pts)
        assert tree[-1]  # every build path reproduced
        np.testing.assert_array_equal(tree[0], ref.indices)
        q = (rng.integers(0, 25, (40, 2)) + rng.choice([0.0, 0.5], (40, 2))) * step
        bound = float(rng.choice([np.inf, 2.0 * step, 6.0 * step]))
        want_d, want_i = ref.query(q, distance_upper_bound=bound)
        for r in range(len(q)):
            assert kd_query(pts, tree, q[r, 0], q[r, 1], bound) == (want_d[r], want_i[r])
        checked += 1
    assert checked == 400


def test_kd_knn_emulation_equals_scipy():
    """k nearest neighbours in scipy's order, equal distances included."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(300):
        n = int(rng.integers(1, 450))
        pts = rng.integers(0, 20, (n, 2)) * 3.0
        pts[rng.integers(0, n, n // 2)] = pts[rng.integers(0, n, n // 2)]
        tree = kd_build(pts)
        assert tree[-1]
        q = (rng.integers(0, 20, (15, 2)) + rng.choice([0.0, 0.5], (15, 2))) * 3.0
        k = int(rng.integers(1, 8))
        want_d, want_i = cKDTree(pts).query(q, k=k)
        got_d, got_i = kd_knn(pts, tree, q, k)
        np.testing.assert_array_equal(got_d, want_d.reshape(len(q), k))
        np.testing.assert_array_equal(got_i, want_i.reshape(len(q), k))
        checked += 1
    assert checked == 300


def test_incremental_front_equals_full_recomputation():
    m = FrontlineModel("baseline_2024", rng=1)
    rng = np.random.default_rng(6)
    front = m.front_edge_mask()
    for flips in (1, 5, 50, 3000):
        old = front
        nodes = rng.choice(len(m.control), flips, replace=False)
        m.control[nodes] = 1 - m.control[nodes]
        front = m.front_edge_mask()
        want = m.control[m.edge_u] != m.control[m.edge_v]
        np.testing.assert_array_equal(front, want)
        ends = np.zeros(len(m.control), dtype=bool)
        ends[m.edge_u[want]] = ends[m.edge_v[want]] = True
        np.testing.assert_array_equal(m.front_node_mask(), ends)
        assert front is not old and not np.array_equal(front, old)


def test_interp_equals_numpy_on_the_fortification_tables():
    from sim.fortification import FORT_ADVANCE_KM, FORT_DEF_CASUALTY, FORT_LEVELS, FORT_STRENGTH

    rng = np.random.default_rng(7)
    x = np.concatenate([rng.random(20_000) * 3.4 - 0.2, FORT_LEVELS, [1e-300, 3 - 1e-16]])
    for table in (FORT_STRENGTH, FORT_DEF_CASUALTY, FORT_ADVANCE_KM):
        got = np.array([_interp(v, FORT_LEVELS, table) for v in x])
        np.testing.assert_array_equal(got, np.interp(x, FORT_LEVELS, table))


def _update_plain(net, tree, control, side):
    """update_tree's incremental path through the plain-Python references of sim.graph.forest."""
    from sim.graph.forest import add_reference, remove_reference
    from sim.supply import FULL_SEARCH_NODES, NO_NODE

    own = control == side
    lost = np.flatnonzero(tree.own & ~own)
    gained = np.flatnonzero(own & ~tree.own)
    adj = net._adjacency()
    budget = FULL_SEARCH_NODES
    ok = (not len(lost) or remove_reference(tree, own, lost.tolist(), adj, budget, NO_NODE)) and (
        not len(gained)
        or add_reference(tree, own, gained.tolist(), adj, net._hub_set(), budget, NO_NODE)
    )
    tree.own = own
    return ok


def test_compiled_forest_update_equals_plain_python():
    import copy

    m = FrontlineModel("baseline_2024", rng=2)
    m.run_for(20)
    net, limit = m.supply_net, m.p.supply_tether_km
    rng = np.random.default_rng(8)
    front = np.flatnonzero(m.front_node_mask())
    compared = 0
    for side in (0, 1):
        tree = net.tree(m.control, side, limit)
        tree.dirty = set()
        for flips in (1, 4, 12, 40):
            control = m.control.copy()
            nodes = rng.choice(front, flips, replace=False)
            control[nodes] = 1 - control[nodes]
            fast, plain = copy.deepcopy(tree), copy.deepcopy(tree)
            mode = net.update_tree(fast, control, side, limit)
            if mode != "incremental" or not _update_plain(net, plain, control, side):
                continue
            for name in ("own", "dist", "pred", "source"):
                np.testing.assert_array_equal(getattr(fast, name), getattr(plain, name))
            assert fast.dirty == plain.dirty and fast.dirty
            compared += 1
    assert compared >= 6


def test_kd_tree_emulation_on_real_front_nodes():
    """The theatre's regular fill puts many front nodes on equal coordinates, which can send
    introselect to its heap-select fallback: tree order and 6-NN answers still scipy's."""
    from scipy.spatial import cKDTree

    m = FrontlineModel("baseline_2024", rng=1)
    for side in (0, 1):
        pts = np.ascontiguousarray(m.xy[np.flatnonzero(m.front_node_mask() & (m.control == side))])
        tree = kd_build(pts)
        ref = cKDTree(pts)
        np.testing.assert_array_equal(tree[0], ref.indices)
        q = pts[::5] + 0.37
        want_d, want_i = ref.query(q, k=6)
        got_d, got_i = kd_knn(pts, tree, q, 6)
        np.testing.assert_array_equal(got_d, want_d)
        np.testing.assert_array_equal(got_i, want_i)


def test_kd_resolve_ties_settles_stacked_points_as_scipy():
    """Ties among points stacked on one position are settled without a walk (the first of
    them in the tree's order): the same answers as scipy's query, and as the walk for ties
    across positions."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(6)
    stacked = spread = 0
    for _ in range(200):
        n = int(rng.integers(2, 200))
        keys = rng.integers(0, 60, n)  # point i stands at position keys[i]
        where = rng.integers(0, 12, (60, 2)) * 2.0
        pts = where[keys]
        mids = (rng.integers(0, 12, (50, 2)) + rng.choice([0.0, 0.5], (50, 2))) * 2.0
        bound = float(rng.choice([np.inf, 5.0]))
        want_d, want_i = cKDTree(pts).query(mids, distance_upper_bound=bound)
        d2 = ((pts[None, :, :] - mids[:, None, :]) ** 2).sum(axis=2)
        rows, lone = [], []
        for r in range(len(mids)):
            near = np.flatnonzero(d2[r] == d2[r].min())
            if len(near) > 1 and d2[r].min() < bound * bound:
                rows.append(r)
                one = len(set(keys[near].tolist())) == 1
                lone.append(int(keys[near[0]]) if one else -1)
                stacked += one
                spread += not one
        dist, k = want_d.copy(), np.full(len(mids), -2)
        k[np.setdiff1d(np.arange(len(mids)), rows)] = want_i[
            np.setdiff1d(np.arange(len(mids)), rows)
        ]
        lead = np.zeros(60, dtype=np.int32)
        assert kd_resolve_ties(
            pts,
            keys,
            mids,
            np.array(rows, dtype=np.int64),
            np.array(lone, dtype=np.int64),
            bound,
            dist,
            k,
            lead,
        )
        np.testing.assert_array_equal(k, want_i)
        np.testing.assert_array_equal(dist, want_d)
        assert not lead.any()  # the scratch is left as found
    assert stacked > 100 and spread > 100


def test_classes_in_range_equals_the_numpy_expression():
    from sim.kernels.supply import classes_in_range

    rng = np.random.default_rng(7)
    ranges = np.array([10.0, 25.0, 60.0, 90.0])
    for _ in range(200):
        nearest = rng.choice([5.0, 10.0, 24.9, 61.0, np.inf], 12) + rng.choice([0.0, 3e-7], 12)
        held = rng.random(12) < 0.7
        got, close = classes_in_range(nearest, held, ranges, 1e-6)
        near = nearest[held]
        want = (near[:, None] < ranges[None, :]).sum(axis=1)
        assert got.dtype == want.dtype and np.array_equal(got, want)
        assert close == bool((np.abs(near[:, None] - ranges[None, :]) <= 1e-6).any())


def test_unit_row_kernels_equal_the_numpy_masks():
    from sim.kernels.forces import due_rows, refitted_rows, rows_in_posture, worn_rows

    rng = np.random.default_rng(8)
    for _ in range(50):
        n = int(rng.integers(0, 300))
        alive = rng.random(n) < 0.9
        side = rng.integers(0, 2, n).astype(np.int8)
        posture = rng.integers(0, 5, n).astype(np.int8)
        losses, bp = rng.random(n), rng.random(n)
        men, est, coh = rng.random(n) * 1000, np.full(n, 900.0), rng.random(n)
        day, arrival = 7, rng.integers(0, 14, n).astype(np.int32)
        for s in (0, 1):
            got, mine = rows_in_posture(alive, side, posture, s, 2)
            assert np.array_equal(got, np.flatnonzero(alive & (side == s) & (posture == 2)))
            assert mine == int((alive & (side == s)).sum())
        worn = worn_rows(alive, posture, losses, bp, 1)
        assert np.array_equal(worn, np.flatnonzero(alive & (posture <= 1) & (losses >= bp)))
        refit = refitted_rows(alive, posture, men, est, coh, 3, 0.8, 0.5)
        want = np.flatnonzero(alive & (posture == 3) & (men >= 0.8 * est) & (coh >= 0.5))
        assert np.array_equal(refit, want)
        due = due_rows(alive, posture, arrival, 4, day)
        assert np.array_equal(due, np.flatnonzero(alive & (posture == 4) & (arrival <= day)))


def test_dirty_levels_equal_the_numpy_update():
    from sim.kernels.supply import dirty_levels

    rng = np.random.default_rng(9)
    n = 400
    for _ in range(50):
        dist = np.where(rng.random(n) < 0.2, np.inf, rng.random(n) * 300)
        own = rng.random(n) < 0.8
        hubs = rng.choice(n, 6, replace=False)
        source = rng.choice(np.concatenate([hubs, [7]]), n).astype(np.int32)
        theta = rng.random(6)
        idx = rng.choice(n, 90, replace=False).astype(np.intp)
        want_c, want_l = rng.random(n) < 0.5, rng.random(n)
        got_c, got_l = want_c.copy(), want_l.copy()
        full = np.ones(n)
        full[hubs] = theta
        linked = np.isfinite(dist[idx]) & own[idx]
        want_c[idx] = linked
        want_l[idx] = 0.0
        on = idx[linked]
        want_l[on] = full[source[on]] * np.exp(-dist[on] / 80.0)
        rows, factor, arg = dirty_levels(idx, dist, own, source, hubs, theta, 80.0, got_c, got_l)
        got_l[rows] = factor * np.exp(arg)
        assert np.array_equal(got_c, want_c) and got_l.tobytes() == want_l.tobytes()


def test_fall_back_targets_are_the_argmax_of_the_own_neighbours():
    """The compiled choice of where stranded units fall back equals the numpy loop it replaced,
    ties (first neighbour wins), NaN levels (np.argmax takes the first NaN) and encircled units
    (-1) included."""
    from sim.kernels.pockets import fall_back_targets

    rng = np.random.default_rng(4)
    n = 400
    degree = rng.integers(0, 7, n)
    indptr = np.concatenate([[0], np.cumsum(degree)]).astype(np.int32)
    indices = rng.integers(0, n, indptr[-1]).astype(np.int32)
    control = rng.integers(0, 2, n).astype(np.int8)
    levels = rng.choice([0.0, 0.25, 0.5, 1.0], size=(2, n))  # few values: many ties
    levels[rng.random((2, n)) < 0.05] = np.nan
    nodes = rng.integers(0, n, 600).astype(np.int32)
    sides = rng.integers(0, 2, 600).astype(np.int8)
    got = fall_back_targets(indptr, indices, control, levels, nodes, sides)
    want = []
    for node, side in zip(nodes, sides, strict=True):
        nbrs = indices[indptr[node] : indptr[node + 1]]
        own = nbrs[control[nbrs] == side]
        want.append(int(own[np.argmax(levels[side, own])]) if len(own) else -1)
    np.testing.assert_array_equal(got, want)
    assert (got == -1).any() and (got >= 0).any()
    nan_pick = [i for i, t in enumerate(want) if t >= 0 and np.isnan(levels[sides[i], t])]
    assert nan_pick  # the NaN rule was exercised


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ground_kernels_equal_their_numpy_expressions(seed):
    """advance (penetration, loss memory, flips) and fortify (sparse build-up over the fought
    edges' ends, vectorised clip) against the plain numpy of MECHANICS M4-M5, float for float,
    with repeated nodes, NaN, -0.0 and works beyond the cap."""
    rng = np.random.default_rng(seed)
    n_nodes, n_edges = 400, 150
    defended = rng.integers(0, n_nodes, n_edges)
    other = rng.integers(0, n_nodes, n_edges)
    edge_u = np.where(rng.random(n_edges) < 0.5, defended, other)
    edge_v = defended + other - edge_u  # the two ends in either order
    assault = rng.random(n_edges) < 0.4
    advance_km = rng.uniform(0, 2, n_edges) * (rng.random(n_edges) < 0.7)
    losses_d, engaged_d = rng.uniform(0, 50, n_edges), rng.uniform(0, 500, n_edges)
    engaged_d[::7] = 0.0
    engaged_a = rng.uniform(0, 500, n_edges)
    border = rng.uniform(0.5, 3, n_edges)
    penetration = rng.uniform(0, 3, n_nodes) * (rng.random(n_nodes) < 0.3)
    memory = rng.uniform(0, 0.05, n_nodes) * (rng.random(n_nodes) < 0.5)
    depth = rng.uniform(1, 4, n_nodes)
    keep, wl = 1.0 - 1.0 / 7.0, 0.03

    gain, today = np.zeros(n_nodes), np.zeros(n_nodes)
    np.maximum.at(gain, defended, advance_km)
    frac = np.where(engaged_d > 0, losses_d / np.where(engaged_d > 0, engaged_d, 1.0), 0.0)
    np.maximum.at(today, defended[assault], frac[assault])
    want_pen = penetration + gain
    want_mem = memory * keep + (1.0 - keep) * today
    want_flips = np.flatnonzero((want_pen >= depth) | (want_mem > wl))
    pen, mem = penetration.copy(), memory.copy()
    s1, s2 = np.zeros(n_nodes), np.zeros(n_nodes)
    flips = advance(
        defended, advance_km, assault, losses_d, engaged_d, pen, mem, depth, keep, wl, s1, s2
    )
    np.testing.assert_array_equal(flips, want_flips)
    assert pen.tobytes() == want_pen.tobytes() and mem.tobytes() == want_mem.tobytes()
    assert not s1.any() and not s2.any()  # scratch left zero

    hasty, fort_max, build, needed, under, damage = 1.0, 3.0, 0.05, 40.0, 0.5, 0.01
    fort = rng.uniform(-0.5, 3.5, n_nodes)
    fort[:4] = [np.nan, -0.0, 0.0, fort_max]
    glide = rng.integers(0, 40, n_edges).astype(float)
    density = np.zeros(n_nodes)
    np.maximum.at(density, defended, engaged_d / border)
    np.maximum.at(density, edge_u + edge_v - defended, engaged_a / border)
    assaulted = np.zeros(n_nodes, dtype=bool)
    assaulted[defended[assault]] = True
    want = fort.copy()
    dense = density > 0
    phi = np.where(want >= hasty, want, hasty)
    rate = build * np.minimum(1.0, density / needed) * np.where(assaulted, under, 1.0)
    want[dense] = (phi + rate * (1.0 - phi / fort_max))[dense]
    np.subtract.at(want, defended, damage * glide)
    want = np.clip(want, 0.0, fort_max) + 0.0  # the kernel's clip makes -0.0 0.0, as it always has
    got = fort.copy()
    d_scratch, a_scratch = np.zeros(n_nodes), np.zeros(n_nodes, dtype=bool)
    fortify(
        edge_u, edge_v, border, defended, engaged_a, engaged_d, assault, glide, got,
        hasty, fort_max, build, needed, under, damage, d_scratch, a_scratch,
    )  # fmt: skip
    assert got.tobytes() == want.tobytes()
    assert not d_scratch.any() and not a_scratch.any()


def test_node_metrics_update_equals_the_full_pass_day_after_day(state):
    """The incremental node metrics (node lists updated at the nodes that changed hands) give
    the full pass's sums float for float and its counts, through small changes, none, a
    retaking of the initial map and a wholesale swap."""
    m = state
    t, init = m.theatre, m.initial_control
    pop = np.asarray(t.population, dtype=np.int64)
    pen = np.zeros(t.n_nodes)
    rng = np.random.default_rng(11)
    ctrl = m.control.copy()
    st = node_metrics_state(ctrl, init, t.country, pop)
    buf = np.empty((5, t.n_nodes))
    for day in range(40):
        before = ctrl.copy()
        if day == 20:
            ctrl[:] = init
        elif day == 30:
            ctrl ^= 1
        else:
            ctrl[rng.integers(0, t.n_nodes, rng.integers(0, 40))] ^= 1
        changed = np.flatnonzero(ctrl != before)
        *got, st = node_metrics_update(
            changed, before, ctrl, init, t.country, t.area_km2, pop, st, buf
        )
        want = node_metrics(ctrl, init, t.country, t.area_km2, pen, pop, np.empty((5, t.n_nodes)))
        assert tuple(got) == want[:4] + want[5:], day
        fresh = node_metrics_state(ctrl, init, t.country, pop)
        for a, b in zip(st[0], fresh[0], strict=True):
            np.testing.assert_array_equal(a, b)
        assert st[1:] == fresh[1:]
