"""Markdown building blocks shared by the report kinds: number formats, assumptions and provenance."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from sim.analysis.load import (
    Batch,
)


def num(x: float) -> str:
    """A number with thousands separators and no decimals; ``n/a`` if missing.

    Examples
    --------
    >>> num(12345.6), num(float("nan"))
    ('12,346', 'n/a')
    """
    return "n/a" if x is None or not np.isfinite(x) else f"{x:,.0f}"


def signed_num(x: float) -> str:
    """A number as :func:`num`, with its sign.

    Examples
    --------
    >>> signed_num(-1500.0), signed_num(2.0)
    ('-1,500', '+2')
    """
    return "n/a" if not np.isfinite(x) else f"{x:+,.0f}"


def interval(values, unit: str, signed: bool = False) -> str:
    """``median M unit (90% interval L to H)`` of the finite ``values``; ``n/a`` if none.

    Examples
    --------
    >>> interval([1.0, 2.0, 3.0], "km")
    'median 2 km (90% interval 1 to 3)'
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return "n/a"
    f = signed_num if signed else num
    lo, mid, hi = np.percentile(v, [5, 50, 95])
    return f"median {f(mid)} {unit} (90% interval {f(lo)} to {f(hi)})"


def bracket(values, fmt=None) -> str:
    """``median [5th to 95th percentile]`` of ``values``, each formatted by ``fmt``."""
    fmt = fmt or num
    lo, mid, hi = np.percentile(np.asarray(values, float), [5, 50, 95])
    return f"{fmt(mid)} [{fmt(lo)} to {fmt(hi)}]"


def date_cell(d) -> str:
    """A date for a table cell; a dash if missing.

    Examples
    --------
    >>> date_cell(None), date_cell("2024-02-17")
    ('–', '2024-02-17')
    """
    return "–" if d is None or (isinstance(d, float) and math.isnan(d)) else str(d)


def assumptions_lines(summaries: list[dict], names: list[str]) -> list[str]:
    """The assumptions each scenario states (forecasts: what was not known at its start)."""
    lines: list[str] = []
    for s, name in zip(summaries, names, strict=True):
        if s.get("assumptions"):
            lines += [f"**{name} assumes:**", ""]
            lines += [f"- {a}" for a in s["assumptions"]] + [""]
    return lines


def provenance_table(batches: list[Batch]) -> list[str]:
    """The provenance table of the batches: directory, scenario, content hash, seed, replications, dates, version and git commits."""
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


def table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """The lines of a Markdown table.

    Examples
    --------
    >>> table(["place", "km"], [("Pokrovsk", "12")])
    ['| place | km |', '|---|---|', '| Pokrovsk | 12 |']
    """
    return [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
