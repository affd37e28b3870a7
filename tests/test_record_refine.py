"""The posterior of the record calibration from simulations (sim.record_fit.refine): candidates
drawn from the region not ruled out, simulated, and the share nearest the record kept."""

from __future__ import annotations

import math

import numpy as np

from sim.history_matching import Prior, Target, to_params
from sim.record_fit import Search, refine, simulated_distance


def _search(points: int, share: float, **more: float) -> Search:
    return Search(
        priors=(Prior("a", 0.0, 10.0), Prior("b", 1.0, 100.0, log=True)),
        windows=(),
        places=(),
        seed=1,
        budget={"refine_points": points, "accept_share": share, "level_accept": 2.0, **more},
        errors={},
        digest="test",
    )


def test_refine_keeps_the_share_of_candidates_nearest_the_record():
    """A simulator whose output is the parameter itself: the kept sets are exactly those whose
    value is nearest the target, in parameter space, and their number is the accepted share."""
    rng = np.random.default_rng(3)
    pool = rng.random((200, 2))
    target = [Target("a", 7.0, 1.0, 0.0), Target("b ignored", 0.0, 1.0, math.inf)]
    calls = []

    def simulate(values, wave):
        calls.append(wave)
        return values.copy(), np.zeros_like(values)

    kept, ess = refine(_search(80, 0.25), target, simulate, pool, 4, rng)
    assert calls == [4]  # saved as the wave after the last one
    assert len(kept) == 20 and float(ess) == 20
    # every kept set is nearer 7 than every rejected one among the 80 drawn
    assert np.abs(kept[:, 0] - 7.0).max() < 10 * 0.25  # within the nearest quarter of [0, 10]
    assert np.all((kept[:, 1] >= 1.0) & (kept[:, 1] <= 100.0))  # mapped to the prior's range


def test_refine_keeps_at_least_min_sets_of_the_nearest_when_there_are_so_many():
    """min_sets raises the kept count above the accepted share (the nearest first), and never
    above the number of candidates."""
    pool = np.random.default_rng(3).random((200, 2))
    target = [Target("a", 7.0, 1.0, 0.0)]

    def simulate(values, wave):
        return values[:, :1], np.zeros((len(values), 1))

    share = refine(_search(80, 0.25), target, simulate, pool, 1, np.random.default_rng(2))[0]
    more = refine(
        _search(80, 0.25, min_sets=50), target, simulate, pool, 1, np.random.default_rng(2)
    )[0]
    capped = refine(
        _search(80, 0.25, min_sets=500), target, simulate, pool, 1, np.random.default_rng(2)
    )[0]
    assert (len(share), len(more), len(capped)) == (20, 50, 80)
    assert np.array_equal(more[:20], share)  # the same nearest first, then the next nearest
    assert np.abs(more[:, 0] - 7.0).max() <= np.abs(capped[50:, 0] - 7.0).min()


def test_refine_is_deterministic_given_the_generator():
    pool = np.random.default_rng(0).random((50, 2))
    target = [Target("a", 3.0, 1.0, 0.0)]

    def simulate(values, wave):
        return values[:, :1], np.zeros((len(values), 1))

    one = refine(_search(30, 0.5), target, simulate, pool, 1, np.random.default_rng(9))[0]
    two = refine(_search(30, 0.5), target, simulate, pool, 1, np.random.default_rng(9))[0]
    assert np.array_equal(one, two)


def test_refine_keeps_only_sets_whose_level_is_near_its_target():
    """A set far off the level is never kept, however near the rest of its outputs."""
    rng = np.random.default_rng(5)
    pool = rng.random((100, 2))
    targets = [Target("2024 level", 5.0, 1.0, 0.0), Target("shape", 0.0, 1.0, 0.0)]

    def simulate(values, wave):
        # level = a (0..10), shape = b's distance from 50: the shape prefers b near 50
        return np.column_stack([values[:, 0], values[:, 1] - 50.0]), np.zeros((len(values), 2))

    kept, _ = refine(_search(100, 0.5), targets, simulate, pool, 1, rng)
    assert np.all(np.abs(kept[:, 0] - 5.0) <= 2.0)  # within level_accept = 2 sd
    assert len(kept) == round(
        0.5 * np.sum(np.abs(to_params(pool, _search(1, 1).priors)[:, 0] - 5) <= 2)
    )


def test_distance_weighs_replication_noise_and_ignores_structural_outputs():
    t = [Target("x", 0.0, 1.0, 0.0), Target("s", 0.0, 1.0, math.inf)]
    means = np.array([[2.0, 1e6], [2.0, 0.0]])
    d = simulated_distance(means, np.array([[0.0, 0.0], [3.0, 0.0]]), t)
    assert d[0] == 4.0  # the structural output's miss counts for nothing
    assert d[1] == 1.0  # replication variance widens the denominator
