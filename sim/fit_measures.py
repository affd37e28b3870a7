"""Measures of fit to the record, as pure functions of arrays: monthly shares of gains, band
coverage, correlation, the second-half to first-half ratio, fall dates, holding shares, the area
F1 and the null advance.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd


def month_edges(start: date, end: date) -> list[date]:
    """The 1st of every month from ``start`` to ``end``, and ``end`` if it is not a 1st.

    Parameters
    ----------
    start : datetime.date
        A 1st of a month.
    end : datetime.date
        The end of the last (possibly partial) month.

    Examples
    --------
    >>> month_edges(date(2024, 9, 1), date(2024, 11, 20))
    [datetime.date(2024, 9, 1), datetime.date(2024, 10, 1), datetime.date(2024, 11, 1), datetime.date(2024, 11, 20)]
    """
    if start.day != 1:
        raise ValueError(f"start must be the 1st of a month, not {start}")
    edges = []
    d = start
    while d < end:
        edges.append(d)
        d = date(d.year + d.month // 12, d.month % 12 + 1, 1)
    edges.append(end)
    return edges


def cumulative_at(daily: pd.DataFrame, column: str, dates: Sequence[date]) -> np.ndarray:
    """Each replication's value of a daily column on given dates.

    Parameters
    ----------
    daily : pandas.DataFrame
        ``replication``, ``date`` and ``column`` (a batch's ``daily.parquet``).
    column : str
        E.g. ``"russia_gain_km2"`` (cumulative since the run's start map).
    dates : sequence of datetime.date
        Each must have a row in every replication.

    Returns
    -------
    ndarray, shape (replications, len(dates))

    Examples
    --------
    >>> d = pd.DataFrame({"replication": [0, 0, 1, 1], "date": pd.to_datetime(
    ...     ["2024-01-01", "2024-01-02"] * 2), "g": [0.0, 5.0, 0.0, 7.0]})
    >>> cumulative_at(d, "g", [date(2024, 1, 2)]).tolist()
    [[5.0], [7.0]]
    """
    wide = daily.pivot(index="replication", columns="date", values=column)
    want = pd.to_datetime(list(dates))
    missing = want.difference(wide.columns)
    if len(missing):
        raise ValueError(
            f"the daily table has no row dated {missing[0].date()} for {column!r} "
            f"(it covers {wide.columns.min().date()} to {wide.columns.max().date()})"
        )
    return wide[want].to_numpy(float)


def shares_from_cumulative(cum: np.ndarray) -> np.ndarray:
    """Each period's share of the total, from a cumulative series at the period edges.

    Parameters
    ----------
    cum : ndarray, shape (..., E)
        Cumulative gain at E edges (the first is the year's start).

    Returns
    -------
    ndarray, shape (..., E - 1)
        ``diff(cum) / (cum[-1] - cum[0])``; NaN where the total is not positive. A share is
        negative in a period where the other side retook more of the year's gains than were
        made (the gains are a map difference against the year's start).

    Examples
    --------
    >>> shares_from_cumulative(np.array([0.0, 10.0, 10.0, 40.0])).tolist()
    [0.25, 0.0, 0.75]
    >>> shares_from_cumulative(np.array([[0.0, 1.0], [0.0, 0.0]])).tolist()
    [[1.0], [nan]]
    """
    cum = np.asarray(cum, float)
    total = cum[..., -1:] - cum[..., :1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.diff(cum, axis=-1) / total, np.nan)


def monthly_shares(
    daily: pd.DataFrame, start: date, end: date, column: str = "russia_gain_km2"
) -> np.ndarray:
    """Each month's share of the year's gains in every replication of a batch.

    ``daily[column]`` must be cumulative since ``start`` (a run's ``russia_gain_km2`` is, when
    the run starts on ``start``). Shape (replications, months).
    """
    return shares_from_cumulative(cumulative_at(daily, column, month_edges(start, end)))


def band_coverage(observed: np.ndarray, samples: np.ndarray, level: float = 0.90) -> np.ndarray:
    """Where the observed value lies inside the samples' central ``level`` band.

    Parameters
    ----------
    observed : ndarray, shape (M,)
    samples : ndarray, shape (R, M)
        R model replications of the M quantities (NaN replications are ignored).
    level : float
        0.90: the band runs from the 5th to the 95th percentile (linear interpolation).

    Returns
    -------
    ndarray of bool, shape (M,)
        True where ``p_lo <= observed <= p_hi``.

    Examples
    --------
    >>> s = np.array([[0.0, 0.1], [0.1, 0.2], [0.2, 0.3]])
    >>> band_coverage(np.array([0.1, 0.5]), s).tolist()
    [True, False]
    """
    q = (1 - level) / 2
    lo, hi = np.nanquantile(samples, [q, 1 - q], axis=0)
    return (observed >= lo) & (observed <= hi)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two series (NaN pairs dropped; NaN if either is constant).

    Examples
    --------
    >>> round(correlation(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 7.0])), 4)
    0.9934
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def h2_h1_ratio(cum_start: np.ndarray, cum_mid: np.ndarray, cum_end: np.ndarray) -> np.ndarray:
    """Gains from mid to end over gains from start to mid (2024: Jul 1..Nov 20 over H1).

    Examples
    --------
    >>> h2_h1_ratio(np.array([0.0]), np.array([800.0]), np.array([2600.0])).tolist()
    [2.25]
    """
    first = np.asarray(cum_mid, float) - np.asarray(cum_start, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(first > 0, (np.asarray(cum_end, float) - cum_mid) / first, np.nan)


def kth_change_dates(
    events: pd.DataFrame, node: int, to_side: str, k: int, n: int
) -> list[date | None]:
    """In each of ``n`` replications, the date of the ``k``-th change of ``node`` to ``to_side``.

    Parameters
    ----------
    events : pandas.DataFrame
        ``events.parquet``: ``replication``, ``date``, ``node``, ``to_side`` in order.
    node : int
    to_side : {"russia", "ukraine"}
    k : int
        1 for the first change to that side, 2 for the second, ...
    n : int
        Number of replications (0..n-1).

    Returns
    -------
    list of date or None
        None where the replication has fewer than ``k`` such changes.

    Examples
    --------
    >>> ev = pd.DataFrame({"replication": [0, 0, 0, 1], "date": pd.to_datetime(
    ...     ["2024-01-05", "2024-02-01", "2024-03-01", "2024-01-09"]), "node": [7, 7, 7, 7],
    ...     "to_side": ["russia", "ukraine", "russia", "russia"]})
    >>> kth_change_dates(ev, 7, "russia", 2, 3)
    [datetime.date(2024, 3, 1), None, None]
    """
    ev = events[(events["node"] == node) & (events["to_side"] == to_side)]
    out: list[date | None] = [None] * n
    for rep, g in ev.groupby("replication", sort=True):
        if len(g) >= k:
            out[int(rep)] = pd.Timestamp(g["date"].iloc[k - 1]).date()
    return out


def place_fall(
    dates: Sequence[date | None], record_date: date, within_days: int = 45
) -> dict[str, object]:
    """Compare a place's change of hands across runs with the record.

    Parameters
    ----------
    dates : sequence of date or None
        The change's date in each replication (None: it did not happen).
    record_date : datetime.date
        When the record has it (the middle of the half month it was seen in).
    within_days : int
        Tolerance on the median date.

    Returns
    -------
    dict
        ``share`` of runs in which it happened; ``median``, ``p05``, ``p95`` dates over those
        runs (None if none); ``days_off`` (median minus record, days); ``ok``: it happened in
        most runs (share > 0.5) and the median lies within ``within_days`` of the record.

    Examples
    --------
    >>> d = [date(2024, 3, 1), date(2024, 3, 11), None]
    >>> r = place_fall(d, date(2024, 2, 20))
    >>> r["share"], r["median"], r["days_off"], r["ok"]
    (0.6666666666666666, datetime.date(2024, 3, 6), 15, True)
    """
    days = np.array([(d - record_date).days for d in dates if d is not None], dtype=float)
    share = len(days) / len(dates) if len(dates) else float("nan")
    if len(days) == 0:
        return {
            "share": share,
            "median": None,
            "p05": None,
            "p95": None,
            "days_off": None,
            "ok": False,
        }

    def at(q: float) -> date:
        return record_date + timedelta(days=int(round(float(np.quantile(days, q)))))

    med = at(0.5)
    off = (med - record_date).days
    return {
        "share": share,
        "median": med,
        "p05": at(0.05),
        "p95": at(0.95),
        "days_off": off,
        "ok": bool(share > 0.5 and abs(off) <= within_days),
    }


def place_held(russia_holds_end: np.ndarray, node: int, holder: str = "ukraine") -> float:
    """Share of replications in which ``holder`` still holds ``node`` (a censored place).

    ``russia_holds_end`` is :func:`sim.report.russia_holds` on the last date, shape (R, N).

    Examples
    --------
    >>> place_held(np.array([[True, False], [False, False]]), 0)
    0.5
    """
    held_ru = np.asarray(russia_holds_end)[:, node]
    return float(np.mean(~held_ru if holder == "ukraine" else held_ru))


def f1_area(pred: np.ndarray, truth: np.ndarray, area: np.ndarray) -> float:
    """Area-weighted F1 of a predicted set of nodes against the true set.

    Parameters
    ----------
    pred : ndarray of bool or float in [0, 1]
        Predicted membership (a float is a probability: the F1 of the expected areas).
    truth : ndarray of bool
    area : ndarray of float
        Node areas; only nodes to be scored should be passed.

    Returns
    -------
    float
        ``2 TP / (2 TP + FP + FN)`` on areas; NaN if both sets are empty.

    Examples
    --------
    >>> a = np.array([1.0, 2.0, 3.0, 4.0])
    >>> f1_area(np.array([1, 1, 0, 0]), np.array([0, 1, 1, 0], bool), a)
    0.5
    """
    p = np.asarray(pred, float)
    t = np.asarray(truth, bool)
    tp = float((area * p * t).sum())
    fp = float((area * p * ~t).sum())
    fn = float((area * (1 - p) * t).sum())
    denom = 2 * tp + fp + fn
    return 2 * tp / denom if denom > 0 else float("nan")


def null_advance(
    russia_held: np.ndarray,
    in_ukraine: np.ndarray,
    xy: np.ndarray,
    area: np.ndarray,
    total_km2: float,
) -> np.ndarray:
    """The null model: Russia advances the same depth everywhere along the front.

    Every Ukrainian-held node inside Ukraine is ranked by the distance from its centre to the
    nearest Russian-held node's centre (anywhere: the front line and the state border alike).
    Nodes are taken nearest first until their area reaches ``total_km2``; the node that
    crosses it is taken with the fraction that makes the area exact. This is a uniform band of
    depth along the whole front, knowing how much ground was taken but not where.

    Parameters
    ----------
    russia_held : ndarray of bool, shape (N,)
        The start map.
    in_ukraine : ndarray of bool
        Nodes on Ukrainian soil.
    xy : ndarray, shape (N, 2)
        Node centres (km).
    area : ndarray, shape (N,)
    total_km2 : float
        Area to advance.

    Returns
    -------
    ndarray of float, shape (N,)
        Probability that each node changes hands (1 for the band, the fraction for its last
        node, 0 elsewhere). ``(p * area).sum() == total_km2`` unless there is not enough ground.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    >>> null_advance(np.array([True, False, False, False]), np.ones(4, bool), xy,
    ...              np.array([1.0, 2.0, 2.0, 2.0]), 3.0).tolist()
    [0.0, 1.0, 0.5, 0.0]
    """
    from scipy.spatial import cKDTree

    held = np.asarray(russia_held, bool)
    cand = np.flatnonzero(~held & np.asarray(in_ukraine, bool))
    dist = cKDTree(xy[held]).query(xy[cand])[0]
    order = cand[np.lexsort((cand, dist))]  # ties by node id: deterministic
    cum = np.cumsum(area[order])
    p = np.zeros(len(area))
    full = cum <= total_km2
    p[order[full]] = 1.0
    nxt = int(full.sum())
    if nxt < len(order):
        before = cum[nxt - 1] if nxt else 0.0
        p[order[nxt]] = (total_km2 - before) / area[order[nxt]]
    return p
