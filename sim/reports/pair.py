"""The paired report's own section: replication-by-replication differences of two batches run with
the same seeds.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.analysis.load import (
    Batch,
)
from sim.analysis.tables import (
    OUTCOMES,
    enemy_distance_km,
    fall_changes,
    paired_daily_difference,
    paired_difference,
    sector_gains,
)
from sim.figures import (
    difference_figure,
)
from sim.reports.markdown import (
    bracket,
    interval,
    signed_num,
    table,
)


def paired_distances(a: Batch, b: Batch, places: list[str]):
    """``(last date, b − a distances)`` for the places both batches know, or None."""
    if not (a.has_maps and b.has_maps and places):
        return None
    assert a.nodes is not None and b.nodes is not None  # has_maps
    known = [p for p in places if p in set(a.nodes["name"]) and p in set(b.nodes["name"])]
    if not known:
        return None
    last = min(pd.Timestamp(a.end), pd.Timestamp(b.end))
    da, db = (enemy_distance_km(x.nodes, x.held(last), known) for x in (a, b))
    return last, db - da


def pair_section(a: Batch, b: Batch, places: list[str], out: Path) -> list[str]:
    """The paired report's own sections: differences of the outcomes, of the daily gains
    (with its figure, written into ``out``), of the sectors' gains, of the distances to
    ``places`` and of their fall dates."""
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
            f"- {label}: {interval(d, unit, signed=True)}; higher in {b.name} in "
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
    lines += _daily_lines(a, b, out)
    lines += _sector_lines(a, b)
    lines += _distance_lines(a, b, places)
    lines += _fall_lines(a, b, places)
    return lines


def _daily_lines(a: Batch, b: Batch, out: Path) -> list[str]:
    """The paired difference of the cumulative Russian gains over time, and its figure."""
    lines: list[str] = []
    daily = paired_daily_difference(a.daily, b.daily, "russia_gain_km2")
    if len(daily):
        difference_figure(daily, a, b, out / "difference.png")
        last = daily.index[-1]
        lines += [
            "",
            f"Paired difference in Russian gains by {pd.Timestamp(last).date()}: "
            f"{interval(daily.loc[last].to_numpy(), 'km²', signed=True)}.",
            "",
            "![Paired difference in cumulative Russian gains](difference.png)",
            "",
        ]
    return lines


def _sector_lines(a: Batch, b: Batch) -> list[str]:
    """The paired difference of the Russian gains by sector on the last common date."""
    lines: list[str] = []
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
                    f"| {c} | {bracket(ga[c])} | {bracket(gb[c])} | "
                    f"{interval((gb[c] - ga[c]).to_numpy(), 'km²', signed=True)} |"
                )
            lines.append("")
    return lines


def _distance_lines(a: Batch, b: Batch, places: list[str]) -> list[str]:
    """The paired difference of how near the other side stands to each place."""
    lines: list[str] = []
    dist = paired_distances(a, b, places)
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
            *table(
                ["place", "difference"],
                [(p, interval(diff[p].to_numpy(), "km", signed=True)) for p in diff.columns],
            ),
            "",
        ]
    return lines


def _fall_lines(a: Batch, b: Batch, places: list[str]) -> list[str]:
    """The change in the places' fall dates."""
    lines: list[str] = []
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
                f"| {r.place} | {r.both} | {signed_num(r.median_days)} | "
                f"{signed_num(r.p05_days)} | {signed_num(r.p95_days)} | {r.only_a:.0%} | "
                f"{r.only_b:.0%} |"
            )
        lines.append("")
    return lines
