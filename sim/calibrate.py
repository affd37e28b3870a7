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
import os
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import qmc

from sim.batch import replication_seeds
from sim.executor import Executor
from sim.experiments.store import encode_falls, falls_column
from sim.history_matching import Prior
from sim.params import PARAMS
from sim.scenario import ScenarioSpec

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION_DIR = ROOT / "calibration"

# Fixed parameters whose influence on the fit the report measures (one at a time, range ends).
SENSITIVITY_FIXED = (
    "attacker_loss_rate",
    "ratio_loss_exponent",
    "advance_ratio_exponent",
    "success_ratio_slope",
    "depth_exponent",
    "frontage_cap_per_km",
    "breakpoint_mean",
    "supply_efold_km",
    "reserve_commit_threshold",
)


@dataclass(frozen=True)
class Target:
    """One calibration target: an outcome of a scenario at a date, with its source."""

    name: str
    scenario: str
    outcome: str
    until: date
    value: float
    observation_sd: float
    source: str


# A calibrated parameter and its prior range (sampled in log space if ``log``): the record
# calibration's prior, one definition for both.
FreeParam = Prior


@dataclass
class Search:
    """The search settings of ``calibration/search.toml``."""

    seed: int
    params: list[FreeParam]
    discrepancy: float
    cutoff: float
    points_per_wave: int
    waves: int
    replications: int
    final_points: int
    final_replications: int
    verify_replications: int = 0
    verify_seed: int = 1


@dataclass
class CalibrationResult:
    """Everything the search found, in plain data."""

    targets: list[Target]
    search: Search
    evaluated: pd.DataFrame  # one row per (wave, point): parameters, per-target mean/sd/I
    best: dict[str, float]
    region: pd.DataFrame  # the surviving (non-implausible) points of the last wave
    predictive: list[dict]  # per target: p05/p50/p95 over parameter draws x replications
    runs: list[pd.DataFrame] = field(default_factory=list)  # per target: final runs' summaries
    daily: list[pd.DataFrame] = field(default_factory=list)  # per target: their daily tables
    sensitivity: pd.DataFrame | None = None
    verification: list[dict] = field(default_factory=list)  # best point alone, batch seeds
    seconds: float = 0.0
    n_runs: int = 0


# --------------------------------------------------------------------------------------------
# Reading the inputs


def load_targets(path: Path = CALIBRATION_DIR / "targets.toml") -> list[Target]:
    """Read the calibration targets."""
    with Path(path).open("rb") as f:
        raw = tomllib.load(f)
    targets = []
    for i, t in enumerate(raw.get("target", [])):
        missing = {"name", "scenario", "outcome", "until", "value"} - set(t)
        if missing:
            raise ValueError(f"{path}: target[{i}] lacks {', '.join(sorted(missing))}")
        targets.append(
            Target(
                name=t["name"],
                scenario=t["scenario"],
                outcome=t["outcome"],
                until=t["until"]
                if isinstance(t["until"], date)
                else date.fromisoformat(t["until"]),
                value=float(t["value"]),
                observation_sd=float(t.get("observation_sd", 0.05)),
                source=t.get("source", ""),
            )
        )
    if not targets:
        raise ValueError(f"{path}: no [[target]] entries")
    return targets


def load_search(path: Path = CALIBRATION_DIR / "search.toml", quick: bool = False) -> Search:
    """Read the search settings; ``quick`` takes the ``[quick]`` budget instead of ``[budget]``.

    Raises ``ValueError`` naming the file for anything that is not a search settings file.
    """
    with Path(path).open("rb") as f:
        raw = tomllib.load(f)
    try:
        return _search(path, raw, quick)
    except (KeyError, TypeError, AttributeError) as err:
        what = "a scenario, not search settings" if "sector" in raw else "not search settings"
        raise ValueError(
            f"{path}: {what} ({type(err).__name__}: {err}); expected [params.NAME] tables with "
            "low and high, and a [budget] table (see calibration/search.toml)"
        ) from None


def _search(path: Path, raw: dict, quick: bool) -> Search:
    params = []
    for name, spec in raw["params"].items():
        if name not in PARAMS:
            raise ValueError(f"{path}: params.{name}: not a registry parameter")
        reg = PARAMS[name]
        low, high = float(spec["low"]), float(spec["high"])
        if not reg.low <= low < high <= reg.high:
            raise ValueError(
                f"{path}: params.{name}: range [{low}, {high}] must lie inside the registry's "
                f"[{reg.low}, {reg.high}]"
            )
        params.append(FreeParam(name, low, high, bool(spec.get("log", False))))
    budget = {**raw["budget"], **(raw.get("quick", {}) if quick else {})}
    hm = raw.get("history_matching", {})
    return Search(
        seed=int(raw.get("seed", 0)),
        params=params,
        discrepancy=float(hm.get("discrepancy", 0.15)),
        cutoff=float(hm.get("cutoff", 3.0)),
        points_per_wave=int(budget["points_per_wave"]),
        waves=int(budget["waves"]),
        replications=int(budget["replications"]),
        final_points=int(budget["final_points"]),
        final_replications=int(budget["final_replications"]),
        verify_replications=int(budget.get("verify_replications", 0)),
        verify_seed=int(budget.get("verify_seed", 1)),
    )


# --------------------------------------------------------------------------------------------
# Running points


def _run_one(task: tuple) -> tuple:
    """Worker: one replication of one target at one parameter point."""
    key, spec, overrides, seed, until, detail = task
    from sim.runner import run_scenario

    result = run_scenario(spec.with_overrides(overrides) if overrides else spec, seed, until)
    if not detail:
        return key, result.summary, None
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
        self.count += len(tasks)
        # Results come back in task order, so nothing depends on which worker finished first.
        return self.executor.map(_run_one, [(t,) for t in tasks])

    def close(self) -> None:
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
    dims = len(search.params)
    lo, hi = np.zeros(dims), np.ones(dims)
    rows, all_unit, all_values = [], [], []
    runner = Runner(workers, force_workers, scheduler)
    try:
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
                row = {"wave": wave, **point}
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
        evaluated = pd.DataFrame(rows)
        last = evaluated[evaluated.wave == search.waves - 1].reset_index(drop=True)
        region = (
            last.iloc[survivors]
            if len(survivors)
            else last.nsmallest(max(2, len(last) // 4), "max_I")
        )
        best_row = evaluated.loc[evaluated["misfit"].idxmin()]
        # Rounded as calibrated.toml writes them, so runs from that file repeat these exactly.
        best = {fp.name: float(f"{best_row[fp.name]:.6g}") for fp in search.params}
        log(f"best point: {json.dumps({k: round(v, 5) for k, v in best.items()})}")

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
        per_target_runs = [[] for _ in targets]
        per_target_daily = [[] for _ in targets]
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
                f"{p['target']} p50 {p['p50']:.0f} [{p['p05']:.0f}, {p['p95']:.0f}]"
                for p in predictive
            )
        )
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


def _verify(runner, specs, targets, search, best) -> list[dict]:
    """The best point alone, with the seeds of ``frontline batch --seed verify_seed``: what a
    user gets from the scenarios once they read calibrated.toml."""
    if search.verify_replications < 1:
        return []
    seeds = replication_seeds(search.verify_seed, search.verify_replications)
    values = evaluate(runner, specs, targets, [best], seeds)[0]
    rows = []
    for t, target in enumerate(targets):
        p05, p50, p95 = _q(values[t])
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


def write_calibrated(result: CalibrationResult, path: Path, command: str) -> None:
    """``calibrated.toml``: the best values, with the surviving region's spread."""
    lines = [
        "# Calibrated parameters, written by `frontline calibrate`; the scenarios read [params]",
        "# through their `calibration` key. Method, budget and fit: calibration/REPORT.md.",
        f"# Command: {command}",
        "",
        "[params]",
    ]
    for fp in result.search.params:
        lines.append(f"{fp.name} = {result.best[fp.name]:.6g}")
    for fp in result.search.params:
        col = result.region[fp.name]
        lines += [
            "",
            f"[uncertainty.{fp.name}]",
            "# spread over the parameter sets not ruled out by history matching (last wave)",
            f"mean = {col.mean():.6g}",
            f"sd = {col.std(ddof=1) if len(col) > 1 else 0.0:.6g}",
            f"min = {col.min():.6g}",
            f"max = {col.max():.6g}",
            f"prior = [{fp.low:g}, {fp.high:g}]",
        ]
    Path(path).write_text("\n".join(lines) + "\n")


# Public record of notable changes of hands, for the checks (not fitted). Dates as reported.
CHECK_FALLS = {
    "russia_gain_2023": [
        (
            "Soledar",
            "2023-01-16",
            "Russian MoD claim 2023-01-13; Ukraine confirmed withdrawal 2023-01-25",
        ),
        ("Bakhmut", "2023-05-20", "Wagner claim; ISW assessed the city taken"),
        ("Robotyne", "2023-08-28", "retaken by Ukraine (Ukrainian deputy defence minister)"),
        ("Marinka", "2023-12-25", "Russian MoD claim; the town was ruins"),
    ],
    "russia_gain_2024": [
        ("Avdiivka", "2024-02-17", "Ukrainian withdrawal announced by Syrskyi"),
        ("Krasnohorivka", "2024-09-10", "Russian MoD claim (approx.)"),
        ("Vuhledar", "2024-10-01", "Ukrainian withdrawal announced 2024-10-02"),
        ("Selydove", "2024-10-30", "Russian MoD claim; ISW assessed seized (approx.)"),
        ("Pokrovsk", "not by 2024-11-20", "held by Ukraine on 2024-11-20"),
        ("Kurakhove", "not by 2024-11-20", "fought over, held by Ukraine on 2024-11-20"),
        ("Kupiansk", "not by 2024-11-20", "held by Ukraine on 2024-11-20"),
    ],
}
ISW_CASUALTIES_PER_KM2 = 102.0


def _q(values, qs=(5, 50, 95)) -> list[float]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return [float(np.percentile(v, q)) for q in qs] if len(v) else [math.nan] * len(qs)


def _falls_row(runs: pd.DataFrame, town: str, record: str, note: str) -> str:
    dates = []
    for fell in falls_column(runs):
        if town in fell:
            dates.append(fell[town].toordinal())
    share = len(dates) / len(runs)
    if dates:
        lo, mid, hi = (date.fromordinal(int(x)) for x in _q(dates))
        sim = f"{mid} ({lo} to {hi})"
    else:
        sim = "did not change hands"
    return f"| {town} | {record} | {share:.0%} | {sim} | {note} |"


def _figure(result: CalibrationResult, path: Path) -> None:
    from sim.figures import pyplot, save_figure  # matplotlib only when a report is written

    plt = pyplot()
    fig, axes = plt.subplots(1, len(result.targets), figsize=(6 * len(result.targets), 4.2))
    for ax, target, daily in zip(np.atleast_1d(axes), result.targets, result.daily, strict=True):
        for col, colour, label in (
            ("russia_gain_km2", "#b2182b", "Russian gains"),
            ("ukraine_gain_km2", "#2166ac", "Ukrainian gains"),
        ):
            wide = daily.pivot_table(index="date", columns=["draw", "replication"], values=col)
            lo, mid, hi = (wide.quantile(q, axis=1) for q in (0.05, 0.5, 0.95))
            ax.fill_between(wide.index, lo, hi, color=colour, alpha=0.2, lw=0)
            ax.plot(wide.index, mid, color=colour, label=f"{label}: median, 90% band")
        ax.plot(
            [pd.Timestamp(target.until)],
            [target.value],
            "k*",
            ms=14,
            label=f"target {target.value:,.0f} km2 (ISW)",
        )
        ax.set_title(f"{target.scenario}: cumulative gains (map difference)")
        ax.set_ylabel("km2 since the start")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    save_figure(fig, path)


def write_report(result: CalibrationResult, out_dir: Path, command: str) -> Path:
    """Write REPORT.md and its figure into ``out_dir``; return the report's path."""
    out_dir = Path(out_dir)
    figure = out_dir / "calibration_gains.png"
    _figure(result, figure)
    s = result.search
    t_by = {t.name: i for i, t in enumerate(result.targets)}
    lines = [
        "# Calibration report",
        "",
        f"Written by `{command}` in {result.seconds / 60:.1f} minutes "
        f"({result.n_runs} model runs on {os.cpu_count()} cores).",
        "",
        "## Targets",
        "",
        "| target | scenario | outcome | until | value | source |",
        "|---|---|---|---|---|---|",
    ]
    for t in result.targets:
        lines.append(
            f"| {t.name} | {t.scenario} | {t.outcome} | {t.until} | {t.value:,.0f} km2 | {t.source} |"
        )
    lines += [
        "",
        "Gains are the difference of two maps: ground Ukraine held at the start and Russia holds",
        "at the date (README, *How gains are counted*). Only these two figures were fitted.",
        "",
        "## Method and budget",
        "",
        "- Free parameters (prior ranges): "
        + ", ".join(
            f"`{fp.name}` [{fp.low:g}, {fp.high:g}]{' (log)' if fp.log else ''}" for fp in s.params
        )
        + ". Every other parameter stays at its registry default, fixed from the literature"
        " (`docs/parameters.md`).",
        f"- {s.waves} waves of Latin-hypercube sampling (`scipy.stats.qmc.LatinHypercube`), "
        f"{s.points_per_wave} points each, every point run on both scenarios with the same "
        f"{s.replications} replication seeds (common random numbers).",
        f"- History matching: implausibility I = |z - mean| / sqrt(V_obs + V_disc + V_ens/R), with "
        f"V_disc = ({s.discrepancy:g} z)^2; points with I > {s.cutoff:g} for either target are ruled "
        "out and the next wave samples the box around the survivors.",
        "- Best point: the evaluated point whose medians are closest to both targets (least squares "
        "of log ratios). Predictive intervals: the best point and "
        f"{max(s.final_points - 1, 0)} parameter sets drawn from the surviving region, "
        f"{s.final_replications} replications each, so they fold in parameter uncertainty and "
        "run-to-run noise.",
        "",
        "## Result",
        "",
        "| parameter | calibrated | region mean | region sd | region range | prior |",
        "|---|---|---|---|---|---|",
    ]
    for fp in s.params:
        col = result.region[fp.name]
        lines.append(
            f"| `{fp.name}` | {result.best[fp.name]:.4g} | {col.mean():.4g} | "
            f"{col.std(ddof=1) if len(col) > 1 else 0:.2g} | {col.min():.4g}-{col.max():.4g} | "
            f"{fp.low:g}-{fp.high:g} |"
        )
    last = result.evaluated[result.evaluated.wave == s.waves - 1]
    n_ok = int((last.max_I <= s.cutoff).sum())
    lines += [
        "",
        f"{n_ok} of {len(last)} points of the last wave were not ruled out"
        + ("." if n_ok else "; the region above is the best quarter of that wave instead."),
        "",
        "### Fit",
        "",
        "| target | value | simulated p05 | p50 | p95 | p50 error | runs |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in result.predictive:
        err = p["p50"] / p["value"] - 1
        lines.append(
            f"| {p['target']} | {p['value']:,.0f} | {p['p05']:,.0f} | {p['p50']:,.0f} | "
            f"{p['p95']:,.0f} | {err:+.0%} | {p['n']} |"
        )
    if result.verification:
        v0 = result.verification[0]
        lines += [
            "",
            f"**The best point alone**, {v0['n']} replications with the seeds of `frontline batch"
            f" --seed {s.verify_seed}` (what the scenarios give now that they read"
            " `calibrated.toml`):",
            "",
            "| target | value | p05 | p50 | p95 | p50 error | command |",
            "|---|---|---|---|---|---|---|",
        ]
        for v, t in zip(result.verification, result.targets, strict=True):
            cmd = (
                f"`frontline batch scenarios/{t.scenario}.toml --replications {v['n']} "
                f"--seed {s.verify_seed} --until {t.until}`"
            )
            lines.append(
                f"| {v['target']} | {v['value']:,.0f} | {v['p05']:,.0f} | {v['p50']:,.0f} | "
                f"{v['p95']:,.0f} | {v['p50'] / v['value'] - 1:+.0%} | {cmd} |"
            )
    lines += ["", f"![cumulative gains]({figure.name})", ""]
    if result.sensitivity is not None:
        lines += [
            "## Sensitivity of the fit",
            "",
            "Median outcome with one parameter at an end of its range (calibrated ones: prior range;"
            " fixed ones: registry range), the others at the best point, same seeds. The change is"
            " relative to the best point.",
            "",
            "| parameter | end | value | "
            + " | ".join(f"{t.name} median | change" for t in result.targets)
            + " |",
            "|---|---|---|" + "---|---|" * len(result.targets),
        ]
        for _, r in result.sensitivity.iterrows():
            cells = " | ".join(
                f"{r[f'{t.name}_median']:,.0f} | {r[f'{t.name}_change']:+.0%}"
                for t in result.targets
            )
            value = "" if not np.isfinite(r["value"]) else f"{r['value']:g}"
            name = f"`{r['parameter']}`" + (" *" if r["calibrated"] and r["end"] else "")
            lines.append(f"| {name} | {r['end']} | {value} | {cells} |")
        lines += ["", "\\* calibrated parameter", ""]
    lines += _checks(result, t_by)
    path = out_dir / "REPORT.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _checks(result: CalibrationResult, t_by: dict[str, int]) -> list[str]:
    lines = [
        "## Checks against facts not fitted",
        "",
        "None of these entered the fit. Where the model disagrees, it says so here.",
        "",
    ]
    if "russia_gain_2023" in t_by:
        runs = result.runs[t_by["russia_gain_2023"]]
        lo, mid, hi = _q(runs["ukraine_gain_km2"])
        lines += [
            "### Ukraine's gains in 2023",
            "",
            f"Simulated: median {mid:,.0f} km2 (90% range {lo:,.0f}-{hi:,.0f}). Record: a few"
            " hundred km2 (official Ukrainian tallies and ISW-based analyses of the counter-offensive).",
            "",
        ]
    lines += [
        "### When notable towns changed hands",
        "",
        "| town | recorded | share of runs where it changed hands | simulated median (90% range) | note |",
        "|---|---|---|---|---|",
    ]
    for name, towns in CHECK_FALLS.items():
        if name in t_by:
            for town, record, note in towns:
                lines.append(_falls_row(result.runs[t_by[name]], town, record, note))
    lines.append("")
    if "russia_gain_2024" in t_by:
        t = t_by["russia_gain_2024"]
        daily = result.daily[t].copy()
        daily["month"] = pd.to_datetime(daily["date"]).dt.to_period("M")
        ends = daily.groupby(["draw", "replication", "month"])["russia_gain_km2"].last()
        monthly = ends.groupby(level=[0, 1]).diff().fillna(ends).groupby(level=2).median()
        lines += [
            "### Month-by-month shape of 2024",
            "",
            "Median Russian gains per month (km2):",
            "",
            "| " + " | ".join(str(m) for m in monthly.index) + " |",
            "|" + "---|" * len(monthly),
            "| " + " | ".join(f"{v:,.0f}" for v in monthly.to_numpy()) + " |",
            "",
            "Record: gains rose through 2024 (Avdiivka in February, the Kharkiv offensive in May,"
            " then Pokrovsk-Kurakhove-Vuhledar), and the autumn months were the year's largest"
            " (AFP and others' analyses of ISW maps, as reported).",
            "",
        ]
        runs = result.runs[t]
        ratio = runs["russia_losses_cum"] / runs["russia_gain_km2"].clip(lower=1.0)
        lo, mid, hi = _q(ratio)
        lines += [
            "### Russian casualties per km2 taken, 2024",
            "",
            f"Simulated: median {mid:,.0f} (90% range {lo:,.0f}-{hi:,.0f}) killed, wounded and "
            f"captured per km2. ISW's accounting: about {ISW_CASUALTIES_PER_KM2:.0f} per km2 in 2024.",
            "",
        ]
    return lines
