"""The shape targets (``calibration/targets.toml``) and issue 12's done-when checks over the scores
of :func:`sim.fit.score_batch`, with their text table.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from datetime import date
from pathlib import Path

TARGETS_PATH = Path(__file__).resolve().parents[1] / "calibration" / "targets.toml"


def load_shape_targets(path: Path = TARGETS_PATH) -> dict:
    """The whole targets file: ``target`` (level, read by :mod:`sim.calibrate` too) and the
    shape tables ``shape``, ``ukraine_2023``, ``places`` and ``map`` (see the file)."""
    with Path(path).open("rb") as f:
        raw = tomllib.load(f)
    for key in ("target", "shape", "ukraine_2023", "places", "map"):
        if key not in raw:
            raise ValueError(f"{path}: no [{key}] table (see calibration/targets.toml)")
    return raw


def date_text(x) -> str:
    return x.isoformat() if isinstance(x, date) else "-"


def done_when(scores: Sequence[dict], targets_path: Path = TARGETS_PATH) -> list[dict]:
    """Issue 12's done-when checks over the scores of a 2023 and a 2024 batch.

    Returns
    -------
    list of dict
        ``check``, ``value`` (text), ``ok`` (True, False, or None where a score is missing).
    """
    tg = load_shape_targets(targets_path)
    by_year = {s["year"]: s for s in scores}
    have = [by_year[y] for y in ("2023", "2024") if y in by_year]
    return _gain_rows(tg, by_year, have) + _place_and_map_rows(tg, by_year, have)


def _gain_rows(tg: dict, by_year: dict[str, dict], have: list[dict]) -> list[dict]:
    """The checks of the gains: level, monthly shares, correlation, H2/H1, Ukraine's gains."""
    rows = []
    for y in ("2023", "2024"):
        s = by_year.get(y)
        lv = s["level"] if s else None
        rows.append(
            {
                "check": f"Level {y}: p50 within {tg['shape']['level_tolerance']:.0%} of target",
                "value": f"p50 {lv['p50']:.0f} [{lv['p05']:.0f}-{lv['p95']:.0f}] vs {lv['target']:.0f}"
                if lv
                else "no batch",
                "ok": lv["ok"] if lv else None,
            }
        )
    inside = sum(s["coverage"]["inside"] for s in have)
    months = sum(s["coverage"]["months"] for s in have)
    need = int(tg["shape"]["min_months_inside"])
    rows.append(
        {
            "check": f"Monthly shares inside the 90% band in >= {need} of 23 months",
            "value": f"{inside} of {months}",
            "ok": (inside >= need) if months == 23 else None,
        }
    )
    for y in ("2023", "2024"):
        s = by_year.get(y)
        c = s["correlation"] if s else float("nan")
        rows.append(
            {
                "check": f"Correlation median shares vs record {y} >= {tg['shape']['min_correlation']}",
                "value": f"{c:.2f}" if s else "no batch",
                "ok": bool(c >= float(tg["shape"]["min_correlation"])) if s else None,
            }
        )
    s = by_year.get("2024")
    h = s.get("h2_h1") if s else None
    rows.append(
        {
            "check": "H2/H1 2024 (Jul 1..Nov 20 over Jan 1..Jul 1) in [1.8, 3.2]",
            "value": f"p50 {h['p50']:.2f} [{h['p05']:.2f}-{h['p95']:.2f}], record {h['record']:.2f}"
            if h
            else "no batch",
            "ok": h["ok"] if h else None,
        }
    )
    s = by_year.get("2023")
    u = s["ukraine"] if s else None
    rows.append(
        {
            "check": "Ukraine's 2023 gains p50 in [500, 1400] km2",
            "value": f"p50 {u['p50']:.0f} [{u['p05']:.0f}-{u['p95']:.0f}], record "
            f"{u['record']:.0f} (summed over half months: p50 {u['half_month_sum']['p50']:.0f}, "
            f"record {u['half_month_sum']['record']:.0f})"
            if u
            else "no batch",
            "ok": u.get("ok") if u else None,
        }
    )
    return rows


def _place_and_map_rows(tg: dict, by_year: dict[str, dict], have: list[dict]) -> list[dict]:
    """The checks of the places (changed and held) and of the 2024 map."""
    rows = []
    ch = [p for s in have for p in s["places"] if p.get("k") is not None]
    ok = sum(bool(p["ok"]) for p in ch)
    frac = float(tg["places"]["min_fraction"])
    no_event = sorted({p["place"] for s in have for p in s["places"] if p.get("k") is None})
    rows.append(
        {
            "check": f"Places changed: >= {frac:.0%} change in most runs within "
            f"{tg['places']['within_days']} days",
            "value": f"{ok} of {len(ch)} recorded changes"
            + (f" (no change in the record: {', '.join(no_event)})" if no_event else ""),
            "ok": (ok >= frac * len(ch)) if len(have) == 2 else None,
        }
    )
    s = by_year.get("2024")
    if s:
        bad = [f"{h['place']} {h['share']:.0%}" for h in s["held"] if not h["ok"]]
        rows.append(
            {
                "check": f"Places held on 2024-11-20 in >= {tg['places']['held_share']:.0%} of runs",
                "value": f"{sum(h['ok'] for h in s['held'])} of {len(s['held'])}"
                + (f" (failing: {', '.join(bad)})" if bad else ""),
                "ok": not bad,
            }
        )
        m = s["map"]
        rows.append(
            {
                "check": f"Map F1 2024 >= {m['min_f1']} and above the null model",
                "value": f"F1 {m['f1']:.2f}, null {m['f1_null']:.2f} (null with the model's area "
                f"{m['f1_null_model_area']:.2f}); changed km2 model {m['model_changed_km2']:.0f}, "
                f"record {m['record_changed_km2']:.0f}",
                "ok": m["ok"],
            }
        )
    else:
        rows.append({"check": "Places held / map F1 2024", "value": "no batch", "ok": None})
    return rows


def format_scores(scores: Sequence[dict], targets_path: Path = TARGETS_PATH) -> str:
    """The done-when table and the detail (monthly shares, sectors, places) as plain text."""
    mark = {True: "yes", False: "NO", None: "?"}
    lines = ["Issue 12 done-when, against the record", ""]
    for r in done_when(scores, targets_path):
        lines.append(f"[{mark[r['ok']]:>3}] {r['check']}: {r['value']}")
    for s in sorted(scores, key=lambda s: s["year"]):
        lines += [
            "",
            f"== {s['scenario']} ({s['year']}), {s['replications']} replications: {s['batch']}",
            "",
            "Monthly share of the year's Russian gains (record vs model p50 [90% band])",
        ]
        for m in s["shares"]:
            lines.append(
                f"  {m['month']}  record {m['record']:6.3f}  model {m['p50']:6.3f} "
                f"[{m['lo']:6.3f}, {m['hi']:6.3f}]  {'in' if m['inside'] else 'OUT'}"
            )
        lines.append(
            f"  inside {s['coverage']['inside']} of {s['coverage']['months']}; correlation "
            f"{s['correlation']:.2f}; record year gain {s['record_level_km2']:.0f} km2"
        )
        lines += ["", "Russian gains by sector, km2 (record vs model p50 [90% band])"]
        for r in s["sectors"]:
            lines.append(
                f"  {r['sector']:<17} record {r['record']:6.0f}  model {r['p50']:6.0f} "
                f"[{r['p05']:6.0f}, {r['p95']:6.0f}]  {'in' if r['inside'] else 'OUT'}"
            )
        lines += ["", "Places: record (middle of the half month) vs model"]
        for p in s["places"]:
            if p.get("k") is None:
                lines.append(f"  {p['place']:<14} {p['note']}")
                continue
            lines.append(
                f"  {p['place']:<14} #{p['k']} to {p['to_side']:<7} record {date_text(p['record'])}  "
                f"model {p['share']:4.0%} of runs, median {date_text(p['median'])} "
                f"[{date_text(p['p05'])}, {date_text(p['p95'])}]"
                + (f", {p['days_off']:+d} days" if p["days_off"] is not None else "")
                + ("  ok" if p["ok"] else "")
            )
        for h in s["held"]:
            lines.append(
                f"  {h['place']:<14} held by {h['record_side']} in the record; model "
                f"{h['share']:4.0%} of runs{'  ok' if h['ok'] else ''}"
            )
    return "\n".join(lines) + "\n"
