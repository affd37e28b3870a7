"""Differential tests: the fast kernels against their plain-Python reference twins, on real
states of the 2024 scenario (the combat kernel's own twin is tested in test_combat.py).

Supply levels must be identical arrays. Presence must be identical in owner, engaged men and
attacking flags; combat power may differ in the last bit (relative 1e-15), because numpy's
vectorised ``**`` and the C library's ``pow`` that Python floats use can round differently.
"""

import numpy as np
import pytest
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from sim import frontage
from sim.model import FrontlineModel


@pytest.fixture(scope="module")
def snapshots():
    m = FrontlineModel("baseline_2024", rng=3)
    out = [_snapshot(m)]
    m.run_for(90)
    out.append(_snapshot(m))
    return out, m


def _snapshot(m):
    return {
        "control": m.control.copy(),
        "front_nodes": m.front_node_mask().copy(),
    }


def _enemy_front(m, control, side):
    front = control[m.edge_u] != control[m.edge_v]
    ends = np.concatenate([m.edge_u[front], m.edge_v[front]])
    return np.unique(ends[control[ends] != side])


def _levels_scipy_undirected(net, control, side, enemy_front, params):
    """The supply kernel as first written: a fresh u->v matrix each time, undirected search."""
    own = control == side
    hubs = net.hub_nodes[own[net.hub_nodes]]
    level = np.zeros(net.n)
    mask = own[net.u] & own[net.v]
    graph = csr_array((net.cost[mask], (net.u[mask], net.v[mask])), shape=(net.n, net.n))
    dist, _, source = dijkstra(
        graph,
        directed=False,
        indices=hubs,
        min_only=True,
        limit=params.supply_tether_km,
        return_predecessors=True,
    )
    connected = np.isfinite(dist) & own
    theta = np.ones(net.n)
    theta[hubs] = net.hub_throughput(hubs, enemy_front, params)
    level[connected] = theta[source[connected]] * np.exp(-dist[connected] / params.supply_efold_km)
    return level, connected


@pytest.mark.parametrize("side", [0, 1])
def test_supply_levels_equal_networkx_reference_and_scipy_undirected(snapshots, side):
    snaps, m = snapshots
    for snap in snaps:
        control = snap["control"]
        enemy = _enemy_front(m, control, side)
        fast = m.supply_net.levels(control, side, enemy, m.p)
        ref = m.supply_net.levels_reference(control, side, enemy, m.p)
        old = _levels_scipy_undirected(m.supply_net, control, side, enemy, m.p)
        for a, b, c in zip(fast, ref, old, strict=True):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a, c)
        assert fast[1].sum() > 1000  # a real territory was supplied


def test_supply_phase_front_nodes_match_edge_ends(snapshots):
    snaps, m = snapshots
    for snap in snaps:
        control = snap["control"]
        for side in (0, 1):
            expected = _enemy_front(m, control, side)
            got = np.flatnonzero(snap["front_nodes"] & (control != side))
            np.testing.assert_array_equal(got, expected)


def test_front_cache_follows_control_changes():
    m = FrontlineModel("baseline_2024", rng=3)
    first = m.front_edge_mask()
    t = m.theatre
    node = int(t.edge_u[np.flatnonzero(first)[0]])
    m.control[node] = 1 - m.control[node]  # any write to the control map is seen
    after = m.front_edge_mask()
    np.testing.assert_array_equal(after, m.control[t.edge_u] != m.control[t.edge_v])
    assert not np.array_equal(first, after)
    with pytest.raises(ValueError):
        after[0] = True  # callers get a read-only view of the cache


@pytest.mark.parametrize("days", [0, 45])
def test_presence_equals_reference(days):
    m = FrontlineModel("baseline_2024", rng=3)
    if days:
        m.run_for(days)
    fe = np.flatnonzero(m.front_edge_mask())
    mid = 0.5 * (m.xy[m.edge_u[fe]] + m.xy[m.edge_v[fe]])
    border = m.theatre.edge_border_km[fe]
    for side in (0, 1):
        rows = m.line_rows(side)
        dist, k = frontage.nearest_unit(m, side, rows, mid, m.p.unit_frontage_km, fe)
        choice = np.where(np.isfinite(dist), rows[np.minimum(k, len(rows) - 1)], -1)
        fast = frontage.presence(m, side, mid, border, fe)
        ref = frontage.presence_reference(m, side, mid, border, tie_break=choice)
        np.testing.assert_array_equal(fast[0], ref[0])  # owner
        np.testing.assert_array_equal(fast[1], ref[1])  # engaged
        np.testing.assert_allclose(fast[2], ref[2], rtol=1e-15, atol=0)  # power
        np.testing.assert_array_equal(fast[3], ref[3])  # attacking
        assert (fast[0] >= 0).sum() > 100


@pytest.mark.parametrize("days", [0, 30, 150])
def test_nearest_unit_by_edge_equals_kd_tree(days):
    """The edge-list search gives cKDTree.query's answer to the bit, ties included, for every
    front edge, and for edges far from any unit."""
    m = FrontlineModel("baseline_2024", rng=5)
    if days:
        m.run_for(days)
    reach = m.p.unit_frontage_km
    front = np.flatnonzero(m.front_edge_mask())
    rng = np.random.default_rng(days)
    far = rng.choice(len(m.edge_u), 300, replace=False)  # mostly nowhere near the front
    ties = 0
    for fe in (front, np.concatenate([far, front[::3]])):
        mid = 0.5 * (m.xy[m.edge_u[fe]] + m.xy[m.edge_v[fe]])
        for side in (0, 1):
            rows = m.line_rows(side)
            nodes = m.units.node[rows]
            want_d, want_k = cKDTree(m.xy[nodes]).query(mid, distance_upper_bound=reach)
            got_d, got_k = frontage.nearest_by_edge(m, rows, nodes, mid, reach, fe)
            np.testing.assert_array_equal(got_d, want_d)
            np.testing.assert_array_equal(got_k, want_k)
            d2 = ((mid[:, None, :] - m.xy[nodes][None, :, :]) ** 2).sum(axis=-1)
            ties += int(((d2 == d2.min(axis=1, keepdims=True)).sum(axis=1) > 1).sum())
    assert np.isfinite(got_d).any() and not np.isfinite(got_d).all()
    assert ties > 0  # the case the k-d tree has to decide did occur


def test_presence_reference_rejects_a_unit_that_is_not_nearest():
    m = FrontlineModel("baseline_2024", rng=3)
    fe = np.flatnonzero(m.front_edge_mask())
    mid = 0.5 * (m.xy[m.edge_u[fe]] + m.xy[m.edge_v[fe]])
    border = m.theatre.edge_border_km[fe]
    owner = frontage.presence_reference(m, 0, mid, border)[0]
    covered = np.flatnonzero(owner >= 0)
    rows = m.line_rows(0)
    d = np.hypot(*(m.xy[m.units.node[rows]] - mid[covered[0]]).T)
    bad = owner.copy()
    bad[covered[0]] = rows[np.argmax(d)]  # the farthest line unit
    with pytest.raises(ValueError, match="not a nearest unit"):
        frontage.presence_reference(m, 0, mid, border, tie_break=bad)


def _assert_tree_equals_full(net, tree, control, side, limit):
    """Distances identical to a full search; predecessors may differ only where two paths tie
    exactly (the distance through the other predecessor is then the same float: it happens a
    few times a day on the real theatre). Sources could only differ on an exact tie between two
    hubs' paths, which never happens in these runs, so they are required equal."""
    full = net.tree(control, side, limit)
    np.testing.assert_array_equal(tree.own, full.own)
    np.testing.assert_array_equal(tree.dist, full.dist)
    reach = np.isfinite(full.dist) & (full.pred >= 0)
    differs = np.flatnonzero(reach & (tree.pred != full.pred))
    for v in differs.tolist():  # an exact tie: the other predecessor's path is just as short
        lo, hi = net._indptr[v], net._indptr[v + 1]
        k = lo + int(np.flatnonzero(net._entry_col[lo:hi] == tree.pred[v])[0])
        assert tree.dist[tree.pred[v]] + net._entry_cost[k] == full.dist[v]
    np.testing.assert_array_equal(tree.source, full.source)


def test_incremental_supply_equals_full_recompute_every_day():
    """150 days of baseline_2024: after every supply phase, the incrementally updated forests
    and levels equal a full recomputation's, bit for bit."""
    from sim import supply

    m = FrontlineModel("baseline_2024", rng=3)
    net = m.supply_net
    modes = []
    original_update = net.update_tree

    def counting_update(*args):
        modes.append(original_update(*args))
        return modes[-1]

    net.update_tree = counting_update
    checked = 0
    for _ in range(150):
        stale = m.supply_stale
        m._apply_schedule()
        supply.supply_phase(m)
        if stale:
            front = m.front_node_mask()
            for side in (0, 1):
                tree = m.supply_trees[side]
                _assert_tree_equals_full(net, tree, m.control, side, m.p.supply_tether_km)
                enemy = np.flatnonzero(front & (m.control != side))
                level, connected = net.levels(m.control, side, enemy, m.p)
                np.testing.assert_array_equal(m.supply_level[side], level)
                np.testing.assert_array_equal(m.connected[side], connected)
            checked += 1
        m.supply_stale = False  # the phase already ran: step() finds nothing to do
        m.step()
    assert checked > 50
    assert modes.count("incremental") > 50


def test_incremental_supply_after_large_random_changes():
    """Hubs and whole stretches of front changing hands at once, both ways, including the
    fallback to a full search."""
    m = FrontlineModel("baseline_2024", rng=3)
    net, limit = m.supply_net, m.p.supply_tether_km
    rng = np.random.default_rng(7)
    control = m.control.copy()
    trees = [net.tree(control, side, limit) for side in (0, 1)]
    modes = set()
    for _ in range(25):
        front = np.flatnonzero(control[m.edge_u] != control[m.edge_v])
        ends = np.unique(np.concatenate([m.edge_u[front], m.edge_v[front]]))
        flip = rng.choice(ends, size=rng.integers(1, 60), replace=False)
        hubs = net.hub_nodes[rng.random(len(net.hub_nodes)) < 0.05]
        control[np.concatenate([flip, hubs])] ^= 1
        for side in (0, 1):
            modes.add(net.update_tree(trees[side], control, side, limit))
            _assert_tree_equals_full(net, trees[side], control, side, limit)
            enemy = _enemy_front(m, control, side)
            level = net.levels_from_tree(trees[side], enemy, m.p)
            full = net.levels(control, side, enemy, m.p)
            np.testing.assert_array_equal(level[0], full[0])
            np.testing.assert_array_equal(level[1], full[1])
            # Written into given arrays (the state's rows), the same levels.
            out = (np.full(len(control), np.nan), np.zeros(len(control), dtype=bool))
            assert net.levels_from_tree(trees[side], enemy, m.p, out=out) is out
            np.testing.assert_array_equal(out[0], full[0])
            np.testing.assert_array_equal(out[1], full[1])
    assert {"incremental", "full"} <= modes


def test_run_with_incremental_supply_equals_run_with_full_recomputes(monkeypatch):
    """The golden-run check: a run's outputs (summary, daily table, events) are identical
    whether supply is updated incrementally or recomputed from scratch every time (and pockets
    found from the cut-off nodes or from the whole graph's components)."""
    from datetime import date

    from sim import supply
    from sim.runner import run_scenario

    def run():
        return run_scenario("baseline_2024", seed=5, until=date(2024, 5, 1))

    fast = run()
    monkeypatch.setattr(supply.SupplyNetwork, "incremental", False)
    full = run()
    assert fast.summary == full.summary
    assert len(fast.events) > 50
    assert fast.events.equals(full.events)
    assert fast.daily.equals(full.daily)


def _hops(m, centre, radius):
    """Hop distance from ``centre`` on the theatre graph, up to ``radius`` (-1 beyond)."""
    indptr, indices = m.neighbors
    hop = np.full(m.theatre.n_nodes, -1)
    hop[centre] = 0
    frontier = [centre]
    for r in range(1, radius + 1):
        nxt = np.unique(np.concatenate([indices[indptr[i] : indptr[i + 1]] for i in frontier]))
        nxt = nxt[hop[nxt] < 0]
        hop[nxt] = r
        frontier = nxt
    return hop


def test_mop_up_equals_whole_graph_components():
    """Pockets found from the cut-off nodes equal those of the whole graph's components: on
    rings of enemy ground drawn around random nodes (pockets with and without hubs and units,
    beyond the tether and within it) and random flips along the front."""
    from sim import pockets

    m = FrontlineModel("baseline_2024", rng=3)
    rng = np.random.default_rng(11)
    found = 0
    for trial in range(40):
        control = m.initial_control.copy()
        if trial % 4 == 3:
            front = np.flatnonzero(control[m.edge_u] != control[m.edge_v])
            ends = np.unique(np.concatenate([m.edge_u[front], m.edge_v[front]]))
            control[rng.choice(ends, size=200, replace=False)] ^= 1
        else:
            for _ in range(3):
                centre = int(rng.integers(m.theatre.n_nodes))
                radius = int(rng.integers(1, 6))
                hop = _hops(m, centre, radius)
                ring = hop == radius
                control[ring] = 1 - control[centre]
        m.control[:] = control
        fast = pockets.mop_up(m)
        ref = pockets.mop_up_reference(m)
        np.testing.assert_array_equal(fast, ref)
        found += len(ref) > 0
    assert found > 10


def test_hub_throughput_from_kept_distances_equals_kd_tree():
    """Theta from the hub-to-node distances kept by the network equals hub_throughput's k-d tree
    query, on random fronts and with the fires ranges set to exact hub-node distances (where it
    must hand over to hub_throughput)."""
    m = FrontlineModel("baseline_2024", rng=3)
    net, p = m.supply_net, m.p
    rng = np.random.default_rng(5)
    for trial in range(30):
        held = rng.random(len(net.hub_nodes)) < 0.6
        front = np.flatnonzero(rng.random(net.n) < rng.choice([0.0, 0.001, 0.01, 0.1]))
        params = p
        if trial % 3 == 2:  # a range that a front node lies exactly at (as the k-d tree says)
            hub = int(rng.choice(np.flatnonzero(held)))
            r = np.hypot(*(net.xy - net.xy[net.hub_nodes[hub]]).T)
            front = np.unique(rng.choice(np.flatnonzero((r > 45) & (r < 75)), size=20))
            d, _ = cKDTree(net.xy[front]).query(net.xy[net.hub_nodes[hub]])
            params = p.replace(glide_bomb_range_km=float(d))
            net._theta(held, front, p)  # the distances kept for the default ranges
        expected = net.hub_throughput(net.hub_nodes[held], front, params)
        np.testing.assert_array_equal(net._theta(held, front, params), expected)


def test_splitmix_in_python_integers_equals_numpy():
    from sim.rng import _splitmix64, _splitmix64_int

    rng = np.random.default_rng(2)
    xs = np.concatenate(
        [rng.integers(0, 2**63 - 1, 500, dtype=np.uint64) * np.uint64(2), np.arange(20)]
    ).astype(np.uint64)
    xs = np.concatenate([xs, np.array([2**64 - 1, 2**63, 2**64 - 0x9E3779B97F4A7C15], np.uint64)])
    with np.errstate(over="ignore"):
        expected = _splitmix64(xs)
    assert [_splitmix64_int(int(x)) for x in xs] == [int(x) for x in expected]


@pytest.mark.parametrize("pooling", [0.0, 1.0])
def test_nearest_unit_kept_from_the_last_search_equals_a_full_search(pooling):
    """Each day the nearest-unit search keeps the last answer of every edge where it still
    stands (its unit in place, no unit arrived as near); the answers equal a full search's, day
    after day, stacks (pooled units, whose lead rows are not in row order) included."""
    m = FrontlineModel("baseline_2024", rng=2, stack_pooling=pooling)
    reach = m.p.unit_frontage_km
    searched = 0
    for _ in range(45):
        m.step()
        fe, _, _, _, mid = frontage.front_edges(m)
        for side in (0, 1):
            rows = m.line_rows(side)
            nodes = m.units.node[rows]
            searched += side in m.caches.nearest_edges
            got_d, got_k = frontage.nearest_by_edge(m, rows, nodes, mid, reach, fe, side)
            want_d, want_k = frontage.nearest_by_edge(m, rows, nodes, mid, reach, fe)
            np.testing.assert_array_equal(got_d, want_d)
            np.testing.assert_array_equal(got_k, want_k)
    assert searched == 90  # every call had a last search to start from


def test_edge_reach_built_piece_by_piece_equals_built_at_once():
    """The candidate store grows by doubling: lists built over many small calls (as a moving
    front asks for them) equal those built in one call, and earlier lists survive growth."""
    m = FrontlineModel("baseline_2024", rng=1)
    reach = m.p.unit_frontage_km
    rng = np.random.default_rng(7)
    edges = rng.choice(len(m.edge_u), 3000, replace=False)
    whole = frontage._EdgeReach(m.xy, m.edge_u, m.edge_v, reach)
    whole.ensure(edges)
    pieces = frontage._EdgeReach(m.xy, m.edge_u, m.edge_v, reach)
    capacities = set()
    for chunk in np.array_split(edges, 60):
        pieces.ensure(np.concatenate([chunk, chunk[:3]]))  # repeats: built once
        capacities.add(len(pieces.node))
    assert len(capacities) > 2  # the store did grow several times
    assert pieces.size == whole.size
    for e in edges:
        a = slice(whole.start[e], whole.start[e] + whole.count[e])
        b = slice(pieces.start[e], pieces.start[e] + pieces.count[e])
        np.testing.assert_array_equal(pieces.node[b], whole.node[a])
        np.testing.assert_array_equal(pieces.d2[b], whole.d2[a])
    assert (pieces.count[edges] >= 0).all() and pieces.count[edges].sum() > 10 * len(edges)


def test_front_edge_ids_follow_control_changes_as_flatnonzero_of_the_mask():
    """front_edge_ids (and front_node_ids) merges yesterday's ids with the edges at the nodes that changed hands
    (front_ids_update): it must equal a fresh flatnonzero of the mask, including for edges
    whose two ends change together and for fronts that close and open."""
    m = FrontlineModel("baseline_2024", rng=3)
    t = m.theatre
    rng = np.random.default_rng(7)
    for trial in range(12):
        ids = m.front_edge_ids()
        np.testing.assert_array_equal(ids, np.flatnonzero(m.front_edge_mask()))
        assert ids.dtype == np.int64
        # The front nodes' ids, merged the same way (front_node_ids_update).
        np.testing.assert_array_equal(m.front_node_ids(), np.flatnonzero(m.front_node_mask()))
        # Flip both ends of some front edges, some front nodes, and some nodes anywhere.
        e = rng.choice(ids, 3, replace=False)
        flip = np.concatenate(
            [t.edge_u[e], t.edge_v[e], t.edge_u[rng.choice(ids, 5)], rng.integers(0, t.n_nodes, 4)]
        )
        m.control[np.unique(flip)] ^= 1
        if trial == 6:
            m.control[:] = 0  # no front at all, then one again
            np.testing.assert_array_equal(m.front_edge_ids(), np.zeros(0, dtype=np.int64))
            m.control[t.edge_u[ids[::2]]] = 1
    np.testing.assert_array_equal(m.front_edge_ids(), np.flatnonzero(m.front_edge_mask()))
    np.testing.assert_array_equal(m.front_node_ids(), np.flatnonzero(m.front_node_mask()))


def test_farthest_points_cache_returns_the_greedy_picks_and_fresh_arrays():
    """Placement's farthest-point picks are cached by positions, count and first pick: a hit
    must give what the greedy search gives, as a fresh array the caller may change."""
    from sim.command import _farthest_points, _farthest_points_uncached

    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 100, (60, 2))
    for n, first in ((1, 0), (7, 3), (60, 59), (75, 10)):
        want = np.resize(_farthest_points_uncached(xy, n, first), n)
        got = _farthest_points(xy, n, first)
        np.testing.assert_array_equal(got, want)
        got[:] = -1  # a caller's change does not reach the cache
        np.testing.assert_array_equal(_farthest_points(xy.copy(), n, first), want)
    moved = xy.copy()
    moved[0, 0] += 1e-9  # other positions, another answer looked up
    np.testing.assert_array_equal(
        _farthest_points(moved, 7, 3), np.resize(_farthest_points_uncached(moved, 7, 3), 7)
    )
