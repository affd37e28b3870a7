"""Calibration: the history-matching arithmetic, input checks, and a quick search that must bring
a deliberately mis-set toy target closer than the starting parameters."""

import math
from datetime import date

import numpy as np
import pytest

from sim import calibrate as cal
from sim.batch import replication_seeds
from sim.cli import main
from sim.runner import run_scenario
from sim.scenario import load_scenario


def test_implausibility_by_hand():
    t = [
        cal.Target("a", "s", "x", date(2024, 1, 2), 100.0, 0.05, ""),
        cal.Target("b", "s", "x", date(2024, 1, 2), 1000.0, 0.05, ""),
    ]
    values = np.array([[[90.0, 110.0], [1300.0, 1300.0]]])  # 1 point, 2 targets, 2 replications
    got = cal.implausibility(values, t, discrepancy=0.1)
    # target a: mean 100 -> 0; target b: |1300 - 1000| / sqrt(50^2 + 100^2 + 0/2)
    assert got[0, 0] == 0.0
    assert got[0, 1] == pytest.approx(300 / math.sqrt(50**2 + 100**2))
    spread = cal.implausibility(np.array([[[80.0, 140.0]]]), t[:1], 0.1)
    assert spread[0, 0] == pytest.approx(10 / math.sqrt(25 + 100 + 1800 / 2))


def test_misfit_is_zero_only_on_target():
    t = [cal.Target("a", "s", "x", date(2024, 1, 2), 100.0, 0.05, "")]
    assert cal.misfit(np.array([[[100.0, 100.0, 100.0]]]), t)[0] == 0.0
    assert cal.misfit(np.array([[[200.0, 200.0, 200.0]]]), t)[0] == pytest.approx(math.log(2) ** 2)


@pytest.mark.parametrize("log", [False, True])
def test_free_param_maps_the_unit_interval_onto_its_range(log):
    fp = cal.FreeParam("advance_slowdown", 0.004, 0.08, log)
    u = np.linspace(0, 1, 11)
    x = fp.from_unit(u)
    assert x[0] == pytest.approx(0.004) and x[-1] == pytest.approx(0.08)
    np.testing.assert_allclose(fp.to_unit(x), u, atol=1e-12)
    if log:  # the geometric midpoint sits in the middle
        assert x[5] == pytest.approx(math.sqrt(0.004 * 0.08))


SEARCH = """
seed = 3
[params.advance_slowdown]
low = {low}
high = 0.08
log = true
[budget]
points_per_wave = 6
waves = 2
replications = 2
final_points = 2
final_replications = 2
"""


def test_search_file_is_checked_against_the_registry(tmp_path):
    bad = tmp_path / "search.toml"
    bad.write_text(SEARCH.format(low=0.00001))
    with pytest.raises(ValueError, match=r"params.advance_slowdown: range .* registry"):
        cal.load_search(bad)
    bad.write_text(SEARCH.format(low=0.004).replace("advance_slowdown", "advance_slowdwn"))
    with pytest.raises(ValueError, match="not a registry parameter"):
        cal.load_search(bad)


def test_committed_targets_are_the_two_isw_figures():
    targets = cal.load_targets()
    assert {(t.scenario, t.until, t.value) for t in targets} == {
        ("baseline_2023", date(2023, 12, 31), 465.0),
        ("baseline_2024", date(2024, 11, 20), 2700.0),
    }
    assert all(t.outcome == "russia_gain_km2" for t in targets)


def test_quick_calibration_brings_a_mis_set_target_closer(tmp_path):
    """A toy target far from what the default parameters give; the search must end closer."""
    spec = load_scenario("scenarios/baseline_2024.toml")
    until = date(2024, 2, 15)
    seeds = replication_seeds(3, 2)
    start = np.median([run_scenario(spec, s, until).summary["russia_gain_km2"] for s in seeds])
    target = 4.0 * max(start, 25.0)  # deliberately mis-set: several times the default outcome
    (tmp_path / "targets.toml").write_text(
        f'[[target]]\nname = "toy"\nscenario = "baseline_2024"\noutcome = "russia_gain_km2"\n'
        f"until = {until}\nvalue = {target}\n"
    )
    (tmp_path / "search.toml").write_text(SEARCH.format(low=0.001))
    out = tmp_path / "out"
    code = main(
        ["calibrate", "--quick", "--workers", "1", "--no-sensitivity",
         "--targets", str(tmp_path / "targets.toml"), "--search", str(tmp_path / "search.toml"),
         "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    calibrated = (out / "calibrated.toml").read_text()
    assert "[params]" in calibrated and "advance_slowdown" in calibrated
    report = (out / "REPORT.md").read_text()
    assert "| toy |" in report and (out / "calibration_gains.png").stat().st_size > 10_000
    # The calibrated value, run on the same seeds as the start, lands closer to the target.
    value = float(calibrated.split("advance_slowdown = ")[1].split()[0])
    fitted = np.median(
        [
            run_scenario(spec.with_overrides({"advance_slowdown": value}), s, until).summary[
                "russia_gain_km2"
            ]
            for s in seeds
        ]
    )
    assert abs(math.log(fitted / target)) < 0.5 * abs(math.log(start / target))


def test_calibrate_cli_rejects_bad_search_file(tmp_path, capsys):
    bad = tmp_path / "search.toml"
    bad.write_text(SEARCH.format(low=0.00001))
    assert main(["calibrate", "--search", str(bad), "--out", str(tmp_path)]) == 2
    assert "registry" in capsys.readouterr().err


def test_a_summary_only_task_gives_run_scenarios_summary():
    """A calibration task that asks for no daily detail skips building the daily table but
    sends back the same summary as a full run, and the detailed task the same columns."""
    from sim.model import default_theatre, resolve_scenario

    spec = resolve_scenario("baseline_2024", default_theatre())
    point = {"advance_slowdown": 0.03, "fires_lethality": 2e-5}
    until = date(2024, 3, 1)
    want = run_scenario(spec.with_overrides(point), 7, until)
    key, summary, daily = cal._run_one(((1, 2), spec, point, 7, until, False))
    assert key == (1, 2) and daily is None
    assert summary == want.summary
    _, summary, daily = cal._run_one(((1, 2), spec, point, 7, until, True))
    assert summary == want.summary
    assert daily.equals(
        want.daily[["date", "russia_gain_km2", "ukraine_gain_km2", "russia_losses_cum"]]
    )
