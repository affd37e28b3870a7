"""How well a batch fits the record: the statistics of issue 12's targets.

The targets (``calibration/targets.toml``) are of two kinds:

- **level**: Russia's gains in 2023 and in 2024-01-01..2024-11-20, ISW's figures, with an
  observation error wide enough to cover the sources' disagreement;
- **shape**, from the record (:mod:`sim.record`): each month's share of its year's Russian gains,
  Ukraine's gains in 2023, gains by sector, when the named places changed hands (places that held
  are censored), and which ground changed hands in 2024 (an area-weighted F1 against the record
  and against a null model that advances the same area uniformly along the whole front).

Dates follow one convention throughout: a map or a daily row dated D is the state at 00:00 of D
(the record's maps show the last snapshot before D; a run's row dated D is the state after the
day D - 1 was simulated; a change of hands is dated by the first state that shows it).

The functions here are pure and work on arrays and tables; :func:`score_batch` reads a finished
batch directory (``runs``, ``daily``, ``events`` and ``nodes`` tables of :mod:`sim.batch`) and
applies them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.fit_checks import (
    TARGETS_PATH,
    done_when,
    format_scores,
    load_shape_targets,
)
from sim.fit_measures import (
    band_coverage,
    correlation,
    cumulative_at,
    f1_area,
    h2_h1_ratio,
    kth_change_dates,
    month_edges,
    monthly_shares,
    null_advance,
    place_fall,
    place_held,
    shares_from_cumulative,
)

__all__ = [
    "TARGETS_PATH",
    "month_edges",
    "cumulative_at",
    "shares_from_cumulative",
    "monthly_shares",
    "band_coverage",
    "correlation",
    "h2_h1_ratio",
    "kth_change_dates",
    "place_fall",
    "place_held",
    "f1_area",
    "null_advance",
    "load_shape_targets",
    "score_batch",
    "format_scores",
    "done_when",
]


# --------------------------------------------------------------------------------------------
# Monthly shares


# --------------------------------------------------------------------------------------------
# Bands and agreement


# --------------------------------------------------------------------------------------------
# Places


# --------------------------------------------------------------------------------------------
# Maps


# --------------------------------------------------------------------------------------------
# Targets and a batch's score


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def score_batch(batch_dir: str | Path, targets_path: Path = TARGETS_PATH) -> dict:
    """Score a finished batch against every target its window covers.

    A batch that starts on 2023-01-01 and reaches 2024-01-01 (or 2023-12-31) is scored on the
    2023 targets, one that starts on 2024-01-01 and reaches 2024-11-20 on the 2024 targets;
    places and level are scored in whichever year the record has the event.

    Returns
    -------
    dict
        ``scenario``, ``replications``, ``year``, and per target kind: ``level``, ``shares``
        (record, median, band, inside per month), ``coverage``, ``correlation``, ``h2_h1``,
        ``ukraine``, ``sectors``, ``places`` (changed and held), ``map`` (F1 model and null).
    """
    w = _window(batch_dir, targets_path)
    out: dict = {
        "scenario": w.scenario,
        "replications": w.n,
        "year": w.year,
        "batch": str(batch_dir),
    }
    out["level"] = _score_level(w)
    out.update(_score_shares(w))
    out["ukraine"] = _score_ukraine(w)
    held_end, rec_end = _held_at_end(w)
    out.update(_score_map(w, held_end))
    out.update(_score_places(w, held_end, rec_end))
    return out


@dataclass
class _Window:
    """A finished batch and the year of targets its dates cover, with the record."""

    tg: dict
    daily: pd.DataFrame
    events: pd.DataFrame
    nodes: pd.DataFrame
    n: int
    t: Any  # sim.theatre.theatre.Theatre
    rec: Any  # sim.record.Record
    year: Any
    spec: dict
    y_start: date
    y_end: date
    end_row: date  # the batch's last row on or before the year's end
    last: date
    scenario: str


def _window(batch_dir: str | Path, targets_path: Path) -> _Window:
    """Read a batch and find the year of targets it covers (ValueError if none)."""
    from sim.experiments.store import read_tables
    from sim.record import load_record
    from sim.theatre.theatre import Theatre

    tg = load_shape_targets(targets_path)
    tables = read_tables(Path(batch_dir))
    runs, daily, events, nodes = (tables[k] for k in ("runs", "daily", "events", "nodes"))
    n = len(runs)
    start = date.fromisoformat(str(runs["start"].iloc[0]))
    last = pd.Timestamp(daily["date"].max()).date()
    t = Theatre.load()
    rec = load_record(theatre=t)
    years = {y["year"]: y for y in tg["shape"]["year"]}
    year = next(
        (
            y
            for y, spec in years.items()
            if _as_date(spec["start"]) == start
            and last >= _as_date(spec["end"]) - timedelta(days=1)
        ),
        None,
    )
    if year is None:
        raise ValueError(
            f"{batch_dir}: the batch runs {start} to {last}; scoring needs one that starts on a "
            "year's start and reaches its end: "
            + ", ".join(f"{y} {s['start']}..{s['end']}" for y, s in years.items())
        )
    spec = years[year]
    y_start, y_end = _as_date(spec["start"]), _as_date(spec["end"])
    # A run to 2023-12-31 has no row dated 2024-01-01: its last state stands for the year's end.
    end_row = min(y_end, last)
    return _Window(
        tg,
        daily,
        events,
        nodes,
        n,
        t,
        rec,
        year,
        spec,
        y_start,
        y_end,
        end_row,
        last,
        str(runs["scenario"].iloc[0]),
    )


def _held_at_end(w: _Window) -> tuple[np.ndarray, np.ndarray]:
    """Who holds each node at the batch's year end (per replication), and in the record."""
    from sim.analysis.tables import russia_holds

    held_end = russia_holds(w.nodes, w.events, w.n, pd.Timestamp(w.end_row))
    return held_end, w.rec.at(str(w.y_end)).astype(bool)


def _score_level(w: _Window) -> dict:
    """The level target: the model's cumulative gains on the target's date."""
    tg, daily, year, last = w.tg, w.daily, w.year, w.last
    level = next(x for x in tg["target"] if _as_date(x["until"]).year == int(year))
    until = min(_as_date(level["until"]), last)
    vals = cumulative_at(daily, level["outcome"], [until])[:, 0]
    tol = float(tg["shape"]["level_tolerance"])
    p50 = float(np.median(vals))
    return {
        "target": float(level["value"]),
        "observation_sd": float(level.get("observation_sd", 0.0)),
        "p05": float(np.quantile(vals, 0.05)),
        "p50": p50,
        "p95": float(np.quantile(vals, 0.95)),
        "ok": bool(abs(p50 / float(level["value"]) - 1) <= tol),
    }


def _score_shares(w: _Window) -> dict:
    """Monthly shares of the year's gains: coverage, correlation, the H2/H1 ratio."""
    tg, daily, t, rec, spec, y_start, y_end, end_row = (
        w.tg,
        w.daily,
        w.t,
        w.rec,
        w.spec,
        w.y_start,
        w.y_end,
        w.end_row,
    )
    out: dict = {}
    edges = month_edges(y_start, y_end)
    model_edges = [min(e, end_row) for e in edges]
    cum_model = cumulative_at(daily, "russia_gain_km2", model_edges)
    sh_model = shares_from_cumulative(cum_model)
    rec_cum = _record_cumulative(rec, t, y_start, edges)
    sh_rec = shares_from_cumulative(rec_cum)
    band = float(tg["shape"]["band"])
    inside = band_coverage(sh_rec, sh_model, band)
    q = (1 - band) / 2
    lo, med, hi = np.nanquantile(sh_model, [q, 0.5, 1 - q], axis=0)
    out["shares"] = [
        {
            "month": e.strftime("%Y-%m"),
            "record": float(r),
            "p50": float(m),
            "lo": float(a),
            "hi": float(b),
            "inside": bool(i),
        }
        for e, r, m, a, b, i in zip(edges[:-1], sh_rec, med, lo, hi, inside, strict=True)
    ]
    out["coverage"] = {"inside": int(inside.sum()), "months": len(inside)}
    out["correlation"] = correlation(med, sh_rec)
    out["record_level_km2"] = float(rec_cum[-1])
    if "h2_h1" in spec:
        mid = _as_date(spec["h2_h1"]["mid"])
        cm = cumulative_at(daily, "russia_gain_km2", [y_start, mid, end_row])
        ratio = h2_h1_ratio(cm[:, 0], cm[:, 1], cm[:, 2])
        rc = _record_cumulative(rec, t, y_start, [y_start, mid, y_end])
        lo_r, hi_r = spec["h2_h1"]["range"]
        out["h2_h1"] = {
            "record": float(h2_h1_ratio(rc[0], rc[1], rc[2])),
            "p05": float(np.nanquantile(ratio, 0.05)),
            "p50": float(np.nanmedian(ratio)),
            "p95": float(np.nanquantile(ratio, 0.95)),
            "range": [lo_r, hi_r],
            "ok": bool(lo_r <= np.nanmedian(ratio) <= hi_r),
        }

    return out


def _score_ukraine(w: _Window) -> dict:
    """Ukraine's gains: the year-end map difference and the sum over half months."""
    from sim.analysis.tables import russia_holds
    from sim.metrics import gains

    tg, daily, events, nodes, n, t, rec, year, y_start, y_end, end_row = (
        w.tg,
        w.daily,
        w.events,
        w.nodes,
        w.n,
        w.t,
        w.rec,
        w.year,
        w.y_start,
        w.y_end,
        w.end_row,
    )
    out: dict = {}
    ua = cumulative_at(daily, "ukraine_gain_km2", [end_row])[:, 0]
    rec_ua = gains(t.area_km2, t.country, rec.at(str(y_start)), rec.at(str(y_end)))[
        "ukraine_gain_km2"
    ]
    out["ukraine"] = {
        "record": rec_ua,
        "p05": float(np.quantile(ua, 0.05)),
        "p50": float(np.median(ua)),
        "p95": float(np.quantile(ua, 0.95)),
    }
    # Also summed over the record's half months: ground retaken and lost again within the year
    # counts here, not in the year-end map difference (the project's gain definition).
    half = [d for d in rec.dates if str(y_start) <= d <= str(y_end)]
    maps = [
        russia_holds(nodes, events, n, pd.Timestamp(min(date.fromisoformat(d), end_row)))
        for d in half
    ]
    in_ua_n = nodes["country"].to_numpy() == "ukraine"
    area_n = nodes["area_km2"].to_numpy(float)
    ua_sum = sum(((a & ~b) & in_ua_n) @ area_n for a, b in zip(maps[:-1], maps[1:], strict=True))
    rec_sum = sum(
        gains(t.area_km2, t.country, rec.at(a), rec.at(b))["ukraine_gain_km2"]
        for a, b in zip(half[:-1], half[1:], strict=True)
    )
    out["ukraine"]["half_month_sum"] = {
        "record": float(rec_sum),
        "p05": float(np.quantile(ua_sum, 0.05)),
        "p50": float(np.median(ua_sum)),
        "p95": float(np.quantile(ua_sum, 0.95)),
    }
    if tg["ukraine_2023"].get("year") == year:
        lo_u, hi_u = tg["ukraine_2023"]["range"]
        out["ukraine"]["range"] = [lo_u, hi_u]
        out["ukraine"]["ok"] = bool(lo_u <= out["ukraine"]["p50"] <= hi_u)

    return out["ukraine"]


def _score_map(w: _Window, held_end: np.ndarray) -> dict:
    """Gains by sector, and the map of ground that changed hands (F1 against the record's)."""
    from sim.metrics import gains
    from sim.record import sector_gains

    tg, nodes, t, rec, y_start, y_end = w.tg, w.nodes, w.t, w.rec, w.y_start, w.y_end
    out: dict = {}
    q = (1 - float(tg["shape"]["band"])) / 2
    base = nodes["initial_side"].to_numpy() == "russia"
    in_ua = nodes["country"].to_numpy() == "ukraine"
    area = nodes["area_km2"].to_numpy(float)
    sect = nodes["sector"].to_numpy()
    rec_sec = sector_gains(rec, t, [str(y_start), str(y_end)], w.scenario)
    country = np.where(in_ua, 0, 1)
    out["sectors"] = []
    for row in rec_sec.to_dict("records"):
        m = sect == row["sector"]
        # sim.metrics.gains, as for the record: the same sums in the same order
        g = np.array(
            [
                gains(area[m], country[m], base[m].astype(int), h[m].astype(int))["russia_gain_km2"]
                for h in held_end
            ]
        )
        out["sectors"].append(
            {
                "sector": row["sector"],
                "record": row["russia_gain_km2"],
                "p05": float(np.quantile(g, 0.05)),
                "p50": float(np.median(g)),
                "p95": float(np.quantile(g, 0.95)),
                "inside": bool(
                    np.quantile(g, q) <= row["russia_gain_km2"] <= np.quantile(g, 1 - q)
                ),
            }
        )
    rec_start = rec.at(str(y_start)).astype(bool)
    rec_end = rec.at(str(y_end)).astype(bool)
    truth = (rec_start != rec_end)[in_ua]
    majority = held_end.mean(axis=0) > 0.5
    pred = (majority != base)[in_ua]
    xy = np.column_stack([t.x_km, t.y_km])
    total = float((area[in_ua] * truth).sum())
    null = null_advance(rec_start, in_ua, xy, area, total)[in_ua]
    model_total = float((area[in_ua] * pred).sum())
    null_m = null_advance(rec_start, in_ua, xy, area, model_total)[in_ua]
    out["map"] = {
        "record_changed_km2": total,
        "model_changed_km2": model_total,
        "f1": f1_area(pred, truth, area[in_ua]),
        "f1_null": f1_area(null, truth, area[in_ua]),
        "f1_null_model_area": f1_area(null_m, truth, area[in_ua]),
        "min_f1": float(tg["map"]["min_f1"]),
        "target": _as_date(tg["map"]["start"]) == y_start and _as_date(tg["map"]["end"]) == y_end,
    }
    out["map"]["ok"] = bool(
        out["map"]["f1"] >= out["map"]["min_f1"] and out["map"]["f1"] > out["map"]["f1_null"]
    )

    return out


def _score_places(w: _Window, held_end: np.ndarray, rec_end: np.ndarray) -> dict:
    """Places: when each changed hands against the record, and who holds the held ones."""
    from sim.record import place_changes, place_node

    tg, events, n, t, rec, y_start, y_end = w.tg, w.events, w.n, w.t, w.rec, w.y_start, w.y_end
    out: dict = {}
    pl = tg["places"]
    within = int(pl["within_days"])
    changes = place_changes(rec, t, list(pl["changed"]))
    out["places"] = []
    for p in pl["changed"]:
        node = place_node(t, p)
        rows = changes[changes["place"] == p]
        if rows.empty:
            out["places"].append(
                {"place": p, "k": None, "record": None, "note": "no change in the record"}
            )
            continue
        for row in rows.to_dict("records"):
            in_window = y_start < row["to"] <= y_end
            if not in_window:
                continue
            # k-th change to that side inside this batch's window
            k = int(
                (
                    (rows["to_side"] == row["to_side"])
                    & (rows["to"] > y_start)
                    & (rows["to"] <= row["to"])
                ).sum()
            )
            dates = kth_change_dates(events, node, row["to_side"], k, n)
            res = place_fall(dates, row["mid"], within)
            out["places"].append(
                {
                    "place": p,
                    "k": int(row["k"]),
                    "to_side": row["to_side"],
                    "record": row["mid"],
                    "record_from": row["from"],
                    "record_to": row["to"],
                    **res,
                }
            )
    out["held"] = []
    for p in pl["held"]:
        node = place_node(t, p)
        rec_side = "russia" if rec_end[node] else "ukraine"
        share = place_held(held_end, node, rec_side)
        out["held"].append(
            {
                "place": p,
                "record_side": rec_side,
                "share": share,
                "ok": bool(share >= float(pl["held_share"])),
            }
        )
    return out


def _record_cumulative(rec, t, start: date, dates: Sequence[date]) -> np.ndarray:
    from sim.record import cumulative_gain

    return cumulative_gain(rec, t, str(start), [str(d) for d in dates])


# --------------------------------------------------------------------------------------------
# The done-when table
