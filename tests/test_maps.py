"""Maps of control from batch tables, holdings on dates, sector gains, and the own-soil rule.

The report rebuilds who holds each cell on any date from a batch's ``nodes.parquet`` (the
start map) and ``events.parquet`` (every change of hands). These tests check the rebuilt maps
against the model's own control arrays, and the report's tables against the batch tables.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import report
from sim.batch import run_batch
from sim.cli import main
from sim.model import FrontlineModel, initial_control
from sim.scenario import ScenarioError, find_scenario, load_scenario
from sim.units import RUSSIA, SIDES

UNTIL = date(2024, 2, 20)
MID = date(2024, 2, 1)
REPS = 2


@pytest.fixture(scope="module")
def spec():
    return load_scenario(find_scenario("baseline_2024"))


@pytest.fixture(scope="module")
def batch(spec, tmp_path_factory):
    out = tmp_path_factory.mktemp("maps") / "b"
    result = run_batch(spec, REPS, seed=4, workers=1, until=UNTIL, out=out, progress=False)
    return result, out


def test_rebuilt_maps_equal_the_models_control(spec, batch):
    result, out = batch
    nodes = pd.read_parquet(out / "nodes.parquet")
    events = pd.read_parquet(out / "events.parquet")
    assert len(events) > 20  # the two runs changed hands often enough to test anything
    for i, seed in enumerate(result.runs["seed"]):
        m = FrontlineModel(spec.with_end(UNTIL), rng=int(seed))
        assert (nodes["initial_side"].to_numpy() == np.asarray(SIDES)[m.initial_control]).all()
        names = np.asarray(m.sectors.names, dtype=object)[m.sectors.of_node]
        assert (nodes["sector"].to_numpy() == names).all()
        for when in (MID, UNTIL):
            m.run(when)
            held = report.russia_holds(nodes, events, REPS, when)[i]
            np.testing.assert_array_equal(held, m.control == RUSSIA)
    # On the start date nothing has changed hands yet.
    start = report.russia_holds(nodes, events, REPS, spec.start)
    assert (start == (nodes["initial_side"].to_numpy() == "russia")).all()


def test_sector_gains_add_up_to_the_russian_gains(batch):
    result, out = batch
    nodes = pd.read_parquet(out / "nodes.parquet")
    events = pd.read_parquet(out / "events.parquet")
    by_sector = report.sector_gains(nodes, report.russia_holds(nodes, events, REPS, UNTIL))
    assert set(by_sector.columns) == set(nodes["sector"])
    np.testing.assert_allclose(
        by_sector.sum(axis=1).to_numpy(), result.runs["russia_gain_km2"].to_numpy(), atol=1e-3
    )
    assert (by_sector >= 0).all().all()


def test_occupied_population_and_russian_soil_make_the_daily_russian_population(batch):
    result, out = batch
    nodes = pd.read_parquet(out / "nodes.parquet")
    events = pd.read_parquet(out / "events.parquet")
    pop = nodes["population"].to_numpy()
    on_russian_soil = nodes["country"].to_numpy() == "russia"
    for when in (MID, UNTIL):
        held = report.russia_holds(nodes, events, REPS, when)
        in_ukraine = report.occupied_population(nodes, held)
        in_russia = (held & on_russian_soil) @ pop
        daily = result.daily[result.daily["date"] == pd.Timestamp(when)]
        np.testing.assert_array_equal(in_ukraine + in_russia, daily["russia_population"])
        assert (in_ukraine > 1_000_000).all()  # Donetsk, Luhansk, Mariupol...


def test_report_holdings_standing_and_maps(batch, tmp_path):
    result, out = batch
    dates = "2024-01-10,2024-02-01,2024-02-20"
    rep = tmp_path / "rep"
    assert main(["report", str(out), "--out", str(rep), "--dates", dates, "--places",
                 "Avdiivka,Pokrovsk"]) == 0  # fmt: skip
    text = (rep / "report.md").read_text()
    daily = result.daily
    row = daily[daily["date"] == pd.Timestamp(MID)]
    lo, mid, hi = np.percentile(row["russia_held_in_ukraine_km2"], [5, 50, 95])
    assert f"| 2024-02-01 | {mid:,.0f} [{lo:,.0f} to {hi:,.0f}]" in text
    # The chance Ukraine still holds Pokrovsk, from the rebuilt map (it does not fall so early).
    assert "| Pokrovsk | 100% (" in text
    nodes = pd.read_parquet(out / "nodes.parquet")
    events = pd.read_parquet(out / "events.parquet")
    avdiivka = int(nodes.index[nodes["name"] == "Avdiivka"][0])
    k = int((~report.russia_holds(nodes, events, REPS, UNTIL)[:, avdiivka]).sum())
    lo, hi = report.wilson(k, REPS)
    chance = text.split("Chance that Ukraine holds")[1].split("| Avdiivka |")[1].split("\n")[0]
    assert chance.endswith(f"{k / REPS:.0%} ({lo:.0%} to {hi:.0%}) |")
    d = report.enemy_distance_km(
        nodes, report.russia_holds(nodes, events, REPS, UNTIL), ["Pokrovsk"]
    )
    lo, mid, hi = np.percentile(d["Pokrovsk"], [5, 50, 95])
    distance = text.split("Distance from each place")[1].split("| Pokrovsk |")[1].split("\n")[0]
    assert distance.endswith(f"| {mid:.1f} [{lo:.1f} to {hi:.1f}] |")
    for png in ("maps.png", "zoom.png", "holdings.png", "gains.png"):
        assert (rep / png).stat().st_size > 10_000
    assert "Russian gains by sector on 2024-02-20" in text


def test_bad_report_dates_exit_2(batch, capsys):
    _, out = batch
    assert main(["report", str(out), "--dates", "2023-05-01"]) == 2
    assert "outside the batch's dates" in capsys.readouterr().err
    assert main(["report", str(out), "--dates", "2024-13-01"]) == 2
    assert "--dates" in capsys.readouterr().err


def test_initial_control_applies_the_scenarios_holds():
    spec = load_scenario(find_scenario("hubs_2025"))
    m = FrontlineModel(spec, rng=0)
    t = m.theatre
    control = initial_control(t, spec)
    np.testing.assert_array_equal(control, m.initial_control)
    sudzha = t.node_by_name("Sudzha")
    assert t.control("2024-11-20")[sudzha] == RUSSIA  # the polygons lack the salient
    assert control[sudzha] != RUSSIA  # the [[hold]] gives it to Ukraine


def _kursk(tmp_path: Path, own_soil_only: bool) -> Path:
    path = tmp_path / f"kursk_{own_soil_only}.toml"
    base = find_scenario("kursk_2024")
    path.write_text(
        f'extends = "{base}"\nname = "k"\n\n[[sector]]\nname = "Kursk border"\n'
        f"russia_own_soil_only = {str(own_soil_only).lower()}\n"
    )
    return path


def test_own_soil_only_stops_attacks_at_the_border(tmp_path):
    """Without the rule, Russia's Kursk counter-attack (seed 1) rolls on into Sumy oblast;
    with it, Russia takes no cell on Ukrainian soil in that sector."""
    taken = {}
    for flag in (False, True):
        spec = load_scenario(_kursk(tmp_path, flag)).with_end(date(2024, 10, 20))
        m = FrontlineModel(spec, rng=1)
        m.run()
        kursk = m.sectors.index["Kursk border"]
        in_sector = m.sectors.of_node == kursk
        ua_soil = m.theatre.country == 0
        taken[flag] = {
            node
            for _, node, _, to in m.events
            if to == RUSSIA and in_sector[node] and ua_soil[node]
        }
    assert len(taken[False]) > 10
    assert taken[True] == set()


@pytest.mark.parametrize("key", ["russia_own_soil_only", "russia_reserves_sent"])
def test_sector_switches_must_be_booleans(tmp_path, key):
    path = tmp_path / "bad.toml"
    base = find_scenario("kursk_2024")
    path.write_text(f'extends = "{base}"\n\n[[sector]]\nname = "Kursk border"\n{key} = "yes"\n')
    with pytest.raises(ScenarioError, match=rf"bad.toml: sector.*{key}.*true or false"):
        load_scenario(path)


def test_enemy_distance_on_a_hand_made_line():
    """Three cells on a parallel, 0.1 degree of longitude apart: the distance to the other side
    is the spacing in km, 0 once the other side holds the place, in either direction."""
    lat = 48.0
    nodes = pd.DataFrame(
        {
            "name": ["A", "B", "C"],
            "lon": [37.0, 37.1, 37.2],
            "lat": [lat] * 3,
            "initial_side": ["ukraine", "ukraine", "russia"],
        }
    )
    step = 0.1 * 111.32 * np.cos(np.radians(lat))
    held = np.array([[False, False, True], [False, True, True]])
    d = report.enemy_distance_km(nodes, held, ["A", "B", "C"])
    np.testing.assert_allclose(d["A"], [2 * step, step])
    np.testing.assert_allclose(d["B"], [step, 0.0])
    np.testing.assert_allclose(d["C"], [step, 2 * step])  # Ukraine's nearest cell to C
    with pytest.raises(report.ReportError, match="not a node"):
        report.enemy_distance_km(nodes, held, ["Nowhere"])


def test_enemy_distance_agrees_with_the_theatres_projection(batch):
    _, out = batch
    nodes = pd.read_parquet(out / "nodes.parquet")
    events = pd.read_parquet(out / "events.parquet")
    held = report.russia_holds(nodes, events, REPS, UNTIL)
    places = ["Pokrovsk", "Kramatorsk", "Kupiansk"]
    got = report.enemy_distance_km(nodes, held, places)
    t = FrontlineModel("baseline_2024", rng=0).theatre
    xy = np.column_stack([t.x_km, t.y_km])  # the build's equal-area projection
    for p in places:
        k = t.node_by_name(p)
        for i in range(REPS):
            ru = np.flatnonzero(held[i])
            expected = np.hypot(*(xy[ru] - xy[k]).T).min()
            assert got[p][i] == pytest.approx(expected, rel=0.02)
