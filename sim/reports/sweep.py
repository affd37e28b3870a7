"""The sweep report: collapse probability and gains against the swept parameters."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.errors import (
    ReportError,
)
from sim.analysis.load import (
    read_summary,
    read_table,
    verify_directory,
)
from sim.analysis.stats import (
    Z95,
    fit_logistic,
)
from sim.analysis.tables import sweep_point_table
from sim.figures import (
    collapse_panel,
    pyplot,
    save_figure,
    sweep_figure,
)
from sim.reports.markdown import (
    assumptions_lines,
    num,
)


def sweep_report(path: Path, out: Path) -> list[str]:
    """The lines of a sweep directory's ``report.md``; writes its figures into ``out``."""
    verify_directory(path)
    runs = read_table(path / "sweep.parquet")
    design = read_table(path / "design.parquet")
    s = read_summary(path)
    params = list(design.columns)
    outcome = "russia_gain_km2"
    table = sweep_point_table(runs, design, outcome)
    lines = _inputs(s, params, design)

    fit = None
    fit_note = ""
    if len(params) == 1 and "collapse" in runs:
        try:
            fit = fit_logistic(table[params[0]], table["k"], table["n"])
        except ReportError as err:
            fit_note = f"No logistic fit: {err}."
    density = _start_density(path, table["point"])
    sweep_figure(table, params, outcome, fit, out / "sweep.png")
    lines += _figure_lines(params, fit, fit_note)
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
    return lines + _points_lines(table, params, density is not None) + [""]


def _inputs(s: dict, params: list[str], design: pd.DataFrame) -> list[str]:
    """The title and the Inputs section: scenario, design, seeds, dates and provenance."""
    return [
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
        *assumptions_lines([s], [str(s.get("scenario", "?"))]),
    ]


def _figure_lines(params: list[str], fit: dict | None, fit_note: str) -> list[str]:
    """The section of the sweep figure, with the logistic fit (or why there is none)."""
    lines = [
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
    return lines


def _points_lines(table: pd.DataFrame, params: list[str], density: bool) -> list[str]:
    """The table of every point: parameters, start density, collapse share and gains."""
    head = " | ".join(f"`{p}`" for p in params)
    dens_head = " defenders per km at the start |" if density else ""
    lines = [
        f"| point | {head} |{dens_head} collapse (Wilson 95%) | Russian gains, km² (median "
        "[90%]) |",
        "|---|" + "---|" * len(params) + ("---|" if density else "") + "---|---|",
    ]
    for r in table.to_dict("records"):
        vals = " | ".join(f"{r[p]:.4g}" for p in params)
        dens = f" {r['density']:,.0f} |" if density else ""
        lines.append(
            f"| {r['point']} | {vals} |{dens} {r['k']}/{r['n']} = {r['share']:.0%} "
            f"({r['lo']:.0%} to {r['hi']:.0%}) | {num(r['g50'])} "
            f"[{num(r['g05'])} to {num(r['g95'])}] |"
        )
    return lines


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
    collapse_panel(ax, table, "density", fit, label)
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
