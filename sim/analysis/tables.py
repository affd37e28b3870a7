"""Tables from the outputs of a batch: quantiles, fall dates, maps rebuilt from the change-of-hands
events, distances and sector gains.
"""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import pandas as pd

from sim.analysis.errors import (
    ReportError,
)
from sim.analysis.stats import wilson
from sim.experiments.store import falls_column
from sim.metrics import RU_COUNTRY, UA_COUNTRY, gains
from sim.units import RUSSIA, UKRAINE


def fan_quantiles(daily: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per date, the 5/25/50/75/95th percentiles of ``column`` over replications."""
    wide = daily.pivot_table(index="date", columns="replication", values=column)
    qs = {"p05": 5, "p25": 25, "p50": 50, "p75": 75, "p95": 95}
    return pd.DataFrame(
        {k: np.percentile(wide.to_numpy(), q, axis=1) for k, q in qs.items()}, index=wide.index
    )


def default_places(runs: pd.DataFrame) -> list[str]:
    """The hubs that fell in any replication (every fallen place if no hub list), by share."""
    hubs = set()
    for text in runs.get("hubs", []):
        hubs.update(json.loads(text))
    counts: dict[str, int] = {}
    for falls in falls_column(runs):
        for place in falls:
            if not hubs or place in hubs:
                counts[place] = counts.get(place, 0) + 1
    return sorted(counts, key=lambda p: (-counts[p], p))


def _date_quantile(days: list[int], q: float) -> date:
    return date.fromordinal(math.floor(np.percentile(days, q)))


def fall_table(runs: pd.DataFrame, places: list[str]) -> pd.DataFrame:
    """Per place: replications, share fallen, and median/5th/95th percentile fall dates.

    Dates are percentiles of the ordinal days of the replications in which it fell (linear
    interpolation, rounded down); ``None`` where it never fell.
    """
    falls = falls_column(runs)
    rows = []
    for place in places:
        days = [f[place].toordinal() for f in falls if place in f]
        q = {
            k: _date_quantile(days, v) if days else None
            for k, v in (("p05", 5), ("p50", 50), ("p95", 95))
        }
        rows.append({"place": place, "fell": len(days), "share": len(days) / len(falls), **q})
    return pd.DataFrame(rows, columns=["place", "fell", "share", "p05", "p50", "p95"])


def russia_holds(nodes: pd.DataFrame, events: pd.DataFrame, n: int, when) -> np.ndarray:
    """Who holds each node on ``when`` in each replication, rebuilt from the batch's tables.

    Parameters
    ----------
    nodes : pandas.DataFrame
        ``nodes.parquet``: ``node`` (0..N-1 in order) and ``initial_side``.
    events : pandas.DataFrame
        ``events.parquet``: ``replication``, ``date``, ``node``, ``to_side``, each replication's
        changes of hands in the order they happened.
    n : int
        Number of replications (numbered 0..n-1).
    when : date-like
        The date; a change dated ``when`` counts (it is the state at the end of that day).

    Returns
    -------
    ndarray of bool, shape (n, N)
        True where Russia holds the node.
    """
    base = nodes["initial_side"].to_numpy() == "russia"
    held = np.tile(base, (n, 1))
    ev = events[events["date"] <= pd.Timestamp(when)]
    # The last change of each node in each replication decides (stable: file order within a day).
    last = ev.drop_duplicates(["replication", "node"], keep="last")
    held[last["replication"].to_numpy(), last["node"].to_numpy()] = (
        last["to_side"].to_numpy() == "russia"
    )
    return held


def enemy_distance_km(nodes: pd.DataFrame, held: np.ndarray, places: list[str]) -> pd.DataFrame:
    """How far the other side stands from each place: one row per replication, km.

    For each place, the distance from its cell to the nearest cell held by the side that did
    not hold the place at the start (Russia, for a place Ukraine held); 0 once that side holds
    the place itself. Unlike a fall date, it is defined in every replication, so it shows how
    much nearer a threat came even where the place held. Cell centres, on a local
    equirectangular projection (errors well under 1% across the theatre).

    Parameters
    ----------
    nodes : pandas.DataFrame
        ``nodes.parquet``: ``name``, ``lon``, ``lat``, ``initial_side``.
    held : ndarray of bool, shape (n, N)
        :func:`russia_holds` on some date.
    places : list of str
        Place names (each a node name).
    """
    from scipy.spatial import cKDTree

    from sim.mapping import KM_PER_DEG_LAT, KM_PER_DEG_LON_EQ

    lat = nodes["lat"].to_numpy(float)
    xy = np.column_stack(
        [
            nodes["lon"].to_numpy(float) * KM_PER_DEG_LON_EQ * math.cos(math.radians(lat.mean())),
            lat * KM_PER_DEG_LAT,
        ]
    )
    at = place_nodes(nodes, places)
    for p in places:
        if p not in at:
            raise ReportError(f"place {p!r} is not a node of this batch's theatre")
    start_ru = nodes["initial_side"].to_numpy() == "russia"
    out = np.zeros((held.shape[0], len(places)))
    for i, row in enumerate(held):
        trees = {}
        for j, p in enumerate(places):
            other = not start_ru[at[p]]  # True: Russia is the other side
            if other not in trees:
                cells = np.flatnonzero(row == other)
                trees[other] = cKDTree(xy[cells]) if len(cells) else None
            tree = trees[other]
            out[i, j] = tree.query(xy[at[p]])[0] if tree is not None else np.inf
    return pd.DataFrame(out, columns=places)


def place_nodes(nodes: pd.DataFrame, places: list[str]) -> dict[str, int]:
    """Node of each place that names one (the first such node), in the order given."""
    names = nodes["name"].to_numpy()
    found = {}
    for p in places:
        hit = np.flatnonzero(names == p)
        if len(hit):
            found[p] = int(hit[0])
    return found


def occupied_population(nodes: pd.DataFrame, held: np.ndarray) -> np.ndarray:
    """GeoNames population of Ukraine's settlements on Russian-held ground, per replication."""
    pop = nodes["population"].to_numpy(float) * (nodes["country"].to_numpy() == "ukraine")
    return held.astype(float) @ pop


def sector_gains(nodes: pd.DataFrame, held: np.ndarray) -> pd.DataFrame:
    """Russian gains inside Ukraine by scenario sector (km²): one row per replication.

    ``held`` is :func:`russia_holds` at some date; gains are counted against the start map, as
    ``russia_gain_km2`` is (ground in Ukraine that Ukraine held at the start and Russia holds),
    by the model's one gain definition, :func:`sim.metrics.gains`.

    Examples
    --------
    >>> nodes = pd.DataFrame({"area_km2": [10.0, 20.0, 30.0], "country": ["ukraine"] * 3,
    ...                       "initial_side": ["ukraine", "ukraine", "russia"],
    ...                       "sector": ["north", "south", "south"]})
    >>> sector_gains(nodes, np.array([[True, True, True], [False, True, True]]))
       north  south
    0   10.0   20.0
    1    0.0   20.0
    """
    area = nodes["area_km2"].to_numpy(float)
    country = np.where(nodes["country"].to_numpy() == "ukraine", UA_COUNTRY, RU_COUNTRY)
    start = np.where(nodes["initial_side"].to_numpy() == "russia", RUSSIA, UKRAINE)
    now = np.where(held, RUSSIA, UKRAINE)
    sectors = nodes["sector"].to_numpy()
    out = {}
    for s in dict.fromkeys(sectors):
        m = sectors == s
        out[s] = [gains(area[m], country[m], start[m], row[m])["russia_gain_km2"] for row in now]
    return pd.DataFrame(out, columns=list(dict.fromkeys(sectors)))


def paired_difference(a: pd.DataFrame, b: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``b - a`` of each column, replication by replication (rows matched on ``replication``)."""
    left = a.set_index("replication")[columns].astype(float)
    right = b.set_index("replication")[columns].astype(float)
    return (right - left).reset_index()


def paired_daily_difference(a: pd.DataFrame, b: pd.DataFrame, column: str) -> pd.DataFrame:
    """``b - a`` of a daily column: one row per date both cover, one column per replication."""
    wa = a.pivot_table(index="date", columns="replication", values=column)
    wb = b.pivot_table(index="date", columns="replication", values=column)
    dates = wa.index.intersection(wb.index)
    return wb.loc[dates] - wa.loc[dates]


def fall_changes(a: pd.DataFrame, b: pd.DataFrame, places: list[str]) -> pd.DataFrame:
    """Per place, the change in fall date ``b - a`` (days) where it fell in both replications.

    Columns: ``both`` (replications in which it fell in both), ``median_days``, ``p05_days``,
    ``p95_days`` (of the shifts; NaN if ``both == 0``), ``only_a``, ``only_b`` (shares of
    replications in which it fell in one only).
    """
    fa, fb = falls_column(a), falls_column(b)
    n = len(fa)
    rows = []
    for place in places:
        shifts = [
            (y[place] - x[place]).days
            for x, y in zip(fa, fb, strict=True)
            if place in x and place in y
        ]
        only_a = sum(place in x and place not in y for x, y in zip(fa, fb, strict=True))
        only_b = sum(place in y and place not in x for x, y in zip(fa, fb, strict=True))
        stats = (
            {
                k: float(np.percentile(shifts, q))
                for k, q in (("p05_days", 5), ("median_days", 50), ("p95_days", 95))
            }
            if shifts
            else dict.fromkeys(("p05_days", "median_days", "p95_days"), math.nan)
        )
        rows.append(
            {
                "place": place,
                "both": len(shifts),
                **stats,
                "only_a": only_a / n,
                "only_b": only_b / n,
            }
        )
    return pd.DataFrame(rows)


def choose_places(runs_list: list[pd.DataFrame], places: list[str] | None) -> list[str]:
    """``places`` if given, else the places that fell in any run of any batch, in order of first appearance."""
    if places:
        return list(places)
    seen: list[str] = []
    for runs in runs_list:
        seen += [p for p in default_places(runs) if p not in seen]
    return seen


OUTCOMES = {
    "russia_gain_km2": ("Russian gains", "km²"),
    "ukraine_gain_km2": ("Ukrainian gains", "km²"),
    "russia_net_gain_km2": ("Russian net gains", "km²"),
    "ukraine_held_in_russia_km2": ("Ukraine's holdings in Russia", "km²"),
    "front_length_km": ("Front length", "km"),
}


def sweep_point_table(runs: pd.DataFrame, design: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Per point of a sweep: its parameters, replications ``n``, collapses ``k``, their share
    with its Wilson 95% interval (``lo``, ``hi``) and the 5/50/95th percentiles of ``outcome``
    (``g05``, ``g50``, ``g95``; NaN unless every replication has a finite value)."""
    params = list(design.columns)
    points = []
    for i, group in runs.groupby("point"):
        row = {p: float(design[p].iloc[int(i)]) for p in params}
        n = len(group)
        k = int(group["collapse"].astype(bool).sum()) if "collapse" in group else 0
        lo, hi = wilson(k, n)
        v = group[outcome].to_numpy(float) if outcome in group else np.full(n, np.nan)
        q = np.percentile(v, [5, 50, 95]) if np.isfinite(v).all() else [np.nan] * 3
        points.append(
            {
                "point": int(i),
                **row,
                "n": n,
                "k": k,
                "share": k / n,
                "lo": lo,
                "hi": hi,
                "g05": q[0],
                "g50": q[1],
                "g95": q[2],
            }
        )
    return pd.DataFrame(points)
