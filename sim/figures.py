"""Figures (matplotlib only): fan charts, fall-date curves, maps of control and sweep panels,
shared by reports, calibration and the record fit.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.errors import (
    ReportError,
)
from sim.analysis.load import (
    Batch,
)
from sim.analysis.stats import (
    logistic,
)
from sim.analysis.tables import (
    OUTCOMES,
    falls_column,
    fan_quantiles,
    place_nodes,
)

# Columns of the fan chart and of the outcome tables, with their labels.
GAINS = {
    "russia_gain_km2": ("Russian gains", "#b2182b"),
    "ukraine_gain_km2": ("Ukrainian gains", "#2166ac"),
    "ukraine_held_in_russia_km2": ("Ukraine's holdings in Russia", "#4d9221"),
}


_MAX_CURVES = 10  # places drawn in a fall-date figure (the table lists them all)


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


def _label(ax, title: str, xlabel: str, ylabel: str, **legend) -> None:
    """Title, axis labels, a light grid and a legend at the upper left (``legend``: its sizes)."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", **legend)


def gain_columns(daily: pd.DataFrame) -> list[str]:
    """The gain columns of ``daily`` to draw (Ukraine's holdings in Russia only if ever non-zero)."""
    cols = [c for c in GAINS if c in daily.columns]
    return [c for c in cols if c != "ukraine_held_in_russia_km2" or daily[c].abs().max() > 0]


def _fan(ax, q: pd.DataFrame, colour: str, label: str) -> None:
    ax.fill_between(q.index, q["p05"], q["p95"], color=colour, alpha=0.15, lw=0)
    ax.fill_between(q.index, q["p25"], q["p75"], color=colour, alpha=0.3, lw=0)
    ax.plot(q.index, q["p50"], color=colour, label=f"{label}: median, 50% and 90% bands")


def fan_figure(batches: list[Batch], path: Path) -> None:
    """Fan chart of the cumulative gains (median, 50% and 90% bands), one panel per batch."""
    plt = pyplot()
    fig, axes = plt.subplots(
        1, len(batches), figsize=(6.5 * len(batches), 4.2), sharey=True, squeeze=False
    )
    for ax, b in zip(axes[0], batches, strict=True):
        for col in gain_columns(b.daily):
            label, colour = GAINS[col]
            _fan(ax, fan_quantiles(b.daily, col), colour, label)
        _label(
            ax,
            f"{b.name}: cumulative gains ({len(b.runs)} replications)",
            "date",
            "km² since the start",
            fontsize=8,
        )
    save_figure(fig, path)


def falls_figure(batches: list[Batch], places: list[str], path: Path) -> None:
    """Share of replications in which each place had fallen, by date (step curves)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colours = plt.get_cmap("tab10")
    styles = ["-", "--"]
    for j, b in enumerate(batches):
        falls = falls_column(b.runs)
        n = len(falls)
        start, end = pd.Timestamp(b.start), pd.Timestamp(b.end)
        for i, place in enumerate(places[:_MAX_CURVES]):
            days = sorted(pd.Timestamp(f[place]) for f in falls if place in f)
            xs = [start, *days, end]
            ys = [0, *(np.arange(1, len(days) + 1) / n), len(days) / n]
            label = place if len(batches) == 1 else f"{place} ({b.name})"
            ax.step(xs, ys, where="post", color=colours(i % 10), ls=styles[j % 2], label=label)
    ax.set_ylim(-0.02, 1.02)
    _label(
        ax,
        "Share of replications in which each place had fallen, by date",
        "date",
        "share of replications fallen",
        fontsize=7,
        ncol=2,
    )
    save_figure(fig, path)


def difference_figure(diff: pd.DataFrame, a: Batch, b: Batch, path: Path) -> None:
    """The paired difference ``b - a`` of cumulative Russian gains over time."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    v = diff.to_numpy()
    lo, mid, hi = (np.percentile(v, q, axis=1) for q in (5, 50, 95))
    ax.fill_between(diff.index, lo, hi, color="#762a83", alpha=0.2, lw=0)
    ax.plot(diff.index, mid, color="#762a83", label="median, 90% band over replications")
    ax.axhline(0, color="k", lw=0.8)
    _label(
        ax,
        f"Paired difference in cumulative Russian gains: {b.name} − {a.name}",
        "date",
        "km² (same seed, replication by replication)",
        fontsize=8,
    )
    save_figure(fig, path)


def holdings_figure(batches: list[Batch], picks: list[pd.Timestamp], path: Path) -> None:
    """What each side holds on each date (the ceasefire question), one panel per column."""
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


_HOLDER_COLOURS = ["#9ecae1", "#fff7bc", "#fdae6b", "#de2d26"]  # Ukraine .. Russia in all runs


_ZOOM_KM = 30.0  # half-width of a close-up map around a place


def _map_context(b: Batch, picks: list[pd.Timestamp]):
    from sim.mapping import map_geometry
    from sim.model import default_theatre

    g = map_geometry(default_theatre())
    assert b.nodes is not None  # only batches with maps are drawn
    if len(b.nodes) != len(g.lon):
        raise ReportError(
            f"{b.path / 'nodes.parquet'} has {len(b.nodes)} nodes, the packaged theatre "
            f"{len(g.lon)}: the batch was run on another theatre"
        )
    shares = {d: b.held(d).mean(axis=0) for d in picks}
    return g, shares


def draw_shares(
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


def map_panels(n: int, aspect: float, width: float):
    """A grid of ``n`` map panels (two columns) of the given aspect and width in inches."""
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


def finish_maps(fig, axes, image, path: Path) -> None:
    """Add the share colour bar to map panels, write the figure to ``path`` and free it."""
    bar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, pad=0.01)
    bar.set_label("share of replications in which Russia holds the cell")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    pyplot().close(fig)


def maps_figure(b: Batch, picks: list[pd.Timestamp], path: Path, places: list[str]) -> None:
    """Control on each chosen date, over all the ground that changed hands."""
    g, shares = _map_context(b, picks)
    assert b.nodes is not None  # checked by _map_context
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
    fig, axes = map_panels(len(picks), aspect, width)
    image = None
    for ax, d in zip(axes.flat, picks, strict=False):
        image = draw_shares(ax, g, b.nodes, shares[d], extent, width, places)
        ax.set_title(f"{b.name}: {d.date()}", fontsize=10)
    finish_maps(fig, axes, image, path)


def zoom_figure(b: Batch, when: pd.Timestamp, places: list[str], path: Path) -> bool:
    """Close-ups (60 km across) around each place on one date; False if no place is known."""
    from sim.mapping import KM_PER_DEG_LAT, KM_PER_DEG_LON_EQ

    node = dict(list(place_nodes(b.nodes, places).items())[:6])
    known = list(node)
    if not known:
        return False
    g, shares = _map_context(b, [when])
    fig, axes = map_panels(len(known), 1.0, 4.2)
    image = None
    dx = _ZOOM_KM / (KM_PER_DEG_LON_EQ * g.coslat)
    dy = _ZOOM_KM / KM_PER_DEG_LAT
    for ax, p in zip(axes.flat, known, strict=False):
        k = node[p]
        extent = (g.lon[k] - dx, g.lon[k] + dx, g.lat[k] - dy, g.lat[k] + dy)
        image = draw_shares(ax, g, b.nodes, shares[when], extent, 4.2, known)
        ax.set_title(f"{p}: {when.date()}", fontsize=10)
    finish_maps(fig, axes, image, path)
    return True


def collapse_panel(ax, table: pd.DataFrame, column: str, fit: dict | None, label: str | None):
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


def sweep_figure(table: pd.DataFrame, params: list[str], outcome: str, fit, path: Path) -> None:
    """Collapse probability (with the fitted logistic, if any) and gains against each parameter."""
    plt = pyplot()
    fig, axes = plt.subplots(2, len(params), figsize=(6 * len(params), 7), squeeze=False)
    for j, p in enumerate(params):
        t = table.sort_values(p)
        x = t[p].to_numpy()
        ax = axes[0, j]
        label = f"logistic fit: x_c = {fit['x_c']:.3g}, w = {fit['w']:.3g}" if fit else None
        collapse_panel(ax, table, p, fit, label)
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
