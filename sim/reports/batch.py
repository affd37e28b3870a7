"""The batch report (one batch, or two as a pair): answers, gains, falls, holdings, maps."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.load import (
    Batch,
    check_places,
    report_dates,
)
from sim.analysis.stats import (
    wilson,
)
from sim.analysis.tables import (
    OUTCOMES,
    choose_places,
    enemy_distance_km,
    fall_changes,
    fall_table,
    occupied_population,
    paired_difference,
    place_nodes,
    sector_gains,
)
from sim.figures import (
    GAINS,
    falls_figure,
    fan_figure,
    gain_columns,
    holdings_figure,
    maps_figure,
    zoom_figure,
)
from sim.reports.markdown import (
    assumptions_lines,
    bracket,
    date_cell,
    interval,
    provenance_table,
    signed_num,
    table,
)
from sim.reports.pair import (
    pair_section,
    paired_distances,
)


def _batch_section(b: Batch, picks: list[pd.Timestamp]) -> list[str]:
    n = len(b.runs)
    lines = [f"### {b.name}", ""]
    for col, (label, unit) in OUTCOMES.items():
        if col not in b.runs or (col == "ukraine_held_in_russia_km2" and not b.runs[col].any()):
            continue
        lines.append(f"- {label} by {b.end}: {interval(b.runs[col], unit)}.")
    if "collapse" in b.runs:
        k = int(b.runs["collapse"].astype(bool).sum())
        lo, hi = wilson(k, n)
        lines.append(
            f"- Collapse in {k} of {n} replications ({k / n:.0%}; Wilson 95% interval "
            f"{lo:.0%} to {hi:.0%})."
        )
    cols = gain_columns(b.daily)
    lines += [
        "",
        "| date | " + " | ".join(f"{GAINS[c][0]} (km², median [90%])" for c in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for d in picks:
        row = b.daily[b.daily["date"] == d]
        cells = []
        for c in cols:
            cells.append(bracket(row[c]))
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
            f"| {r.place} | {r.share:.0%} ({r.fell}/{len(b.runs)}) | {date_cell(r.p50)} | "
            f"{date_cell(r.p05)} | {date_cell(r.p95)} |"
        )
    for r in table.itertuples():
        if r.fell:
            lines.append(
                f"\n{r.place} fell in {r.share:.0%} of replications; median fall date "
                f"{r.p50} (90% interval {r.p05} to {r.p95})."
            )
    return lines + [""]


def batch_report(
    batches: list[Batch], out: Path, places: list[str] | None, dates: list[date] | None
) -> list[str]:
    """The lines of the ``report.md`` of one batch, or of a pair; writes its figures into ``out``."""
    check_places(batches, places)
    places = choose_places([b.runs for b in batches], places)
    picks = report_dates(batches[0], dates)
    for b in batches[1:]:
        report_dates(b, [p.date() for p in picks])
    names = " vs ".join(b.name for b in batches)
    lines = [f"# Report: {names}", "", "## Answer", "", *_answers(batches, places, picks), ""]
    lines += ["## Inputs", "", *provenance_table(batches), ""]
    lines += assumptions_lines([b.summary for b in batches], [b.name for b in batches])
    if len(batches) == 2:
        lines += [
            "Paired comparison: both batches were run with the same seed, so replication "
            "*i* of each has the same random seed (common random numbers). Differences "
            f"are {batches[1].name} − {batches[0].name}.",
            "",
        ]
    fan_figure(batches, out / "gains.png")
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
        falls_figure(batches, places, out / "falls.png")
        lines += ["![Share of replications fallen by date](falls.png)", ""]
        for b in batches:
            lines += _falls_section(b, places)
            if b.has_maps:
                lines += _standing_section(b, places, picks)
    else:
        lines += ["No hub fell in any replication.", ""]

    if len(batches) == 2:
        lines += pair_section(batches[0], batches[1], places, out)
    return lines


def _answers(batches: list[Batch], places: list[str], picks: list[pd.Timestamp]) -> list[str]:
    """The report's findings in a few sentences, each with its interval."""
    out = []
    last = batches[-1]
    if len(batches) == 2:
        a, b = batches
        d = paired_difference(a.runs, b.runs, ["russia_gain_km2"])["russia_gain_km2"]
        out.append(
            f"- Russian gains inside Ukraine by {b.end} are {interval(d, 'km²', signed=True)} "
            f"in {b.name} against {a.name}, replication by replication (higher in "
            f"{int((d > 0).sum())} of {len(d)})."
        )
    held = "ukraine_held_in_russia_km2"
    if held in last.daily and last.daily[held].abs().max() > 0:
        top = last.daily.groupby("replication")[held].max()
        end = last.runs[held] if held in last.runs else top * np.nan
        out.append(
            f"- Ukraine's holdings in Russia ({last.name}) peak at {interval(top, 'km²')}, "
            f"and are {interval(end, 'km²')} on {last.end}."
        )
    dist = paired_distances(batches[0], batches[1], places) if len(batches) == 2 else None
    if dist is not None:
        when, diff = dist
        for p in diff.columns:
            out.append(
                f"- On {when.date()} the other side stands {interval(diff[p], 'km', signed=True)}"
                f" farther from {p} in {batches[1].name} than in {batches[0].name} (negative: "
                "nearer; distance to the nearest cell it holds, replication by replication)."
            )
    if len(batches) == 2 and places:
        ch = fall_changes(batches[0].runs, batches[1].runs, places)
        for r in ch.itertuples():
            if r.both:
                out.append(
                    f"- {r.place} changes hands {signed_num(r.median_days)} days later (−: earlier) in "
                    f"{batches[1].name} than in {batches[0].name} (median over the {r.both} "
                    f"replications in which it fell in both; 90% interval "
                    f"{signed_num(r.p05_days)} to {signed_num(r.p95_days)} days); it fell in only "
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
                f"- If the line froze on {d.date()}, Russia would hold {interval(v, 'km²')} of Ukraine."
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
        occupied = b.nodes is not None and b.has_maps and "population" in b.nodes
        if occupied:
            lines[-2] += " population of Ukraine on Russian-held ground |"
            lines[-1] += "---|"
        for d in picks:
            row = b.daily[b.daily["date"] == d]
            values = [row[c].to_numpy(float) for c in cols]
            if occupied:
                values.append(occupied_population(b.nodes, b.held(d)))
            cells = [bracket(v) for v in values]
            lines.append(f"| {d.date()} | " + " | ".join(cells) + " |")
        lines.append("")
    holdings_figure(batches, picks, out / "holdings.png")
    lines += ["![Holdings by date](holdings.png)", ""]
    return lines


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
        cells = [bracket(dist[d][p], "{:.1f}".format) for d in picks]
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    return lines + [""]


def _maps_section(
    batches: list[Batch], picks: list[pd.Timestamp], out: Path, places: list[str]
) -> list[str]:
    lines = ["## Maps of control", ""]
    for j, b in enumerate(batches):
        if not b.has_maps:
            continue
        name = f"maps_{j + 1}.png" if len(batches) > 1 else "maps.png"
        maps_figure(b, picks, out / name, places)
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
        if zoom_figure(b, picks[-1], places, out / zoom):
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
                *table(["sector", "gains"], [(c, bracket(sec[c])) for c in sec.columns]),
                "",
            ]
    return lines
