"""Fast kernels against their plain-Python reference twins, on the day-120 state of
``baseline_2024`` (both compute the same outputs: tests/test_kernels.py, tests/test_combat.py).
The session summary prints the speed-up of each pair measured in the same run."""

import numpy as np
import pytest
from conftest import battle_of_the_day, front_geometry, mid_run_model

from sim import combat, frontage


@pytest.fixture(scope="module")
def state():
    m = mid_run_model()
    mid, border = front_geometry(m)
    return m, (mid, border, np.flatnonzero(m.front_edge_mask())), battle_of_the_day(m)


def test_fight_fast(benchmark, record, state):
    benchmark.group = "kernel: combat"
    m, _, battle = state
    benchmark.pedantic(combat.fight, args=(battle, m.p), rounds=200)
    record("fight_fast", benchmark)


def test_fight_reference(benchmark, record, state):
    benchmark.group = "kernel: combat"
    m, _, battle = state
    benchmark.pedantic(combat.fight_reference, args=(battle, m.p), rounds=5)
    record("fight_reference", benchmark)


def _fresh_presence(m, front):
    def setup():
        # No reuse of the last query: neither its answer nor its per-edge answers.
        m.caches.nearest_unit.clear()
        m.caches.nearest_edges.clear()
        return (m, 0, *front), {}

    return setup


def test_presence_fast(benchmark, record, state):
    benchmark.group = "kernel: presence (Ukraine)"
    m, front, _ = state
    benchmark.pedantic(frontage.presence, setup=_fresh_presence(m, front), rounds=100)
    record("presence_fast", benchmark)


def test_presence_reference(benchmark, record, state):
    benchmark.group = "kernel: presence (Ukraine)"
    m, (mid, border, _), _ = state
    benchmark.pedantic(frontage.presence_reference, args=(m, 0, mid, border), rounds=3)
    record("presence_reference", benchmark)


def _supply_args(m):
    enemy = (m.front_node_mask() & (m.control != 0)).nonzero()[0]
    return (m.control, 0, enemy, m.p)


def test_supply_fast(benchmark, record, state):
    benchmark.group = "kernel: supply levels (Ukraine)"
    m = state[0]
    benchmark.pedantic(m.supply_net.levels, args=_supply_args(m), rounds=50)
    record("supply_fast", benchmark)


def test_supply_reference(benchmark, record, state):
    benchmark.group = "kernel: supply levels (Ukraine)"
    m = state[0]
    benchmark.pedantic(m.supply_net.levels_reference, args=_supply_args(m), rounds=3)
    record("supply_reference", benchmark)
