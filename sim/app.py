"""The students' view: a SolaraViz app of :class:`~sim.model.FrontlineModel` in the browser.

Start it with ``frontline view [SCENARIO]`` (which runs ``solara run sim.app --production`` on
127.0.0.1), or ``FRONTLINE_VIEW_SCENARIO=baseline_2023 solara run sim.app``. Everything it needs
ships with the ``viz`` extra (``solara-assets`` holds the JavaScript), so it works offline.

The page shows, for the model's current day:

- a map of the theatre at its real coordinates (longitude, latitude): every node coloured by the
  side that holds it, contested ground (penetration > 0) in amber, the front line (the boundary
  between adjacent nodes held by different sides), the Ukraine-Russia border, the logistics hubs
  by name, and the units as markers sized by personnel, coloured by side and shaped by posture;
- the simulated date, ``YYYY-MM-DD``, and the run's scenario, seed and active overrides;
- charts of the cumulative Russian and Ukrainian gains (with the calibration target, when
  ``calibration/targets.toml`` has one for the scenario), the front length and defenders per km;
- SolaraViz's own Step, Play/Pause and Reset, the seed, a scenario select and sliders for a few
  influential parameters, labelled from the registry (``sim/params.py``) with unit and range.

A slider left where it starts keeps the scenario's own value, schedule included; a moved slider
overrides the parameter for the whole run, as ``--set`` does. Reset builds the model anew with
what the controls show.

The map is drawn with matplotlib from arrays precomputed once per theatre (a scatter of the
13,328 nodes, a line collection for the front), not with Mesa's network drawer, which would lay
out and draw every node and edge again on each frame.
"""

from __future__ import annotations

import functools
import io
import os
import tomllib
from datetime import date, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from sim.mapping import map_geometry  # noqa: E402
from sim.model import SCENARIO_DIR, FrontlineModel, default_theatre, resolve_scenario  # noqa: E402
from sim.params import PARAMS  # noqa: E402
from sim.scenario import ScenarioError, ScenarioSpec, load_scenario  # noqa: E402
from sim.theatre.theatre import Theatre  # noqa: E402
from sim.units import POSTURES, RUSSIA, UKRAINE  # noqa: E402

__all__ = [
    "SCENARIO_ENV",
    "VIEW_PARAMS",
    "ViewModel",
    "calibration_targets",
    "charts_png",
    "map_png",
    "model_params",
    "page",
    "scenario_value",
]

SCENARIO_ENV = "FRONTLINE_VIEW_SCENARIO"
ALLOW_ENV = "FRONTLINE_VIEW_ALLOW"  # directories `frontline view --allow-path` allowed
DEFAULT_SCENARIO = "baseline_2024"
TARGETS_FILE = Path(__file__).resolve().parents[1] / "calibration" / "targets.toml"

# The parameters offered as sliders, with a slider step each (values in registry units).
VIEW_PARAMS: dict[str, float] = {
    "russia_shells_per_day": 1000.0,
    "russia_recruits_per_day": 50.0,
    "fortification_build_rate": 0.005,
    "advance_slowdown": 0.0005,
}

SIDE_FILL = {UKRAINE: "#c9dcf2", RUSSIA: "#f2c6c0"}  # held ground
SIDE_UNIT = {UKRAINE: "#1d4f91", RUSSIA: "#a3161f"}  # unit markers
CONTESTED = "#f0a22e"
POSTURE_MARKER = {0: "s", 1: "^", 2: "o", 3: "X", 4: "D"}  # hold attack reserve refit transit
POSTURE_ALPHA = {0: 0.95, 1: 0.95, 2: 0.6, 3: 0.45, 4: 0.6}


# --------------------------------------------------------------------------------------------
# The model as the view builds it


def scenario_value(spec: ScenarioSpec, key: str, on: date | None = None) -> float:
    """The value a parameter takes on a day of a scenario (its first day by default).

    A scheduled parameter takes its latest scheduled value on or before the day; any other
    takes ``[params]`` (or the registry default).
    """
    on = spec.start if on is None else on
    value = spec.params[key]
    for when, scheduled in sorted(spec.schedule.get(key, ())):
        if when <= max(on, spec.start):
            value = scheduled
    return float(value)


def _seed(raw: object) -> tuple[int, str]:
    """The seed typed in the page as an int, and a note when it was not a whole number."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return 0, ""
    try:
        return int(str(raw).strip()), ""
    except ValueError:
        return 0, f"seed {str(raw)!r} is not a whole number: using 0"


class ViewModel(FrontlineModel):
    """A :class:`FrontlineModel` built from the view's controls.

    Parameters
    ----------
    spec : str, default "baseline_2024"
        Scenario name in ``scenarios/`` or a TOML path.
    rng : int or str
        Seed; the page passes the typed text, which is coerced to int (a non-number gives 0 and a
        note on the page rather than a crash).
    theatre : Theatre, optional
        The packaged theatre by default.
    scenario : object, optional
        Ignored (Mesa's own scenario object, which SolaraViz's Reset passes along).
    **values : float
        Slider values by registry name. A value equal to the slider's starting position
        (:data:`SLIDER_START`) keeps the scenario's own value and schedule; any other value
        overrides the parameter for the whole run.
    """

    def __init__(
        self,
        spec: str | Path | ScenarioSpec = DEFAULT_SCENARIO,
        rng: int | str | None = 0,
        theatre: Theatre | None = None,
        scenario: object = None,
        **values: float,
    ) -> None:
        # Mesa 3.5's Reset also passes `scenario=` (a default mesa Scenario built from the
        # model's): the frontline scenario is `spec`, so that one is ignored.
        del scenario
        _check_listed(spec)
        seed, note = _seed(rng)
        theatre = theatre if theatre is not None else default_theatre()
        loaded = _resolve(spec, theatre)
        overrides = {}
        for key, value in values.items():
            start = SLIDER_START.get(key)
            # The slider snaps to its step grid, so a slider moved away and back may sit up to
            # half a step from a scenario value that is not on the grid: that is "not moved".
            half_step = 0.5 * VIEW_PARAMS.get(key, 0.0)
            if start is None or abs(float(value) - start) > max(half_step, 1e-12):
                overrides[key] = float(value)
        super().__init__(loaded, rng=seed, theatre=theatre, **overrides)
        self.view_seed = seed
        self.view_overrides = overrides
        self.view_note = note


# Slider start positions: the launch scenario's own values, filled in by model_params().
SLIDER_START: dict[str, float] = {}


def _scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def _resolve(spec: str | Path | ScenarioSpec, theatre: Theatre) -> ScenarioSpec:
    """The scenario the view shows; the launch scenario may read the directories that
    ``frontline view --allow-path`` allowed (passed in :data:`ALLOW_ENV`)."""
    launch = os.environ.get(SCENARIO_ENV)
    allow = [p for p in os.environ.get(ALLOW_ENV, "").split(os.pathsep) if p]
    if allow and launch and str(spec) == launch:
        return load_scenario(launch, place_names=[n for n in theatre.name if n], allow=allow)
    return resolve_scenario(spec, theatre)


def _check_listed(spec: str | Path | ScenarioSpec) -> None:
    """Refuse a scenario the chooser does not list: the page's Select sends a string, and a
    crafted request must not make the server load any file it names."""
    if isinstance(spec, ScenarioSpec):
        return
    listed = set(_scenario_names())
    launch = os.environ.get(SCENARIO_ENV)
    if launch:  # the scenario the view was started with, as `frontline view` passes it
        listed.add(launch)
    if str(spec) not in listed:
        raise ScenarioError(
            f"scenario {str(spec)!r} is not one the view offers; choose one of: "
            + ", ".join(sorted(listed))
        )


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:g}"


def model_params(spec: ScenarioSpec) -> dict:
    """SolaraViz ``model_params``: seed, scenario select and one slider per :data:`VIEW_PARAMS`.

    Slider labels carry the registry's unit and range; each slider starts at the scenario's own
    value on its first day, which is recorded in :data:`SLIDER_START`.
    """
    names = _scenario_names()
    ref = spec.name if spec.name in names else str(spec.path)
    if ref not in names:
        names.append(ref)
    params: dict = {
        "rng": {"type": "InputText", "value": "0", "label": "Seed (whole number)"},
        "spec": {"type": "Select", "value": ref, "values": names, "label": "Scenario"},
    }
    for key, step in VIEW_PARAMS.items():
        p = PARAMS[key]
        start = scenario_value(spec, key)
        SLIDER_START[key] = start
        params[key] = {
            "type": "SliderInt" if p.integer else "SliderFloat",
            "value": start,
            "min": p.low,
            "max": p.high,
            "step": step,
            "label": f"{key} [{p.unit}] ({_fmt(p.low)} to {_fmt(p.high)})",
        }
    return params


# --------------------------------------------------------------------------------------------
# Calibration targets (optional file)


def calibration_targets(
    scenario: str, path: Path = TARGETS_FILE
) -> list[tuple[str, float, date, str]]:
    """Targets for a scenario from ``calibration/targets.toml``: (outcome, value, date, source).

    The file holds ``[[target]]`` entries with ``scenario``, ``outcome`` (e.g.
    ``russia_gain_km2``), ``until`` (a date), ``value`` and ``source``. It is optional: a missing
    or unreadable file, or no entry for the scenario, gives ``[]``; malformed entries are skipped.
    """
    try:
        entries = tomllib.loads(path.read_text()).get("target", [])
    except (OSError, tomllib.TOMLDecodeError):
        return []
    out = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("scenario") != scenario:
            continue
        outcome, value, when = entry.get("outcome"), entry.get("value"), entry.get("until")
        if isinstance(when, str):
            try:
                when = date.fromisoformat(when)
            except ValueError:
                continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if isinstance(outcome, str) and number and isinstance(when, date):
            assert isinstance(value, int | float)  # for the type checker: number says so
            source = str(entry.get("source", "")).split(":")[0].strip()
            out.append((outcome, float(value), when, source))
    return out


# --------------------------------------------------------------------------------------------
# The map


MAP_SIZE = (8.4, 6.6)  # inches
MAP_DPI = 100


def draw_map(model: FrontlineModel, fig: Figure) -> None:
    """Draw the theatre, control, front, border, hubs and units of ``model`` on ``fig``."""
    g = map_geometry(model.theatre)
    ax = fig.add_axes((0.07, 0.06, 0.7, 0.92))
    ax.set_xlim(*g.xlim)
    ax.set_ylim(*g.ylim)
    ax.set_aspect(1.0 / g.coslat)
    ax.set_facecolor("#eef2f4")
    width_pt = ax.get_position().width * fig.get_figwidth() * 72
    # at equal aspect the map may be narrower than the axes box: scale by the limiting side
    box_h_pt = ax.get_position().height * fig.get_figheight() * 72
    data_w = (g.xlim[1] - g.xlim[0]) * g.coslat
    data_h = g.ylim[1] - g.ylim[0]
    width_pt = min(width_pt, box_h_pt * data_w / data_h)

    control = np.asarray(model.control)
    colors = np.where(control[:, None] == RUSSIA, _rgb(SIDE_FILL[RUSSIA]), _rgb(SIDE_FILL[UKRAINE]))
    sizes = g.marker_area(width_pt)
    ax.scatter(g.lon, g.lat, s=sizes, c=colors, marker="h", linewidths=0, zorder=1)
    contested = np.flatnonzero(np.asarray(model.penetration) > 0)
    if contested.size:
        ax.scatter(
            g.lon[contested],
            g.lat[contested],
            s=sizes[contested],
            c=CONTESTED,
            marker="h",
            linewidths=0,
            alpha=0.85,
            zorder=2,
        )
    ax.plot(g.outline[:, 0], g.outline[:, 1], color="#7d8a93", lw=0.5, zorder=3)
    ax.plot(g.border[:, 0], g.border[:, 1], color="#333333", lw=1.0, ls=(0, (4, 2)), zorder=4)
    front = control[g.edge_u] != control[g.edge_v]
    ax.add_collection(
        LineCollection(g.front_segments[front], colors="#111111", linewidths=1.1, zorder=6.5)
    )
    _draw_units(ax, model)
    ax.scatter(
        g.lon[g.hub_nodes],
        g.lat[g.hub_nodes],
        s=14,
        c=["#a3161f" if control[n] == RUSSIA else "#1d4f91" for n in g.hub_nodes],
        edgecolors="white",
        linewidths=0.6,
        marker="o",
        zorder=7,
    )
    for n, name in zip(g.hub_nodes, g.hub_names, strict=True):
        ax.annotate(
            name,
            (g.lon[n], g.lat[n]),
            xytext=(3, 2),
            textcoords="offset points",
            fontsize=6.5,
            color="#222222",
            zorder=8,
        )
    ax.set_xlabel("longitude (°E)", fontsize=8)
    ax.set_ylabel("latitude (°N)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(
        handles=_legend_handles(),
        loc="lower left",
        bbox_to_anchor=(1.01, 0.0),
        fontsize=7,
        frameon=False,
    )


def _draw_units(ax, model: FrontlineModel) -> None:
    u = model.units
    n = u.n
    if n == 0:
        return
    g = map_geometry(model.theatre)
    live = np.flatnonzero(u.view("alive") & (u.view("personnel") > 0))
    node = u.view("node")[live].astype(int)
    side = u.view("side")[live].astype(int)
    posture = u.view("posture")[live].astype(int)
    size = 2.0 + u.view("personnel")[live] / 250.0
    for s in (UKRAINE, RUSSIA):
        for p, marker in POSTURE_MARKER.items():
            k = (side == s) & (posture == p)
            if k.any():
                ax.scatter(
                    g.lon[node[k]],
                    g.lat[node[k]],
                    s=size[k],
                    c=SIDE_UNIT[s],
                    marker=marker,
                    alpha=POSTURE_ALPHA[p],
                    edgecolors="white",
                    linewidths=0.3,
                    zorder=6,
                )


@functools.cache
def _legend_handles() -> list:
    def patch(color, label):
        return Line2D([], [], marker="h", ls="", ms=8, mfc=color, mec="none", label=label)

    handles = [
        patch(SIDE_FILL[UKRAINE], "held by Ukraine"),
        patch(SIDE_FILL[RUSSIA], "held by Russia"),
        patch(CONTESTED, "contested"),
        Line2D([], [], color="#111111", lw=1.3, label="front line"),
        Line2D([], [], color="#333333", lw=1.0, ls=(0, (4, 2)), label="UA-RU border"),
        Line2D([], [], marker="o", ls="", ms=4, mfc="#555555", mec="white", label="hub"),
    ]
    for p, marker in POSTURE_MARKER.items():
        handles.append(
            Line2D(
                [], [], marker=marker, ls="", ms=5, mfc="#555555", mec="white", label=POSTURES[p]
            )
        )
    handles.append(Line2D([], [], marker="s", ls="", ms=5, mfc=SIDE_UNIT[UKRAINE], label="UA unit"))
    handles.append(Line2D([], [], marker="s", ls="", ms=5, mfc=SIDE_UNIT[RUSSIA], label="RU unit"))
    return handles


def _rgb(color: str) -> np.ndarray:
    return np.array(matplotlib.colors.to_rgb(color))


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=MAP_DPI)
    return buf.getvalue()


def map_png(model: FrontlineModel) -> bytes:
    """The map of ``model``'s current state as PNG bytes."""
    fig = Figure(figsize=MAP_SIZE)
    draw_map(model, fig)
    return _png(fig)


# --------------------------------------------------------------------------------------------
# Charts


def _series(model: FrontlineModel) -> dict[str, list]:
    return model.recorder.collector.model_vars


def draw_charts(model: FrontlineModel, fig: Figure) -> None:
    """Cumulative gains (with the calibration target), front length and defenders per km."""
    data = _series(model)
    days = [model.start + timedelta(days=int(d)) for d in data["day"]]
    axes = fig.subplots(3, 1, sharex=True)
    ax = axes[0]
    ax.plot(days, data["russia_gain_km2"], color=SIDE_UNIT[RUSSIA], label="Russian gain")
    ax.plot(days, data["ukraine_gain_km2"], color=SIDE_UNIT[UKRAINE], label="Ukrainian gain")
    for metric, value, when, source in calibration_targets(model.spec.name):
        if metric not in ("russia_gain_km2", "ukraine_gain_km2"):
            continue  # only the two gains are on this chart
        color = SIDE_UNIT[UKRAINE] if metric.startswith("ukraine") else SIDE_UNIT[RUSSIA]
        ax.plot(
            [when],
            [value],
            marker="*",
            ms=11,
            color=color,
            mec="black",
            ls="",
            label=f"target{' (' + source + ')' if source else ''}: {value:,.0f} km² by {when}",
        )
    ax.set_ylabel("km² (cumulative)", fontsize=8)
    ax.set_title("Ground gained inside Ukraine since the start", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    axes[1].plot(days, data["front_length_km"], color="#333333")
    axes[1].set_ylabel("km", fontsize=8)
    axes[1].set_title("Front length", fontsize=9)
    axes[2].plot(days, data["defenders_per_km"], color=SIDE_UNIT[UKRAINE])
    axes[2].set_ylabel("men/km", fontsize=8)
    axes[2].set_title("Ukrainian defenders per km of front", fontsize=9)
    for a in axes:
        a.tick_params(labelsize=7)
        a.grid(alpha=0.3)
        a.set_xlim(model.start, max(model.end, model.start + timedelta(days=1)))
    fig.autofmt_xdate()
    fig.subplots_adjust(left=0.14, right=0.97, top=0.95, bottom=0.1, hspace=0.35)  # fixed: fast


def charts_png(model: FrontlineModel) -> bytes:
    """The charts of ``model`` as PNG bytes."""
    fig = Figure(figsize=(5.4, 6.4))
    draw_charts(model, fig)
    return _png(fig)


# --------------------------------------------------------------------------------------------
# The page (SolaraViz)

import solara  # noqa: E402
from mesa.visualization import SolaraViz  # noqa: E402
from mesa.visualization import solara_viz as _solara_viz  # noqa: E402
from mesa.visualization.utils import update_counter  # noqa: E402


def _run_label(model: ViewModel) -> str:
    over = getattr(model, "view_overrides", {})
    shown = ", ".join(f"{k}={v:g}" for k, v in sorted(over.items())) or "none"
    return (
        f"scenario {model.spec.name} · seed {getattr(model, 'view_seed', '?')} · overrides: {shown}"
    )


def _values_label(model: FrontlineModel) -> str:
    """Today's values of the slider parameters, as the model uses them."""
    parts = []
    for key in VIEW_PARAMS:
        how = "set" if key in getattr(model, "view_overrides", {}) else "scenario"
        unit = "" if PARAMS[key].unit == "-" else f" {PARAMS[key].unit}"
        value = scenario_value(model.spec, key, model.date)
        parts.append(f"{key} = {_fmt(value)}{unit} ({how})")
    return "in use today: " + "; ".join(parts)


# Slider labels wrap above a full-width track, and the value stays shown on the thumb.
CSS = """
.v-input__slider .v-input__slot { flex-wrap: wrap; }
.v-input__slider .v-input__slot > .v-label { flex: 1 0 100%; max-width: 100%;
  white-space: normal; margin-bottom: 30px; font-size: 0.85em; }
.v-input__slider .v-slider__thumb-label-container { display: block !important; }
.v-input__slider .v-slider__thumb-label { width: auto !important; min-width: 32px;
  padding: 0 4px; border-radius: 4px !important; transform: translateY(-4px) !important; }
.v-input__slider .v-slider__thumb-label > * { transform: none !important; }
"""


@solara.component
def MapPanel(model: ViewModel):
    """The date, the run's settings and the map; re-drawn after every Step."""
    update_counter.get()
    png = solara.use_memo(lambda: map_png(model), [model, update_counter.value])
    with solara.Column(gap="4px", style={"padding": "4px 8px"}):
        with solara.Row(gap="16px", style={"align-items": "baseline"}):
            solara.Text(
                model.date.isoformat(),
                classes=["frontline-date"],
                style={"font-size": "1.6em", "font-weight": "600"},
            )
            solara.Text(
                f"day {model.day} of {model.n_days}" + ("" if model.running else " (ended)"),
                classes=["frontline-day"],
            )
        solara.Text(_run_label(model), classes=["frontline-run"], style={"font-size": "0.85em"})
        solara.Text(
            _values_label(model), classes=["frontline-values"], style={"font-size": "0.8em"}
        )
        if getattr(model, "view_note", ""):
            solara.Warning(model.view_note)
        solara.Image(png, width="100%", classes=["frontline-map"])


@solara.component
def ChartsPanel(model: ViewModel):
    """Cumulative gains (and target), front length, defenders per km."""
    update_counter.get()
    png = solara.use_memo(lambda: charts_png(model), [model, update_counter.value])
    solara.Image(png, width="100%", classes=["frontline-charts"])


_default_layout = _solara_viz.make_initial_grid_layout


def _grid_layout(num_components: int) -> list[dict]:
    # SolaraViz gives each component half the width and ~390 px; the map wants more. The
    # function is looked up by name when a page first renders, so replacing it here is enough.
    if num_components != 2:
        return _default_layout(num_components)
    return [
        {"i": 0, "w": 7, "h": 22, "x": 0, "y": 0, "moved": False},
        {"i": 1, "w": 5, "h": 22, "x": 7, "y": 0, "moved": False},
    ]


_solara_viz.make_initial_grid_layout = _grid_layout


def _launch_scenario() -> ScenarioSpec:
    return _resolve(os.environ.get(SCENARIO_ENV) or DEFAULT_SCENARIO, default_theatre())


LAUNCH_SPEC = _launch_scenario()
MODEL_PARAMS = model_params(LAUNCH_SPEC)
map_geometry(default_theatre())  # warm the map arrays before the first page is served


@solara.component
def page():
    """One model per browser session, shown with SolaraViz."""
    model = solara.use_memo(lambda: ViewModel(MODEL_PARAMS["spec"]["value"], rng=0), [])
    solara.Style(CSS)
    SolaraViz(
        model,
        components=[(MapPanel, 0), (ChartsPanel, 0)],
        model_params=MODEL_PARAMS,
        play_interval=50,
        name=f"frontline · {LAUNCH_SPEC.name}",
    )


Page = page
