"""Calibration: a real search over the few free parameters, fitted to both gain targets at once.

Method (MECHANICS section 10):

1. **Latin-hypercube waves** (``scipy.stats.qmc.LatinHypercube``) over the free parameters of
   ``calibration/search.toml`` (log-scaled where asked), each point run on both target scenarios
   with the same replication seeds (common random numbers), so differences between points are
   differences of parameters, not of luck.
2. **History matching** (Andrianakis et al. 2015; McCulloch et al. 2022): for each target,
   ``I = |z - mean| / sqrt(V_obs + V_disc + V_ens / R)``, with ``V_obs`` the target's own
   uncertainty, ``V_disc`` the model discrepancy and ``V_ens`` the run-to-run variance. Points
   with ``I > cutoff`` for any target are ruled out; the next wave samples the box around the
   survivors. What is left after the last wave is the parameter region compatible with both
   targets, and its spread is the parameters' uncertainty.
3. **Best point**: the evaluated point whose medians are closest to both targets (least squares
   of log ratios). **Predictive intervals** run several parameter sets drawn from the surviving
   region, each with several replications, so they fold in both the parameters' uncertainty and
   run-to-run noise.
4. **Sensitivity**: one parameter at a time, each calibrated and each key fixed parameter at the
   ends of its range around the best point, with common random numbers.

``frontline calibrate`` writes ``calibration/calibrated.toml`` (which the scenarios read through
their ``calibration`` key), ``calibration/REPORT.md`` and its figures.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import qmc

from sim.batch import replication_seeds
from sim.calibration_report import (
    write_calibrated,
    write_report,
)
from sim.calibration_setup import (
    CALIBRATION_DIR,
    SENSITIVITY_FIXED,
    CalibrationResult,
    FreeParam,
    Search,
    Target,
    finite_quantiles,
    load_search,
    load_targets,
)
from sim.executor import Executor
from sim.experiments.store import encode_falls
from sim.params import PARAMS
from sim.scenario import ScenarioSpec

__all__ = [
    "CALIBRATION_DIR",
    "CalibrationResult",
    "FreeParam",
    "Runner",
    "Search",
    "Target",
    "calibrate",
    "evaluate",
    "implausibility",
    "load_search",
    "load_targets",
    "misfit",
    "write_calibrated",
    "write_report",
]

# --------------------------------------------------------------------------------------------
# Reading the inputs


# --------------------------------------------------------------------------------------------
# Running points


def _run_one(task: tuple) -> tuple:
    """Worker: one replication of one target at one parameter point."""
    key, spec, overrides, seed, until, detail = task
    from sim.model import FrontlineModel
    from sim.runner import collect, summarise

    model = FrontlineModel(spec.with_overrides(overrides) if overrides else spec, rng=seed)
    model.run(until)
    if not detail:
        # The summary alone: the daily table and the changes of hands, which run_scenario
        # would also build (~3 ms a year), are not sent back.
        return key, summarise(model, seed), None
    result = collect(model, seed)
    cols = ["date", "russia_gain_km2", "ukraine_gain_km2", "russia_losses_cum"]
    return key, result.summary, result.daily[cols]


class Runner:
    """Runs many (spec, overrides, seed) tasks on the warm workers of :mod:`sim.executor`.

    The workers are started once per process and kept across waves (and across calibrations,
    batches and sweeps in the same process). With ``scheduler``, the tasks run on that Dask
    cluster instead (they send back plain data, so its workers need not share a filesystem).
    """

    def __init__(
        self,
        workers: int | None = None,
        force_workers: bool = False,
        scheduler: str | None = None,
    ) -> None:
        self.executor = Executor(workers, scheduler, force_workers=force_workers)
        self.workers = self.executor.workers
        self.count = 0

    def map(self, tasks: list[tuple]) -> list[tuple]:
        """Run ``tasks`` and return their results in task order."""
        self.count += len(tasks)
        # Results come back in task order, so nothing depends on which worker finished first.
        return self.executor.map(_run_one, [(t,) for t in tasks])

    def close(self) -> None:
        """Close the executor (local workers stay warm for the next call)."""
        self.executor.close()


def evaluate(
    runner: Runner,
    specs: Sequence[ScenarioSpec],
    targets: Sequence[Target],
    points: Sequence[dict[str, float]],
    seeds: Sequence[int],
) -> np.ndarray:
    """Outcome of every target at every point for every seed: shape (points, targets, seeds)."""
    tasks = [
        ((p, t, r), specs[t], point, seed, target.until, False)
        for p, point in enumerate(points)
        for t, target in enumerate(targets)
        for r, seed in enumerate(seeds)
    ]
    values = np.zeros((len(points), len(targets), len(seeds)))
    for (p, t, r), summary, _ in runner.map(tasks):
        values[p, t, r] = summary[targets[t].outcome]
    return values


def implausibility(values: np.ndarray, targets: Sequence[Target], discrepancy: float) -> np.ndarray:
    """History-matching implausibility of each point for each target, shape (points, targets).

    Parameters
    ----------
    values : ndarray, shape (points, targets, replications)
        Simulated outcomes.
    targets : sequence of Target
        Observed values ``z`` with their relative observation s.d.
    discrepancy : float
        Model discrepancy as a fraction of each target.

    Examples
    --------
    >>> from datetime import date
    >>> t = [Target("a", "s", "x", date(2024, 1, 2), 100.0, 0.05, "")]
    >>> v = np.full((1, 1, 4), 100.0)
    >>> float(implausibility(v, t, 0.1)[0, 0])
    0.0
    """
    z = np.array([t.value for t in targets])
    obs = np.array([t.observation_sd for t in targets]) * z
    n = values.shape[2]
    var_ens = values.var(axis=2, ddof=1) if n > 1 else np.zeros(values.shape[:2])
    variance = obs**2 + (discrepancy * z) ** 2 + var_ens / n
    return np.abs(values.mean(axis=2) - z) / np.sqrt(variance)


def misfit(values: np.ndarray, targets: Sequence[Target]) -> np.ndarray:
    """Sum over targets of the squared log ratio of the median to the target, per point."""
    z = np.array([t.value for t in targets])
    med = np.maximum(np.median(values, axis=2), 1e-3)
    return (np.log(med / z) ** 2).sum(axis=1)


def _wave_box(unit: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit-cube box around the kept points, widened by a quarter of its width each way."""
    lo, hi = unit[keep].min(axis=0), unit[keep].max(axis=0)
    pad = np.maximum(0.25 * (hi - lo), 0.05)
    return np.clip(lo - pad, 0, 1), np.clip(hi + pad, 0, 1)


# --------------------------------------------------------------------------------------------
# The search


def calibrate(
    specs: Sequence[ScenarioSpec],
    targets: Sequence[Target],
    search: Search,
    workers: int | None = None,
    log: Callable[[str], None] = print,
    sensitivity: bool = True,
    force_workers: bool = False,
    scheduler: str | None = None,
) -> CalibrationResult:
    """Fit the free parameters of ``search`` to ``targets`` (see module doc).

    Parameters
    ----------
    specs : sequence of ScenarioSpec
        The scenario of each target, in the same order.
    targets : sequence of Target
    search : Search
    workers : int, optional
        Worker processes (default: all usable cores, and no more unless ``force_workers``).
        Results do not depend on it.
    log : callable
        Receives one line of progress per stage.
    sensitivity : bool
        Also run the one-at-a-time sensitivity of the fit.
    force_workers : bool
        Allow more ``workers`` than usable cores.
    scheduler : str, optional
        Address of a running Dask scheduler to run the replications on instead of local
        processes (as in :func:`sim.batch.run_batch`); the results are the same.

    Returns
    -------
    CalibrationResult
    """
    started = time.perf_counter()
    rng = np.random.default_rng(search.seed)
    seeds = replication_seeds(search.seed, search.replications)
    runner = Runner(workers, force_workers, scheduler)
    try:
        evaluated, survivors = _waves(runner, specs, targets, search, seeds, rng, log)
        region, best = _region_and_best(evaluated, survivors, search, log)
        runs, daily, predictive = _predictive(runner, specs, targets, search, best, region, log)
        verification = _verify(runner, specs, targets, search, best)
        sens = _sensitivity(runner, specs, targets, search, best, seeds) if sensitivity else None
        n_runs = runner.count
    finally:
        runner.close()
    return CalibrationResult(
        targets=list(targets),
        search=search,
        evaluated=evaluated,
        best=best,
        region=region,
        predictive=predictive,
        runs=runs,
        daily=daily,
        sensitivity=sens,
        verification=verification,
        seconds=time.perf_counter() - started,
        n_runs=n_runs,
    )


def _waves(
    runner: Runner,
    specs: Sequence[ScenarioSpec],
    targets: Sequence[Target],
    search: Search,
    seeds: list[int],
    rng: np.random.Generator,
    log: Callable[[str], None],
) -> tuple[pd.DataFrame, np.ndarray]:
    """The history-matching waves: every point evaluated, and the last wave's survivors."""
    dims = len(search.params)
    lo, hi = np.zeros(dims), np.ones(dims)
    rows, all_unit, all_values = [], [], []
    survivors = np.zeros(0, dtype=int)
    for wave in range(search.waves):
        sampler = qmc.LatinHypercube(d=dims, rng=rng)
        unit = lo + sampler.random(search.points_per_wave) * (hi - lo)
        points = [
            {fp.name: float(fp.from_unit(unit[i, j])) for j, fp in enumerate(search.params)}
            for i in range(len(unit))
        ]
        values = evaluate(runner, specs, targets, points, seeds)
        imp = implausibility(values, targets, search.discrepancy)
        for i, point in enumerate(points):
            row: dict[str, Any] = {"wave": wave, **point}
            for t, target in enumerate(targets):
                row[f"{target.name}_mean"] = values[i, t].mean()
                row[f"{target.name}_median"] = float(np.median(values[i, t]))
                row[f"{target.name}_sd"] = values[i, t].std(ddof=1) if len(seeds) > 1 else 0.0
                row[f"{target.name}_I"] = imp[i, t]
            row["max_I"] = imp[i].max()
            row["misfit"] = float(misfit(values[i : i + 1], targets)[0])
            rows.append(row)
        all_unit.append(unit)
        all_values.append(values)
        keep = imp.max(axis=1) <= search.cutoff
        survivors = np.flatnonzero(keep)
        log(
            f"wave {wave + 1}/{search.waves}: {len(points)} points x {len(targets)} targets x "
            f"{len(seeds)} replications; {keep.sum()} not ruled out (I <= {search.cutoff})"
        )
        if not keep.any():
            # Nothing compatible yet: refocus on the best quarter rather than stop.
            keep = imp.max(axis=1) <= np.quantile(imp.max(axis=1), 0.25)
        lo, hi = _wave_box(unit, keep)
    return pd.DataFrame(rows), survivors


def _region_and_best(
    evaluated: pd.DataFrame, survivors: np.ndarray, search: Search, log: Callable[[str], None]
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The region not ruled out (or the best quarter of the last wave) and the best point."""
    last = evaluated[evaluated.wave == search.waves - 1].reset_index(drop=True)
    region = (
        last.iloc[survivors] if len(survivors) else last.nsmallest(max(2, len(last) // 4), "max_I")
    )
    best_row = evaluated.loc[evaluated["misfit"].idxmin()]
    # Rounded as calibrated.toml writes them, so runs from that file repeat these exactly.
    best = {fp.name: float(f"{best_row[fp.name]:.6g}") for fp in search.params}
    log(f"best point: {json.dumps({k: round(v, 5) for k, v in best.items()})}")

    return region, best


def _predictive(
    runner: Runner,
    specs: Sequence[ScenarioSpec],
    targets: Sequence[Target],
    search: Search,
    best: dict[str, float],
    region: pd.DataFrame,
    log: Callable[[str], None],
) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[dict]]:
    """Predictive runs of the best point and draws from the region, and their spread."""
    # Predictive runs: the best point plus draws from the surviving region.
    draws = [best]
    extra = region.sample(
        n=min(max(search.final_points - 1, 0), len(region)), random_state=search.seed
    )
    draws += [{fp.name: float(r[fp.name]) for fp in search.params} for _, r in extra.iterrows()]
    final_seeds = replication_seeds(search.seed + 1, search.final_replications)
    tasks = [
        ((d, t, r), specs[t], point, seed, targets[t].until, True)
        for d, point in enumerate(draws)
        for t in range(len(targets))
        for r, seed in enumerate(final_seeds)
    ]
    per_target_runs: list[list[dict[str, Any]]] = [[] for _ in targets]
    per_target_daily: list[list[pd.DataFrame]] = [[] for _ in targets]
    for (d, t, r), summary, daily in runner.map(tasks):
        row = {"draw": d, "replication": r, **draws[d]}
        row.update({k: v for k, v in summary.items() if isinstance(v, int | float)})
        row["falls"] = encode_falls(summary["falls"])
        per_target_runs[t].append(row)
        per_target_daily[t].append(daily.assign(draw=d, replication=r))
    runs = [pd.DataFrame(r) for r in per_target_runs]
    daily = [pd.concat(d, ignore_index=True) for d in per_target_daily]
    predictive = []
    for t, target in enumerate(targets):
        v = runs[t][target.outcome].to_numpy()
        predictive.append(
            {
                "target": target.name,
                "value": target.value,
                "p05": float(np.percentile(v, 5)),
                "p50": float(np.percentile(v, 50)),
                "p95": float(np.percentile(v, 95)),
                "n": int(len(v)),
            }
        )
    log(
        "predictive: "
        + "; ".join(
            f"{p['target']} p50 {p['p50']:.0f} [{p['p05']:.0f}, {p['p95']:.0f}]" for p in predictive
        )
    )
    return runs, daily, predictive


def _verify(runner, specs, targets, search, best) -> list[dict]:
    """The best point alone, with the seeds of ``frontline batch --seed verify_seed``: what a
    user gets from the scenarios once they read calibrated.toml."""
    if search.verify_replications < 1:
        return []
    seeds = replication_seeds(search.verify_seed, search.verify_replications)
    values = evaluate(runner, specs, targets, [best], seeds)[0]
    rows = []
    for t, target in enumerate(targets):
        p05, p50, p95 = finite_quantiles(values[t])
        rows.append(
            {
                "target": target.name,
                "value": target.value,
                "p05": p05,
                "p50": p50,
                "p95": p95,
                "n": len(seeds),
                "until": target.until,
            }
        )
    return rows


def _sensitivity(runner, specs, targets, search, best, seeds) -> pd.DataFrame:
    """Median outcome of each target with one parameter moved to each end of its range."""
    settings = []
    for fp in search.params:
        settings += [(fp.name, "low", fp.low), (fp.name, "high", fp.high)]
    for name in SENSITIVITY_FIXED:
        reg = PARAMS[name]
        settings += [(name, "low", reg.low), (name, "high", reg.high)]
    points = [best] + [{**best, name: value} for name, _, value in settings]
    values = evaluate(runner, specs, targets, points, seeds)
    med = np.median(values, axis=2)
    rows = []
    for i, (name, end, value) in enumerate(settings, start=1):
        row = {"parameter": name, "end": end, "value": value, "calibrated": name in best}
        for t, target in enumerate(targets):
            row[f"{target.name}_median"] = med[i, t]
            row[f"{target.name}_change"] = med[i, t] / max(med[0, t], 1e-9) - 1.0
        rows.append(row)
    base = {"parameter": "(best point)", "end": "", "value": math.nan, "calibrated": True}
    for t, target in enumerate(targets):
        base[f"{target.name}_median"] = med[0, t]
        base[f"{target.name}_change"] = 0.0
    return pd.DataFrame([base, *rows])


# --------------------------------------------------------------------------------------------
# Writing the results
