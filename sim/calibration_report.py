"""The calibration's outputs: ``calibration/calibrated.toml`` and ``calibration/REPORT.md`` with
its figure and its checks against the record.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibration_setup import (
    CalibrationResult,
    finite_quantiles,
)
from sim.experiments.store import falls_column


def write_calibrated(result: CalibrationResult, path: Path, command: str) -> None:
    """``calibrated.toml``: the best values, with the surviving region's spread."""
    lines = [
        "# Calibrated parameters, written by `frontline calibrate`; the scenarios read [params]",
        "# through their `calibration` key. Method, budget and fit: calibration/REPORT.md.",
        f"# Command: {command}",
        "",
        "[params]",
    ]
    for fp in result.search.params:
        lines.append(f"{fp.name} = {result.best[fp.name]:.6g}")
    for fp in result.search.params:
        lines += uncertainty_table(
            fp.name,
            np.asarray(result.region[fp.name]),
            (fp.low, fp.high),
            "spread over the parameter sets not ruled out by history matching (last wave)",
        )
    Path(path).write_text("\n".join(lines) + "\n")


def uncertainty_table(
    name: str, values: np.ndarray, prior: tuple[float, float], note: str
) -> list[str]:
    """The ``[uncertainty.NAME]`` lines of a calibrated.toml: a parameter's spread over a
    sample of sets, and its prior range.

    >>> uncertainty_table("k", np.array([1.0, 3.0]), (0.0, 5.0), "spread")[1:4]
    ['[uncertainty.k]', '# spread', 'mean = 2']
    """
    return [
        "",
        f"[uncertainty.{name}]",
        f"# {note}",
        f"mean = {values.mean():.6g}",
        f"sd = {values.std(ddof=1) if len(values) > 1 else 0.0:.6g}",
        f"min = {values.min():.6g}",
        f"max = {values.max():.6g}",
        f"prior = [{prior[0]:g}, {prior[1]:g}]",
    ]


# Public record of notable changes of hands, for the checks (not fitted). Dates as reported.
CHECK_FALLS = {
    "russia_gain_2023": [
        (
            "Soledar",
            "2023-01-16",
            "Russian MoD claim 2023-01-13; Ukraine confirmed withdrawal 2023-01-25",
        ),
        ("Bakhmut", "2023-05-20", "Wagner claim; ISW assessed the city taken"),
        ("Robotyne", "2023-08-28", "retaken by Ukraine (Ukrainian deputy defence minister)"),
        ("Marinka", "2023-12-25", "Russian MoD claim; the town was ruins"),
    ],
    "russia_gain_2024": [
        ("Avdiivka", "2024-02-17", "Ukrainian withdrawal announced by Syrskyi"),
        ("Krasnohorivka", "2024-09-10", "Russian MoD claim (approx.)"),
        ("Vuhledar", "2024-10-01", "Ukrainian withdrawal announced 2024-10-02"),
        ("Selydove", "2024-10-30", "Russian MoD claim; ISW assessed seized (approx.)"),
        ("Pokrovsk", "not by 2024-11-20", "held by Ukraine on 2024-11-20"),
        ("Kurakhove", "not by 2024-11-20", "fought over, held by Ukraine on 2024-11-20"),
        ("Kupiansk", "not by 2024-11-20", "held by Ukraine on 2024-11-20"),
    ],
}


ISW_CASUALTIES_PER_KM2 = 102.0


def _falls_row(runs: pd.DataFrame, town: str, record: str, note: str) -> str:
    dates = []
    for fell in falls_column(runs):
        if town in fell:
            dates.append(fell[town].toordinal())
    share = len(dates) / len(runs)
    if dates:
        lo, mid, hi = (date.fromordinal(int(x)) for x in finite_quantiles(dates))
        sim = f"{mid} ({lo} to {hi})"
    else:
        sim = "did not change hands"
    return f"| {town} | {record} | {share:.0%} | {sim} | {note} |"


def _figure(result: CalibrationResult, path: Path) -> None:
    from sim.figures import pyplot, save_figure  # matplotlib only when a report is written

    plt = pyplot()
    fig, axes = plt.subplots(1, len(result.targets), figsize=(6 * len(result.targets), 4.2))
    for ax, target, daily in zip(np.atleast_1d(axes), result.targets, result.daily, strict=True):
        for col, colour, label in (
            ("russia_gain_km2", "#b2182b", "Russian gains"),
            ("ukraine_gain_km2", "#2166ac", "Ukrainian gains"),
        ):
            wide = daily.pivot_table(index="date", columns=["draw", "replication"], values=col)
            lo, mid, hi = (wide.quantile(q, axis=1) for q in (0.05, 0.5, 0.95))
            ax.fill_between(wide.index, lo, hi, color=colour, alpha=0.2, lw=0)
            ax.plot(wide.index, mid, color=colour, label=f"{label}: median, 90% band")
        ax.plot(
            [pd.Timestamp(target.until)],
            [target.value],
            "k*",
            ms=14,
            label=f"target {target.value:,.0f} km2 (ISW)",
        )
        ax.set_title(f"{target.scenario}: cumulative gains (map difference)")
        ax.set_ylabel("km2 since the start")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    save_figure(fig, path)


def write_report(result: CalibrationResult, out_dir: Path, command: str) -> Path:
    """Write REPORT.md and its figure into ``out_dir``; return the report's path."""
    out_dir = Path(out_dir)
    figure = out_dir / "calibration_gains.png"
    _figure(result, figure)
    t_by = {t.name: i for i, t in enumerate(result.targets)}
    lines = _intro(result, command)
    lines += _result_lines(result)
    if result.verification:
        lines += _verification_lines(result)
    lines += ["", f"![cumulative gains]({figure.name})", ""]
    if result.sensitivity is not None:
        lines += _sensitivity_lines(result)
    lines += _checks(result, t_by)
    path = out_dir / "REPORT.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _intro(result: CalibrationResult, command: str) -> list[str]:
    """Title, provenance, the targets and the method with its budget."""
    s = result.search
    lines = [
        "# Calibration report",
        "",
        f"Written by `{command}` in {result.seconds / 60:.1f} minutes "
        f"({result.n_runs} model runs on {os.cpu_count()} cores).",
        "",
        "## Targets",
        "",
        "| target | scenario | outcome | until | value | source |",
        "|---|---|---|---|---|---|",
    ]
    for t in result.targets:
        lines.append(
            f"| {t.name} | {t.scenario} | {t.outcome} | {t.until} | {t.value:,.0f} km2 | {t.source} |"
        )
    lines += [
        "",
        "Gains are the difference of two maps: ground Ukraine held at the start and Russia holds",
        "at the date (README, *How gains are counted*). Only these two figures were fitted.",
        "",
        "## Method and budget",
        "",
        "- Free parameters (prior ranges): "
        + ", ".join(
            f"`{fp.name}` [{fp.low:g}, {fp.high:g}]{' (log)' if fp.log else ''}" for fp in s.params
        )
        + ". Every other parameter stays at its registry default, fixed from the literature"
        " (`docs/parameters.md`).",
        f"- {s.waves} waves of Latin-hypercube sampling (`scipy.stats.qmc.LatinHypercube`), "
        f"{s.points_per_wave} points each, every point run on both scenarios with the same "
        f"{s.replications} replication seeds (common random numbers).",
        f"- History matching: implausibility I = |z - mean| / sqrt(V_obs + V_disc + V_ens/R), with "
        f"V_disc = ({s.discrepancy:g} z)^2; points with I > {s.cutoff:g} for either target are ruled "
        "out and the next wave samples the box around the survivors.",
        "- Best point: the evaluated point whose medians are closest to both targets (least squares "
        "of log ratios). Predictive intervals: the best point and "
        f"{max(s.final_points - 1, 0)} parameter sets drawn from the surviving region, "
        f"{s.final_replications} replications each, so they fold in parameter uncertainty and "
        "run-to-run noise.",
        "",
        "## Result",
        "",
        "| parameter | calibrated | region mean | region sd | region range | prior |",
        "|---|---|---|---|---|---|",
    ]
    return lines


def _result_lines(result: CalibrationResult) -> list[str]:
    """The calibrated values and the region, then the fit of the predictive runs."""
    s = result.search
    lines: list[str] = []
    for fp in s.params:
        col = result.region[fp.name]
        lines.append(
            f"| `{fp.name}` | {result.best[fp.name]:.4g} | {col.mean():.4g} | "
            f"{col.std(ddof=1) if len(col) > 1 else 0:.2g} | {col.min():.4g}-{col.max():.4g} | "
            f"{fp.low:g}-{fp.high:g} |"
        )
    last = result.evaluated[result.evaluated.wave == s.waves - 1]
    n_ok = int((last.max_I <= s.cutoff).sum())
    lines += [
        "",
        f"{n_ok} of {len(last)} points of the last wave were not ruled out"
        + ("." if n_ok else "; the region above is the best quarter of that wave instead."),
        "",
        "### Fit",
        "",
        "| target | value | simulated p05 | p50 | p95 | p50 error | runs |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in result.predictive:
        err = p["p50"] / p["value"] - 1
        lines.append(
            f"| {p['target']} | {p['value']:,.0f} | {p['p05']:,.0f} | {p['p50']:,.0f} | "
            f"{p['p95']:,.0f} | {err:+.0%} | {p['n']} |"
        )
    return lines


def _verification_lines(result: CalibrationResult) -> list[str]:
    """The best point alone, run with the seeds of a plain batch."""
    s = result.search
    lines: list[str] = []
    v0 = result.verification[0]
    lines += [
        "",
        f"**The best point alone**, {v0['n']} replications with the seeds of `frontline batch"
        f" --seed {s.verify_seed}` (what the scenarios give now that they read"
        " `calibrated.toml`):",
        "",
        "| target | value | p05 | p50 | p95 | p50 error | command |",
        "|---|---|---|---|---|---|---|",
    ]
    for v, t in zip(result.verification, result.targets, strict=True):
        cmd = (
            f"`frontline batch scenarios/{t.scenario}.toml --replications {v['n']} "
            f"--seed {s.verify_seed} --until {t.until}`"
        )
        lines.append(
            f"| {v['target']} | {v['value']:,.0f} | {v['p05']:,.0f} | {v['p50']:,.0f} | "
            f"{v['p95']:,.0f} | {v['p50'] / v['value'] - 1:+.0%} | {cmd} |"
        )
    return lines


def _sensitivity_lines(result: CalibrationResult) -> list[str]:
    """The one-at-a-time sensitivity of the fit."""
    assert result.sensitivity is not None  # the caller checks
    lines: list[str] = []
    lines += [
        "## Sensitivity of the fit",
        "",
        "Median outcome with one parameter at an end of its range (calibrated ones: prior range;"
        " fixed ones: registry range), the others at the best point, same seeds. The change is"
        " relative to the best point.",
        "",
        "| parameter | end | value | "
        + " | ".join(f"{t.name} median | change" for t in result.targets)
        + " |",
        "|---|---|---|" + "---|---|" * len(result.targets),
    ]
    for _, r in result.sensitivity.iterrows():
        cells = " | ".join(
            f"{r[f'{t.name}_median']:,.0f} | {r[f'{t.name}_change']:+.0%}" for t in result.targets
        )
        value = "" if not np.isfinite(r["value"]) else f"{r['value']:g}"
        name = f"`{r['parameter']}`" + (" *" if r["calibrated"] and r["end"] else "")
        lines.append(f"| {name} | {r['end']} | {value} | {cells} |")
    lines += ["", "\\* calibrated parameter", ""]
    return lines


def _checks(result: CalibrationResult, t_by: dict[str, int]) -> list[str]:
    lines = [
        "## Checks against facts not fitted",
        "",
        "None of these entered the fit. Where the model disagrees, it says so here.",
        "",
    ]
    if "russia_gain_2023" in t_by:
        runs = result.runs[t_by["russia_gain_2023"]]
        lo, mid, hi = finite_quantiles(runs["ukraine_gain_km2"])
        lines += [
            "### Ukraine's gains in 2023",
            "",
            f"Simulated: median {mid:,.0f} km2 (90% range {lo:,.0f}-{hi:,.0f}). Record: a few"
            " hundred km2 (official Ukrainian tallies and ISW-based analyses of the counter-offensive).",
            "",
        ]
    lines += [
        "### When notable towns changed hands",
        "",
        "| town | recorded | share of runs where it changed hands | simulated median (90% range) | note |",
        "|---|---|---|---|---|",
    ]
    for name, towns in CHECK_FALLS.items():
        if name in t_by:
            for town, record, note in towns:
                lines.append(_falls_row(result.runs[t_by[name]], town, record, note))
    lines.append("")
    if "russia_gain_2024" in t_by:
        t = t_by["russia_gain_2024"]
        daily = result.daily[t].copy()
        daily["month"] = pd.to_datetime(daily["date"]).dt.to_period("M")
        ends = daily.groupby(["draw", "replication", "month"])["russia_gain_km2"].last()
        monthly = ends.groupby(level=[0, 1]).diff().fillna(ends).groupby(level=2).median()
        lines += [
            "### Month-by-month shape of 2024",
            "",
            "Median Russian gains per month (km2):",
            "",
            "| " + " | ".join(str(m) for m in monthly.index) + " |",
            "|" + "---|" * len(monthly),
            "| " + " | ".join(f"{v:,.0f}" for v in monthly.to_numpy()) + " |",
            "",
            "Record: gains rose through 2024 (Avdiivka in February, the Kharkiv offensive in May,"
            " then Pokrovsk-Kurakhove-Vuhledar), and the autumn months were the year's largest"
            " (AFP and others' analyses of ISW maps, as reported).",
            "",
        ]
        runs = result.runs[t]
        ratio = runs["russia_losses_cum"] / runs["russia_gain_km2"].clip(lower=1.0)
        lo, mid, hi = finite_quantiles(ratio)
        lines += [
            "### Russian casualties per km2 taken, 2024",
            "",
            f"Simulated: median {mid:,.0f} (90% range {lo:,.0f}-{hi:,.0f}) killed, wounded and "
            f"captured per km2. ISW's accounting: about {ISW_CASUALTIES_PER_KM2:.0f} per km2 in 2024.",
            "",
        ]
    return lines
