"""A forecast's stated assumptions (issue 12, no look-ahead): scenarios declare them, files that
extend add their own, batches keep them and reports state them."""

from datetime import timedelta

from sim.batch import run_batch
from sim.report import write_report
from sim.scenario import find_scenario, load_scenario


def test_an_extending_scenario_adds_its_assumptions_to_its_parents():
    hubs = load_scenario(find_scenario("hubs_2025"))
    ceasefire = load_scenario(find_scenario("ceasefire"))
    assert len(hubs.assumptions) >= 3
    assert ceasefire.assumptions[: len(hubs.assumptions)] == hubs.assumptions
    assert len(ceasefire.assumptions) == len(hubs.assumptions) + 1
    # Scenarios that state none have no key in their content, so their hash does not move.
    base = load_scenario(find_scenario("baseline_2024"))
    assert base.assumptions == () and "assumptions" not in base.to_dict()
    assert "assumptions" in hubs.to_dict()


def test_a_batch_report_states_the_assumptions(tmp_path):
    spec = load_scenario(find_scenario("ceasefire"))
    spec = spec.with_end(spec.start + timedelta(days=3))
    result = run_batch(spec, 1, seed=1, workers=1, out=tmp_path / "b")
    assert result.summary["assumptions"] == list(spec.assumptions)
    text = write_report(tmp_path / "b", out=tmp_path / "r").read_text(encoding="utf-8")
    assert "**ceasefire assumes:**" in text
    for line in spec.assumptions:
        assert f"- {line}" in text


def test_assumptions_that_are_not_a_list_of_text_are_refused(tmp_path):
    import pytest

    from sim.scenario import ScenarioError

    base = (find_scenario("baseline_2024")).read_text(encoding="utf-8")
    base = base.replace('calibration = "../calibration/calibrated.toml"\n', "")
    for bad in ('"one string"', "[]", '["ok", 3]'):
        path = tmp_path / "s.toml"
        path.write_text(f"assumptions = {bad}\n" + base, encoding="utf-8")
        with pytest.raises(ScenarioError, match="assumptions"):
            load_scenario(path)
