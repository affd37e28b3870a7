"""Designs of parameter experiments: full grids, Latin hypercubes and Saltelli's Sobol' sample, in
the registry's bounds (no running here).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.stats
from scipy.stats import qmc

from sim import validate
from sim.experiments.errors import (
    SweepError,
    SweepWarning,
)
from sim.params import PARAMS, suggest

Bounds = Mapping[str, tuple[float, float]]
DESIGNS = ("grid", "lhs", "sobol")


def check_points(points: int, where: str) -> None:
    """Refuse a number of design points outside :data:`sim.validate.POINTS` (SweepError)."""
    try:
        validate.POINTS.check(points, where)
    except validate.InputError as err:
        raise SweepError(str(err)) from None


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
        check_points(samples**d, f"--samples {samples} with {d} parameters: grid points")
    else:
        check_points(samples, "--samples")
    if kind == "grid":
        points = _grid_points(names, low, high, samples)
    else:
        points = _sampled_points(kind, samples, seed, low, high)
    frame = round_integers(pd.DataFrame(points, columns=names))
    frame.attrs = {
        "kind": kind,
        "samples": samples,
        "seed": None if kind == "grid" else int(seed),
        "bounds": {k: list(v) for k, v in bounds.items()},
    }
    return frame


def _grid_points(names: list[str], low: np.ndarray, high: np.ndarray, samples: int) -> np.ndarray:
    """Every combination of ``samples`` evenly spaced levels per parameter (whole-number
    parameters' repeated levels merged, with a warning)."""
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
                    stacklevel=3,
                )
            values = kept
        levels.append(values)
    return np.array(list(itertools.product(*levels)), dtype=float).reshape(-1, len(names))


def _sampled_points(
    kind: str, samples: int, seed: int, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """``samples`` Latin-hypercube or scrambled Sobol' points in the box ``[low, high]``."""
    d = len(low)
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
    return qmc.scale(unit, low, high)


def saltelli_design(bounds: Mapping[str, tuple[float, float]], n: int, seed: int) -> pd.DataFrame:
    """The ``n * (d + 2)`` points at which Saltelli's estimators evaluate a function.

    Rows ``0..n-1`` are the matrix A, ``n..2n-1`` the matrix B, then for each parameter ``i``
    in turn the matrix ``AB_i`` (A with column ``i`` taken from B). A and B are the two halves
    of a scrambled ``2d``-dimensional Sobol' sequence mapped through
    ``scipy.stats.uniform(low, high - low).ppf``, drawn exactly as ``scipy.stats.sobol_indices``
    draws them with ``rng=numpy.random.default_rng(seed)``. Bounds are not checked against the
    registry (any names will do) and nothing is rounded.
    """
    n = power_of_two(n)
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


def power_of_two(n: int) -> int:
    """``n`` if it is a power of two >= 2 (SweepError otherwise)."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2 or n & (n - 1):
        raise SweepError(f"Sobol' analysis needs n, a power of two >= 2, got {n!r}")
    return int(n)


def _round(values: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(values, dtype=float) + 0.5)  # half up, not to even


def round_integers(frame: pd.DataFrame) -> pd.DataFrame:
    """The design with whole-number parameters rounded to whole numbers."""
    frame = frame.copy()
    for column in frame.columns:
        if column in PARAMS and PARAMS[column].integer:
            frame[column] = _round(frame[column].to_numpy())
    return frame
