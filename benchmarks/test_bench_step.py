"""The model step on the real theatre: a whole year, one step, and each phase alone.

All on ``baseline_2024`` (13,328 nodes, ~320 units) with seed 1. The step and the phases are
measured on the state of day 120 (2024-04-30), rebuilt before every round. The supply phase is
measured twice: updating the forests of day 119 incrementally for day 120's change of hands (one
node, the median day), and recomputing them from scratch (what every such day cost before the
incremental update); the session prints the ratio.
"""

import copy
from datetime import date

from conftest import MID_RUN_DAYS, mid_run_model

from sim import command, metrics, movement, supply
from sim.combat import combat_phase


def test_theatre_year(benchmark, record):
    """2024-01-01 .. 2024-12-31 (365 steps), model construction excluded."""

    def setup():
        return (mid_run_model(0),), {}

    m = benchmark.pedantic(lambda m: m.run() or m, setup=setup, rounds=5)
    assert m.date == date(2024, 12, 31)
    record("year", benchmark)


def test_step(benchmark, record):
    """One step (all five phases) from the day-120 state."""
    m = benchmark.pedantic(
        lambda m: m.step() or m, setup=lambda: ((mid_run_model(),), {}), rounds=15
    )
    assert m.day == MID_RUN_DAYS + 1
    record("step", benchmark)


def _phase_state(upto: str):
    """The day-120 state with the phases before ``upto`` already run for the day."""
    if upto in ("supply", "supply_full"):
        # Day 120's supply phase as if run right after its changes of hands: the forests
        # as they were on day 119 (the movement phase's mop-up already updates them).
        m = mid_run_model(MID_RUN_DAYS - 1)
        trees = copy.deepcopy(m.supply_trees)
        m.step()
        m._apply_schedule()
        m.supply_trees = trees if upto == "supply" else [None, None]
        m.supply_stale = True  # it only runs on days control changed
        return (m,), {}
    m = mid_run_model()
    m._apply_schedule()
    supply.supply_phase(m)
    if upto == "command":
        return (m,), {}
    command.command_phase(m)
    if upto == "combat":
        m.caches.nearest_unit.clear()  # measure the full nearest-unit query
        return (m,), {}
    result = combat_phase(m)
    if upto == "movement":
        return (m, result), {}
    movement.movement_phase(m, result)
    m.day += 1
    return (m,), {}


def test_phase_supply(benchmark, record):
    """Incremental: the forests of day 119 updated for day 120's change of hands."""
    benchmark.group = "supply phase, day 120"
    benchmark.pedantic(supply.supply_phase, setup=lambda: _phase_state("supply"), rounds=15)
    record("phase_supply", benchmark)


def test_phase_supply_full(benchmark, record):
    """Both sides' forests recomputed from scratch (scipy Dijkstra from every hub)."""
    benchmark.group = "supply phase, day 120"
    benchmark.pedantic(supply.supply_phase, setup=lambda: _phase_state("supply_full"), rounds=15)
    record("phase_supply_full", benchmark)


def test_phase_command(benchmark, record):
    benchmark.pedantic(command.command_phase, setup=lambda: _phase_state("command"), rounds=10)
    record("phase_command", benchmark)


def test_phase_combat(benchmark, record):
    result = benchmark.pedantic(combat_phase, setup=lambda: _phase_state("combat"), rounds=10)
    assert len(result.edges) > 100
    record("phase_combat", benchmark)


def test_phase_movement(benchmark, record):
    benchmark.pedantic(movement.movement_phase, setup=lambda: _phase_state("movement"), rounds=10)
    record("phase_movement", benchmark)


def test_phase_metrics(benchmark, record):
    benchmark.pedantic(metrics.metrics_phase, setup=lambda: _phase_state("metrics"), rounds=10)
    record("phase_metrics", benchmark)
