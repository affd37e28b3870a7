"""Throughput: model construction, batches of full years, and a calibration-shaped workload.

Sizes. Quick mode (``--benchmark-disable``, as CI runs it) uses tiny sizes so the file takes
seconds: batches of 2 ten-day replications, one wave of 2 points x 1 replication. A timed run
(``--benchmark-only``) uses ``FRONTLINE_BENCH_REPLICATIONS`` full years per batch (default 16)
and ``FRONTLINE_BENCH_CALIBRATION`` = "waves,points,replications" for the calibration workload
(default "1,8,2"). The issue's sizes (64 replications; 4 waves of 32 points x 4 replications)
take minutes: ``benchmarks/report.py --throughput --calibration`` runs them in fresh processes,
the way a user meets them, and can time another checkout in the same session (``--tree``).

In a timed run each round starts from no warm workers, so the 2-worker figures include
starting them.
"""

from __future__ import annotations

import os
from datetime import date

import pytest
from workloads import batch_throughput, calibration_workload

import sim.executor
from sim.executor import usable_cores
from sim.model import FrontlineModel, default_theatre

QUICK_UNTIL = date(2024, 1, 11)
_FIGURES: dict[str, dict] = {}


def _quick(request) -> bool:
    return bool(request.config.getoption("benchmark_disable", False))


def test_construction_after_the_first(benchmark, record):
    """A baseline_2024 model built in a process that has built one already."""
    default_theatre()
    FrontlineModel("baseline_2024", rng=1)
    m = benchmark.pedantic(lambda: FrontlineModel("baseline_2024", rng=2), rounds=20)
    assert m.day == 0 and m._space is None
    record("construction", benchmark)


@pytest.mark.parametrize("workers", [1, 2])
def test_batch_throughput(benchmark, request, workers):
    """Full-year replications per core-second, construction and outputs included."""
    if workers > usable_cores():
        pytest.skip(f"{workers} workers need {workers} cores")
    quick = _quick(request)
    n = 2 if quick else int(os.environ.get("FRONTLINE_BENCH_REPLICATIONS", "16"))
    until = QUICK_UNTIL if quick else None
    # Timed: no warm workers at the start (a user's first batch). Quick: keep them, it is
    # only a smoke test.
    setup = None if quick else sim.executor.shutdown
    out = benchmark.pedantic(batch_throughput, args=(n, workers, until), setup=setup, rounds=1)
    assert out["replications"] == n
    _FIGURES[f"batch_{workers}"] = out


def test_calibration_workload(benchmark, request):
    """Waves of LHS points x replications of the 2024 year, on all usable cores (at most 2)."""
    quick = _quick(request)
    shape = "1,2,1" if quick else os.environ.get("FRONTLINE_BENCH_CALIBRATION", "1,8,2")
    waves, points, reps = (int(x) for x in shape.split(","))
    workers = min(2, usable_cores())
    until = QUICK_UNTIL if quick else None
    out = benchmark.pedantic(
        calibration_workload,
        args=(waves, points, reps, workers, until),
        setup=None if quick else sim.executor.shutdown,
        rounds=1,
    )
    assert out["runs"] == waves * points * reps
    _FIGURES["calibration"] = out


def pytest_terminal_summary_lines() -> list[str]:
    """Lines for the session summary (called from conftest)."""
    lines = []
    for workers in (1, 2):
        f = _FIGURES.get(f"batch_{workers}")
        if f:
            lines.append(
                f"batch of {f['replications']} x {f['days']} days on {workers} worker(s): "
                f"{f['seconds']:.1f} s, {f['per_core_second']:.3f} replications per core-second"
            )
    f = _FIGURES.get("calibration")
    if f:
        lines.append(
            f"calibration workload {f['waves']} waves x {f['points']} points x "
            f"{f['replications']} replications ({f['runs']} runs) on {f['workers']} workers: "
            f"{f['seconds']:.1f} s"
        )
    return lines
