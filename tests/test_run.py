"""End to end on the real theatre: `frontline run`, its outputs, determinism and plausibility."""

import json
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.model import FrontlineModel, default_theatre, resolve_scenario
from sim.params import PARAMS
from sim.runner import run_scenario
from sim.units import Unit

SUMMARY_KEYS = {
    "scenario",
    "seed",
    "start",
    "end",
    "days",
    "russia_gain_km2",
    "ukraine_gain_km2",
    "russia_net_gain_km2",
    "ukraine_held_in_russia_km2",
    "front_length_km",
    "hubs",
    "falls",
}


def run_cli(tmp_path, name: str, *args: str):
    out = tmp_path / name
    code = main(["run", "baseline_2024", "--until", "2024-02-15", "--out", str(out), *args])
    assert code == 0
    return out


def test_frontline_run_writes_its_outputs(tmp_path, capsys):
    out = run_cli(tmp_path, "a", "--seed", "3")
    printed = capsys.readouterr().out
    assert "baseline_2024 (seed 3)" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["start"] == "2024-01-01" and summary["end"] == "2024-02-15"
    assert summary["days"] == 45
    assert summary["seed"] == 3
    assert summary["hubs"]["Kupiansk"] == "ukraine" and summary["hubs"]["Donetsk"] == "russia"
    daily = pd.read_parquet(out / "daily.parquet")
    assert len(daily) == 46  # the start and each day after it
    assert daily["date"].iloc[-1] == pd.Timestamp("2024-02-15")
    assert daily["russia_gain_km2"].iloc[-1] == pytest.approx(summary["russia_gain_km2"], abs=1e-3)
    events = pd.read_csv(out / "events.csv")
    assert list(events.columns) == ["date", "node", "name", "from_side", "to_side"]
    assert len(events) > 0  # Russia's 2024 offensive takes ground within six weeks
    # Every named place in falls changed hands on that date according to events.csv.
    named = events.dropna(subset=["name"]).groupby("name")["date"].min()
    assert summary["falls"] == named.to_dict()
    # The gains are the sum of the areas of the nodes that changed hands (no re-flips here).
    from sim.model import default_theatre

    area = default_theatre().area_km2
    ru = events[(events.from_side == "ukraine") & (events.to_side == "russia")].node
    ua = events[(events.from_side == "russia") & (events.to_side == "ukraine")].node
    net = area[ru.to_numpy()].sum() - area[ua.to_numpy()].sum()
    assert summary["russia_net_gain_km2"] == pytest.approx(net, abs=1e-2)


def test_same_seed_identical_outputs_different_seed_differs(tmp_path):
    a = run_cli(tmp_path, "a", "--seed", "11")
    b = run_cli(tmp_path, "b", "--seed", "11")
    c = run_cli(tmp_path, "c", "--seed", "12")
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    assert (a / "events.csv").read_bytes() == (b / "events.csv").read_bytes()
    assert pd.read_parquet(a / "daily.parquet").equals(pd.read_parquet(b / "daily.parquet"))
    assert (a / "events.csv").read_bytes() != (c / "events.csv").read_bytes()


def test_set_override_reaches_the_model(tmp_path):
    base = run_scenario("baseline_2024", seed=1, until=date(2024, 3, 1))
    calibrated = FrontlineModel("baseline_2024", rng=1).p.advance_slowdown
    faster = min(2 * calibrated, PARAMS["advance_slowdown"].high)
    fast = FrontlineModel("baseline_2024", rng=1, advance_slowdown=faster)
    fast.run(date(2024, 3, 1))
    assert fast.p.advance_slowdown == faster
    assert fast.russia_gain_km2 > base.summary["russia_gain_km2"]


def test_units_and_state_on_the_real_theatre():
    m = FrontlineModel("baseline_2024", rng=0)
    units = list(m.agents_by_type[Unit])
    assert 250 <= len(units) <= 400  # a few hundred brigades and regiments
    sides = np.array([u.side for u in units])
    nodes = np.array([u.node for u in units])
    assert (m.control[nodes] == sides).all()
    assert m.date == date(2024, 1, 1)
    m.run_for(3)
    assert m.date == date(2024, 1, 4)
    assert len(m.recorder.table()) == 4


@pytest.mark.slow
def test_2024_defaults_gain_hundreds_to_thousands_not_zero_not_runaway():
    """Before calibration, the 2024 offensive with default parameters takes between a few hundred
    and a few thousand km2 by 2024-11-20 in every one of three seeds."""
    for seed in range(3):
        r = run_scenario("baseline_2024", seed=seed, until=date(2024, 11, 20))
        assert 300 < r.summary["russia_gain_km2"] < 6000, r.summary["russia_gain_km2"]


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in (Path(__file__).parents[1] / "scenarios").glob("*.toml"))
)
def test_every_committed_scenario_loads_and_runs(name):
    """Each scenario file is valid against the registry and the theatre, and steps."""
    spec = resolve_scenario(name, default_theatre())
    m = FrontlineModel(spec, rng=0)
    m.run_for(3)
    assert m.date == spec.start + timedelta(days=3)
    assert m.russia_held_in_ukraine_km2 > 0


def test_hold_draws_ground_the_polygons_lack():
    """hubs_2025 starts from the 2024-11-20 polygons plus the Kursk salient (a [[hold]] of 15 km
    around Sudzha on Russian soil): Ukraine holds about pi * 15^2 km2 inside Russia."""
    m = FrontlineModel("hubs_2025", rng=0)
    assert 0.8 * math.pi * 15**2 < m.ukraine_held_in_russia_km2 < 1.1 * math.pi * 15**2
    sudzha = m.theatre.node_by_name("Sudzha")
    assert m.initial_control[sudzha] == 0 and m.theatre.control("2024-11-20")[sudzha] == 1
    # The hold stays on Russian soil: no Ukrainian cell changed hands because of it.
    in_ua = m.theatre.country == 0
    assert (m.initial_control[in_ua] == m.theatre.control("2024-11-20")[in_ua]).all()


def test_hold_bad_input_names_file_key_and_range(tmp_path):
    from sim.scenario import ScenarioError, load_scenario

    base = Path(__file__).parents[1] / "scenarios" / "hubs_2025.toml"
    bad = tmp_path / "bad.toml"
    bad.write_text(
        f'extends = "{base}"\n[[hold]]\nside = "ukraine"\nplace = "Sudzha"\nradius_km = 500\n'
    )
    with pytest.raises(
        ScenarioError, match=r"bad.toml: hold\[0\].radius_km = 500: allowed range is \(0, 100\] km"
    ):
        load_scenario(bad)
    bad.write_text(
        f'extends = "{base}"\n[[hold]]\nside = "ukraine"\nplace = "Sudja"\nradius_km = 5\n'
    )
    with pytest.raises(
        ScenarioError, match=r"hold\[0\].place = .Sudja.: not a theatre place name.*Sudzha"
    ):
        resolve_scenario(bad, default_theatre())
