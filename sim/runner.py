"""One run: a pure function of (theatre, scenario, seed) returning plain data.

Everything above a single run (batches, calibration, reports) composes :func:`run_scenario`
and never reaches inside the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from sim import __version__
from sim.metrics import hub_control
from sim.model import FrontlineModel
from sim.outputs import atomic_write, write_checksums, write_json
from sim.scenario import ScenarioSpec
from sim.units import SIDES

SUMMARY_OUTCOMES = (
    "russia_gain_km2",
    "ukraine_gain_km2",
    "russia_net_gain_km2",
    "russia_held_in_ukraine_km2",
    "ukraine_held_in_russia_km2",
    "front_length_km",
    "defenders_per_km",
    "ukraine_losses_cum",
    "russia_losses_cum",
    "ukraine_captured_cum",
    "russia_captured_cum",
    "ukraine_personnel",
    "russia_personnel",
)


@dataclass
class RunResult:
    """The outputs of one run.

    Attributes
    ----------
    summary : dict
        End-of-run outcomes (see :func:`summarise`), JSON-ready.
    daily : pandas.DataFrame
        One row per simulated date (the start included) of the daily metrics.
    events : pandas.DataFrame
        One row per change of control: date, node, name, from_side, to_side.
    """

    summary: dict
    daily: pd.DataFrame
    events: pd.DataFrame

    def write(self, out_dir: Path) -> None:
        """Write ``summary.json``, ``daily.parquet``, ``events.csv`` and their SHA-256
        (``checksums.json``) into ``out_dir``.

        Each file is written to a temporary name and renamed, so a killed run never leaves a
        half-written file behind.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "summary.json", self.summary)
        atomic_write(out / "daily.parquet", lambda p: self.daily.to_parquet(p, index=False))
        atomic_write(out / "events.csv", lambda p: self.events.to_csv(p, index=False))
        write_checksums(out, ["summary.json", "daily.parquet", "events.csv"])


def run_scenario(spec: ScenarioSpec | str, seed: int = 0, until: date | None = None) -> RunResult:
    """Run one scenario with one seed and return its outputs.

    Parameters
    ----------
    spec : ScenarioSpec or str
        A loaded scenario, or a name in ``scenarios/``.
    seed : int
        Seed of the model's random generator.
    until : datetime.date, optional
        Stop at this date instead of the scenario's end.

    Returns
    -------
    RunResult

    Examples
    --------
    >>> r = run_scenario("baseline_2024", seed=1, until=date(2024, 2, 1))  # doctest: +SKIP
    >>> r.summary["days"]                                                  # doctest: +SKIP
    31
    """
    model = FrontlineModel(spec, rng=seed)
    model.run(until)
    return collect(model, seed)


def collect(model: FrontlineModel, seed: int) -> RunResult:
    """Turn a finished model into a :class:`RunResult`."""
    names = model.theatre.name
    events = pd.DataFrame(
        [
            (when.isoformat(), node, names[node], SIDES[was], SIDES[now])
            for when, node, was, now in model.state.events
        ],
        columns=["date", "node", "name", "from_side", "to_side"],
    )
    return RunResult(summarise(model, seed), model.recorder.table(), events)


def summarise(model: FrontlineModel, seed: int) -> dict:
    """End-of-run outcomes of a model, as a JSON-ready dict."""
    spec = model.spec
    summary = {
        "scenario": spec.name,
        "seed": int(seed),
        "start": spec.start.isoformat(),
        "end": model.date.isoformat(),
        "days": model.day,
        "content_hash": spec.content_hash,
        "version": __version__,
    }
    for key in SUMMARY_OUTCOMES:
        summary[key] = round(float(getattr(model.today, key)), 3)
    first = model.recorder.first_collapse
    summary["collapse"] = first is not None
    summary["collapse_day"] = first
    summary["hubs"] = hub_control(model)
    summary["falls"] = {name: d.isoformat() for name, d in sorted(model.state.falls.items())}
    return summary


def format_summary(summary: dict) -> str:
    """A short human-readable account of a run's summary."""
    held = summary["hubs"]
    lost = sorted(h for h, side in held.items() if side == "russia")
    lines = [
        f"{summary['scenario']} (seed {summary['seed']}): {summary['start']} -> {summary['end']}, "
        f"{summary['days']} days",
        f"  Russian gains {summary['russia_gain_km2']:,.0f} km2, Ukrainian gains "
        f"{summary['ukraine_gain_km2']:,.0f} km2, net {summary['russia_net_gain_km2']:+,.0f} km2",
        f"  Ukraine holds {summary['ukraine_held_in_russia_km2']:,.0f} km2 inside Russia",
        f"  front {summary['front_length_km']:,.0f} km, {summary['defenders_per_km']:,.0f} "
        "Ukrainian line troops per km",
        f"  losses: Russia {summary['russia_losses_cum']:,.0f}, Ukraine "
        f"{summary['ukraine_losses_cum']:,.0f}; collapse: {'yes' if summary['collapse'] else 'no'}",
        f"  hubs held by Russia: {', '.join(lost) if lost else 'none'}",
        f"  {len(summary['falls'])} named places changed hands",
    ]
    return "\n".join(lines)
