"""Plain-text summaries of sweeps and Sobol' analyses, for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from sim.experiments.sensitivity import (
    SobolAnalysis,
)
from sim.experiments.store import SweepResult


def format_sweep(
    result: SweepResult, outcomes: Sequence[str] | None = None, limit: int = 20
) -> str:
    """A short table: each point's parameters and the mean of the main outcomes."""
    from sim.batch import MAIN_OUTCOMES

    s = result.summary
    outcomes = [o for o in (outcomes or MAIN_OUTCOMES) if o in result.outcomes]
    means = result.point_means()
    params = list(result.design.columns)
    lines = [
        f"{s['scenario']}: {len(result.design)} points x {s['replications']} replications "
        f"(seed {s['seed']}, same seeds at every point), {s['start']} -> {s['end']}",
        "  " + "".join(f"{c:>{max(12, len(c) + 2)}}" for c in ["point", *params, *outcomes]),
    ]
    for i, row in means.head(limit).iterrows():
        cells = [f"{i:>12}"]
        cells += [f"{row[c]:>{max(12, len(c) + 2)}.4g}" for c in params]
        cells += [f"{row[c]:>{max(12, len(c) + 2)},.0f}" for c in outcomes]
        lines.append("  " + "".join(cells))
    if len(means) > limit:
        lines.append(f"  ... {len(means) - limit} more points (mean over replications)")
    else:
        lines.append("  (outcomes: mean over each point's replications)")
    return "\n".join(lines)


def format_sobol(analysis: SobolAnalysis) -> str:
    """A table of the indices with their intervals."""
    pct = f"{analysis.confidence_level:.0%}"
    lines = [f"Sobol' indices (n = {analysis.n}, {pct} bootstrap intervals)"]
    width = max(12, *(len(p) + 2 for p in analysis.indices["parameter"]))
    for output, rows in analysis.indices.groupby("output", sort=False):
        lines.append(f"  {output}")
        lines.append(f"    {'parameter':<{width}}{'S1':>24}{'ST':>24}")
        for r in rows.itertuples(index=False):
            s1 = f"{r.S1:.3f} [{r.S1_low:.3f}, {r.S1_high:.3f}]"
            st = f"{r.ST:.3f} [{r.ST_low:.3f}, {r.ST_high:.3f}]"
            lines.append(f"    {r.parameter:<{width}}{s1:>24}{st:>24}")
    return "\n".join(lines)
