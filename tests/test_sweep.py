"""Sweeps: designs (grid, LHS, Sobol'), bounds checks, Sobol' indices, a tiny real sweep, the CLI."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from scipy.stats import qmc

from sim.batch import replication_seeds, run_batch
from sim.cli import main
from sim.params import PARAMS
from sim.scenario import ScenarioError, find_scenario, load_scenario
from sim.sweep import (
    SweepError,
    design,
    run_sweep,
    saltelli_design,
    sobol_analysis,
    sweep_sobol,
)

UNTIL = date(2024, 1, 15)  # two weeks: ~0.35 s a run
BOUNDS = {
    "advance_slowdown": (0.001, 0.05),
    "fires_elasticity": (0.2, 0.5),
    "supply_efold_km": (50.0, 120.0),
}


def unit(points: pd.DataFrame, bounds) -> np.ndarray:
    low = np.array([bounds[k][0] for k in points.columns])
    high = np.array([bounds[k][1] for k in points.columns])
    return (points.to_numpy() - low) / (high - low)


# --------------------------------------------------------------------------------------------
# Designs


def test_grid_is_every_combination_of_levels():
    bounds = {"advance_slowdown": (0.01, 0.05), "fires_elasticity": (0.2, 0.5)}
    g = design("grid", bounds, 3, seed=0)
    assert list(g.columns) == list(bounds)
    assert len(g) == 9
    levels = {k: np.linspace(lo, hi, 3) for k, (lo, hi) in bounds.items()}
    got = {tuple(r) for r in g.to_numpy()}
    want = {(a, b) for a in levels["advance_slowdown"] for b in levels["fires_elasticity"]}
    assert got == want
    assert g.attrs["kind"] == "grid"
    pd.testing.assert_frame_equal(g, design("grid", bounds, 3, seed=99))  # no randomness


def test_lhs_puts_one_point_in_each_stratum_of_each_dimension():
    n = 16
    points = design("lhs", BOUNDS, n, seed=3)
    assert points.shape == (n, 3)
    u = unit(points, BOUNDS)
    assert ((u >= 0) & (u <= 1)).all()
    for j in range(u.shape[1]):
        strata = np.floor(u[:, j] * n).astype(int)
        assert sorted(strata) == list(range(n)), f"dimension {j}: strata {sorted(strata)}"


def test_sobol_design_has_lower_discrepancy_than_random_points():
    n = 256
    u = unit(design("sobol", BOUNDS, n, seed=5), BOUNDS)
    assert ((u >= 0) & (u <= 1)).all()
    rng = np.random.default_rng(0)
    random = [qmc.discrepancy(rng.random((n, 3))) for _ in range(10)]
    assert qmc.discrepancy(u) < 0.5 * min(random)


@pytest.mark.parametrize("kind", ["lhs", "sobol"])
def test_random_designs_are_reproducible_and_differ_across_seeds(kind):
    a = design(kind, BOUNDS, 8, seed=1)
    pd.testing.assert_frame_equal(a, design(kind, BOUNDS, 8, seed=1))
    b = design(kind, BOUNDS, 8, seed=2)
    assert not np.allclose(a.to_numpy(), b.to_numpy())
    assert a.attrs == {
        "kind": kind,
        "samples": 8,
        "seed": 1,
        "bounds": {k: list(v) for k, v in BOUNDS.items()},
    }


def test_integer_parameters_are_rounded():
    bounds = {"collapse_window_days": (10.0, 13.0), "advance_slowdown": (0.01, 0.02)}
    for kind, samples in (("lhs", 8), ("sobol", 8)):
        points = design(kind, bounds, samples, seed=0)
        days = points["collapse_window_days"]
        assert (days == days.round()).all() and days.between(10, 13).all()
    with pytest.warns(UserWarning, match="round to only 3 distinct values"):
        g = design("grid", {"collapse_window_days": (10.0, 12.0)}, 5, seed=0)
    assert g["collapse_window_days"].tolist() == [10, 11, 12]  # 10, 10.5, 11, 11.5, 12 merged


def test_bad_bounds_and_samples_are_refused_with_clear_messages():
    p = PARAMS["advance_slowdown"]
    with pytest.raises(SweepError, match=rf"advance_slowdown.*\[{p.low:g}, {p.high:g}\]"):
        design("lhs", {"advance_slowdown": (p.low, p.high * 2)}, 4, seed=0)
    with pytest.raises(SweepError, match="did you mean 'advance_slowdown'"):
        design("lhs", {"advance_slowdwn": (0.01, 0.02)}, 4, seed=0)
    with pytest.raises(SweepError, match="low .* must be below high"):
        design("lhs", {"advance_slowdown": (0.02, 0.01)}, 4, seed=0)
    with pytest.raises(SweepError, match="power of two"):
        design("sobol", BOUNDS, 6, seed=0)
    with pytest.raises(SweepError, match="levels"):
        design("grid", BOUNDS, 1, seed=0)
    with pytest.raises(SweepError, match="unknown design"):
        design("random", BOUNDS, 4, seed=0)
    with pytest.raises(SweepError, match="at least one"):
        design("lhs", {}, 4, seed=0)


# --------------------------------------------------------------------------------------------
# Sobol' indices on a function whose indices are known


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[0]) + a * np.sin(x[1]) ** 2 + b * x[2] ** 4 * np.sin(x[0])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Analytic first-order and total indices of the Ishigami function on [-pi, pi]^3."""
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


def test_ishigami_analytic_values_are_the_textbook_ones():
    s1, st = ishigami_indices()
    np.testing.assert_allclose(s1, [0.314, 0.442, 0.0], atol=1e-3)
    np.testing.assert_allclose(st, [0.558, 0.442, 0.244], atol=1e-3)


@pytest.fixture(scope="module")
def ishigami_analysis():
    bounds = {name: (-np.pi, np.pi) for name in ("x1", "x2", "x3")}
    return sobol_analysis(
        bounds, lambda pts: ishigami(pts.to_numpy().T), n=2**11, seed=1, n_resamples=499
    )


def test_sobol_indices_of_ishigami_match_the_known_values(ishigami_analysis):
    s1, st = ishigami_indices()
    t = ishigami_analysis.indices
    assert t["parameter"].tolist() == ["x1", "x2", "x3"]
    # The intervals (95 %, BCa) hold the true values, and the estimates are close to them.
    assert (t["S1_low"] <= s1).all() and (s1 <= t["S1_high"]).all(), t
    assert (t["ST_low"] <= st).all() and (st <= t["ST_high"]).all(), t
    np.testing.assert_allclose(t["S1"], s1, atol=0.05)
    np.testing.assert_allclose(t["ST"], st, atol=0.05)
    assert ((t["S1_high"] - t["S1_low"]) < 0.15).all()  # informative, not just wide


def test_sobol_analysis_matches_scipy_and_is_reproducible(ishigami_analysis):
    ref = scipy.stats.sobol_indices(
        func=ishigami,
        n=2**11,
        dists=[scipy.stats.uniform(-np.pi, 2 * np.pi)] * 3,
        method="saltelli_2010",
        rng=np.random.default_rng(1),
    )
    t = ishigami_analysis.indices
    np.testing.assert_allclose(t["S1"], ref.first_order, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t["ST"], ref.total_order, rtol=1e-12, atol=1e-12)
    bounds = {name: (-np.pi, np.pi) for name in ("x1", "x2", "x3")}
    again = sobol_analysis(
        bounds, lambda pts: ishigami(pts.to_numpy().T), n=2**11, seed=1, n_resamples=499
    )
    pd.testing.assert_frame_equal(again.indices, t)  # intervals too: the bootstrap is seeded
    json.dumps(again.to_dict(), allow_nan=False)


def test_sobol_analysis_of_one_parameter_and_one_output():
    # scipy's sobol_indices squeezes one output of one parameter to a scalar and then fails
    # (TypeError); the analysis must still work. With one input that is all of the variance:
    # S1 = ST = 1 up to the estimator's error, and the same as for the same output given twice.
    def func(pts):
        return pts["x"].to_numpy() ** 2

    one = sobol_analysis({"x": (0.0, 1.0)}, func, n=2**10, seed=3, n_resamples=99).indices
    assert one["parameter"].tolist() == ["x"]
    np.testing.assert_allclose(one[["S1", "ST"]].to_numpy(), 1.0, atol=0.05)

    def twice(pts):
        y = func(pts)
        return pd.DataFrame({"a": y, "b": y})

    two = sobol_analysis({"x": (0.0, 1.0)}, twice, n=2**10, seed=3, n_resamples=99).indices
    np.testing.assert_allclose(one["S1"], two["S1"].iloc[:1], rtol=1e-12)
    np.testing.assert_allclose(one["ST"], two["ST"].iloc[:1], rtol=1e-12)


def test_saltelli_design_is_a_b_and_the_mixed_matrices():
    bounds = {"p": (0.0, 1.0), "q": (10.0, 20.0)}
    n = 8
    pts = saltelli_design(bounds, n, seed=0).to_numpy()
    assert pts.shape == (n * 4, 2)
    a, b = pts[:n], pts[n : 2 * n]
    for i in range(2):
        ab = pts[(2 + i) * n : (3 + i) * n]
        np.testing.assert_array_equal(ab[:, i], b[:, i])
        np.testing.assert_array_equal(np.delete(ab, i, axis=1), np.delete(a, i, axis=1))
    with pytest.raises(SweepError, match="power of two"):
        saltelli_design(bounds, 6, seed=0)


def test_several_outputs_and_constant_outputs():
    bounds = {"x1": (-np.pi, np.pi), "x2": (-np.pi, np.pi), "x3": (-np.pi, np.pi)}

    def func(pts):
        x = pts.to_numpy().T
        return pd.DataFrame({"ish": ishigami(x), "x2_only": x[1], "flat": np.ones(x.shape[1])})

    t = sobol_analysis(bounds, func, n=2**8, seed=0, n_resamples=99).indices
    assert t["output"].unique().tolist() == ["ish", "x2_only", "flat"]
    only = t[t.output == "x2_only"].set_index("parameter")
    np.testing.assert_allclose(only["S1"], [0, 1, 0], atol=0.02)
    np.testing.assert_allclose(only["ST"], [0, 1, 0], atol=0.02)
    flat = t[t.output == "flat"]
    assert (flat[["S1", "ST"]] == 0).all().all()  # null variance: null indices, as in scipy


# --------------------------------------------------------------------------------------------
# A tiny real sweep


@pytest.fixture(scope="module")
def spec():
    return load_scenario(find_scenario("baseline_2024"))


@pytest.fixture(scope="module")
def tiny(spec, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "s"
    points = design("grid", {"advance_slowdown": (0.01, 0.05)}, 2, seed=0)
    result = run_sweep(spec, points, 2, seed=4, workers=1, until=UNTIL, out=out, progress=False)
    return points, result, out


def test_sweep_uses_common_random_numbers_and_writes_its_tables(tiny):
    points, result, out = tiny
    seeds = replication_seeds(4, 2)
    runs = pd.read_parquet(out / "sweep.parquet")
    pd.testing.assert_frame_equal(runs, result.runs)
    assert runs.shape[0] == 4
    assert runs["point"].tolist() == [0, 0, 1, 1]
    assert runs["replication"].tolist() == [0, 1, 0, 1]
    assert runs["seed"].tolist() == seeds * 2  # the same seeds at every point
    assert runs["advance_slowdown"].tolist() == [0.01, 0.01, 0.05, 0.05]
    for column in ("russia_gain_km2", "front_length_km", "git_commit", "content_hash"):
        assert column in runs
    assert not any(c.startswith("param_") for c in runs.columns)
    assert runs.groupby("point")["content_hash"].nunique().tolist() == [1, 1]
    assert runs["content_hash"].nunique() == 2  # each point is its own scenario variant
    # the slower advance gains more ground, seed for seed
    gain = runs.pivot(index="replication", columns="point", values="russia_gain_km2")
    assert (gain[1] > gain[0]).all()

    design_back = pd.read_parquet(out / "design.parquet")
    pd.testing.assert_frame_equal(design_back, points, check_like=True)
    assert sorted(p.name for p in out.iterdir()) == [
        "checksums.json",
        "design.parquet",
        "point_0000",
        "point_0001",
        "summary.json",
        "sweep.json",
        "sweep.parquet",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == seeds and summary["replications"] == 2
    assert summary["design"]["kind"] == "grid"
    assert [p["params"] for p in summary["points"]] == [
        {"advance_slowdown": 0.01},
        {"advance_slowdown": 0.05},
    ]
    for p in summary["points"]:
        rows = runs[runs.point == p["point"]]["russia_gain_km2"]
        stats = p["outcomes"]["russia_gain_km2"]
        assert set(stats) == {"p05", "p50", "p95", "mean"}
        assert stats["mean"] == pytest.approx(rows.mean())
    means = result.point_means()
    assert means.shape[0] == 2 and means.loc[1, "advance_slowdown"] == 0.05


def test_a_point_is_a_batch_of_the_overridden_scenario(tiny, spec):
    _, result, out = tiny
    point = run_batch(
        spec.with_overrides({"advance_slowdown": 0.05}),
        2,
        seed=4,
        workers=1,
        until=UNTIL,
        progress=False,
    )
    mine = result.runs[result.runs.point == 1].reset_index(drop=True)
    for column in ("seed", "russia_gain_km2", "ukraine_losses_cum", "content_hash"):
        assert mine[column].tolist() == point.runs[column].tolist()
    assert json.loads((out / "point_0001" / "batch.json").read_text())["seed"] == 4


def test_sweep_resumes_and_refuses_another_request(tiny, spec):
    points, result, out = tiny
    again = run_sweep(spec, points, 2, seed=4, workers=1, until=UNTIL, out=out, progress=False)
    assert again.computed == []  # nothing new to run
    pd.testing.assert_frame_equal(again.runs, result.runs)

    (out / "point_0001" / "parts" / "rep_00001.parquet").unlink()  # as if killed mid-point
    resumed = run_sweep(spec, points, 2, seed=4, workers=1, until=UNTIL, out=out, progress=False)
    assert resumed.computed == [(1, 1)]
    pd.testing.assert_frame_equal(resumed.runs, result.runs)

    with pytest.raises(SweepError, match="different sweep: seed"):
        run_sweep(spec, points, 2, seed=5, workers=1, until=UNTIL, out=out, progress=False)
    other = design("grid", {"advance_slowdown": (0.01, 0.06)}, 2, seed=0)
    with pytest.raises(SweepError, match="different sweep: design_hash"):
        run_sweep(spec, other, 2, seed=4, workers=1, until=UNTIL, out=out, progress=False)


def test_points_spread_over_processes_give_the_same_tables(tiny, spec, tmp_path):
    points, result, _ = tiny
    pooled = run_sweep(
        spec, points, 2, seed=4, workers=2, until=UNTIL, out=tmp_path / "s", progress=False
    )
    pd.testing.assert_frame_equal(pooled.runs, result.runs)
    assert sorted(pooled.computed) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_bad_designs_are_refused_before_any_run(spec, tmp_path):
    with pytest.raises(SweepError, match="not a registry parameter"):
        run_sweep(spec, pd.DataFrame({"speed": [1.0]}), 1, out=tmp_path / "a")
    too_big = pd.DataFrame({"advance_slowdown": [0.01, 5.0]})
    with pytest.raises(ScenarioError, match="advance_slowdown"):
        run_sweep(spec, too_big, 1, out=tmp_path / "b")
    with pytest.raises(SweepError, match="replications"):
        run_sweep(spec, pd.DataFrame({"advance_slowdown": [0.01]}), 0, out=tmp_path / "c")
    assert not any((tmp_path / d).exists() for d in "abc")
    with pytest.raises(SweepError, match="unknown outcome"):
        sweep_sobol(spec, {"advance_slowdown": (0.01, 0.05)}, ["russia_gains"], 2, 1)


# --------------------------------------------------------------------------------------------
# The command line


def test_cli_sweep_with_sobol_indices(tmp_path, capsys):
    out = tmp_path / "s"
    argv = [
        "sweep", "baseline_2024", "--design", "sobol", "--param", "advance_slowdown=0.01:0.05",
        "--samples", "2", "--replications", "1", "--workers", "1", "--until", "2024-01-08",
        "--out", str(out), "--sobol", "russia_gain_km2", "front_length_km",
    ]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "6 points x 1 replications" in printed  # n (d + 2) = 2 * 3
    assert "Sobol' indices" in printed and "advance_slowdown" in printed
    sobol = json.loads((out / "sobol.json").read_text())
    assert set(sobol["indices"]) == {"russia_gain_km2", "front_length_km"}
    assert set(sobol["indices"]["russia_gain_km2"]["advance_slowdown"]) == {
        "S1", "S1_low", "S1_high", "ST", "ST_low", "ST_high",
    }  # fmt: skip
    assert len(pd.read_parquet(out / "sweep.parquet")) == 6
    assert main(argv) == 0  # resumes: nothing to run
    assert "(0 runs computed now)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "advance_slowdown=0.01-0.05"], "expected KEY=LOW:HIGH"),
        (["--param", "advance_slowdown=low:0.05"], "expected KEY=LOW:HIGH"),
        (["--param", "advance_slowdown=0.01:9"], "outside the allowed range"),
        (["--param", "advance_slowdown=0.05:0.01"], "must be below high"),
        (["--param", "no_such=0:1"], "unknown parameter"),
        (["--param", "advance_slowdown=0.01:0.05"] * 2, "more than once"),
        (
            ["--param", "advance_slowdown=0.01:0.05", "--set", "advance_slowdown=0.02"],
            "both --param and --set",
        ),
        (["--param", "advance_slowdown=0.01:0.05", "--sobol", "russia_gain_km2"], "--design sobol"),
    ],
)
def test_cli_rejects_bad_params_with_exit_2(args, message, tmp_path, capsys):
    argv = ["sweep", "baseline_2024", "--design", "lhs", "--samples", "2", "--replications", "1"]
    code = main([*argv, *args, "--out", str(tmp_path / "s")])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
