"""History matching with Gaussian-process emulators, for fits with many stochastic outputs.

The record fit (issue #12) has several free parameters and many outputs: the two annual levels,
monthly shares, Ukraine's 2023 gains, sector gains and the dates when places changed hands. A
theatre-year costs a fraction of a second, so the parameter space cannot be searched by brute
force, but it can be *emulated*: a Gaussian process per output, trained on the replication means
of a space-filling design, predicts the output (with its uncertainty) anywhere in the box in
microseconds. History matching (Craig et al. 1997; Vernon, Goldstein & Bower 2010; Andrianakis
et al. 2015) then rules out, wave by wave, the parameters whose predicted outputs are implausibly
far from the record,

    I_j(theta) = |z_j - E[f_j(theta)]| / sqrt(V_obs,j + V_disc,j + V_em,j(theta)),

keeping theta when the k-th largest I_j is at most the cut-off (3, Pukelsheim's three-sigma
rule). The next wave's design is drawn inside what is left. Once the region stops shrinking,
:func:`posterior_sample` importance-resamples the non-implausible candidates with the emulated
Gaussian likelihood, giving a parameter sample that batches draw from.

Everything is deterministic given the ``numpy.random.Generator`` passed in.

Examples
--------
>>> import numpy as np
>>> priors = [Prior("a", 0.0, 1.0), Prior("b", 1e-3, 1e-1, log=True)]
>>> unit = np.array([[0.5, 0.5]])
>>> to_params(unit, priors).round(4).tolist()
[[0.5, 0.01]]
>>> bool(np.allclose(to_unit(to_params(unit, priors), priors), unit))
True
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import qmc
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

# Pukelsheim (1994): for any unimodal distribution, 95% of the mass lies within three standard
# deviations, the cut-off history matching conventionally uses.
THREE_SIGMA = 3.0
# Matern 5/2: outputs of a stochastic simulator averaged over replications are smooth but not
# infinitely so; the usual emulator choice (Andrianakis et al. 2015).
MATERN_NU = 2.5


@dataclass(frozen=True)
class Prior:
    """A free parameter's prior range (uniform, or log-uniform with ``log=True``)."""

    name: str
    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"prior {self.name}: low {self.low} must be below high {self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"prior {self.name}: a log prior needs low > 0, got {self.low}")

    def _span(self) -> tuple[float, float]:
        return (np.log(self.low), np.log(self.high)) if self.log else (self.low, self.high)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Values at positions ``u`` in [0, 1] of the prior range."""
        lo, hi = self._span()
        x = lo + np.asarray(u) * (hi - lo)
        return np.exp(x) if self.log else x

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Positions in [0, 1] of values ``x`` (inverse of :meth:`from_unit`)."""
        lo, hi = self._span()
        x = np.log(x) if self.log else np.asarray(x)
        return (x - lo) / (hi - lo)


@dataclass(frozen=True)
class Target:
    """One observed output: its value and the two variances history matching adds to the
    emulator's (observation error and model discrepancy), both as standard deviations."""

    name: str
    value: float
    sd_obs: float
    sd_disc: float

    @property
    def variance(self) -> float:
        """V_obs + V_disc."""
        return self.sd_obs**2 + self.sd_disc**2


def to_params(unit: np.ndarray, priors: Sequence[Prior]) -> np.ndarray:
    """Map points of the unit cube, shape (n, d), to parameter values."""
    unit = np.atleast_2d(unit)
    return np.column_stack([p.from_unit(unit[:, j]) for j, p in enumerate(priors)])


def to_unit(values: np.ndarray, priors: Sequence[Prior]) -> np.ndarray:
    """Inverse of :func:`to_params`."""
    values = np.atleast_2d(values)
    return np.column_stack([p.to_unit(values[:, j]) for j, p in enumerate(priors)])


def latin_hypercube(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points of a scrambled Latin hypercube in the unit cube of dimension ``d``."""
    return qmc.LatinHypercube(d, rng=rng).random(n)


class Emulator:
    """One Gaussian process per output, trained on replication means.

    The replication variance of each mean enters as a per-point nugget, so the emulator does
    not chase noise; a white-noise term absorbs what the replications did not show.

    Parameters
    ----------
    unit : ndarray, shape (n, d)
        Design points in the unit cube.
    means : ndarray, shape (n, m)
        Replication mean of each output at each point.
    variances : ndarray, shape (n, m)
        Variance of each mean (replication variance divided by the number of replications).
    seed : int
        Seed of the optimiser restarts.
    """

    def __init__(
        self, unit: np.ndarray, means: np.ndarray, variances: np.ndarray, seed: int = 0
    ) -> None:
        unit = np.atleast_2d(unit)
        means = np.asarray(means, dtype=float).reshape(len(unit), -1)
        variances = np.asarray(variances, dtype=float).reshape(means.shape)
        d = unit.shape[1]
        self.gps: list[GaussianProcessRegressor] = []
        for j in range(means.shape[1]):
            y = means[:, j]
            scale = float(np.std(y)) or 1.0
            kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
                length_scale=np.full(d, 0.5), length_scale_bounds=(1e-2, 1e2), nu=MATERN_NU
            ) + WhiteKernel(1e-2, (1e-10, 1.0))
            gp = GaussianProcessRegressor(
                kernel=kernel,
                # normalize_y divides y by its s.d., so the nugget must be scaled the same way.
                alpha=np.maximum(variances[:, j], 0.0) / scale**2 + 1e-10,
                normalize_y=True,
                n_restarts_optimizer=1,
                random_state=seed + j,
            )
            with warnings.catch_warnings():
                # A hyperparameter at its bound (no extra white noise, say) is an answer, not a
                # failure: the replication nugget already carries the known noise.
                warnings.simplefilter("ignore", ConvergenceWarning)
                gp.fit(unit, y)
            self.gps.append(gp)

    def predict(self, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Emulated mean and variance of every output, each of shape (n, m)."""
        unit = np.atleast_2d(unit)
        means, variances = [], []
        for gp in self.gps:
            m, s = gp.predict(unit, return_std=True)
            means.append(m)
            variances.append(s**2)
        return np.column_stack(means), np.column_stack(variances)


def implausibility(mean: np.ndarray, variance: np.ndarray, targets: Sequence[Target]) -> np.ndarray:
    """I_j = |z_j - mean_j| / sqrt(V_obs + V_disc + V_em), shape (n, m).

    Examples
    --------
    >>> t = [Target("x", 10.0, sd_obs=3.0, sd_disc=0.0)]
    >>> implausibility(np.array([[16.0]]), np.array([[16.0]]), t).item()
    1.2
    """
    z = np.array([t.value for t in targets])
    v = np.array([t.variance for t in targets])
    return np.abs(z - mean) / np.sqrt(v + variance)


def max_implausibility(values: np.ndarray, k: int = 1) -> np.ndarray:
    """The k-th largest implausibility of each row (k = 2 or 3 tolerates one or two outputs the
    emulator gets wrong when there are many, Vernon et al. 2010).

    >>> max_implausibility(np.array([[0.5, 4.0, 2.0]]), k=2).item()
    2.0
    """
    k = min(k, values.shape[1])
    return np.sort(values, axis=1)[:, -k]


@dataclass
class Wave:
    """One wave of history matching: its design, what the simulator gave, and the survivors."""

    unit: np.ndarray  # design points (unit cube)
    means: np.ndarray  # replication means, (n, m)
    variances: np.ndarray  # variances of the means, (n, m)
    emulator: Emulator
    candidates: np.ndarray  # unit-cube candidates tested with the emulator
    kept: np.ndarray  # the candidates not ruled out
    implausibility: np.ndarray = field(repr=False)  # k-th largest I of each candidate

    @property
    def kept_share(self) -> float:
        """Share of the tested candidates not ruled out (the region's volume, roughly)."""
        return len(self.kept) / max(len(self.candidates), 1)


Simulator = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def history_match(
    simulate: Simulator,
    priors: Sequence[Prior],
    targets: Sequence[Target],
    *,
    waves: int,
    points: int,
    candidates: int,
    rng: np.random.Generator,
    cutoff: float = THREE_SIGMA,
    k: int = 1,
    must_fit: Sequence[int] = (),
    log: Callable[[str], None] | None = None,
) -> list[Wave]:
    """Run waves of history matching.

    Parameters
    ----------
    simulate : callable
        ``simulate(values, wave) -> (means, variances)``: runs the model at the parameter
        values (shape (n, d)) and returns each output's replication mean and the variance of
        that mean, both (n, m), in the order of ``targets``.
    priors, targets : sequences
        The free parameters and the observed outputs.
    waves, points, candidates : int
        Number of waves, design points per wave, and candidates tested with the emulator.
    rng : numpy.random.Generator
        The only source of randomness.
    cutoff, k : float, int
        A candidate survives when its k-th largest implausibility is at most ``cutoff``.
    must_fit : sequence of int, optional
        Targets (indices) whose own implausibility must also be at most ``cutoff``: the k-th
        largest forgives the k - 1 worst outputs, which must not include one the fit is
        first of all about (the record calibration's levels).
    log : callable, optional
        Receives one line of progress per wave.

    Returns
    -------
    list of Wave
    """
    d = len(priors)
    region = latin_hypercube(candidates, d, rng)
    out: list[Wave] = []
    for w in range(waves):
        if len(region) >= points:
            pick = rng.choice(len(region), size=points, replace=False)
            design = region[np.sort(pick)]
        else:  # a small region: jitter its points so the design still fills it
            base = region[rng.integers(len(region), size=points)]
            design = np.clip(base + rng.normal(0.0, 0.02, size=base.shape), 0.0, 1.0)
        means, variances = simulate(to_params(design, priors), w)
        emulator = Emulator(design, means, variances, seed=int(rng.integers(2**31)))
        tested = _candidates_inside(region, candidates, rng)
        m, v = emulator.predict(tested)
        each = implausibility(m, v, targets)
        imp = max_implausibility(each, k)
        if len(must_fit):
            imp = np.maximum(imp, each[:, list(must_fit)].max(axis=1))
        kept = tested[imp <= cutoff]
        out.append(Wave(design, means, variances, emulator, tested, kept, imp))
        if log:
            log(f"wave {w + 1}: {len(design)} points, {len(kept)}/{len(tested)} candidates kept")
        if len(kept) == 0:
            break
        region = kept
    return out


def _candidates_inside(region: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Candidates spread around the current region: its points plus small Gaussian moves, so a
    later wave can still keep ground an earlier emulator was unsure about near the edge."""
    base = region[rng.integers(len(region), size=n)]
    spread = np.maximum(region.std(axis=0), 0.02) * 0.5
    return np.clip(base + rng.normal(size=base.shape) * spread, 0.0, 1.0)


def posterior_sample(
    emulator: Emulator,
    candidates: np.ndarray,
    priors: Sequence[Prior],
    targets: Sequence[Target],
    n: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Importance-resample candidates with the emulated Gaussian likelihood.

    Each candidate's weight is exp(-chi2 / 2), chi2 = sum_j (z_j - mean_j)^2 / (V_obs + V_disc
    + V_em). Candidates come from the non-implausible region, whose prior is uniform on the
    unit cube, so the weights are the posterior up to a constant.

    Returns
    -------
    values : ndarray, shape (n, d)
        Parameter values.
    ess : ndarray, shape ()
        Effective sample size of the weights (how many candidates carry them).
    """
    m, v = emulator.predict(candidates)
    z = np.array([t.value for t in targets])
    var = np.array([t.variance for t in targets]) + v
    chi2 = np.sum((z - m) ** 2 / var, axis=1)
    logw = -0.5 * (chi2 - chi2.min())
    w = np.exp(logw)
    w /= w.sum()
    ess = 1.0 / np.sum(w**2)
    pick = rng.choice(len(candidates), size=n, replace=True, p=w)
    return to_params(candidates[np.sort(pick)], priors), np.asarray(ess)


__all__ = [
    "Emulator",
    "Prior",
    "Target",
    "Wave",
    "history_match",
    "implausibility",
    "latin_hypercube",
    "max_implausibility",
    "posterior_sample",
    "to_params",
    "to_unit",
]
