"""Statistics of replications: Wilson intervals and the logistic fit of collapse shares."""

from __future__ import annotations

import math

import numpy as np

from sim.analysis.errors import (
    ReportError,
)

Z95 = 1.959963984540054  # standard normal quantile of a two-sided 95% interval


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (95% by default) of a proportion ``k / n``.

    Parameters
    ----------
    k, n : int
        Successes (collapses) and trials (replications); NaNs if ``n`` is 0.
    z : float
        Standard normal quantile of the interval (default: two-sided 95%).

    Returns
    -------
    tuple of float
        The interval's low and high ends, within [0, 1].

    Examples
    --------
    >>> [round(x, 3) for x in wilson(0, 10)]
    [0.0, 0.278]
    >>> [round(x, 3) for x in wilson(5, 10)]
    [0.237, 0.763]
    """
    if n <= 0:
        return (float("nan"), float("nan"))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def logistic(x, x_c, w):
    """``1 / (1 + exp((x - x_c) / w))``: 1/2 at ``x_c``, falling with ``x`` if ``w > 0``."""
    return 1.0 / (1.0 + np.exp(np.clip((np.asarray(x, float) - x_c) / w, -500, 500)))


def fit_logistic(x, k, n) -> dict:
    """Fit :func:`logistic` to shares ``k / n`` at ``x`` by ``scipy.optimize.curve_fit``.

    Each share is weighted by its binomial standard error (of ``(k + 1) / (n + 2)``, so no
    weight is infinite). Returns ``x_c``, ``w`` and their standard errors ``x_c_se``, ``w_se``.

    Raises
    ------
    ReportError
        Fewer than 3 points, shares all 0 or all 1, or no convergence.
    """
    from scipy.optimize import curve_fit

    x, k, n = (np.asarray(v, float) for v in (x, k, n))
    if len(x) < 3 or len(np.unique(x)) < 3:
        raise ReportError("a logistic fit needs at least 3 distinct parameter values")
    p = k / n
    if np.all(p == p[0]):
        raise ReportError(f"the collapse share is {p[0]:.0%} everywhere: nothing to fit")
    smooth = (k + 1) / (n + 2)
    sigma = np.sqrt(smooth * (1 - smooth) / n)
    # Start at the x nearest P = 1/2, with the sign of the trend and a tenth of the range.
    x0 = float(x[np.argmin(np.abs(p - 0.5))])
    trend = np.corrcoef(x, p)[0, 1] if np.std(p) > 0 else -1.0
    w0 = (x.max() - x.min()) / 10 * (1.0 if trend <= 0 else -1.0)
    try:
        popt, pcov = curve_fit(
            logistic, x, p, p0=[x0, w0], sigma=sigma, absolute_sigma=True, maxfev=10000
        )
    except (RuntimeError, ValueError) as err:
        raise ReportError(f"the logistic fit did not converge ({err})") from None
    se = np.sqrt(np.diag(pcov))
    return {
        "x_c": float(popt[0]),
        "w": float(popt[1]),
        "x_c_se": float(se[0]),
        "w_se": float(se[1]),
    }
