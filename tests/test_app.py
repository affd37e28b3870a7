"""The view's model, controls, map and charts, without a browser (``sim.app``)."""

from __future__ import annotations

from datetime import date

import pytest

pytest.importorskip("solara", reason="the view needs the viz extra")

from sim import app  # noqa: E402
from sim.cli import main  # noqa: E402
from sim.params import PARAMS  # noqa: E402


@pytest.fixture(scope="module")
def spec():
    return app.resolve_scenario("baseline_2024", app.default_theatre())


def test_sliders_start_at_the_scenario_values_with_registry_labels(spec):
    params = app.model_params(spec)
    assert params["spec"]["value"] == "baseline_2024"
    assert "baseline_2024" in params["spec"]["values"]
    for key in ("russia_shells_per_day", "russia_recruits_per_day"):
        assert key in params
    for key in app.VIEW_PARAMS:
        p, s = PARAMS[key], params[key]
        assert (s["min"], s["max"]) == (p.low, p.high)
        assert p.unit in s["label"] and key in s["label"]
        assert s["value"] == app.scenario_value(spec, key)
    # a scheduled input starts at its first scheduled value, not at [params]
    first = sorted(spec.schedule["russia_shells_per_day"])[0][1]
    assert params["russia_shells_per_day"]["value"] == first


def test_untouched_sliders_keep_the_scenario_and_moved_ones_override(spec):
    start = {k: app.scenario_value(spec, k) for k in app.VIEW_PARAMS}
    app.model_params(spec)  # records SLIDER_START
    m = app.ViewModel("baseline_2024", rng="3", **start)
    assert m.view_overrides == {} and m.view_seed == 3
    assert "russia_shells_per_day" in m.spec.schedule  # the schedule survives
    m = app.ViewModel("baseline_2024", rng=3, **{**start, "advance_slowdown": 0.01})
    assert m.view_overrides == {"advance_slowdown": 0.01}
    assert m.p.advance_slowdown == 0.01
    assert "advance_slowdown=0.01" in app._run_label(m)


def test_reset_arguments_from_solaraviz_are_accepted():
    # Mesa 3.5's Reset passes a mesa Scenario and the seed as typed text.
    from mesa.experimental.scenarios import Scenario

    m = app.ViewModel(spec="baseline_2024", rng="x7", scenario=Scenario(rng=None))
    assert m.view_seed == 0 and "not a whole number" in m.view_note


def test_map_and_charts_render(spec):
    m = app.ViewModel("baseline_2024", rng=0)
    m.step()
    for png in (app.map_png(m), app.charts_png(m)):
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_calibration_targets(tmp_path):
    f = tmp_path / "targets.toml"
    f.write_text(
        '[[target]]\nscenario = "s"\noutcome = "russia_gain_km2"\nuntil = 2024-11-20\n'
        'value = 2700.0\nsource = "ISW: about 2,700 km2"\n'
        '[[target]]\nscenario = "s"\noutcome = "russia_gain_km2"\nvalue = "bad"\n'
    )
    assert app.calibration_targets("s", f) == [
        ("russia_gain_km2", 2700.0, date(2024, 11, 20), "ISW")
    ]
    assert app.calibration_targets("other", f) == []
    assert app.calibration_targets("s", tmp_path / "absent.toml") == []


def test_view_rejects_an_unknown_scenario_before_starting(capsys):
    assert main(["view", "no_such_scenario"]) == 2
    assert "no_such_scenario" in capsys.readouterr().err
