"""The record calibration (sim.record_fit): output vectors, targets from the record, and a tiny
calibration that saves its waves and resumes from them."""

import math
from datetime import date

import numpy as np
import pytest

from sim.posterior import load_posterior
from sim.record_fit import SEARCH_PATH, Window, calibrate_to_record, load_search, record_outputs

TINY = """
seed = 7
[params.advance_slowdown]
low = 0.01
high = 0.05
log = true
[params.ukraine_recruit_line_share]
low = 0.3
high = 1.0
[windows.2024]
scenario = "baseline_2024"
start = 2024-01-01
end = 2024-03-01
level = 2700.0
level_sd = 0.05
[places]
names = ["Avdiivka", "Pokrovsk"]
[errors]
level_disc = 0.15
share_obs = 0.02
share_disc = 0.04
ukraine_obs = 0.5
ukraine_disc = 0.3
date_obs = 5.0
date_disc = 30.0
[budget]
waves = 2
points_per_wave = 4
replications = 1
candidates = 200
cutoff = 3.0
kth_largest = 1
posterior_sets = 10
[quick]
window_months = 1
waves = 1
points_per_wave = 3
replications = 1
candidates = 100
posterior_sets = 5
"""


def test_month_edges_end_on_the_windows_last_map():
    w = Window("2024", "baseline_2024", date(2024, 1, 1), date(2024, 11, 20), None, 0.0, False)
    edges = w.month_edges()
    assert edges[0] == date(2024, 2, 1) and edges[-2] == date(2024, 11, 1)
    assert edges[-1] == date(2024, 11, 20) and len(edges) == 11


def test_record_targets_shares_add_up_and_places_are_censored_or_dated():
    search = load_search(SEARCH_PATH)
    out = {w.name: record_outputs(search, w) for w in search.windows}
    for o in out.values():
        shares = [t.value for t in o.targets if t.name.endswith("share")]
        assert len(shares) == len(o.window.month_edges())
        assert sum(shares) == pytest.approx(1.0)
    horizon_2024 = (date(2024, 11, 20) - date(2024, 1, 1)).days
    dates = {t.name: t.value for t in out["2024"].targets if t.name.endswith("falls")}
    assert dates["Pokrovsk falls"] == horizon_2024  # it held: censored at the window's end
    assert 30 < dates["Avdiivka falls"] < 60  # mid-February 2024
    assert "Bakhmut falls" not in dates  # Russian-held on 2024-01-01: not an output of 2024
    # The 2023 level is ISW's 465 km2, not the record's own map difference.
    level = next(t for t in out["2023"].targets if t.name == "2023 level")
    assert level.value == pytest.approx(math.log(465.0))


def test_output_vector_from_a_hand_made_run():
    search = load_search(SEARCH_PATH)
    o = record_outputs(search, search.windows[1])
    n = len(o.window.month_edges())
    cum = np.linspace(100.0, 2000.0, n)
    falls = dict.fromkeys(o.places, math.inf)
    falls["Avdiivka"] = 47
    v = o.vector({"cum": cum.tolist(), "ukraine": 0.0, "falls": falls})
    assert v[0] == pytest.approx(math.log(2000.0))
    assert v[1 : 1 + n].sum() == pytest.approx(1.0)
    assert v[1] == pytest.approx(100.0 / 2000.0)
    horizon = (o.window.end - o.window.start).days
    places = dict(zip(o.places, v[1 + n :], strict=True))
    assert places["Avdiivka"] == 47 and places["Pokrovsk"] == horizon


def test_tiny_calibration_saves_waves_and_resumes_without_rerunning(tmp_path):
    search = tmp_path / "search.toml"
    search.write_text(TINY, encoding="utf-8")
    calls = []

    def counting_map(fn, tasks):
        calls.append(len(tasks))
        return [fn(*t) for t in tasks]

    first = calibrate_to_record(
        tmp_path / "out", quick=True, search_path=search, map_fn=counting_map
    )
    assert calls == [3]  # 3 points x 1 window x 1 replication
    assert (tmp_path / "out" / "wave_1.npz").exists()
    post = load_posterior(tmp_path / "out" / "posterior.csv")
    assert post.names == ("advance_slowdown", "ukraine_recruit_line_share") and len(post) == 5
    again = calibrate_to_record(
        tmp_path / "out", quick=True, search_path=search, map_fn=counting_map
    )
    assert calls == [3]  # nothing re-run: the saved wave was reused
    np.testing.assert_array_equal(again.posterior.values, first.posterior.values)


def test_calibrate_record_command_writes_a_posterior(tmp_path, capsys):
    from sim.cli import main

    search = tmp_path / "search.toml"
    search.write_text(TINY, encoding="utf-8")
    out = tmp_path / "fit"
    argv = ["calibrate", "--record", "--quick", "--search", str(search), "--out", str(out)]
    assert main([*argv, "--workers", "1"]) == 0
    assert len(load_posterior(out / "posterior.csv")) == 5
    assert "effective sample size" in capsys.readouterr().out
    # A search file without its [budget] is a clear error naming the file, before any run.
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace("[budget]", "[budgets]"), encoding="utf-8")
    assert main(["calibrate", "--record", "--search", str(bad), "--out", str(out)]) == 2
    assert str(bad) in capsys.readouterr().err


def test_a_saved_wave_is_run_again_when_the_scenario_or_the_code_changed(tmp_path, monkeypatch):
    import dataclasses

    import sim.record_fit as rf
    import sim.scenario

    search_path = tmp_path / "search.toml"
    search_path.write_text(TINY, encoding="utf-8")
    search = load_search(search_path, quick=True)
    before = rf.model_inputs_digest(search)
    assert rf.model_inputs_digest(search) == before  # deterministic
    real = sim.scenario.load_scenario
    monkeypatch.setattr(
        sim.scenario,
        "load_scenario",
        lambda *a, **k: dataclasses.replace(real(*a, **k), content_hash="changed"),
    )
    assert rf.model_inputs_digest(search) != before
    monkeypatch.undo()
    calls = []

    def counting_map(fn, tasks):
        calls.append(len(tasks))
        return [fn(*t) for t in tasks]

    out = tmp_path / "out"
    calibrate_to_record(out, quick=True, search_path=search_path, map_fn=counting_map)
    monkeypatch.setattr(rf, "model_inputs_digest", lambda s: "another model")
    calibrate_to_record(out, quick=True, search_path=search_path, map_fn=counting_map)
    assert calls == [3, 3]  # the saved wave was not reused for the changed model
