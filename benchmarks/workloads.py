"""Throughput workloads, shared by the pytest benchmarks and ``benchmarks/report.py``.

They use only the public interfaces that older versions of the package also have
(``run_batch``, ``calibrate.Runner``, ``load_search``), so ``report.py --tree DIR`` can time the
same workload on another checkout (e.g. the commit before a change) in the same session.

- :func:`batch_throughput`: a batch of full-year replications of ``baseline_2024``, model
  construction and outputs included (each replication's daily table, summary and changes of
  hands travel back to the parent and are assembled into the batch tables). The figure is
  replications per core-second: replications / (wall seconds x workers).
- :func:`calibration_workload`: the shape of a calibration: waves of Latin-hypercube points over
  the free parameters of ``calibration/search.toml``, each point run with the same replication
  seeds on the 2024 year, a wave's results gathered before the next wave starts.
"""

from __future__ import annotations

import resource
import time
from datetime import date

import numpy as np
from scipy.stats import qmc

SCENARIO = "baseline_2024"
BATCH_SEED = 11


def _cpu_seconds() -> float:
    """CPU seconds used by this process and its finished (reaped) children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _stop_workers() -> None:
    # Warm workers are reaped only when stopped: their CPU time then counts as the children's.
    try:
        from sim.executor import shutdown
    except ImportError:  # a tree before the executor: its pools stop when a batch ends
        return
    shutdown()


def _spec(until: date | None = None):
    from sim.model import default_theatre, resolve_scenario

    spec = resolve_scenario(SCENARIO, default_theatre())
    return spec if until is None else spec.with_end(until)


def batch_throughput(replications: int, workers: int, until: date | None = None) -> dict:
    """Run one batch; return its wall time and replications per core-second.

    With ``workers > 1`` the time includes starting the workers if none are warm yet.
    """
    from sim.batch import run_batch

    spec = _spec()
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    result = run_batch(
        spec, replications, seed=BATCH_SEED, workers=workers, until=until, progress=False
    )
    seconds = time.perf_counter() - t0
    _stop_workers()
    cpu = _cpu_seconds() - cpu0
    assert len(result.runs) == replications
    return {
        "replications": replications,
        "workers": workers,
        "seconds": seconds,
        "per_core_second": replications / (seconds * workers),
        # On a loaded machine the wall time measures the other processes too; CPU seconds
        # (this process and its workers) do not, or much less.
        "cpu_seconds": cpu,
        "per_cpu_second": replications / cpu,
        "days": int(result.runs["days"].iloc[0]),
    }


def calibration_workload(
    waves: int, points: int, replications: int, workers: int, until: date | None = None
) -> dict:
    """Run ``waves`` waves of ``points`` x ``replications`` runs of the 2024 year.

    Returns the wall time, the number of runs, and a checksum of the outcomes (the same for
    any ``workers``).
    """
    from sim.batch import replication_seeds
    from sim.calibrate import Runner, load_search

    search = load_search()
    spec = _spec(until)
    end = spec.end
    seeds = replication_seeds(search.seed, replications)
    rng = np.random.default_rng(search.seed)
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    runner = Runner(workers)
    total = 0.0
    try:
        for _ in range(waves):
            unit = qmc.LatinHypercube(d=len(search.params), rng=rng).random(points)
            tasks = [
                (
                    (p, r),
                    spec,
                    {
                        fp.name: float(fp.from_unit(unit[p, j]))
                        for j, fp in enumerate(search.params)
                    },
                    seed,
                    end,
                    False,
                )
                for p in range(points)
                for r, seed in enumerate(seeds)
            ]
            for _, summary, _ in runner.map(tasks):
                total += summary["russia_gain_km2"]
    finally:
        runner.close()
    seconds = time.perf_counter() - t0
    _stop_workers()
    return {
        "waves": waves,
        "points": points,
        "replications": replications,
        "runs": waves * points * replications,
        "workers": workers,
        "seconds": seconds,
        "cpu_seconds": _cpu_seconds() - cpu0,
        "checksum": round(total, 3),
    }


def construction(models: int = 5) -> dict:
    """Seconds to build the first ``baseline_2024`` model of a process (theatre loaded
    first, as every batch worker has it), and the median of the next ``models``."""
    from sim.model import FrontlineModel, default_theatre

    default_theatre()
    t0 = time.perf_counter()
    FrontlineModel(SCENARIO, rng=1)
    first = time.perf_counter() - t0
    times = []
    for seed in range(2, 2 + models):
        t0 = time.perf_counter()
        FrontlineModel(SCENARIO, rng=seed)
        times.append(time.perf_counter() - t0)
    return {"first": first, "next_median": float(np.median(times))}
