"""Reports: Markdown and PNG figures from a batch, a pair of batches, or a sweep directory.

:func:`write_report` reads the directories written by :func:`sim.batch.run_batch` and
:func:`sim.sweep.run_sweep` (never the model) and writes ``report.md`` and its figures:

- **batch** (``runs.parquet`` + ``daily.parquet``): fan chart of cumulative gains (median, 50%
  and 90% bands), fall-date curves of chosen places (share of replications in which each had
  fallen by each date) and a table of their fall dates;
- **pair** (two batch directories run with the same seed and replication count, so replication
  ``i`` of each has the same seed: common random numbers): the same for both, plus the paired
  difference ``DIR2 - DIR`` replication by replication of the final outcomes and of the
  cumulative Russian gains over time, and the change in the places' fall dates;
- **sweep** (``sweep.parquet`` + ``design.parquet``): collapse probability (Wilson 95%
  intervals) and Russian gains against each swept parameter; with one parameter, a logistic
  ``P = 1 / (1 + exp((x - x_c) / w))`` fitted to the collapse shares by
  ``scipy.optimize.curve_fit``, with standard errors.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from sim import validate
from sim.outputs import CHECKSUMS, ChecksumError, verify_checksums

__all__ = [
    "ReportError",
    "detect",
    "fall_changes",
    "fall_table",
    "fan_quantiles",
    "fit_logistic",
    "logistic",
    "occupied_population",
    "paired_daily_difference",
    "enemy_distance_km",
    "paired_difference",
    "place_nodes",
    "russia_holds",
    "sector_gains",
    "wilson",
    "write_report",
]

# Columns of the fan chart and of the outcome tables, with their labels.
GAINS = {
    "russia_gain_km2": ("Russian gains", "#b2182b"),
    "ukraine_gain_km2": ("Ukrainian gains", "#2166ac"),
    "ukraine_held_in_russia_km2": ("Ukraine's holdings in Russia", "#4d9221"),
}
OUTCOMES = {
    "russia_gain_km2": ("Russian gains", "km²"),
    "ukraine_gain_km2": ("Ukrainian gains", "km²"),
    "russia_net_gain_km2": ("Russian net gains", "km²"),
    "ukraine_held_in_russia_km2": ("Ukraine's holdings in Russia", "km²"),
    "front_length_km": ("Front length", "km"),
}
_MAX_CURVES = 10  # places drawn in a fall-date figure (the table lists them all)
Z95 = 1.959963984540054  # standard normal quantile of a two-sided 95% interval


class ReportError(ValueError):
    """Input a report cannot be made from: a missing or unknown directory, or an unpaired pair."""


@dataclass
class Batch:
    path: Path
    runs: pd.DataFrame
    daily: pd.DataFrame
    summary: dict
    nodes: pd.DataFrame | None = None  # nodes.parquet: the start map, sectors, hubs
    events: pd.DataFrame | None = None  # events.parquet: every change of hands
    _held: dict = field(default_factory=dict, repr=False)  # russia_holds by date, made once

    @property
    def has_maps(self) -> bool:
        return self.nodes is not None and self.events is not None

    def held(self, when) -> np.ndarray:
        """:func:`russia_holds` on ``when`` for this batch, computed once per date (several
        sections of a report ask for the same dates)."""
        key = pd.Timestamp(when)
        if key not in self._held:
            self._held[key] = russia_holds(self.nodes, self.events, len(self.runs), key)
        return self._held[key]

    @property
    def name(self) -> str:
        return str(self.summary.get("scenario") or self.runs["scenario"].iloc[0])

    @property
    def end(self) -> str:
        return str(self.summary.get("end") or self.runs["end"].iloc[0])

    @property
    def start(self) -> str:
        return str(self.summary.get("start") or self.runs["start"].iloc[0])


# --------------------------------------------------------------------------------------------
# Reading


def detect(path: Path) -> str:
    """``"batch"`` or ``"sweep"``, by the files in ``path``; :class:`ReportError` otherwise."""
    path = Path(path)
    if not path.is_dir():
        raise ReportError(f"{path}: no such directory")
    if (path / "sweep.parquet").is_file() and (path / "design.parquet").is_file():
        return "sweep"
    if (path / "runs.parquet").is_file() and (path / "daily.parquet").is_file():
        return "batch"
    raise ReportError(
        f"{path}: not a finished batch (runs.parquet, daily.parquet) or sweep "
        "(sweep.parquet, design.parquet) directory"
    )


def _summary(path: Path) -> dict:
    file = path / "summary.json"
    if not file.is_file():
        return {}
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise ReportError(f"{file}: unreadable ({err})") from None


def _verify(path: Path) -> None:
    """Check the directory's files against its ``checksums.json``; a batch or sweep written
    before checksums existed is read with a warning."""
    try:
        if not verify_checksums(path):
            print(
                f"frontline: warning: {path / CHECKSUMS} missing: the results cannot be verified "
                "(written by an older frontline, or not finished)",
                file=sys.stderr,
            )
    except ChecksumError as err:
        raise ReportError(str(err)) from None


def _read(file: Path) -> pd.DataFrame:
    """A parquet table; :class:`ReportError` naming the file if it is missing or unreadable."""
    if not file.is_file():
        raise ReportError(f"{file}: missing; re-run the batch or sweep command to rebuild it")
    try:
        return pd.read_parquet(file)
    except (OSError, ValueError, pa.ArrowException) as err:
        raise ReportError(f"{file}: unreadable ({err})") from None


def _load_batch(path: Path) -> Batch:
    _verify(path)
    runs = _read(path / "runs.parquet")
    daily = _read(path / "daily.parquet")
    daily["date"] = pd.to_datetime(daily["date"])
    # Maps need both tables. A batch writes both, so one without the other is damage (an
    # error); neither is a batch without maps, which the report says rather than quietly
    # leaving the maps out.
    nodes = events = None
    have = [(path / f"{n}.parquet").is_file() for n in ("nodes", "events")]
    if any(have):
        nodes = _read(path / "nodes.parquet")
        events = _read(path / "events.parquet")
        events["date"] = pd.to_datetime(events["date"])
    else:
        print(
            f"frontline: warning: {path} has no nodes.parquet and events.parquet: the report "
            "has no maps, holdings or distances (re-run the batch to write them)",
            file=sys.stderr,
        )
    runs = runs.sort_values("replication", ignore_index=True)
    if not runs["replication"].equals(pd.Series(range(len(runs)), name="replication")):
        raise ReportError(
            f"{path / 'runs.parquet'}: replications are not numbered 0..{len(runs) - 1}"
        )
    return Batch(path, runs, daily, _summary(path), nodes, events)


def _report_dates(b: Batch, dates: list[date] | None) -> list[pd.Timestamp]:
    """The chosen dates (checked against the batch's dates), or four spread through the run."""
    have = pd.DatetimeIndex(sorted(b.daily["date"].unique()))
    if not dates:
        return sorted({have[round(i * (len(have) - 1) / 4)] for i in range(1, 5)})
    out = []
    for d in dates:
        t = pd.Timestamp(d)
        if t not in have:
            raise ReportError(
                f"{b.path}: date {t.date()} is outside the batch's dates "
                f"({have[0].date()} to {have[-1].date()})"
            )
        out.append(t)
    return sorted(set(out))


# --------------------------------------------------------------------------------------------
# Statistics


def fan_quantiles(daily: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per date, the 5/25/50/75/95th percentiles of ``column`` over replications."""
    wide = daily.pivot_table(index="date", columns="replication", values=column)
    qs = {"p05": 5, "p25": 25, "p50": 50, "p75": 75, "p95": 95}
    return pd.DataFrame(
        {k: np.percentile(wide.to_numpy(), q, axis=1) for k, q in qs.items()}, index=wide.index
    )


def _falls(runs: pd.DataFrame) -> list[dict[str, date]]:
    return [
        {p: date.fromisoformat(d) for p, d in json.loads(text).items()} for text in runs["falls"]
    ]


def default_places(runs: pd.DataFrame) -> list[str]:
    """The hubs that fell in any replication (every fallen place if no hub list), by share."""
    hubs = set()
    for text in runs.get("hubs", []):
        hubs.update(json.loads(text))
    counts: dict[str, int] = {}
    for falls in _falls(runs):
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
    falls = _falls(runs)
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
    ``russia_gain_km2`` is (ground in Ukraine that Ukraine held at the start and Russia holds).
    """
    was_ua = (nodes["initial_side"].to_numpy() == "ukraine") & (
        nodes["country"].to_numpy() == "ukraine"
    )
    area = nodes["area_km2"].to_numpy(float)
    taken = (held & was_ua) * area
    sectors = nodes["sector"].to_numpy()
    names = list(dict.fromkeys(sectors))
    return pd.DataFrame({s: taken[:, sectors == s].sum(axis=1) for s in names})


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (95% by default) of a proportion ``k / n``."""
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


def _check_pair(a: Batch, b: Batch) -> None:
    for key in ("seed", "replications"):
        va, vb = a.summary.get(key), b.summary.get(key)
        if va is not None and vb is not None and va != vb:
            raise ReportError(
                f"{a.path} and {b.path} differ in {key} ({va} vs {vb}): a paired report needs "
                "batches run with the same seed and number of replications"
            )
    if len(a.runs) != len(b.runs):
        raise ReportError(
            f"{a.path} has {len(a.runs)} replications, {b.path} {len(b.runs)}: a paired report "
            "needs the same number"
        )
    if a.runs["seed"].tolist() != b.runs["seed"].tolist():
        raise ReportError(
            f"{a.path} and {b.path} were run with different seeds: a paired report needs "
            "batches run with the same --seed"
        )


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
    fa, fb = _falls(a), _falls(b)
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


# --------------------------------------------------------------------------------------------
# Formatting


def _num(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:,.0f}"


def _signed(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:+,.0f}"


def _interval(values, unit: str, signed: bool = False) -> str:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return "n/a"
    f = _signed if signed else _num
    lo, mid, hi = np.percentile(v, [5, 50, 95])
    return f"median {f(mid)} {unit} (90% interval {f(lo)} to {f(hi)})"


def _bracket(values, fmt=None) -> str:
    """``median [5th to 95th percentile]`` of ``values``, each formatted by ``fmt``."""
    fmt = fmt or _num
    lo, mid, hi = np.percentile(np.asarray(values, float), [5, 50, 95])
    return f"{fmt(mid)} [{fmt(lo)} to {fmt(hi)}]"


def _date(d) -> str:
    return "–" if d is None or (isinstance(d, float) and math.isnan(d)) else str(d)


def _check_places(batches: list[Batch], places: list[str] | None) -> None:
    """Every place asked for is a named node of every batch's theatre (not a typo reported as
    "changes hands in 0%")."""
    for b in batches:
        if b.nodes is None:
            # No nodes table: the packaged theatre's places, and any the runs name.
            from sim.theatre.theatre import Theatre

            known = {n for n in Theatre.load().name if n}
            known |= {p for falls in _falls(b.runs) for p in falls}
            known |= {h for text in b.runs.get("hubs", []) for h in json.loads(text)}
        else:
            known = set(b.nodes["name"].dropna())
        try:
            validate.check_places(places or [], known, "--places")
        except validate.InputError as err:
            raise ReportError(f"{err} ({b.path / 'nodes.parquet'})") from None


def _places(runs_list: list[pd.DataFrame], places: list[str] | None) -> list[str]:
    if places:
        return list(places)
    seen: list[str] = []
    for runs in runs_list:
        seen += [p for p in default_places(runs) if p not in seen]
    return seen


def _assumptions(summaries: list[dict], names: list[str]) -> list[str]:
    """The assumptions each scenario states (forecasts: what was not known at its start)."""
    lines: list[str] = []
    for s, name in zip(summaries, names, strict=True):
        if s.get("assumptions"):
            lines += [f"**{name} assumes:**", ""]
            lines += [f"- {a}" for a in s["assumptions"]] + [""]
    return lines


def _provenance(batches: list[Batch]) -> list[str]:
    lines = [
        "| directory | scenario | content hash | seed | replications | dates | version | git commit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for b in batches:
        s = b.summary
        seed = s.get("seed", "?")
        commits = s.get("git_commits") or sorted(set(b.runs.get("git_commit", [])))
        versions = s.get("version") or ", ".join(sorted(set(b.runs.get("version", []))))
        lines.append(
            f"| `{b.path}` | {b.name} | `{s.get('content_hash') or b.runs['content_hash'].iloc[0]}`"
            f" | {seed} | {len(b.runs)} | {b.start} to {b.end} | {versions} | "
            f"{', '.join(f'`{c[:12]}`' for c in commits if c) or '–'} |"
        )
    return lines


# --------------------------------------------------------------------------------------------
# Figures


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only; no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path, dates: bool = True) -> None:
    """Lay out a figure (with slanted date labels if ``dates``), write it at the reports'
    resolution and free it. Shared by every PNG the project writes."""
    if dates:
        fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)


def _gain_columns(daily: pd.DataFrame) -> list[str]:
    cols = [c for c in GAINS if c in daily.columns]
    return [c for c in cols if c != "ukraine_held_in_russia_km2" or daily[c].abs().max() > 0]


def _fan(ax, q: pd.DataFrame, colour: str, label: str) -> None:
    ax.fill_between(q.index, q["p05"], q["p95"], color=colour, alpha=0.15, lw=0)
    ax.fill_between(q.index, q["p25"], q["p75"], color=colour, alpha=0.3, lw=0)
    ax.plot(q.index, q["p50"], color=colour, label=f"{label}: median, 50% and 90% bands")


def _fan_figure(batches: list[Batch], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(
        1, len(batches), figsize=(6.5 * len(batches), 4.2), sharey=True, squeeze=False
    )
    for ax, b in zip(axes[0], batches, strict=True):
        for col in _gain_columns(b.daily):
            label, colour = GAINS[col]
            _fan(ax, fan_quantiles(b.daily, col), colour, label)
        ax.set_title(f"{b.name}: cumulative gains ({len(b.runs)} replications)")
        ax.set_xlabel("date")
        ax.set_ylabel("km² since the start")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    save_figure(fig, path)


def _falls_figure(batches: list[Batch], places: list[str], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colours = plt.get_cmap("tab10")
    styles = ["-", "--"]
    for j, b in enumerate(batches):
        falls = _falls(b.runs)
        n = len(falls)
        start, end = pd.Timestamp(b.start), pd.Timestamp(b.end)
        for i, place in enumerate(places[:_MAX_CURVES]):
            days = sorted(pd.Timestamp(f[place]) for f in falls if place in f)
            xs = [start, *days, end]
            ys = [0, *(np.arange(1, len(days) + 1) / n), len(days) / n]
            label = place if len(batches) == 1 else f"{place} ({b.name})"
            ax.step(xs, ys, where="post", color=colours(i % 10), ls=styles[j % 2], label=label)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Share of replications in which each place had fallen, by date")
    ax.set_xlabel("date")
    ax.set_ylabel("share of replications fallen")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=7, ncol=2)
    save_figure(fig, path)


def _difference_figure(diff: pd.DataFrame, a: Batch, b: Batch, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    v = diff.to_numpy()
    lo, mid, hi = (np.percentile(v, q, axis=1) for q in (5, 50, 95))
    ax.fill_between(diff.index, lo, hi, color="#762a83", alpha=0.2, lw=0)
    ax.plot(diff.index, mid, color="#762a83", label="median, 90% band over replications")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_title(f"Paired difference in cumulative Russian gains: {b.name} − {a.name}")
    ax.set_xlabel("date")
    ax.set_ylabel("km² (same seed, replication by replication)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    save_figure(fig, path)


# --------------------------------------------------------------------------------------------
# Reports


def write_report(
    path: Path,
    path2: Path | None = None,
    out: Path | None = None,
    places: list[str] | None = None,
    dates: list[date] | None = None,
) -> Path:
    """Write ``report.md`` and its PNG figures into ``out`` (default ``path/report``).

    Parameters
    ----------
    path, path2 : Path
        A batch or sweep directory; a second batch for a paired report.
    out : Path, optional
        Where to write (default ``path/report``).
    places : list of str, optional
        Places whose falls (and, with maps, whose holder on each date) to report; by default
        the hubs that fell in any replication.
    dates : list of datetime.date, optional
        Dates of the maps, of the holdings table (what each side holds if the line froze on
        that date) and of the tables of gains; by default four dates spread through the run.

    Returns the path of ``report.md``. Raises :class:`ReportError` on bad input.
    """
    path = Path(path)
    kind = detect(path)
    if path2 is not None and (kind != "batch" or detect(Path(path2)) != "batch"):
        raise ReportError("a paired report needs two batch directories (not sweeps)")
    out = Path(out) if out is not None else path / "report"
    out.mkdir(parents=True, exist_ok=True)
    if kind == "sweep":
        lines = _sweep_report(path, out)
    elif path2 is None:
        lines = _batch_report([_load_batch(path)], out, places, dates)
    else:
        a, b = _load_batch(path), _load_batch(Path(path2))
        _check_pair(a, b)
        lines = _batch_report([a, b], out, places, dates)
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report


def _batch_section(b: Batch, picks: list[pd.Timestamp]) -> list[str]:
    n = len(b.runs)
    lines = [f"### {b.name}", ""]
    for col, (label, unit) in OUTCOMES.items():
        if col not in b.runs or (col == "ukraine_held_in_russia_km2" and not b.runs[col].any()):
            continue
        lines.append(f"- {label} by {b.end}: {_interval(b.runs[col], unit)}.")
    if "collapse" in b.runs:
        k = int(b.runs["collapse"].astype(bool).sum())
        lo, hi = wilson(k, n)
        lines.append(
            f"- Collapse in {k} of {n} replications ({k / n:.0%}; Wilson 95% interval "
            f"{lo:.0%} to {hi:.0%})."
        )
    cols = _gain_columns(b.daily)
    lines += [
        "",
        "| date | " + " | ".join(f"{GAINS[c][0]} (km², median [90%])" for c in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for d in picks:
        row = b.daily[b.daily["date"] == d]
        cells = []
        for c in cols:
            cells.append(_bracket(row[c]))
        lines.append(f"| {pd.Timestamp(d).date()} | " + " | ".join(cells) + " |")
    return lines + [""]


def _falls_section(b: Batch, places: list[str]) -> list[str]:
    table = fall_table(b.runs, places)
    lines = [
        f"**{b.name}** ({len(b.runs)} replications):",
        "",
        "| place | share fallen | median date | 5% date | 95% date |",
        "|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.place} | {r.share:.0%} ({r.fell}/{len(b.runs)}) | {_date(r.p50)} | "
            f"{_date(r.p05)} | {_date(r.p95)} |"
        )
    for r in table.itertuples():
        if r.fell:
            lines.append(
                f"\n{r.place} fell in {r.share:.0%} of replications; median fall date "
                f"{r.p50} (90% interval {r.p05} to {r.p95})."
            )
    return lines + [""]


def _batch_report(
    batches: list[Batch], out: Path, places: list[str] | None, dates: list[date] | None
) -> list[str]:
    _check_places(batches, places)
    places = _places([b.runs for b in batches], places)
    picks = _report_dates(batches[0], dates)
    for b in batches[1:]:
        _report_dates(b, [p.date() for p in picks])
    names = " vs ".join(b.name for b in batches)
    lines = [f"# Report: {names}", "", "## Answer", "", *_answers(batches, places, picks), ""]
    lines += ["## Inputs", "", *_provenance(batches), ""]
    lines += _assumptions([b.summary for b in batches], [b.name for b in batches])
    if len(batches) == 2:
        lines += [
            "Paired comparison: both batches were run with the same seed, so replication "
            "*i* of each has the same random seed (common random numbers). Differences "
            f"are {batches[1].name} − {batches[0].name}.",
            "",
        ]
    _fan_figure(batches, out / "gains.png")
    lines += [
        "## Gains",
        "",
        "![Cumulative gains: fan chart](gains.png)",
        "",
        "Gains are cumulative from the start date; bands are over replications.",
        "",
    ]
    for b in batches:
        lines += _batch_section(b, picks)
    lines += _holdings_section(batches, picks, out)
    if any(b.has_maps for b in batches):
        lines += _maps_section(batches, picks, out, places)

    lines += ["## Falls", ""]
    if places:
        _falls_figure(batches, places, out / "falls.png")
        lines += ["![Share of replications fallen by date](falls.png)", ""]
        for b in batches:
            lines += _falls_section(b, places)
            if b.has_maps:
                lines += _standing_section(b, places, picks)
    else:
        lines += ["No hub fell in any replication.", ""]

    if len(batches) == 2:
        lines += _pair_section(*batches, places, out)
    return lines


def _answers(batches: list[Batch], places: list[str], picks: list[pd.Timestamp]) -> list[str]:
    """The report's findings in a few sentences, each with its interval."""
    out = []
    last = batches[-1]
    if len(batches) == 2:
        a, b = batches
        d = paired_difference(a.runs, b.runs, ["russia_gain_km2"])["russia_gain_km2"]
        out.append(
            f"- Russian gains inside Ukraine by {b.end} are {_interval(d, 'km²', signed=True)} "
            f"in {b.name} against {a.name}, replication by replication (higher in "
            f"{int((d > 0).sum())} of {len(d)})."
        )
    held = "ukraine_held_in_russia_km2"
    if held in last.daily and last.daily[held].abs().max() > 0:
        top = last.daily.groupby("replication")[held].max()
        end = last.runs[held] if held in last.runs else top * np.nan
        out.append(
            f"- Ukraine's holdings in Russia ({last.name}) peak at {_interval(top, 'km²')}, "
            f"and are {_interval(end, 'km²')} on {last.end}."
        )
    dist = _paired_distances(*batches, places) if len(batches) == 2 else None
    if dist is not None:
        when, diff = dist
        for p in diff.columns:
            out.append(
                f"- On {when.date()} the other side stands {_interval(diff[p], 'km', signed=True)}"
                f" farther from {p} in {batches[1].name} than in {batches[0].name} (negative: "
                "nearer; distance to the nearest cell it holds, replication by replication)."
            )
    if len(batches) == 2 and places:
        ch = fall_changes(batches[0].runs, batches[1].runs, places)
        for r in ch.itertuples():
            if r.both:
                out.append(
                    f"- {r.place} changes hands {_signed(r.median_days)} days later (−: earlier) in "
                    f"{batches[1].name} than in {batches[0].name} (median over the {r.both} "
                    f"replications in which it fell in both; 90% interval "
                    f"{_signed(r.p05_days)} to {_signed(r.p95_days)} days); it fell in only "
                    f"one of them in {r.only_a + r.only_b:.0%} of replications."
                )
    for b in batches:
        if not places:
            break
        table = fall_table(b.runs, places)
        n = len(b.runs)
        for r in table.itertuples():
            lo, hi = wilson(int(r.fell), n)
            when = f"; median date {r.p50} (90% interval {r.p05} to {r.p95})" if r.fell else ""
            out.append(
                f"- {r.place} ({b.name}) changes hands by {b.end} in {r.share:.0%} of "
                f"replications (Wilson 95% interval {lo:.0%} to {hi:.0%}){when}."
            )
    area = "russia_held_in_ukraine_km2"
    if len(batches) == 1 and area in last.daily:
        for d in picks:
            v = last.daily.loc[last.daily["date"] == d, area]
            out.append(
                f"- If the line froze on {d.date()}, Russia would hold {_interval(v, 'km²')} of Ukraine."
            )
    return out or ["See the sections below."]


# Holdings if the line froze on a date (the ceasefire question): columns of the daily table.
HOLDINGS = {
    "russia_held_in_ukraine_km2": ("Russia holds in Ukraine", "km²"),
    "ukraine_held_in_russia_km2": ("Ukraine holds in Russia", "km²"),
    "russia_hubs": ("hubs held by Russia", "hubs"),
    "ukraine_hubs": ("hubs held by Ukraine", "hubs"),
    "russia_population": ("population on Russian-held ground (both countries)", "people"),
    "ukraine_population": ("population on Ukrainian-held ground (both countries)", "people"),
}


def _holdings_section(batches: list[Batch], picks: list[pd.Timestamp], out: Path) -> list[str]:
    cols = [c for c in HOLDINGS if all(c in b.daily for b in batches)]
    if "russia_held_in_ukraine_km2" not in cols:  # tables from before these columns existed
        return []
    lines = [
        "## Holdings on chosen dates",
        "",
        "What each side holds if the line froze on each date (a ceasefire): nothing in the "
        "model anticipates a ceasefire, so a run's state on a date is the line frozen then, "
        "and one batch answers for every date with the same replications. Median [90% "
        "interval] over replications; population is the GeoNames population of the settlements "
        "on each side's ground.",
        "",
    ]
    for b in batches:
        lines += [
            f"**{b.name}** ({len(b.runs)} replications):",
            "",
            "| date | " + " | ".join(HOLDINGS[c][0] for c in cols) + " |",
            "|---|" + "---|" * len(cols),
        ]
        occupied = b.has_maps and "population" in b.nodes
        if occupied:
            lines[-2] += " population of Ukraine on Russian-held ground |"
            lines[-1] += "---|"
        for d in picks:
            row = b.daily[b.daily["date"] == d]
            values = [row[c].to_numpy(float) for c in cols]
            if occupied:
                values.append(occupied_population(b.nodes, b.held(d)))
            cells = [_bracket(v) for v in values]
            lines.append(f"| {d.date()} | " + " | ".join(cells) + " |")
        lines.append("")
    _holdings_figure(batches, picks, out / "holdings.png")
    lines += ["![Holdings by date](holdings.png)", ""]
    return lines


def _holdings_figure(batches: list[Batch], picks: list[pd.Timestamp], path: Path) -> None:
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    panels = [
        ("russia_held_in_ukraine_km2", "Territory of Ukraine held by Russia", "km²", 1.0),
        ("russia_hubs", "Logistics hubs held by Russia", "hubs", 1.0),
        (
            "russia_population",
            "Population on Russian-held ground (both countries)",
            "millions",
            1e-6,
        ),
    ]
    panels = [p for p in panels if all(p[0] in b.daily for b in batches)]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.9), squeeze=False)
    colours = ["#b2182b", "#2166ac"]
    for ax, (col, title, unit, scale) in zip(axes[0], panels, strict=True):
        for j, b in enumerate(batches):
            q = fan_quantiles(b.daily, col) * scale
            _fan(ax, q, colours[j % 2], b.name)
        for d in picks:
            ax.axvline(d, color="#555555", lw=0.6, ls=":")
        if unit == "hubs":
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("date the line froze")
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    save_figure(fig, path)


def _standing_section(b: Batch, places: list[str], picks: list[pd.Timestamp]) -> list[str]:
    node = place_nodes(b.nodes, places)
    known = list(node)
    if not known:
        return []
    n = len(b.runs)
    lines = [
        f"Chance that Ukraine holds each place on each date ({b.name}; share of replications, "
        "Wilson 95% interval):",
        "",
        "| place | " + " | ".join(str(d.date()) for d in picks) + " |",
        "|---|" + "---|" * len(picks),
    ]
    held = {d: b.held(d) for d in picks}
    for p in known:
        cells = []
        for d in picks:
            k = int((~held[d][:, node[p]]).sum())
            lo, hi = wilson(k, n)
            cells.append(f"{k / n:.0%} ({lo:.0%} to {hi:.0%})")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    dist = {d: enemy_distance_km(b.nodes, held[d], known) for d in picks}
    lines += [
        "",
        f"Distance from each place to the nearest cell held by the side that did not hold it "
        f"at the start ({b.name}; km, median [90% interval]; 0 once that side holds it):",
        "",
        "| place | " + " | ".join(str(d.date()) for d in picks) + " |",
        "|---|" + "---|" * len(picks),
    ]
    for p in known:
        cells = [_bracket(dist[d][p], "{:.1f}".format) for d in picks]
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    return lines + [""]


def _paired_distances(a: Batch, b: Batch, places: list[str]):
    """``(last date, b − a distances)`` for the places both batches know, or None."""
    if not (a.has_maps and b.has_maps and places):
        return None
    known = [p for p in places if p in set(a.nodes["name"]) and p in set(b.nodes["name"])]
    if not known:
        return None
    last = min(pd.Timestamp(a.end), pd.Timestamp(b.end))
    da, db = (enemy_distance_km(x.nodes, x.held(last), known) for x in (a, b))
    return last, db - da


def _maps_section(
    batches: list[Batch], picks: list[pd.Timestamp], out: Path, places: list[str]
) -> list[str]:
    lines = ["## Maps of control", ""]
    for j, b in enumerate(batches):
        if not b.has_maps:
            continue
        name = f"maps_{j + 1}.png" if len(batches) > 1 else "maps.png"
        _maps_figure(b, picks, out / name, places)
        lines += [
            f"![{b.name}: control on chosen dates]({name})",
            "",
            f"{b.name}: each cell coloured by the share of the {len(b.runs)} replications in "
            "which Russia holds it on the date (blue: Ukraine in every replication, red: "
            "Russia in every one); the solid line is the median front (where that share "
            "crosses one half), the dashed line the front at the start; dots are logistics "
            "hubs, diamonds the report's other places. The map shows the ground that changed "
            "hands in at least 2% of replications, with a margin.",
            "",
        ]
        zoom = name.replace("maps", "zoom")
        if _zoom_figure(b, picks[-1], places, out / zoom):
            lines += [
                f"![{b.name}: close-ups on {picks[-1].date()}]({zoom})",
                "",
                f"Close-ups, 60 km across, around each place on {picks[-1].date()} "
                "(same colours and lines).",
                "",
            ]
        sec = sector_gains(b.nodes, b.held(picks[-1]))
        sec = sec.loc[:, sec.max(axis=0) > 0]
        if sec.shape[1]:
            lines += [
                f"Russian gains by sector on {picks[-1].date()} ({b.name}; km², median [90% "
                "interval]):",
                "",
                "| sector | gains |",
                "|---|---|",
            ]
            for col in sec.columns:
                lines.append(f"| {col} | {_bracket(sec[col])} |")
            lines.append("")
    return lines


_HOLDER_COLOURS = ["#9ecae1", "#fff7bc", "#fdae6b", "#de2d26"]  # Ukraine .. Russia in all runs
_ZOOM_KM = 30.0  # half-width of a close-up map around a place


def _map_context(b: Batch, picks: list[pd.Timestamp]):
    from sim.mapping import map_geometry
    from sim.model import default_theatre

    g = map_geometry(default_theatre())
    if len(b.nodes) != len(g.lon):
        raise ReportError(
            f"{b.path / 'nodes.parquet'} has {len(b.nodes)} nodes, the packaged theatre "
            f"{len(g.lon)}: the batch was run on another theatre"
        )
    shares = {d: b.held(d).mean(axis=0) for d in picks}
    return g, shares


def _draw_shares(
    ax, g, nodes: pd.DataFrame, share: np.ndarray, extent, width_in: float, places
) -> object:
    """One map panel: cells coloured by ``share`` (of replications Russia holds each), the
    median front, the start front, the border, hubs and ``places``, clipped to ``extent``."""
    from matplotlib.collections import LineCollection
    from matplotlib.colors import LinearSegmentedColormap

    from sim.mapping import KM_PER_DEG_LON_EQ

    x0, x1, y0, y1 = extent
    margin = 0.3
    view = (g.lon >= x0 - margin) & (g.lon <= x1 + margin)
    view &= (g.lat >= y0 - margin) & (g.lat <= y1 + margin)
    pt_per_km = width_in * 72 * 0.85 / ((x1 - x0) * KM_PER_DEG_LON_EQ * g.coslat)
    sizes = (1.9 * g.side_km[view] * pt_per_km) ** 2  # overlapping hexagons leave no gaps
    image = ax.scatter(
        g.lon[view],
        g.lat[view],
        s=sizes,
        c=share[view],
        cmap=LinearSegmentedColormap.from_list("holder", _HOLDER_COLOURS),
        vmin=0,
        vmax=1,
        marker="h",
        linewidths=0,
        zorder=1,
    )
    ax.plot(g.border[:, 0], g.border[:, 1], color="#333333", lw=0.9, ls=(0, (4, 2)), zorder=3)
    ax.plot(g.outline[:, 0], g.outline[:, 1], color="#7d8a93", lw=0.5, zorder=3)
    start = nodes["initial_side"].to_numpy() == "russia"
    median = share >= 0.5
    for held, style, lw, z in ((start, "dashed", 0.8, 4), (median, "solid", 1.3, 5)):
        ax.add_collection(
            LineCollection(
                g.front_segments[held[g.edge_u] != held[g.edge_v]],
                colors="#111111" if style == "solid" else "#444444",
                linewidths=lw,
                linestyles=style,
                zorder=z,
            )
        )
    hubs = {int(k): str(nm) for k, nm in zip(g.hub_nodes, g.hub_names, strict=True)}
    others = {k: p for p, k in place_nodes(nodes, places).items()}
    for marks, marker, size, weight in ((hubs, "o", 16, "normal"), (others, "D", 22, "bold")):
        for k, nm in marks.items():
            if not view[k] or (marker == "D" and k in hubs):
                continue
            ax.scatter(g.lon[k], g.lat[k], s=size, marker=marker, c="#222222",
                       edgecolors="white", zorder=6)  # fmt: skip
            ax.annotate(nm, (g.lon[k], g.lat[k]), xytext=(3, 2), textcoords="offset points",
                        fontsize=7, fontweight=weight, zorder=7)  # fmt: skip
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(1.0 / g.coslat)
    ax.tick_params(labelsize=7)
    return image


def _panels(n: int, aspect: float, width: float):
    plt = pyplot()
    cols = 2 if n > 1 else 1
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(width * cols + 1.3, (0.85 * width * aspect + 0.35) * rows),
        squeeze=False,
        layout="constrained",
    )
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return fig, axes


def _finish_maps(fig, axes, image, path: Path) -> None:
    bar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, pad=0.01)
    bar.set_label("share of replications in which Russia holds the cell")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    pyplot().close(fig)


def _maps_figure(b: Batch, picks: list[pd.Timestamp], path: Path, places: list[str]) -> None:
    """Control on each chosen date, over all the ground that changed hands."""
    g, shares = _map_context(b, picks)
    start = b.nodes["initial_side"].to_numpy() == "russia"
    moved = np.zeros(len(start), dtype=bool)
    for sh in shares.values():
        moved |= np.abs(sh - start) >= 0.02
    if not moved.any():  # nothing changed hands: show the start front instead
        front = start[g.edge_u] != start[g.edge_v]
        moved[np.r_[g.edge_u[front], g.edge_v[front]]] = True
    pad = 0.35
    extent = (
        g.lon[moved].min() - pad,
        g.lon[moved].max() + pad,
        g.lat[moved].min() - pad,
        g.lat[moved].max() + pad,
    )
    aspect = (extent[3] - extent[2]) / ((extent[1] - extent[0]) * g.coslat)
    width = 5.5  # inches per panel; the height follows the map's true aspect
    fig, axes = _panels(len(picks), aspect, width)
    image = None
    for ax, d in zip(axes.flat, picks, strict=False):
        image = _draw_shares(ax, g, b.nodes, shares[d], extent, width, places)
        ax.set_title(f"{b.name}: {d.date()}", fontsize=10)
    _finish_maps(fig, axes, image, path)


def _zoom_figure(b: Batch, when: pd.Timestamp, places: list[str], path: Path) -> bool:
    """Close-ups (60 km across) around each place on one date; False if no place is known."""
    from sim.mapping import KM_PER_DEG_LAT, KM_PER_DEG_LON_EQ

    node = dict(list(place_nodes(b.nodes, places).items())[:6])
    known = list(node)
    if not known:
        return False
    g, shares = _map_context(b, [when])
    fig, axes = _panels(len(known), 1.0, 4.2)
    image = None
    dx = _ZOOM_KM / (KM_PER_DEG_LON_EQ * g.coslat)
    dy = _ZOOM_KM / KM_PER_DEG_LAT
    for ax, p in zip(axes.flat, known, strict=False):
        k = node[p]
        extent = (g.lon[k] - dx, g.lon[k] + dx, g.lat[k] - dy, g.lat[k] + dy)
        image = _draw_shares(ax, g, b.nodes, shares[when], extent, 4.2, known)
        ax.set_title(f"{p}: {when.date()}", fontsize=10)
    _finish_maps(fig, axes, image, path)
    return True


def _pair_section(a: Batch, b: Batch, places: list[str], out: Path) -> list[str]:
    cols = [c for c in OUTCOMES if c in a.runs and c in b.runs]
    held = "ukraine_held_in_russia_km2"
    if held in cols and not (a.runs[held].any() or b.runs[held].any()):
        cols.remove(held)
    diff = paired_difference(a.runs, b.runs, cols)
    lines = [
        "## Paired difference",
        "",
        f"Differences {b.name} − {a.name}, replication by replication, at the end "
        f"({a.end} and {b.end}):",
        "",
    ]
    for c in cols:
        label, unit = OUTCOMES[c]
        d = diff[c].to_numpy()
        lines.append(
            f"- {label}: {_interval(d, unit, signed=True)}; higher in {b.name} in "
            f"{int((d > 0).sum())} of {len(d)} replications."
        )
    if "collapse" in a.runs and "collapse" in b.runs:
        ca, cb = (
            a.runs["collapse"].astype(bool).to_numpy(),
            b.runs["collapse"].astype(bool).to_numpy(),
        )
        lines.append(
            f"- Collapse: {int(ca.sum())} of {len(ca)} replications in {a.name}, "
            f"{int(cb.sum())} in {b.name}; in {int((ca != cb).sum())} they differ."
        )
    daily = paired_daily_difference(a.daily, b.daily, "russia_gain_km2")
    if len(daily):
        _difference_figure(daily, a, b, out / "difference.png")
        last = daily.index[-1]
        lines += [
            "",
            f"Paired difference in Russian gains by {pd.Timestamp(last).date()}: "
            f"{_interval(daily.loc[last].to_numpy(), 'km²', signed=True)}.",
            "",
            "![Paired difference in cumulative Russian gains](difference.png)",
            "",
        ]
    if a.has_maps and b.has_maps:
        last = min(pd.Timestamp(a.end), pd.Timestamp(b.end))
        ga = sector_gains(a.nodes, a.held(last))
        gb = sector_gains(b.nodes, b.held(last))
        secs = [c for c in ga.columns if c in gb.columns and (ga[c].any() or gb[c].any())]
        if secs:
            lines += [
                f"### Russian gains by sector on {last.date()}",
                "",
                f"Paired difference {b.name} − {a.name} of the Russian gains in each sector (km², "
                "replication by replication): where the difference in the total comes from.",
                "",
                f"| sector | {a.name} | {b.name} | difference |",
                "|---|---|---|---|",
            ]
            for c in secs:
                lines.append(
                    f"| {c} | {_bracket(ga[c])} | {_bracket(gb[c])} | "
                    f"{_interval((gb[c] - ga[c]).to_numpy(), 'km²', signed=True)} |"
                )
            lines.append("")
    dist = _paired_distances(a, b, places)
    if dist is not None:
        last, diff = dist
        lines += [
            f"### How near the other side stands on {last.date()}",
            "",
            f"Paired difference {b.name} − {a.name} of the distance from each place to the "
            "nearest cell held by the side that did not hold it at the start (km; negative: "
            f"nearer in {b.name}). Defined in every replication, including those in which the "
            "place held.",
            "",
            "| place | difference |",
            "|---|---|",
        ]
        for p in diff.columns:
            lines.append(f"| {p} | {_interval(diff[p].to_numpy(), 'km', signed=True)} |")
        lines.append("")
    if places:
        ch = fall_changes(a.runs, b.runs, places)
        lines += [
            "### Change in fall dates",
            "",
            f"Days later (+) or earlier (−) in {b.name} than in {a.name}, over the "
            "replications in which the place fell in both.",
            "",
            f"| place | fell in both | median shift (days) | 5% | 95% | only in {a.name} | "
            f"only in {b.name} |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in ch.itertuples():
            lines.append(
                f"| {r.place} | {r.both} | {_signed(r.median_days)} | "
                f"{_signed(r.p05_days)} | {_signed(r.p95_days)} | {r.only_a:.0%} | "
                f"{r.only_b:.0%} |"
            )
        lines.append("")
    return lines


# --------------------------------------------------------------------------------------------
# Sweeps


def _sweep_report(path: Path, out: Path) -> list[str]:
    _verify(path)
    runs = _read(path / "sweep.parquet")
    design = _read(path / "design.parquet")
    s = _summary(path)
    params = list(design.columns)
    outcome = "russia_gain_km2"
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
    table = pd.DataFrame(points)

    lines = [
        f"# Report: sweep of {s.get('scenario', '?')}",
        "",
        "## Inputs",
        "",
        f"- Scenario `{s.get('scenario', '?')}`, content hash `{s.get('content_hash', '?')}`",
        f"- Parameters swept: {', '.join(f'`{p}`' for p in params)}; {len(design)} points, "
        f"design {json.dumps(s.get('design') or design.attrs) or '–'}",
        f"- Seed {s.get('seed', '?')}, {s.get('replications', '?')} replications per point "
        "(the same seeds at every point: common random numbers)",
        f"- Dates {s.get('start', '?')} to {s.get('end', '?')}; version "
        f"{s.get('version', '?')}; git commits "
        f"{', '.join(f'`{c[:12]}`' for c in s.get('git_commits', [])) or '–'}",
        "",
        *_assumptions([s], [str(s.get("scenario", "?"))]),
    ]

    fit = None
    fit_note = ""
    if len(params) == 1 and "collapse" in runs:
        try:
            fit = fit_logistic(table[params[0]], table["k"], table["n"])
        except ReportError as err:
            fit_note = f"No logistic fit: {err}."
    density = _start_density(path, table["point"])
    _sweep_figure(table, params, outcome, fit, out / "sweep.png")
    lines += [
        "## Collapse probability and gains against the parameters",
        "",
        "![Collapse probability and Russian gains against the swept parameters](sweep.png)",
        "",
    ]
    if len(params) > 1:
        lines += [
            "With several parameters swept, each panel shows every point against one "
            "parameter (the others vary too).",
            "",
        ]
    if fit is not None:
        p = params[0]
        lines += [
            f"Fitted logistic P(collapse) = 1/(1+exp((x − x_c)/w)) in x = `{p}`: "
            f"x_c = {fit['x_c']:.4g} (standard error {fit['x_c_se']:.2g}), "
            f"w = {fit['w']:.4g} (standard error {fit['w_se']:.2g}).",
            "",
        ]
    elif fit_note:
        lines += [fit_note, ""]
    answer = []
    if fit is not None:
        p, z = params[0], Z95
        answer.append(
            f"- Half the replications collapse within the horizon at `{p}` = {fit['x_c']:,.4g} "
            f"(95% confidence interval {fit['x_c'] - z * fit['x_c_se']:,.4g} to "
            f"{fit['x_c'] + z * fit['x_c_se']:,.4g})."
        )
    if density is not None and "collapse" in runs:
        table["density"] = density
        section, sentence = _density_section(table, out)
        lines += section
        if sentence:
            answer.append(f"- {sentence}")
    if "collapse" in runs:
        ends = table.sort_values(params[0]).iloc[[0, -1]]
        for r in ends.to_dict("records"):
            where = ", ".join(f"`{p}` = {r[p]:,.4g}" for p in params)
            answer.append(
                f"- At {where}: collapse in {r['k']}/{r['n']} replications ({r['share']:.0%}, "
                f"Wilson 95% interval {r['lo']:.0%} to {r['hi']:.0%})."
            )
    if answer:
        lines[1:1] = ["", "## Answer", "", *answer]
    head = " | ".join(f"`{p}`" for p in params)
    dens_head = " defenders per km at the start |" if density is not None else ""
    lines += [
        f"| point | {head} |{dens_head} collapse (Wilson 95%) | Russian gains, km² (median "
        "[90%]) |",
        "|---|" + "---|" * len(params) + ("---|" if density is not None else "") + "---|---|",
    ]
    for r in table.to_dict("records"):
        vals = " | ".join(f"{r[p]:.4g}" for p in params)
        dens = f" {r['density']:,.0f} |" if density is not None else ""
        lines.append(
            f"| {r['point']} | {vals} |{dens} {r['k']}/{r['n']} = {r['share']:.0%} "
            f"({r['lo']:.0%} to {r['hi']:.0%}) | {_num(r['g50'])} "
            f"[{_num(r['g05'])} to {_num(r['g95'])}] |"
        )
    return lines + [""]


def _start_density(path: Path, points: pd.Series) -> np.ndarray | None:
    """Median over replications of each point's Ukrainian line men per km on the first day,
    from the points' batch directories; None if any is missing."""
    out = []
    for i in points:
        file = path / f"point_{int(i):04d}" / "daily.parquet"
        if not file.is_file():
            return None
        daily = pd.read_parquet(file, columns=["day", "defenders_per_km"])
        out.append(float(np.median(daily.loc[daily["day"] == 0, "defenders_per_km"])))
    return np.asarray(out)


def _density_section(table: pd.DataFrame, out: Path) -> tuple[list[str], str]:
    """Collapse probability against the density of the defence at the start, with the
    critical density and the width of the transition from a logistic fit: the section's lines
    and its finding in a sentence ("" without a fit)."""
    lines = ["## Collapse against the density of the defence", ""]
    try:
        fit = fit_logistic(table["density"], table["k"], table["n"])
    except ReportError as err:
        fit = None
        lines += [f"No logistic fit in the density: {err}.", ""]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    label = None
    if fit is not None:
        label = f"logistic fit: critical density {fit['x_c']:.0f}/km, width {fit['w']:.0f}/km"
        ax.axvline(fit["x_c"], color="#b2182b", lw=0.8, ls=":")
    _collapse_panel(ax, table, "density", fit, label)
    ax.set_xlabel("Ukrainian line troops per km of front at the start")
    ax.set_ylabel("P(collapse within the horizon)")
    ax.set_title("Collapse probability against the density of the defence")
    save_figure(fig, out / "collapse_density.png", dates=False)
    lines += ["![Collapse probability against defenders per km](collapse_density.png)", ""]
    sentence = ""
    if fit is not None:
        # 10-90% transition: P goes from 0.9 to 0.1 over 2 ln 9 widths.
        span = 2 * math.log(9) * abs(fit["w"])
        z = Z95
        sentence = (
            f"The line collapses in half of the replications at **{fit['x_c']:,.1f} Ukrainian "
            f"line troops per km** of front (95% confidence interval "
            f"{fit['x_c'] - z * fit['x_c_se']:,.1f} to {fit['x_c'] + z * fit['x_c_se']:,.1f}); "
            f"the probability of collapse falls from 90% to 10% over {span:,.0f} troops per km "
            f"(logistic width w = {fit['w']:.1f} ± {z * fit['w_se']:.1f} per km)."
        )
        lines += [sentence, ""]
    return lines, sentence


def _collapse_panel(ax, table: pd.DataFrame, column: str, fit: dict | None, label: str | None):
    """Collapse shares (Wilson 95% intervals) against ``column``, with the logistic fit."""
    t = table.sort_values(column)
    x = t[column].to_numpy()
    ax.errorbar(
        x,
        t["share"],
        yerr=np.clip([t["share"] - t["lo"], t["hi"] - t["share"]], 0, 1),
        fmt="o",
        color="k",
        capsize=3,
        label="share of replications that collapsed (Wilson 95% interval)",
    )
    if fit is not None:
        grid = np.linspace(x.min(), x.max(), 200)
        ax.plot(grid, logistic(grid, fit["x_c"], fit["w"]), color="#b2182b", label=label)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _sweep_figure(table: pd.DataFrame, params: list[str], outcome: str, fit, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(2, len(params), figsize=(6 * len(params), 7), squeeze=False)
    for j, p in enumerate(params):
        t = table.sort_values(p)
        x = t[p].to_numpy()
        ax = axes[0, j]
        label = f"logistic fit: x_c = {fit['x_c']:.3g}, w = {fit['w']:.3g}" if fit else None
        _collapse_panel(ax, table, p, fit, label)
        ax.set_title(f"Collapse probability against {p}")
        ax.set_xlabel(p)
        ax.set_ylabel("P(collapse)")
        ax = axes[1, j]
        ax.errorbar(
            x,
            t["g50"],
            yerr=np.clip([t["g50"] - t["g05"], t["g95"] - t["g50"]], 0, None),
            fmt="o",
            color="#b2182b",
            capsize=3,
            label="median, 90% interval over replications",
        )
        ax.set_title(f"{OUTCOMES[outcome][0]} at the end against {p}")
        ax.set_xlabel(p)
        ax.set_ylabel("km²")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save_figure(fig, path, dates=False)
