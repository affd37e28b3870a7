"""Shared set-up of the step-performance benchmarks (issue #5).

Every benchmark uses ``benchmark.pedantic(setup=...)``: each round gets a fresh model with a
fixed seed, brought to the same state outside the timed region, so all rounds measure the same
work (``model.step()`` mutates the model: timing successive steps of one model would measure a
different day each round). Model and theatre construction are never timed.

Quick mode, as CI runs it: ``pytest benchmarks -q --benchmark-disable`` runs every benchmark
once (setup, then the target once) with no statistics: benchmarks cannot rot, and it costs
well under a minute.

At the end of a timed session this file prints derived figures: the fitted exponent of step
cost against theatre size, the speed-up of each fast kernel over its reference twin, and of the
incremental supply update over a full recomputation, all from the medians measured in the same
run.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import pytest

from sim import combat
from sim.model import FrontlineModel, default_theatre
from sim.scenario import load_scenario
from sim.theatre.synthetic import write_grid
from sim.theatre.theatre import Theatre

SEED = 1
MID_RUN_DAYS = 120  # the "realistic mid-run state": 2024-04-30 of baseline_2024, seed 1

# --- synthetic theatres for the size series -------------------------------------------------
# Grids of 3 km cells, 40 columns deep (Russia holds the west half) and 336 rows along the
# front per unit of scale: 13,440 nodes and a 1,008 km front at 1x, like the real theatre's
# 13,328 nodes and ~1,000 km. Larger theatres are longer fronts, not finer grids: nodes, front
# length, sectors, hubs and units all grow in proportion, so the density of units per km of
# front stays as in the real theatre (16 sectors of 10 Russian and 10 Ukrainian units = 320
# units at 1x; even sectors attack, so the front moves and supply is recomputed).
SCALES = (1, 2, 4, 8)
GRID_NX, GRID_ROWS, CELL_KM = 40, 336, 3.0
SECTOR_ROWS = 21
# baseline_2024's fires of January and a ten times faster advance than the default, so that in
# the few days each round simulates the front moves and supply is recomputed, as on the real
# theatre's busy days. (Fires are not scaled with the theatre: the registry caps them.)
GRID_PARAMS = """[params]
russia_shells_per_day = 70000
ukraine_shells_per_day = 10000
russia_glide_bombs_per_day = 100
advance_slowdown = 0.03

"""
SIZE_WARMUP_DAYS = 10  # steps run before the timed ones, so fighting has started
SIZE_STEPS = 5  # steps timed per round in the size series


@functools.cache
def grid_case(scale: int) -> tuple[Theatre, Path]:
    """Theatre and scenario file of the grid at ``scale`` (built once per session)."""
    nx, ny = GRID_NX, GRID_ROWS * scale
    front_col = nx // 2  # first Ukrainian column
    names, hubs, sectors = {}, {}, []
    for k in range(ny // SECTOR_ROWS):
        row = k * SECTOR_ROWS + SECTOR_ROWS // 2
        names[row * nx + front_col] = f"S{k}"
        names[row * nx + front_col + 10] = f"O{k}"
        hubs[f"RH{k}"] = row * nx
        hubs[f"UH{k}"] = row * nx + nx - 1
        attack = k % 2 == 0
        sectors.append(
            "[[sector]]\n"
            f'name = "s{k}"\nanchors = ["S{k}"]\n'
            f"russia_units = {14 if attack else 8}\nukraine_units = {6 if attack else 12}\n"
            f'russia_posture = "{"attack" if attack else "hold"}"\n'
            + (f'russia_objective = "O{k}"\n' if attack else "")
        )
    folder = Path(tempfile.mkdtemp(prefix=f"frontline-bench-{scale}x-"))
    theatre = Theatre.load(
        write_grid(folder / "grid.npz", nx=nx, ny=ny, cell_km=CELL_KM, hubs=hubs, names=names)
    )
    scenario = folder / "grid.toml"
    scenario.write_text(
        f'name = "grid_{scale}x"\nstart = 2024-01-01\nend = 2024-12-31\n'
        'initial_control = "2024-01-01"\n\n' + GRID_PARAMS + "\n".join(sectors)
    )
    return theatre, scenario


def grid_model(scale: int, seed: int = SEED) -> FrontlineModel:
    theatre, scenario = grid_case(scale)
    return FrontlineModel(load_scenario(scenario), rng=seed, theatre=theatre)


# --- the real theatre -----------------------------------------------------------------------
def mid_run_model(days: int = MID_RUN_DAYS) -> FrontlineModel:
    """baseline_2024 with the fixed seed, stepped ``days`` days (not timed by callers)."""
    default_theatre()
    m = FrontlineModel("baseline_2024", rng=SEED)
    if days:
        m.run_for(days)
    return m


def front_geometry(m: FrontlineModel):
    fe = np.flatnonzero(m.front_edge_mask())
    mid = 0.5 * (m.xy[m.edge_u[fe]] + m.xy[m.edge_v[fe]])
    return mid, m.theatre.edge_border_km[fe]


def battle_of_the_day(m: FrontlineModel) -> combat.EdgeBattle:
    """The EdgeBattle that combat_phase builds for the model's current day (runs the phase)."""
    seen = []
    original = combat.fight

    def spy(battle, params):
        seen.append(battle)
        return original(battle, params)

    combat.fight = spy
    try:
        combat.combat_phase(m)
    finally:
        combat.fight = original
    return seen[0]


# --- derived figures at the end of a timed session ------------------------------------------
_MEDIANS: dict[str, float] = {}


@pytest.fixture
def record():
    """``record(key, benchmark)`` keeps the benchmark's median (seconds) for the summary."""

    def keep(key: str, benchmark) -> None:
        stats = getattr(benchmark, "stats", None)
        if stats is not None:
            _MEDIANS[key] = stats.stats.median

    return keep


def fitted_exponent(sizes: list[float], times: list[float]) -> float:
    """Least-squares slope of log(time) on log(size)."""
    x, y = np.log(sizes), np.log(times)
    return float(np.polyfit(x, y, 1)[0])


def pytest_terminal_summary(terminalreporter) -> None:
    import sys

    bench = sys.modules.get("test_bench_throughput")
    throughput = bench.pytest_terminal_summary_lines() if bench else []
    if not _MEDIANS and not throughput:
        return
    tr = terminalreporter
    tr.section("frontline: derived figures")
    if "construction" in _MEDIANS:
        tr.write_line(
            f"model construction after the first: {1e3 * _MEDIANS['construction']:.1f} ms"
        )
    for line in throughput:
        tr.write_line(line)
    sizes = [s for s in SCALES if f"size_{s}x" in _MEDIANS]
    if len(sizes) >= 2:
        nodes = [grid_case(s)[0].n_nodes for s in sizes]
        per_step = [_MEDIANS[f"size_{s}x"] / SIZE_STEPS for s in sizes]
        for s, n, t in zip(sizes, nodes, per_step, strict=True):
            tr.write_line(f"grid {s}x: {n:,} nodes, {1e3 * t:.2f} ms/step")
        tr.write_line(
            f"fitted exponent of step cost vs nodes: {fitted_exponent(nodes, per_step):.2f}"
        )
    for kernel in ("fight", "presence", "supply"):
        fast, ref = _MEDIANS.get(f"{kernel}_fast"), _MEDIANS.get(f"{kernel}_reference")
        if fast and ref:
            tr.write_line(
                f"{kernel}: fast {1e3 * fast:.3f} ms, reference {1e3 * ref:.1f} ms, "
                f"speed-up {ref / fast:,.0f}x"
            )
    inc, full = _MEDIANS.get("phase_supply"), _MEDIANS.get("phase_supply_full")
    if inc and full:
        tr.write_line(
            f"supply phase (day 120): incremental {1e3 * inc:.3f} ms, full recomputation "
            f"{1e3 * full:.3f} ms, speed-up {full / inc:,.1f}x"
        )
    if "year" in _MEDIANS:
        tr.write_line(f"theatre-year (baseline_2024, 365 steps): {_MEDIANS['year']:.3f} s")


def pytest_report_header(config):
    return f"frontline benchmarks: seed {SEED}, mid-run state = day {MID_RUN_DAYS}" + (
        ", quick mode (each benchmark once, no timing)"
        if config.getoption("benchmark_disable", False)
        else ""
    )
