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

import hashlib
import itertools
import json
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
from scipy.stats import qmc
from tqdm import tqdm

from sim import __version__, validate
from sim.batch import replication_seeds, run_batch
from sim.executor import Executor, ExecutorError, check_workers
from sim.outputs import atomic_write, claim_directory, write_checksums, write_json
from sim.params import PARAMS, suggest
from sim.scenario import ScenarioSpec

__all__ = [
    "DESIGNS",
    "SobolAnalysis",
    "SweepError",
    "SweepResult",
    "design",
    "format_sobol",
    "format_sweep",
    "run_sweep",
    "saltelli_design",
    "sobol_analysis",
    "sweep_sobol",
]

DESIGNS = ("grid", "lhs", "sobol")
MANIFEST = "sweep.json"
_STORED = (MANIFEST, "design.parquet", "sweep.parquet", "summary.json")  # in checksums.json
# Columns of a batch's runs table that identify or describe a run rather than measure it.
_PROVENANCE = ("content_hash", "version", "git_commit")
_QUANTILES = ("p05", "p50", "p95", "mean")

Bounds = Mapping[str, tuple[float, float]]


class SweepError(ValueError):
    """A sweep that cannot be run: bad design, bounds or arguments, or ``out`` holds another."""


class SweepWarning(UserWarning):
    """A design that runs, but not quite as asked (grid levels merged by rounding)."""


def _check_points(points: int, where: str) -> None:
    try:
        validate.POINTS.check(points, where)
    except validate.InputError as err:
        raise SweepError(str(err)) from None


# --------------------------------------------------------------------------------------------
# Designs


def check_bounds(bounds: Bounds) -> dict[str, tuple[float, float]]:
    """Return ``bounds`` as ``{name: (low, high)}`` floats, checked against the registry.

    Raises
    ------
    SweepError
        No parameter, an unknown one (with the nearest name), ``low >= high``, or a range not
        inside the parameter's allowed range (the message gives that range).
    """
    if not bounds:
        raise SweepError("a sweep needs at least one parameter range")
    checked = {}
    for key, pair in bounds.items():
        if key not in PARAMS:
            raise SweepError(f"unknown parameter '{key}'{suggest(key)}; see `frontline params`")
        try:
            low, high = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise SweepError(
                f"{key}: bounds must be two numbers (low, high), got {pair!r}"
            ) from None
        p = PARAMS[key]
        if not low < high:  # also rejects nan
            raise SweepError(f"{key}: low ({low:g}) must be below high ({high:g})")
        if not (p.low <= low and high <= p.high):
            raise SweepError(
                f"{key}: range [{low:g}, {high:g}] is outside the allowed range "
                f"[{p.low:g}, {p.high:g}]" + ("" if p.unit == "-" else f" {p.unit}")
            )
        checked[key] = (low, high)
    return checked


def design(kind: str, bounds: Bounds, samples: int, seed: int = 0) -> pd.DataFrame:
    """An experiment design over registry parameters.

    Parameters
    ----------
    kind : {"grid", "lhs", "sobol"}
        ``grid``: ``samples`` evenly spaced levels per parameter (ends included), every
        combination (``samples ** d`` points, the first parameter varying slowest);
        ``lhs``: ``samples`` points of a Latin hypercube (``qmc.LatinHypercube``);
        ``sobol``: ``samples`` points of a scrambled Sobol' sequence (``qmc.Sobol``,
        ``random_base2``), so ``samples`` must be a power of two.
    bounds : mapping of str to (low, high)
        Registry parameters and their ranges, which must lie inside the registry's ranges.
    samples : int
        Levels per parameter (grid, >= 2) or number of points (lhs, sobol, >= 1).
    seed : int
        Seed of the random designs (``numpy.random.default_rng(seed)``); ignored by ``grid``.

    Returns
    -------
    pandas.DataFrame
        One row per point, one column per parameter (in ``bounds`` order). Integer registry
        parameters are rounded (on a grid, levels that round alike are merged). ``attrs`` holds
        ``kind``, ``samples``, ``seed`` and ``bounds``.

    Raises
    ------
    SweepError
        Unknown ``kind``, bad ``samples`` or bad ``bounds`` (see :func:`check_bounds`).
    """
    bounds = check_bounds(bounds)
    if kind not in DESIGNS:
        raise SweepError(f"unknown design {kind!r}; one of {', '.join(DESIGNS)}")
    if isinstance(samples, bool) or not isinstance(samples, int | np.integer):
        raise SweepError(f"samples must be a whole number, got {samples!r}")
    samples = int(samples)
    names = list(bounds)
    low = np.array([bounds[k][0] for k in names])
    high = np.array([bounds[k][1] for k in names])
    d = len(names)
    # Counted before anything is built: a 10**9-point grid must fail now, not fill memory.
    if kind == "grid":
        _check_points(samples**d, f"--samples {samples} with {d} parameters: grid points")
    else:
        _check_points(samples, "--samples")
    if kind == "grid":
        if samples < 2:
            raise SweepError(f"a grid needs samples >= 2 levels per parameter, got {samples}")
        levels = []
        for k, lo, hi in zip(names, low, high, strict=True):
            values = np.linspace(lo, hi, samples)
            if PARAMS[k].integer:
                kept = np.unique(_round(values))
                if len(kept) < samples:
                    warnings.warn(
                        f"--param {k}: {samples} levels of a whole-number parameter over "
                        f"[{lo:g}, {hi:g}] round to only {len(kept)} distinct values "
                        f"({', '.join(f'{v:g}' for v in kept)}); the repeats are merged, so the "
                        f"grid has fewer points (use --samples {len(kept)} or a wider range)",
                        SweepWarning,
                        stacklevel=2,
                    )
                values = kept
            levels.append(values)
        points = np.array(list(itertools.product(*levels)), dtype=float).reshape(-1, d)
    else:
        if samples < 1:
            raise SweepError(f"samples must be >= 1, got {samples}")
        rng = np.random.default_rng(seed)
        if kind == "lhs":
            unit = qmc.LatinHypercube(d=d, rng=rng).random(samples)
        else:
            m = samples.bit_length() - 1
            if samples != 2**m:
                raise SweepError(
                    f"a Sobol' design needs a power of two samples (its balance properties), "
                    f"got {samples}; try {2**m} or {2 ** (m + 1)}"
                )
            unit = qmc.Sobol(d=d, scramble=True, rng=rng).random_base2(m)
        points = qmc.scale(unit, low, high)
    frame = _round_integers(pd.DataFrame(points, columns=names))
    frame.attrs = {
        "kind": kind,
        "samples": samples,
        "seed": None if kind == "grid" else int(seed),
        "bounds": {k: list(v) for k, v in bounds.items()},
    }
    return frame


def saltelli_design(bounds: Mapping[str, tuple[float, float]], n: int, seed: int) -> pd.DataFrame:
    """The ``n * (d + 2)`` points at which Saltelli's estimators evaluate a function.

    Rows ``0..n-1`` are the matrix A, ``n..2n-1`` the matrix B, then for each parameter ``i``
    in turn the matrix ``AB_i`` (A with column ``i`` taken from B). A and B are the two halves
    of a scrambled ``2d``-dimensional Sobol' sequence mapped through
    ``scipy.stats.uniform(low, high - low).ppf``, drawn exactly as ``scipy.stats.sobol_indices``
    draws them with ``rng=numpy.random.default_rng(seed)``. Bounds are not checked against the
    registry (any names will do) and nothing is rounded.
    """
    n = _power_of_two(n)
    names = list(bounds)
    if not names:
        raise SweepError("a Sobol' analysis needs at least one parameter")
    d = len(names)
    dists = [scipy.stats.uniform(lo, hi - lo) for lo, hi in (bounds[k] for k in names)]
    ab = qmc.Sobol(d=2 * d, rng=np.random.default_rng(seed), bits=64).random(n).T
    ab = ab.reshape(2, d, -1)
    for j, dist in enumerate(dists):
        ab[:, j] = dist.ppf(ab[:, j])
    a, b = ab  # (d, n) each
    blocks = [a, b]
    for i in range(d):
        a_b = a.copy()
        a_b[i] = b[i]
        blocks.append(a_b)
    frame = pd.DataFrame(np.concatenate(blocks, axis=1).T, columns=names)
    frame.attrs = {
        "kind": "saltelli",
        "samples": n,
        "seed": int(seed),
        "bounds": {k: [float(v) for v in bounds[k]] for k in names},
    }
    return frame


def _power_of_two(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2 or n & (n - 1):
        raise SweepError(f"Sobol' analysis needs n, a power of two >= 2, got {n!r}")
    return int(n)


def _round(values: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(values, dtype=float) + 0.5)  # half up, not to even


def _round_integers(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if column in PARAMS and PARAMS[column].integer:
            frame[column] = _round(frame[column].to_numpy())
    return frame


# --------------------------------------------------------------------------------------------
# Running a sweep


@dataclass
class SweepResult:
    """The outputs of a sweep.

    Attributes
    ----------
    design : pandas.DataFrame
        The design run (``design.parquet``); point ``i`` is row ``i``.
    runs : pandas.DataFrame
        One row per point x replication (``sweep.parquet``), sorted by point then replication.
    summary : dict
        The request and each point's spread of outcomes (``summary.json``).
    out : pathlib.Path or None
    computed : list of (int, int)
        ``(point, replication)`` pairs run by this call (the others were found on disk).
    """

    design: pd.DataFrame
    runs: pd.DataFrame
    summary: dict
    out: Path | None = None
    computed: list[tuple[int, int]] = field(default_factory=list)

    @property
    def outcomes(self) -> list[str]:
        """The numeric outcome columns of :attr:`runs`."""
        skip = {"point", "replication", "seed", *self.design.columns, *_PROVENANCE}
        return [c for c in self.runs.columns if c not in skip]

    def point_means(self) -> pd.DataFrame:
        """Each point's outcomes averaged over its (common-random-number) replications.

        One row per point, indexed by point, with the point's parameters then the mean of
        every outcome (booleans as shares).
        """
        outcomes = self.outcomes
        means = self.runs.groupby("point")[outcomes].mean(numeric_only=False)
        return pd.concat([self.design.rename_axis("point"), means.astype(float)], axis=1)


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
    _check_points(len(design), "design points")
    attrs = _jsonable(design.attrs)
    design = design.reset_index(drop=True).astype(float)
    design.attrs = attrs
    points = [_point(design, i) for i in range(len(design))]
    specs = [spec.with_overrides(p) for p in points]  # every value checked before any run
    if until is not None:
        spec.with_end(until)  # a bad date fails here, not at the first point

    manifest = {
        "scenario": spec.name,
        "content_hash": spec.content_hash,
        "design_hash": _design_hash(design),
        "parameters": list(design.columns),
        "points": len(design),
        "seed": int(seed),
        "replications": replications,
        "until": until.isoformat() if until else None,
        "version": __version__,
    }
    if out is not None:
        out = Path(out)
        _claim(out, manifest)
        if not (out / "design.parquet").is_file():
            atomic_write(out / "design.parquet", lambda p: design.to_parquet(p, index=False))

    show = sys.stderr.isatty() if progress is None else progress
    dirs = [None if out is None else out / f"point_{i:04d}" for i in range(len(specs))]
    tasks = [(s, replications, seed, until, d) for s, d in zip(specs, dirs, strict=True)]
    batches: dict[int, _PointBatch] = {}
    with tqdm(
        total=len(design),
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
                batches[i] = result
                bar.update(1)
    batches = [batches[i] for i in range(len(specs))]
    computed = [(i, r) for i, b in enumerate(batches) for r in b.computed]

    runs = _sweep_table(design, [b.runs for b in batches])
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
    if out is not None:
        atomic_write(out / "sweep.parquet", lambda p: runs.to_parquet(p, index=False))
        write_json(out / "summary.json", summary)
        write_checksums(out, _STORED)
    return SweepResult(design, runs, summary, out, computed)


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


def _sweep_table(design: pd.DataFrame, runs: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One row per point x replication from the points' batch ``runs`` tables."""
    frames = []
    for i, table in enumerate(runs):
        numeric = [
            c
            for c in table.columns
            if c not in ("replication", "seed")
            and not c.startswith("param_")
            and (pd.api.types.is_numeric_dtype(table[c]) or pd.api.types.is_bool_dtype(table[c]))
        ]
        frame = pd.DataFrame({"point": np.full(len(table), i, dtype=np.int64)})
        for column in design.columns:
            frame[column] = design.at[i, column]
        frame["replication"] = table["replication"].to_numpy()
        frame["seed"] = table["seed"].to_numpy()
        for column in _PROVENANCE:
            if column in table:
                frame[column] = table[column].to_numpy()
        for column in numeric:
            frame[column] = table[column].to_numpy()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _design_hash(design: pd.DataFrame) -> str:
    content = {"columns": list(design.columns), "values": design.to_numpy().tolist()}
    text = json.dumps(content, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _jsonable(value):
    return json.loads(
        json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v))
    )


def _claim(out: Path, manifest: dict) -> None:
    """Check ``out`` holds no other sweep (nor other outputs), then write the manifest."""
    claim_directory(out, manifest, MANIFEST, "sweep", SweepError)


def format_sweep(
    result: SweepResult, outcomes: Sequence[str] | None = None, limit: int = 20
) -> str:
    """A short table: each point's parameters and the mean of the main outcomes."""
    from sim.batch import MAIN_OUTCOMES

    s = result.summary
    outcomes = [o for o in (outcomes or MAIN_OUTCOMES) if o in result.outcomes]
    means = result.point_means()
    params = list(result.design.columns)
    lines = [
        f"{s['scenario']}: {len(result.design)} points x {s['replications']} replications "
        f"(seed {s['seed']}, same seeds at every point), {s['start']} -> {s['end']}",
        "  " + "".join(f"{c:>{max(12, len(c) + 2)}}" for c in ["point", *params, *outcomes]),
    ]
    for i, row in means.head(limit).iterrows():
        cells = [f"{i:>12}"]
        cells += [f"{row[c]:>{max(12, len(c) + 2)}.4g}" for c in params]
        cells += [f"{row[c]:>{max(12, len(c) + 2)},.0f}" for c in outcomes]
        lines.append("  " + "".join(cells))
    if len(means) > limit:
        lines.append(f"  ... {len(means) - limit} more points (mean over replications)")
    else:
        lines.append("  (outcomes: mean over each point's replications)")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Sobol' sensitivity


@dataclass
class SobolAnalysis:
    """First-order and total Sobol' indices with bootstrap confidence intervals.

    Attributes
    ----------
    indices : pandas.DataFrame
        One row per (output, parameter): ``output``, ``parameter``, ``S1``, ``S1_low``,
        ``S1_high``, ``ST``, ``ST_low``, ``ST_high``. An interval is NaN where the bootstrap
        distribution is degenerate (an output no parameter moves, or a tiny ``n``); in
        :meth:`to_dict` NaN becomes ``None``.
    n : int
        Base sample size (the function was evaluated at ``n * (d + 2)`` points).
    seed : int
    confidence_level : float
    n_resamples : int
    """

    indices: pd.DataFrame
    n: int
    seed: int
    confidence_level: float
    n_resamples: int

    def to_dict(self) -> dict:
        """JSON-ready: ``{output: {parameter: {S1, S1_low, ..., ST_high}}}`` and the settings."""
        table: dict[str, dict] = {}
        for row in self.indices.itertuples(index=False):
            values = {k: _finite_or_none(getattr(row, k)) for k in _INDEX_COLUMNS}
            table.setdefault(row.output, {})[row.parameter] = values
        return {
            "method": "saltelli_2010 (scipy.stats.sobol_indices); bootstrap BCa",
            "n": self.n,
            "seed": self.seed,
            "confidence_level": self.confidence_level,
            "n_resamples": self.n_resamples,
            "indices": table,
        }


_INDEX_COLUMNS = ("S1", "S1_low", "S1_high", "ST", "ST_low", "ST_high")


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def sobol_analysis(
    bounds: Mapping[str, tuple[float, float]],
    func: Callable[[pd.DataFrame], pd.DataFrame | pd.Series | np.ndarray],
    n: int,
    seed: int = 0,
    n_resamples: int = 999,
    confidence_level: float = 0.95,
) -> SobolAnalysis:
    """Sobol' indices of ``func`` for independent uniform inputs over ``bounds``.

    ``func`` is called **once**, with all ``n * (d + 2)`` points of :func:`saltelli_design`
    as a DataFrame (one column per name of ``bounds``), and must return one value per point:
    a DataFrame (one column per output), a Series, or an array of shape ``(points,)`` or
    ``(points, outputs)``. Calling it once lets an expensive ``func`` (a sweep) run the points
    in one resumable go. The indices are those of ``scipy.stats.sobol_indices(func=...,
    method="saltelli_2010")`` on those evaluations (identical to passing ``func`` itself with
    ``dists=[scipy.stats.uniform(lo, hi - lo), ...]`` and ``rng=default_rng(seed)``). The
    intervals are ``SobolResult.bootstrap``'s (BCa over the ``n`` base samples), but drawn
    with ``rng=seed`` so that they, too, are reproducible.

    Returns
    -------
    SobolAnalysis
    """
    names = list(bounds)
    points = saltelli_design(bounds, n, seed)
    values = func(points.copy())
    if isinstance(values, pd.Series):
        outputs, y = [str(values.name or "y")], values.to_numpy(dtype=float)[:, None]
    elif isinstance(values, pd.DataFrame):
        outputs, y = [str(c) for c in values.columns], values.to_numpy(dtype=float)
    else:
        y = np.asarray(values, dtype=float)
        y = y[:, None] if y.ndim == 1 else y
        outputs = ["y"] if y.shape[1] == 1 else [f"y{j}" for j in range(y.shape[1])]
    d = len(names)
    if y.ndim != 2 or y.shape[0] != n * (d + 2):
        raise SweepError(f"func must return one value per point ({n * (d + 2)}), got {y.shape}")
    if not np.isfinite(y).all():
        bad = [o for o, ok in zip(outputs, np.isfinite(y).all(axis=0), strict=True) if not ok]
        raise SweepError(f"Sobol' indices need finite values; not finite: {', '.join(bad)}")
    f_a = y[:n].T  # (s, n)
    f_b = y[n : 2 * n].T
    f_ab = y[2 * n :].reshape(d, n, -1).transpose(0, 2, 1)  # (d, s, n)
    res = scipy.stats.sobol_indices(
        func={"f_A": f_a, "f_B": f_b, "f_AB": f_ab}, n=n, method="saltelli_2010"
    )
    first = np.asarray(res.first_order).reshape(len(outputs), d)  # scipy squeezes (s, d)
    total = np.asarray(res.total_order).reshape(len(outputs), d)

    # SobolResult.bootstrap() resamples the n base samples with an unseeded generator; this is
    # the same statistic on the same (mean-centred) evaluations, with rng=seed.
    mean = np.mean([f_a, f_b], axis=(0, -1)).reshape(-1, 1)
    ca, cb, cab = f_a - mean, f_b - mean, f_ab - mean

    def statistic(idx):
        return np.stack(_saltelli_2010(ca[:, idx], cb[:, idx], cab[..., idx]))

    with warnings.catch_warnings():
        # A degenerate bootstrap distribution (an output that no parameter moves, or a tiny n)
        # has no BCa interval: its bounds are NaN, which is what the table then shows.
        warnings.simplefilter("ignore", scipy.stats.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        boot = scipy.stats.bootstrap(
            [np.arange(n)],
            statistic,
            method="BCa",
            n_resamples=n_resamples,
            confidence_level=confidence_level,
            vectorized=False,
            rng=np.random.default_rng(seed),
        )
    low = np.asarray(boot.confidence_interval.low).reshape(2, len(outputs), d)
    high = np.asarray(boot.confidence_interval.high).reshape(2, len(outputs), d)
    rows = []
    for o, output in enumerate(outputs):
        for j, name in enumerate(names):
            rows.append(
                {
                    "output": output,
                    "parameter": name,
                    "S1": first[o, j],
                    "S1_low": low[0, o, j],
                    "S1_high": high[0, o, j],
                    "ST": total[o, j],
                    "ST_low": low[1, o, j],
                    "ST_high": high[1, o, j],
                }
            )
    return SobolAnalysis(pd.DataFrame(rows), n, int(seed), confidence_level, n_resamples)


def _saltelli_2010(f_a, f_b, f_ab):
    """Saltelli et al. (2010) estimators, as ``scipy.stats``'s ``saltelli_2010``: (s, d) each."""
    var = np.var([f_a, f_b], axis=(0, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        s1 = np.mean(f_b * (f_ab - f_a), axis=-1) / var
        st = 0.5 * np.mean((f_a - f_ab) ** 2, axis=-1) / var
    s1, st = s1.T, st.T
    s1[~np.isfinite(s1)] = 0.0  # null variance means null indices, as in scipy
    st[~np.isfinite(st)] = 0.0
    return s1, st


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
    _power_of_two(n)
    _check_points(n * (len(bounds) + 2), f"--samples {n} with {len(bounds)} parameters: points")
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
        points = _round_integers(points)
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
        write_checksums(Path(out), [*_STORED, "sobol.json"])
    return results[0], analysis


def format_sobol(analysis: SobolAnalysis) -> str:
    """A table of the indices with their intervals."""
    pct = f"{analysis.confidence_level:.0%}"
    lines = [f"Sobol' indices (n = {analysis.n}, {pct} bootstrap intervals)"]
    width = max(12, *(len(p) + 2 for p in analysis.indices["parameter"]))
    for output, rows in analysis.indices.groupby("output", sort=False):
        lines.append(f"  {output}")
        lines.append(f"    {'parameter':<{width}}{'S1':>24}{'ST':>24}")
        for r in rows.itertuples(index=False):
            s1 = f"{r.S1:.3f} [{r.S1_low:.3f}, {r.S1_high:.3f}]"
            st = f"{r.ST:.3f} [{r.ST_low:.3f}, {r.ST_high:.3f}]"
            lines.append(f"    {r.parameter:<{width}}{s1:>24}{st:>24}")
    return "\n".join(lines)
