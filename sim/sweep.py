"""Sweeps: experiment designs over parameters, run as batches, and global (Sobol') sensitivity.

A sweep runs one :class:`~sim.scenario.ScenarioSpec` at every point of a design (a table of
parameter values), each point a :func:`sim.batch.run_batch` of ``spec.with_overrides(point)``.
Every point gets the **same** replication seeds (``replication_seeds(seed, replications)``):
common random numbers, so differences between points are differences of parameters, not of luck.

Designs (:func:`design`), all from ``scipy.stats.qmc`` and deterministic for a seed:

- ``grid``: ``samples`` evenly spaced levels per parameter, ends included, full factorial;
- ``lhs``: ``samples`` points of a Latin hypercube (``qmc.LatinHypercube``): each of the
  ``samples`` equal strata of each parameter's range holds exactly one point;
- ``sobol``: the first ``samples`` points (a power of two) of a scrambled Sobol' sequence
  (``qmc.Sobol.random_base2``), a low-discrepancy cover of the box.

Integer registry parameters are rounded to whole numbers (a grid's repeated levels merged).

With ``workers > 1`` the points are shared out among the warm worker processes of
:mod:`sim.executor` (started once per process, reused by every sweep, batch and calibration),
each point's replications running in turn in its process; the tables are the same for any
number of workers.

With ``out``, the directory holds::

    sweep.json          the manifest: scenario hash, design hash, seed, replications, until,
                        version; a re-run that asks for something else is refused
    design.parquet      the design, one row per point (its ``attrs`` say how it was made)
    point_0000/ ...     one batch directory per point (see sim.batch); a re-run skips the
                        replications already there, so a killed sweep resumes like a batch
    sweep.parquet       one row per point x replication: point, the point's parameters,
                        replication, seed, provenance (content_hash, version, git_commit) and
                        every numeric outcome of the run's summary
    summary.json        the request, and per point its parameters and p05/p50/p95/mean of each
                        outcome over its replications

Sensitivity (:func:`sobol_analysis`, :func:`sweep_sobol`): first-order and total Sobol'
indices by ``scipy.stats.sobol_indices`` (Saltelli 2010 estimators) with bootstrap (BCa)
confidence intervals. For the model, the function analysed is a point's outcome **averaged over
its replications**; with common random numbers that is ``x -> mean_r outcome(x, seed_r)`` for
fixed seeds, a deterministic function of the parameters. What remains of run-to-run noise
(a change of parameters still changes each run's path) is counted as part of the parameters'
effects, mostly in the total indices; more replications shrink it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from sim import __version__
from sim.batch import replication_seeds, run_batch
from sim.executor import Executor, ExecutorError, check_workers
from sim.experiments.designs import (
    DESIGNS,
    Bounds,
    check_bounds,
    check_points,
    design,
    power_of_two,
    round_integers,
    saltelli_design,
)
from sim.experiments.errors import (
    SweepError,
    SweepWarning,
)
from sim.experiments.formatting import (
    format_sobol,
    format_sweep,
)
from sim.experiments.sensitivity import (
    SobolAnalysis,
    sobol_analysis,
)
from sim.experiments.store import (
    SWEEP_STORED,
    SweepResult,
    claim_sweep_directory,
    design_hash,
    jsonable,
    sweep_table,
)
from sim.outputs import atomic_write, write_checksums, write_json
from sim.params import PARAMS, suggest
from sim.scenario import ScenarioSpec

__all__ = [
    "DESIGNS",
    "SobolAnalysis",
    "SweepError",
    "SweepWarning",
    "check_bounds",
    "SweepResult",
    "design",
    "format_sobol",
    "format_sweep",
    "run_sweep",
    "saltelli_design",
    "sobol_analysis",
    "sweep_sobol",
]

_QUANTILES = ("p05", "p50", "p95", "mean")


# --------------------------------------------------------------------------------------------
# Designs


# --------------------------------------------------------------------------------------------
# Running a sweep


def run_sweep(
    spec: ScenarioSpec,
    design: pd.DataFrame,
    replications: int,
    seed: int = 0,
    workers: int | None = None,
    until: date | None = None,
    out: Path | None = None,
    progress: bool | None = None,
    *,
    force_workers: bool = False,
) -> SweepResult:
    """Run a batch of ``replications`` at every point of ``design``, with common random numbers.

    Parameters
    ----------
    spec : ScenarioSpec
        The scenario (with any fixed overrides already applied).
    design : pandas.DataFrame
        One row per point, one column per registry parameter (e.g. from :func:`design`).
    replications : int
        Runs per point, >= 1.
    seed : int
        Batch seed of **every** point, so point ``i``'s replication ``r`` has seed
        ``replication_seeds(seed, replications)[r]`` whatever ``i`` is.
    workers : int, optional
        Processes (all usable cores by default, and no more unless ``force_workers``; ``1``
        runs in this process). The points are shared out among the warm workers of
        :mod:`sim.executor`, each point's replications running one after another in its
        process (so with ``workers > 1``, call this under ``if __name__ == "__main__":``). The
        tables are the same for any ``workers``.
    force_workers : bool
        Allow more ``workers`` than usable cores.
    until, progress
        As in :func:`sim.batch.run_batch` (``progress`` is a bar over points).
    out : pathlib.Path, optional
        Directory to write into (see the module docstring); point ``i`` is the batch directory
        ``out/point_{i:04d}``, so a re-run resumes where a killed one stopped.

    Raises
    ------
    SweepError
        Empty design, non-registry column, bad ``replications`` or ``workers``, or ``out``
        holding a different sweep.
    sim.scenario.ScenarioError
        A point's value outside its parameter's range (checked for every point before any run).
    """
    workers = _check_request(design, replications, workers, force_workers)
    attrs = jsonable(design.attrs)
    design = design.reset_index(drop=True).astype(float)
    design.attrs = attrs
    points = [_point(design, i) for i in range(len(design))]
    specs = [spec.with_overrides(p) for p in points]  # every value checked before any run
    if until is not None:
        spec.with_end(until)  # a bad date fails here, not at the first point

    manifest = _manifest(spec, design, seed, replications, until)
    if out is not None:
        out = Path(out)
        claim_sweep_directory(out, manifest)
        if not (out / "design.parquet").is_file():
            atomic_write(out / "design.parquet", lambda p: design.to_parquet(p, index=False))

    batches = _run_points(
        spec, specs, replications, seed, until, out, workers, force_workers, progress
    )
    computed = [(i, r) for i, b in enumerate(batches) for r in b.computed]

    runs = sweep_table(design, [b.runs for b in batches])
    summary = _summary(manifest, attrs, seed, replications, runs, points, batches)
    if out is not None:
        atomic_write(out / "sweep.parquet", lambda p: runs.to_parquet(p, index=False))
        write_json(out / "summary.json", summary)
        write_checksums(out, SWEEP_STORED)
    return SweepResult(design, runs, summary, out, computed)


def _manifest(
    spec: ScenarioSpec, design: pd.DataFrame, seed: int, replications: int, until: date | None
) -> dict:
    """The request a sweep directory is claimed for (``sweep.json``)."""
    return {
        "scenario": spec.name,
        "content_hash": spec.content_hash,
        "design_hash": design_hash(design),
        "parameters": list(design.columns),
        "points": len(design),
        "seed": int(seed),
        "replications": replications,
        "until": until.isoformat() if until else None,
        "version": __version__,
    }


def _summary(
    manifest: dict,
    attrs: dict,
    seed: int,
    replications: int,
    runs: pd.DataFrame,
    points: list[dict[str, float | int]],
    batches: list[_PointBatch],
) -> dict:
    """The sweep's ``summary.json``: the request, the dates, and every point's outcomes."""
    summary = {k: v for k, v in manifest.items() if k != "points"}
    first = batches[0].summary
    summary.update(start=first["start"], end=first["end"], design=attrs)
    if first.get("assumptions"):
        summary["assumptions"] = first["assumptions"]
    summary["seeds"] = replication_seeds(seed, replications)
    summary["git_commits"] = sorted(set(runs["git_commit"])) if "git_commit" in runs else []
    summary["points"] = [
        {"point": i, "params": points[i], "outcomes": b.summary["outcomes"]}
        for i, b in enumerate(batches)
    ]
    return summary


def _check_request(
    design: pd.DataFrame, replications: int, workers: int | None, force_workers: bool
) -> int:
    """Check a sweep request before anything runs; the number of local workers to use."""
    if not isinstance(design, pd.DataFrame) or design.empty:
        raise SweepError("the design must be a non-empty DataFrame, one row per point")
    for column in design.columns:
        if column not in PARAMS:
            raise SweepError(
                f"design column '{column}' is not a registry parameter{suggest(str(column))}"
            )
    if design.isna().any().any():
        raise SweepError("the design has missing values")
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise SweepError(f"replications must be a whole number >= 1, got {replications!r}")
    try:
        workers = check_workers(workers, force_workers)
    except ExecutorError as err:
        raise SweepError(str(err)) from None
    check_points(len(design), "design points")
    return workers


def _run_points(
    spec: ScenarioSpec,
    specs: list[ScenarioSpec],
    replications: int,
    seed: int,
    until: date | None,
    out: Path | None,
    workers: int,
    force_workers: bool,
    progress: bool | None,
) -> list[_PointBatch]:
    """Run every point's batch (each in one worker), in point order."""
    show = sys.stderr.isatty() if progress is None else progress
    dirs = [None if out is None else out / f"point_{i:04d}" for i in range(len(specs))]
    tasks = [(s, replications, seed, until, d) for s, d in zip(specs, dirs, strict=True)]
    by_point: dict[int, _PointBatch] = {}
    with tqdm(
        total=len(specs),
        desc=f"{spec.name} sweep",
        unit="point",
        file=sys.stderr,
        disable=not show,
    ) as bar:
        # Each point's batch runs in one worker, its replications one after another, so the
        # warm pool is shared out by points. The tables do not depend on how the points are
        # spread over processes: a replication's seed depends only on the sweep seed and its
        # index.
        with Executor(workers, force_workers=force_workers) as executor:
            for i, result in executor.imap_unordered(_point_batch, tasks):
                by_point[i] = result
                bar.update(1)
    batches = [by_point[i] for i in range(len(specs))]
    return batches


@dataclass
class _PointBatch:
    """What a sweep keeps of a point's batch (not its daily table, which stays on disk)."""

    runs: pd.DataFrame
    summary: dict
    computed: list[int]


def _point_batch(
    spec: ScenarioSpec, replications: int, seed: int, until: date | None, out: Path | None
) -> _PointBatch:
    result = run_batch(
        spec, replications, seed=seed, workers=1, until=until, out=out, progress=False
    )
    return _PointBatch(result.runs, result.summary, list(result.computed or []))


def _point(design: pd.DataFrame, i: int) -> dict[str, float | int]:
    row = design.iloc[i]
    return {k: int(row[k]) if PARAMS[k].integer else float(row[k]) for k in design.columns}


# --------------------------------------------------------------------------------------------
# Sobol' sensitivity


def sweep_sobol(
    spec: ScenarioSpec,
    bounds: Bounds,
    outcomes: Sequence[str],
    n: int,
    replications: int,
    seed: int = 0,
    workers: int | None = None,
    until: date | None = None,
    out: Path | None = None,
    progress: bool | None = None,
    n_resamples: int = 999,
    confidence_level: float = 0.95,
    *,
    force_workers: bool = False,
) -> tuple[SweepResult, SobolAnalysis]:
    """Sobol' indices of model outcomes: a sweep over the Saltelli design, then the analysis.

    Runs :func:`run_sweep` over the ``n * (d + 2)`` points of :func:`saltelli_design` (integer
    parameters rounded), each with the same ``replications`` seeds, and analyses each outcome
    **averaged over a point's replications** (see the module docstring). With ``out``, also
    writes ``out/sobol.json``. ``seed`` seeds the design, the replications and the bootstrap.

    Raises
    ------
    SweepError
        Bad bounds, ``n`` not a power of two, an unknown outcome, or an outcome that is not
        finite at some point (e.g. ``collapse_day`` when some runs never collapse).
    """
    from sim.runner import SUMMARY_OUTCOMES  # imported here: loads the model

    bounds = check_bounds(bounds)
    power_of_two(n)
    check_points(n * (len(bounds) + 2), f"--samples {n} with {len(bounds)} parameters: points")
    known = ["days", *SUMMARY_OUTCOMES, "collapse", "collapse_day"]
    if not outcomes:
        raise SweepError("name at least one outcome to analyse")
    for outcome in outcomes:
        if outcome not in known:
            raise SweepError(
                f"unknown outcome '{outcome}'{suggest(outcome, known)}; one of {', '.join(known)}"
            )
    results: list[SweepResult] = []

    def model(points: pd.DataFrame) -> pd.DataFrame:
        points = round_integers(points)
        points.attrs = {**points.attrs, "kind": "saltelli", "outcomes": list(outcomes)}
        result = run_sweep(
            spec,
            points,
            replications,
            seed,
            workers,
            until,
            out,
            progress,
            force_workers=force_workers,
        )
        results.append(result)
        return result.point_means()[list(outcomes)]

    analysis = sobol_analysis(bounds, model, n, seed, n_resamples, confidence_level)
    if out is not None:
        text = json.dumps(analysis.to_dict(), indent=2) + "\n"
        atomic_write(Path(out) / "sobol.json", lambda p: p.write_text(text))
        write_checksums(Path(out), [*SWEEP_STORED, "sobol.json"])
    return results[0], analysis
