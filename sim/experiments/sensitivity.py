"""Sensitivity analysis: Sobol' indices of a Saltelli sample's outcomes (no running here)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

from sim.experiments.designs import (
    saltelli_design,
)
from sim.experiments.errors import (
    SweepError,
)


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
    outputs, y = _outputs(values)
    d = len(names)
    if y.ndim != 2 or y.shape[0] != n * (d + 2):
        raise SweepError(f"func must return one value per point ({n * (d + 2)}), got {y.shape}")
    if not np.isfinite(y).all():
        bad = [o for o, ok in zip(outputs, np.isfinite(y).all(axis=0), strict=True) if not ok]
        raise SweepError(f"Sobol' indices need finite values; not finite: {', '.join(bad)}")
    f_a = y[:n].T  # (s, n)
    f_b = y[n : 2 * n].T
    f_ab = y[2 * n :].reshape(d, n, -1).transpose(0, 2, 1)  # (d, s, n)
    s = len(outputs)
    # scipy squeezes its (s, d) indices, and with one output of one parameter the squeezed
    # scalar breaks its own clean-up (TypeError in sobol_indices): give it the output twice.
    twice = 2 if s == 1 and d == 1 else 1
    res = scipy.stats.sobol_indices(
        func={
            "f_A": np.tile(f_a, (twice, 1)),
            "f_B": np.tile(f_b, (twice, 1)),
            "f_AB": np.tile(f_ab, (1, twice, 1)),
        },
        n=n,
        method="saltelli_2010",
    )
    first = np.asarray(res.first_order).reshape(s * twice, d)[:s]
    total = np.asarray(res.total_order).reshape(s * twice, d)[:s]

    low, high = _bootstrap_bounds(
        f_a, f_b, f_ab, n, len(outputs), seed, n_resamples, confidence_level
    )
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


def _outputs(values) -> tuple[list[str], np.ndarray]:
    """The names of ``func``'s outputs and its values as a (points, outputs) array."""
    if isinstance(values, pd.Series):
        outputs, y = [str(values.name or "y")], values.to_numpy(dtype=float)[:, None]
    elif isinstance(values, pd.DataFrame):
        outputs, y = [str(c) for c in values.columns], values.to_numpy(dtype=float)
    else:
        y = np.asarray(values, dtype=float)
        y = y[:, None] if y.ndim == 1 else y
        outputs = ["y"] if y.shape[1] == 1 else [f"y{j}" for j in range(y.shape[1])]
    return outputs, y


def _bootstrap_bounds(
    f_a: np.ndarray,
    f_b: np.ndarray,
    f_ab: np.ndarray,
    n: int,
    n_outputs: int,
    seed: int,
    n_resamples: int,
    confidence_level: float,
) -> tuple[np.ndarray, np.ndarray]:
    """BCa bootstrap bounds of the first and total indices, shape (2, outputs, parameters)."""
    d = f_ab.shape[0]
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
    low = np.asarray(boot.confidence_interval.low).reshape(2, n_outputs, d)
    high = np.asarray(boot.confidence_interval.high).reshape(2, n_outputs, d)
    return low, high


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
