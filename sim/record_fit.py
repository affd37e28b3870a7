"""Calibration to the record: history matching of the level and the shape (issue #12).

The fit has a handful of free parameters (``calibration/record_search.toml``, each with a prior
from MECHANICS.md) and many stochastic outputs, one vector per year window:

- the level: log of Russia's gain over the window (ISW's figure for a full year);
- the shape: each month's share of the window's Russian gain, from the record;
- Ukraine's gain over the window (2023), on a log scale;
- when each named place first changed hands, in days from the window's start; a place the
  record shows holding through the window is censored at the window's end, and so is a run in
  which it held.

Every parameter set is run on both years with the same replication seeds (common random
numbers); :mod:`sim.history_matching` emulates the replication means and rules out, wave by
wave, the parameters whose outputs are implausibly far from the record. Each wave is saved as it
finishes (``wave_K.npz`` in the output directory), so a killed calibration resumes where it
stopped. The result is a posterior sample (``posterior.csv``, :mod:`sim.posterior`).

Outputs and record come from the same definitions: map differences counted as
:func:`sim.metrics.gains` counts them, and a row of a run's daily table dated D is the state at
00:00 of D, as a record map dated D is.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from sim.history_matching import (
    Prior,
    Target,
    Wave,
    history_match,
    posterior_sample,
    to_params,
)
from sim.posterior import Posterior

SEARCH_PATH = Path(__file__).resolve().parents[1] / "calibration" / "record_search.toml"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "calibration" / "record_fit"

# A place whose first change of hands the model puts after the window's end counts as falling
# on the end: the record cannot tell later dates apart either (censoring).
NEVER = math.inf

MapFn = Callable[[Callable, list[tuple]], list]


def serial_map(fn: Callable, tasks: list[tuple]) -> list:
    """Run every task in this process (the default when no executor is given)."""
    return [fn(*t) for t in tasks]


@dataclass(frozen=True)
class Window:
    """One year of the fit: its scenario, start and end (the last map date)."""

    name: str
    scenario: str
    start: date
    end: date
    level: float | None  # ISW's gain for the window, or None to take the record's
    level_sd: float  # relative observation s.d. of the level
    ukraine: bool  # whether Ukraine's gain over the window is an output

    def month_edges(self) -> list[date]:
        """The 1st of each month after the start, and the end (:func:`sim.fit.month_edges`)."""
        from sim.fit_measures import month_edges

        return month_edges(self.start, self.end)[1:]


@dataclass(frozen=True)
class Search:
    """What ``calibration/record_search.toml`` says: priors, windows, places and budget."""

    priors: tuple[Prior, ...]
    windows: tuple[Window, ...]
    places: tuple[str, ...]
    seed: int
    budget: dict
    errors: dict
    digest: str
    # Outputs the model cannot reproduce yet, each with its reason ([structural] in the TOML):
    # they stay in the report and its checks, but rule out no parameters (infinite discrepancy).
    structural: tuple[str, ...] = ()


def load_search(path: Path = SEARCH_PATH, quick: bool = False) -> Search:
    """Read the search settings (``[quick]`` replaces the budget and shortens the windows)."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    priors = tuple(
        Prior(name, float(p["low"]), float(p["high"]), bool(p.get("log", False)))
        for name, p in raw["params"].items()
    )
    budget = dict(raw["budget"])
    windows = []
    for name, w in raw["windows"].items():
        start, end = w["start"], w["end"]
        if quick:  # the record has maps on the 1st of each month: end on one
            months = start.month - 1 + int(raw["quick"]["window_months"])
            end = date(start.year + months // 12, months % 12 + 1, 1)
        windows.append(
            Window(
                name=name,
                scenario=str(w["scenario"]),
                start=start,
                end=end,
                level=None if quick else float(w["level"]),
                level_sd=float(w["level_sd"]),
                ukraine=bool(w.get("ukraine", False)),
            )
        )
    if quick:
        budget.update({k: v for k, v in raw["quick"].items() if k != "window_months"})
    digest = hashlib.sha256(json.dumps([raw, quick], default=str).encode()).hexdigest()[:16]
    return Search(
        priors=priors,
        windows=tuple(windows),
        places=tuple(raw["places"]["names"]),
        seed=int(raw["seed"]),
        budget=budget,
        errors=dict(raw["errors"]),
        digest=digest,
        structural=tuple(raw.get("structural", {})),
    )


# --------------------------------------------------------------------------------------------
# One run: the raw numbers an output vector is made of


def run_window(
    scenario: str, overrides: dict[str, float], seed: int, start: date, end: date, places: tuple
) -> dict:
    """Run one replication over a window and return its raw outcomes.

    Returns
    -------
    dict
        ``cum``: Russia's gain since the start at each month edge (km2); ``ukraine``: Ukraine's
        gain at the end; ``falls``: days from the start to each place's first change of hands
        (``inf`` if none by the end).
    """
    from sim.fit_measures import month_edges
    from sim.model import FrontlineModel

    model = FrontlineModel(scenario, rng=seed, theatre=None, **overrides)
    edges = month_edges(start, end)[1:]
    model.run(until=end)
    table = model.recorder.table().set_index("day")
    last = int(table.index.max())
    days = [min((e - model.start).days, last) for e in edges]
    falls = {}
    for place in places:
        when = model.falls.get(_alias(place))
        falls[place] = (when - model.start).days if when is not None and when <= end else NEVER
    return {
        "cum": table.loc[days, "russia_gain_km2"].to_numpy(float).tolist(),
        "ukraine": float(table.loc[days[-1], "ukraine_gain_km2"]),
        "falls": falls,
    }


# --------------------------------------------------------------------------------------------
# The record's side, and turning runs into output vectors


@dataclass(frozen=True)
class Outputs:
    """The output vector of a window: names, the record's targets, and how to compute them."""

    window: Window
    targets: tuple[Target, ...]
    places: tuple[str, ...]  # the places among the outputs, in order

    def vector(self, run: dict) -> np.ndarray:
        """One run's outputs, in the order of :attr:`targets`."""
        w = self.window
        cum = np.asarray(run["cum"], dtype=float)
        total = cum[-1]
        out = [math.log(max(total, 1.0))]
        steps = np.diff(np.concatenate([[0.0], cum]))
        out += list(steps / total) if total > 0 else [0.0] * len(steps)
        if w.ukraine:
            out.append(math.log(run["ukraine"] + UKRAINE_FLOOR_KM2))
        horizon = (w.end - w.start).days
        out += [min(run["falls"][p], horizon) for p in self.places]
        return np.array(out)


# Ukraine's gain enters as log(gain + 50 km2): a run with none still has a finite output, and 50
# km2 is below anything the record's 2023 shows.
UKRAINE_FLOOR_KM2 = 50.0


def record_outputs(search: Search, window: Window) -> Outputs:
    """The record's values of a window's outputs, with their observation errors."""
    from sim.record import cumulative_gain, load_record, place_changes
    from sim.theatre.theatre import Theatre

    t = Theatre.load()
    rec = load_record(theatre=t)
    err = search.errors
    edges = window.month_edges()
    cum = cumulative_gain(rec, t, window.start.isoformat(), [e.isoformat() for e in edges])
    total = float(cum[-1])
    level = window.level if window.level is not None else total
    targets = [Target(f"{window.name} level", math.log(level), window.level_sd, err["level_disc"])]
    steps = np.diff(np.concatenate([[0.0], cum])) / total
    for e, s in zip(edges, steps, strict=True):
        month = (e - timedelta(days=1)).strftime("%Y-%m")
        targets.append(Target(f"{month} share", float(s), err["share_obs"], err["share_disc"]))
    if window.ukraine:
        from sim.metrics import gains

        g = gains(
            t.area_km2, t.country, rec.at(window.start.isoformat()), rec.at(window.end.isoformat())
        )
        targets.append(
            Target(
                f"{window.name} ukraine",
                math.log(g["ukraine_gain_km2"] + UKRAINE_FLOOR_KM2),
                err["ukraine_obs"],
                err["ukraine_disc"],
            )
        )
    horizon = (window.end - window.start).days
    changes = place_changes(rec, t, list(search.places))
    places = []
    for place in search.places:
        node = t.node_by_name(_alias(place))
        if rec.at(window.start.isoformat())[node] != 0:
            continue  # Russian-held at the start: it cannot fall to Russia in this window
        first = changes[(changes.place == place) & (changes["from"] >= window.start)]
        first = first[first["to"] <= window.end]
        day = float((first["mid"].iloc[0] - window.start).days) if len(first) else float(horizon)
        places.append(place)
        targets.append(Target(f"{place} falls", day, err["date_obs"], err["date_disc"]))
    targets = [
        Target(t.name, t.value, t.sd_obs, math.inf) if t.name in search.structural else t
        for t in targets
    ]
    return Outputs(window, tuple(targets), tuple(places))


def _alias(place: str) -> str:
    from sim.record import PLACE_ALIASES

    return PLACE_ALIASES.get(place, place)


# --------------------------------------------------------------------------------------------
# The calibration


def replication_seeds(search: Search, replications: int) -> list[int]:
    """Seeds shared by every parameter set (common random numbers)."""
    from sim.batch import replication_seeds as spawn

    return spawn(search.seed, replications)


def model_inputs_digest(search: Search) -> str:
    """What a saved wave's runs depended on besides its design: the windows' scenarios (their
    content hashes) and the model's code (the package's Python sources). A wave saved before
    either changed is run again, never reused."""
    from sim.scenario import find_scenario, load_scenario

    h = hashlib.sha256()
    for w in search.windows:
        h.update(load_scenario(find_scenario(w.scenario)).content_hash.encode())
    package = Path(__file__).resolve().parent
    for source in sorted(package.rglob("*.py")):
        h.update(source.relative_to(package).as_posix().encode())
        h.update(source.read_bytes())
    return h.hexdigest()


def make_simulator(
    search: Search, outputs: Sequence[Outputs], out_dir: Path, map_fn: MapFn, log=None
) -> Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]:
    """The ``simulate(values, wave)`` history matching calls: runs every parameter set on every
    window with the same seeds, saves the wave, and reuses a saved wave of the same design."""
    reps = int(search.budget["replications"])
    seeds = replication_seeds(search, reps)
    names = [p.name for p in search.priors]

    inputs = model_inputs_digest(search)

    def simulate(values: np.ndarray, wave: int) -> tuple[np.ndarray, np.ndarray]:
        path = out_dir / f"wave_{wave + 1}.npz"
        key = hashlib.sha256(values.tobytes() + (search.digest + inputs).encode()).hexdigest()
        if path.exists():
            saved = np.load(path)
            if str(saved["key"]) == key:
                if log:
                    log(f"wave {wave + 1}: reusing {path.name}")
                return saved["means"], saved["variances"]
        tasks = [
            (
                o.window.scenario,
                dict(zip(names, map(float, v), strict=True)),
                s,
                o.window.start,
                o.window.end,
                o.places,
            )
            for v in values
            for o in outputs
            for s in seeds
        ]
        runs = map_fn(run_window, tasks)
        per = len(outputs) * reps
        means, variances = [], []
        for i in range(len(values)):
            chunk = runs[i * per : (i + 1) * per]
            vec = []
            for j, o in enumerate(outputs):
                vec.append(np.array([o.vector(r) for r in chunk[j * reps : (j + 1) * reps]]))
            stacked = np.concatenate(vec, axis=1)
            means.append(stacked.mean(axis=0))
            var = stacked.var(axis=0, ddof=1) / reps if reps > 1 else np.zeros(stacked.shape[1])
            variances.append(var)
        means_a, var_a = np.array(means), np.array(variances)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, key=key, values=values, means=means_a, variances=var_a)
        tmp.replace(path)
        return means_a, var_a

    return simulate


def simulated_distance(
    means: np.ndarray, variances: np.ndarray, targets: Sequence[Target]
) -> np.ndarray:
    """Chi-square distance of simulated replication means to the record, one per parameter set:
    sum_j (z_j - mean_j)^2 / (V_obs + V_disc + V_rep), with structural outputs weighing nothing.

    >>> t = [Target("x", 10.0, 3.0, 0.0), Target("y", 0.0, 1.0, math.inf)]
    >>> simulated_distance(np.array([[13.0, 9.0]]), np.zeros((1, 2)), t).item()
    1.0
    """
    z = np.array([t.value for t in targets])
    v = np.array([t.variance for t in targets])
    return np.sum((z - means) ** 2 / (v + variances), axis=1)


def refine(
    search: Search,
    targets: Sequence[Target],
    simulate: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]],
    pool: np.ndarray,
    wave: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """The posterior sample from simulations, not from the emulator: ABC rejection inside the
    region history matching did not rule out.

    ``refine_points`` candidates drawn uniformly from ``pool`` (unit cube) are run like a wave
    (saved as the next ``wave_K.npz``). Those whose every level lies within ``level_accept``
    standard deviations of its target are eligible, and the ``accept_share`` of the eligible
    (at least ``min_sets`` of them, when there are so many) nearest the record (:func:`simulated_distance`) are the posterior sample, equally weighted. With many outputs
    the emulated likelihood's importance weights collapse onto a handful of candidates whose
    emulated fit the simulator does not confirm; simulating every candidate avoids that.

    Returns the accepted parameter values and their count (the effective sample size).
    """
    b = search.budget
    n = min(int(b["refine_points"]), len(pool))
    unit = pool[np.sort(rng.choice(len(pool), size=n, replace=False))]
    values = to_params(unit, search.priors)
    means, variances = simulate(values, wave)
    distance = simulated_distance(means, variances, targets)
    # The level is the mission's first target: a set whose simulated level lies farther than
    # level_accept standard deviations (observation and discrepancy) from a window's target is
    # not eligible, however well it places the rest.
    eligible = np.ones(n, dtype=bool)
    for j, t in enumerate(targets):
        if t.name.endswith(" level"):
            eligible &= np.abs(means[:, j] - t.value) <= float(b["level_accept"]) * math.sqrt(
                t.variance
            )
    order = np.argsort(distance, kind="stable")
    order = order[eligible[order]]
    if len(order) == 0:
        raise ValueError(
            f"no simulated set has every level within {b['level_accept']} sd of its target"
        )
    # At least min_sets of the eligible (all of them if fewer), so that a batch drawing from
    # the posterior has enough distinct sets.
    share = int(round(float(b["accept_share"]) * len(order)))
    keep = min(len(order), max(1, int(b.get("min_sets", 1)), share))
    best = order[:keep]  # nearest first
    return values[best], np.asarray(float(keep))


@dataclass
class FitResult:
    """What a record calibration produced."""

    search: Search
    outputs: tuple[Outputs, ...]
    waves: list[Wave]
    posterior: Posterior
    ess: float


def calibrate_to_record(
    out_dir: Path,
    *,
    quick: bool = False,
    search_path: Path = SEARCH_PATH,
    map_fn: MapFn = serial_map,
    log: Callable[[str], None] | None = None,
) -> FitResult:
    """Run the waves, draw the posterior sample and write ``posterior.csv`` in ``out_dir``."""
    search = load_search(search_path, quick=quick)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = tuple(record_outputs(search, w) for w in search.windows)
    targets = [t for o in outputs for t in o.targets]
    b = search.budget
    rng = np.random.default_rng(search.seed)
    simulate = make_simulator(search, outputs, out_dir, map_fn, log)
    waves = history_match(
        simulate,
        search.priors,
        targets,
        waves=int(b["waves"]),
        points=int(b["points_per_wave"]),
        candidates=int(b["candidates"]),
        rng=rng,
        cutoff=float(b["cutoff"]),
        k=int(b["kth_largest"]),
        # The levels are the first target: a candidate whose emulated level is implausible is
        # ruled out, whatever its other outputs (k forgives the k - 1 worst of those).
        must_fit=[j for j, t in enumerate(targets) if t.name.endswith(" level")],
        log=log,
    )
    last = waves[-1]
    pool = last.kept if len(last.kept) else last.candidates
    names = tuple(p.name for p in search.priors)
    if "refine_points" in b:
        values, ess = refine(search, targets, simulate, pool, len(waves), rng)
        least = f" (at least {int(b['min_sets'])})" if "min_sets" in b else ""
        how = (
            f"then {int(b['refine_points'])} points of the region not ruled out, simulated, "
            f"the best {float(b['accept_share']):.0%}{least} of those near both levels kept, "
            "by distance"
        )
    else:
        values, ess = posterior_sample(
            last.emulator, pool, search.priors, targets, int(b["posterior_sets"]), rng
        )
        how = "importance-resampled with the emulated likelihood"
    post = Posterior(names, values, str(out_dir / "posterior.csv"))
    header = (
        f"Posterior sample of the record calibration ({len(waves)} waves, "
        f"{int(b['points_per_wave'])} points x {int(b['replications'])} replications each; "
        f"{how}; effective sample size {float(ess):.0f}).\nsearch digest {search.digest}"
    )
    (out_dir / "posterior.csv").write_text(post.to_csv(header), encoding="utf-8")
    result = FitResult(search, outputs, waves, post, float(ess))
    write_calibrated(result, out_dir / "calibrated.toml")
    return result


def write_calibrated(result: FitResult, path: Path) -> None:
    """``calibrated.toml`` of the record fit: the posterior sample it names (which batches draw
    each replication's parameters from), the set nearest the record as ``[params]`` (single
    runs, the view), and each parameter's spread over the sample."""
    from sim.calibration_report import uncertainty_table  # the levels fit's table, one format

    post = result.posterior
    values = np.asarray(post.values)
    lines = [
        "# Calibrated parameters of the record fit, written by `frontline calibrate --record`;",
        "# the scenarios read it through their `calibration` key. Method, budget and fit:",
        "# REPORT.md beside it. Batches draw each replication's set from `posterior`;",
        "# [params] is its first set (after the refinement, the one nearest the record).",
        'posterior = "posterior.csv"',
        "",
        "[params]",
    ]
    lines += [f"{name} = {values[0, j]:.6g}" for j, name in enumerate(post.names)]
    for j, prior in enumerate(result.search.priors):
        lines += uncertainty_table(
            prior.name, values[:, j], (prior.low, prior.high), "spread over the posterior sample"
        )
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


__all__ = [
    "FitResult",
    "Outputs",
    "Search",
    "Window",
    "calibrate_to_record",
    "write_calibrated",
    "load_search",
    "record_outputs",
    "run_window",
]
