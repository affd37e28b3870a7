"""The record-fit report: batches of the calibrated years against the record (issue #12).

``frontline record --score B2023 B2024 --report OUT`` writes ``OUT/REPORT.md`` and its figures
from two finished batches (``baseline_2023`` to 2023-12-31, ``baseline_2024`` to 2024-11-20):

- the done-when table of issue 12 (:func:`sim.fit.done_when`);
- each month's Russian and Ukrainian gains, median with 50% and 90% bands, against the record;
- Russian gains by sector, and the places: the record's half month against the simulated median
  and 90% range, and the share of runs in which each changed hands;
- maps of the model's majority control beside the record's, on four dates;
- coverage, the null model, and, when given, the posterior sample and the run budget.

The numbers come from :mod:`sim.fit` (statistics) and :mod:`sim.record`; this module only lays
them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from sim import fit
from sim.fit_checks import date_text
from sim.posterior import Posterior, load_posterior

# The four map dates: the end of 2023, before and after the summer of 2024, and the last map.
MAP_DATES = (date(2023, 12, 16), date(2024, 5, 1), date(2024, 8, 16), date(2024, 11, 20))


def monthly_gains(daily: pd.DataFrame, column: str, start: date, end: date) -> np.ndarray:
    """Each run's gain in each month (the increase of a cumulative column), (runs, months)."""
    edges = fit.month_edges(start, end)
    last = pd.Timestamp(daily["date"].max()).date()
    cum = fit.cumulative_at(daily, column, [min(e, last) for e in edges])
    return np.diff(cum, axis=1)


def record_monthly(start: date, end: date) -> dict[str, np.ndarray]:
    """The record's monthly Russian and Ukrainian gains (map differences against ``start``)."""
    from sim.metrics import gains
    from sim.record import load_record
    from sim.theatre.theatre import Theatre

    t = Theatre.load()
    rec = load_record(theatre=t)
    base = rec.at(start.isoformat())
    maps = [
        gains(t.area_km2, t.country, base, rec.at(e.isoformat()))
        for e in fit.month_edges(start, end)
    ]
    return {k: np.diff([m[k] for m in maps]) for k in ("russia_gain_km2", "ukraine_gain_km2")}


def _band_figure(ax, months: list[str], runs: np.ndarray, record: np.ndarray, colour: str) -> None:
    x = np.arange(len(months))
    q05, q25, q50, q75, q95 = np.quantile(runs, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    ax.fill_between(x, q05, q95, color=colour, alpha=0.18, lw=0, label="90% band")
    ax.fill_between(x, q25, q75, color=colour, alpha=0.35, lw=0, label="50% band")
    ax.plot(x, q50, color=colour, lw=1.6, label="model median")
    ax.plot(x, record, "ko", ms=3.5, label="record")
    ax.set_xticks(x, months, rotation=60, fontsize=7)
    ax.set_ylabel("km2 in the month")
    ax.grid(alpha=0.3)


def gains_figure(batches: Sequence[tuple[dict, pd.DataFrame]], path: Path) -> None:
    """Monthly Russian and Ukrainian gains of each year, model bands against the record."""
    from sim.figures import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(len(batches), 2, figsize=(11, 3.3 * len(batches)), squeeze=False)
    for row, (score, daily) in zip(axes, batches, strict=True):
        start, end = _window(score)
        months = [e.strftime("%Y-%m") for e in fit.month_edges(start, end)[:-1]]
        rec = record_monthly(start, end)
        for ax, col, colour, who in zip(
            row, ("russia_gain_km2", "ukraine_gain_km2"), ("#b2182b", "#2166ac"),
            ("Russian", "Ukrainian"), strict=True,
        ):  # fmt: skip
            _band_figure(ax, months, monthly_gains(daily, col, start, end), rec[col], colour)
            ax.set_title(f"{who} gains by month, {score['year']}", fontsize=10)
    axes[0, 0].legend(fontsize=7)
    save_figure(fig, path, dates=False)


def maps_figure(
    batches: Sequence[tuple[dict, pd.DataFrame]], tables: Sequence[dict], path: Path
) -> list[dict]:
    """Model majority control beside the record's on :data:`MAP_DATES`; returns, per date, the
    area-weighted F1 of the ground that changed hands since the batch's start."""
    from sim.analysis.tables import russia_holds
    from sim.figures import draw_shares, finish_maps, map_panels
    from sim.mapping import map_geometry
    from sim.model import default_theatre
    from sim.record import load_record

    t = default_theatre()
    g = map_geometry(t)
    rec = load_record(theatre=t)
    panels, rows = [], []
    for when in MAP_DATES:
        for (score, _), tab in zip(batches, tables, strict=True):
            start, end = _window(score)
            if start < when <= end:
                held = russia_holds(
                    tab["nodes"], tab["events"], len(tab["runs"]), pd.Timestamp(when)
                )
                share = held.mean(axis=0)
                truth = rec.at(when.isoformat()).astype(float)
                panels.append((when, score, tab, share, truth))
                base = tab["nodes"]["initial_side"].to_numpy() == "russia"
                in_ua = tab["nodes"]["country"].to_numpy() == "ukraine"
                area = tab["nodes"]["area_km2"].to_numpy(float)
                changed_model = ((share > 0.5) != base)[in_ua]
                changed_rec = ((truth > 0.5) != rec.at(start.isoformat()).astype(bool))[in_ua]
                rows.append(
                    {
                        "date": when,
                        "f1": fit.f1_area(changed_model, changed_rec, area[in_ua]),
                        "model_km2": float(area[in_ua] @ changed_model),
                        "record_km2": float(area[in_ua] @ changed_rec),
                    }
                )
                break
    moved = np.zeros(len(g.lon), dtype=bool)
    for _, _, tab, share, truth in panels:
        base = tab["nodes"]["initial_side"].to_numpy() == "russia"
        moved |= (np.abs(share - base) >= 0.02) | (truth != base)
    pad = 0.35
    extent = (
        g.lon[moved].min() - pad, g.lon[moved].max() + pad,
        g.lat[moved].min() - pad, g.lat[moved].max() + pad,
    )  # fmt: skip
    aspect = (extent[3] - extent[2]) / ((extent[1] - extent[0]) * g.coslat)
    width = 4.8
    fig, axes = map_panels(2 * len(panels), aspect, width)
    image = None
    for k, (when, _, tab, share, truth) in enumerate(panels):
        image = draw_shares(axes.flat[2 * k], g, tab["nodes"], share, extent, width, [])
        axes.flat[2 * k].set_title(f"model, share of runs Russia holds: {when}", fontsize=9)
        draw_shares(axes.flat[2 * k + 1], g, tab["nodes"], truth, extent, width, [])
        axes.flat[2 * k + 1].set_title(f"record (DeepState on the cells): {when}", fontsize=9)
    finish_maps(fig, axes, image, path)
    return rows


def _window(score: dict) -> tuple[date, date]:
    tg = fit.load_shape_targets()
    spec = next(y for y in tg["shape"]["year"] if y["year"] == score["year"])
    return fit._as_date(spec["start"]), fit._as_date(spec["end"])


def _md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def _describe(path: Path, score: dict) -> str:
    import json

    file = path / "batch.json"
    manifest = json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}
    return (
        f"{score['scenario']}, {score['replications']} replications, batch seed "
        f"{manifest.get('seed')}, until {manifest.get('until')}"
    )


def write_fit_report(
    batch_dirs: Sequence[Path],
    out: Path,
    *,
    posterior: Path | None = None,
    budget: str | None = None,
    scores: Sequence[dict] | None = None,
) -> Path:
    """Write ``out/REPORT.md`` and its figures; return the Markdown's path. ``scores``, if the
    caller has them, are :func:`sim.fit.score_batch` of ``batch_dirs`` (not computed again)."""
    from sim.experiments.store import read_tables

    out.mkdir(parents=True, exist_ok=True)
    if scores is None:
        scores = [fit.score_batch(d) for d in batch_dirs]
    scores = sorted(scores, key=lambda s: s["year"])
    tables = [read_tables(Path(s["batch"])) for s in scores]
    pairs = [(s, tab["daily"]) for s, tab in zip(scores, tables, strict=True)]
    gains_figure(pairs, out / "fit_gains.png")
    map_rows = maps_figure(pairs, tables, out / "fit_maps.png")
    mark = {True: "yes", False: "**no**", None: "?"}
    md = ["# Fit to the record", ""]
    md += [
        "Batches: " + "; ".join(_describe(Path(s["batch"]), s) for s in scores) + ".",
        "",
        "## Done when (issue 12)",
        "",
    ]  # fmt: skip
    md += _md_table(
        ["check", "value", "met"],
        [(r["check"], r["value"], mark[r["ok"]]) for r in fit.done_when(scores)],
    )
    md += _gain_sections(scores)
    md += _place_sections(scores)
    md += _map_section(scores, map_rows)
    if posterior is not None:
        post = load_posterior(posterior)
        md += _posterior_section(post, posterior)
        # The calibration writes its method and run budget as the sample's header.
        budget = budget or " ".join(post.header.splitlines())
    if budget:
        md += ["", "## Run budget", "", budget]
    path = out / "REPORT.md"
    path.write_text("\n".join(md) + "\n", encoding="utf-8")
    return path


def _gain_sections(scores: Sequence[dict]) -> list[str]:
    """Gains by month (shares of the year's gains) and by sector, against the record."""
    md: list[str] = []
    md += ["", "## Gains by month", "", "![monthly gains](fit_gains.png)", ""]
    for s in scores:
        md += [f"Share of the year's Russian gains by month, {s['year']} (90% band):", ""]
        md += _md_table(
            ["month", "record", "model p50", "90% band", "inside"],
            [
                (m["month"], f"{m['record']:.3f}", f"{m['p50']:.3f}",
                 f"{m['lo']:.3f}-{m['hi']:.3f}", "yes" if m["inside"] else "no")
                for m in s["shares"]
            ],
        )  # fmt: skip
        md += [
            "",
            f"Coverage {s['coverage']['inside']} of {s['coverage']['months']} months; "
            f"correlation of median shares with the record {s['correlation']:.2f}.",
            "",
        ]
    md += ["## Gains by sector", ""]
    for s in scores:
        md += [f"Russian gains {s['year']}, km2:", ""]
        md += _md_table(
            ["sector", "record", "model p50", "90% band"],
            [(r["sector"], f"{r['record']:.0f}", f"{r['p50']:.0f}",
              f"{r['p05']:.0f}-{r['p95']:.0f}") for r in s["sectors"]],
        )  # fmt: skip
        md.append("")
    return md


def _place_sections(scores: Sequence[dict]) -> list[str]:
    """When the places changed hands, against the record, and the places that held."""
    md: list[str] = []
    md += ["## Places", ""]
    rows = []
    for s in scores:
        for p in s["places"]:
            if p.get("k") is None:
                continue
            rows.append(
                (p["place"], f"#{p['k']} to {p['to_side']}", date_text(p["record"]), date_text(p["median"]),
                 f"{date_text(p['p05'])} to {date_text(p['p95'])}", f"{p['share']:.0%}",
                 "yes" if p["ok"] else "no")
            )  # fmt: skip
    md += _md_table(
        ["place", "change", "record (mid half month)", "model median", "model 90%",
         "runs in which it changed", "on time"], rows,
    )  # fmt: skip
    held = [h for s in scores if s["year"] == "2024" for h in s["held"]]
    if held:
        md += ["", "Places that held through 2024-11-20 in the record:", ""]
        md += _md_table(
            ["place", "share of runs in which it still stands", "met"],
            [(h["place"], f"{h['share']:.0%}", "yes" if h["ok"] else "no") for h in held],
        )
    return md


def _map_section(scores: Sequence[dict], map_rows: list[dict]) -> list[str]:
    """The model's majority map against the record's, with the null model's F1."""
    md: list[str] = []
    md += ["", "## Maps: the model's majority against the record", "", "![maps](fit_maps.png)", ""]
    md += _md_table(
        ["date", "changed since the start, model km2", "record km2", "F1"],
        [(r["date"], f"{r['model_km2']:.0f}", f"{r['record_km2']:.0f}", f"{r['f1']:.2f}")
         for r in map_rows],
    )  # fmt: skip
    for s in scores:
        if "map" in s and s["map"].get("target"):
            m = s["map"]
            md += [
                "",
                f"Null model (the record's changed area as a band of uniform depth along the "
                f"whole front): F1 {m['f1_null']:.2f}, against the model's {m['f1']:.2f}.",
            ]
    return md


def _posterior_section(post: Posterior, posterior: Path) -> list[str]:
    """The posterior sample's spread, parameter by parameter (``posterior``: its file)."""
    md: list[str] = []
    md += ["", "## Posterior", "", f"{len(post)} parameter sets in `{posterior}`.", ""]
    q = np.quantile(post.values, [0.05, 0.5, 0.95], axis=0)
    md += _md_table(
        ["parameter", "p05", "p50", "p95"],
        [(n, f"{q[0, j]:.4g}", f"{q[1, j]:.4g}", f"{q[2, j]:.4g}")
         for j, n in enumerate(post.names)],
    )  # fmt: skip
    return md


__all__ = ["MAP_DATES", "gains_figure", "maps_figure", "monthly_gains", "write_fit_report"]
