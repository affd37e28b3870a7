"""Reports (sim.report, `frontline report`): numbers checked against the tables themselves."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import report
from sim.batch import summarise_batch
from sim.cli import main

N = 8
START = date(2024, 1, 1)
DAYS = 40


def _num(x: float) -> str:
    return f"{x:,.0f}"


def make_batch(
    out: Path, seed: int = 0, scale: float = 1.0, shift: int = 0, n: int = N, held: float = 0.0
) -> Path:
    """A hand-made batch directory: runs/daily tables and summary.json like run_batch's."""
    rng = np.random.default_rng(seed + 1000 * int(scale * 10))
    seeds = [11 * (seed + 1) + i for i in range(n)]
    rates = rng.uniform(20, 60, n) * scale
    dates = [START + timedelta(days=d) for d in range(DAYS + 1)]
    daily, runs = [], []
    for i in range(n):
        gain = rates[i] * np.arange(DAYS + 1)
        falls = {}
        if i % 4 != 0:  # Alpha falls in 3/4 of replications, Beta in half
            falls["Alpha"] = (START + timedelta(days=10 + i + shift)).isoformat()
        if i % 2 == 0:
            falls["Beta"] = (START + timedelta(days=20 + 2 * i + shift)).isoformat()
        falls["Village"] = (START + timedelta(days=5)).isoformat()  # not a hub
        daily.append(
            pd.DataFrame(
                {
                    "replication": i,
                    "seed": seeds[i],
                    "date": pd.to_datetime(dates),
                    "russia_gain_km2": gain,
                    "ukraine_gain_km2": gain / 10,
                    "ukraine_held_in_russia_km2": held * np.arange(DAYS + 1),
                    "front_length_km": 1000.0 + i,
                    "collapse": False,
                }
            )
        )
        runs.append(
            {
                "replication": i,
                "seed": seeds[i],
                "scenario": f"toy{int(scale * 10)}",
                "content_hash": "abc123",
                "version": "0.1.0",
                "git_commit": "deadbeef" * 5,
                "start": START.isoformat(),
                "end": dates[-1].isoformat(),
                "russia_gain_km2": gain[-1],
                "ukraine_gain_km2": gain[-1] / 10,
                "russia_net_gain_km2": gain[-1] * 0.9,
                "ukraine_held_in_russia_km2": held * DAYS,
                "front_length_km": 1000.0 + i,
                "collapse": bool(i == 0),
                "falls": json.dumps(falls, sort_keys=True),
                "hubs": json.dumps({"Alpha": "russia", "Beta": "russia", "Gamma": "ukraine"}),
            }
        )
    out.mkdir(parents=True)
    runs = pd.DataFrame(runs)
    runs.to_parquet(out / "runs.parquet", index=False)
    pd.concat(daily, ignore_index=True).to_parquet(out / "daily.parquet", index=False)
    summary = {
        "scenario": runs["scenario"][0],
        "content_hash": "abc123",
        "seed": seed,
        "replications": n,
        "version": "0.1.0",
        "start": START.isoformat(),
        "end": dates[-1].isoformat(),
        "git_commits": ["deadbeef" * 5],
    }
    summary.update(summarise_batch(runs))
    (out / "summary.json").write_text(json.dumps(summary))
    return out


def assert_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 10_000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_batch_report_states_numbers_from_the_tables(tmp_path):
    d = make_batch(tmp_path / "a")
    assert main(["report", str(d)]) == 0
    text = (d / "report" / "report.md").read_text()
    runs = pd.read_parquet(d / "runs.parquet")
    lo, mid, hi = np.percentile(runs["russia_gain_km2"], [5, 50, 95])
    end = (START + timedelta(days=DAYS)).isoformat()
    assert (
        f"Russian gains by {end}: median {_num(mid)} km² (90% interval {_num(lo)} to {_num(hi)})"
    ) in text
    assert "abc123" in text and "| 0 | 8 |" in text  # provenance: hash, seed, replications
    assert "Collapse in 1 of 8 replications" in text
    # Falls: hubs only by default (Village is not a hub), share and median date.
    alpha = [START + timedelta(days=10 + i) for i in range(N) if i % 4 != 0]
    median = date.fromordinal(int(np.floor(np.median([a.toordinal() for a in alpha]))))
    assert f"| Alpha | 75% (6/8) | {median} |" in text
    assert f"Alpha fell in 75% of replications; median fall date {median}" in text
    assert "| Beta | 50% (4/8) |" in text and "Village" not in text
    assert "holdings in Russia" not in text  # zero throughout: left out
    for name in ("gains.png", "falls.png"):
        assert_png(d / "report" / name)
        assert f"({name})" in text


def test_places_option_and_out(tmp_path):
    d = make_batch(tmp_path / "a", held=3.0)
    out = tmp_path / "rep"
    assert main(["report", str(d), "--out", str(out), "--places", "Village,Gamma"]) == 0
    text = (out / "report.md").read_text()
    assert "| Village | 100% (8/8) |" in text and "| Gamma | 0% (0/8) |" in text
    assert "Alpha" not in text
    assert "Ukraine's holdings in Russia by" in text


def test_fall_table_and_wilson():
    runs = pd.DataFrame(
        {"falls": [json.dumps({"A": "2024-01-05"}), "{}", json.dumps({"A": "2024-01-09"}), "{}"]}
    )
    t = report.fall_table(runs, ["A", "B"]).set_index("place")
    assert t.loc["A", "share"] == 0.5 and t.loc["A", "p50"] == date(2024, 1, 7)
    assert t.loc["B", "fell"] == 0 and t.loc["B", "p50"] is None
    lo, hi = report.wilson(0, 10)
    assert lo == 0 and hi == pytest.approx(0.2775, abs=1e-3)
    lo, hi = report.wilson(5, 10)
    assert (lo, hi) == pytest.approx((0.2366, 0.7634), abs=1e-3)


def test_pair_report_paired_differences(tmp_path):
    a = make_batch(tmp_path / "a", scale=1.0)
    b = make_batch(tmp_path / "b", scale=1.5, shift=3)
    assert main(["report", str(a), str(b), "--out", str(tmp_path / "rep")]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    ra, rb = pd.read_parquet(a / "runs.parquet"), pd.read_parquet(b / "runs.parquet")
    diff = rb["russia_gain_km2"].to_numpy() - ra["russia_gain_km2"].to_numpy()
    lo, mid, hi = np.percentile(diff, [5, 50, 95])
    assert f"Russian gains: median {mid:+,.0f} km² (90% interval {lo:+,.0f} to {hi:+,.0f})" in text
    got = report.paired_difference(ra, rb, ["russia_gain_km2"])
    np.testing.assert_allclose(got["russia_gain_km2"], diff)
    da, db = pd.read_parquet(a / "daily.parquet"), pd.read_parquet(b / "daily.parquet")
    wide = report.paired_daily_difference(da, db, "russia_gain_km2")
    for i in range(N):
        ea = da[da.replication == i].set_index("date")["russia_gain_km2"]
        eb = db[db.replication == i].set_index("date")["russia_gain_km2"]
        np.testing.assert_allclose(wide[i].to_numpy(), (eb - ea).to_numpy())
    # Fall dates shift by exactly 3 days wherever both fell; none fell in one only.
    assert "| Alpha | 6 | +3 | +3 | +3 | 0% | 0% |" in text
    assert_png(tmp_path / "rep" / "difference.png")
    # The answer, first in the report, states the same paired difference and the shift.
    answer = text.split("## Answer")[1].split("## Inputs")[0]
    assert f"median {mid:+,.0f} km² (90% interval {lo:+,.0f} to {hi:+,.0f}) in toy15" in answer
    assert "Alpha changes hands +3 days later" in answer


def test_fall_changes_counts_one_sided_falls():
    a = pd.DataFrame(
        {"falls": [json.dumps({"A": "2024-01-05"}), json.dumps({"A": "2024-01-05"}), "{}"]}
    )
    b = pd.DataFrame(
        {"falls": [json.dumps({"A": "2024-01-02"}), "{}", json.dumps({"A": "2024-01-05"})]}
    )
    r = report.fall_changes(a, b, ["A"]).iloc[0]
    assert r["both"] == 1 and r["median_days"] == -3
    assert r["only_a"] == pytest.approx(1 / 3) and r["only_b"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("kind", ["seed", "replications"])
def test_unpaired_batches_exit_2(tmp_path, capsys, kind):
    a = make_batch(tmp_path / "a")
    b = make_batch(tmp_path / "b", seed=1) if kind == "seed" else make_batch(tmp_path / "b", n=4)
    assert main(["report", str(a), str(b)]) == 2
    assert kind in capsys.readouterr().err


def test_bad_directories_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "not a finished batch" in capsys.readouterr().err


def make_sweep(out: Path, x_c: float = 0.4, w: float = 0.08, reps: int = 200) -> Path:
    rng = np.random.default_rng(5)
    xs = np.linspace(0.0, 1.0, 21)
    rows = []
    for i, x in enumerate(xs):
        collapse = rng.random(reps) < report.logistic(x, x_c, w)
        for r in range(reps):
            rows.append(
                {
                    "point": i,
                    "advance_slowdown": x,
                    "replication": r,
                    "seed": r,
                    "russia_gain_km2": 1000 * (1 - x) + r,
                    "collapse": bool(collapse[r]),
                }
            )
    out.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(out / "sweep.parquet", index=False)
    pd.DataFrame({"advance_slowdown": xs}).to_parquet(out / "design.parquet", index=False)
    (out / "summary.json").write_text(
        json.dumps(
            {
                "scenario": "toy",
                "content_hash": "abc123",
                "seed": 0,
                "replications": reps,
                "version": "0.1.0",
                "start": "2024-01-01",
                "end": "2024-02-10",
                "git_commits": [],
            }
        )
    )
    return out


def test_logistic_fit_recovers_parameters():
    x = np.linspace(0, 1, 21)
    n = np.full_like(x, 400)
    k = np.random.default_rng(0).binomial(400, report.logistic(x, 0.4, 0.08))
    fit = report.fit_logistic(x, k, n)
    assert fit["x_c"] == pytest.approx(0.4, abs=max(3 * fit["x_c_se"], 0.01))
    assert fit["w"] == pytest.approx(0.08, abs=max(3 * fit["w_se"], 0.01))
    exact = report.fit_logistic(x, report.logistic(x, 0.6, -0.1) * 1000, np.full_like(x, 1000))
    assert (exact["x_c"], exact["w"]) == pytest.approx((0.6, -0.1), abs=1e-4)
    with pytest.raises(report.ReportError):
        report.fit_logistic(x, np.zeros_like(x), n)


def test_sweep_report(tmp_path):
    d = make_sweep(tmp_path / "s")
    assert main(["report", str(d)]) == 0
    text = (d / "report" / "report.md").read_text()
    runs = pd.read_parquet(d / "sweep.parquet")
    by = runs.groupby("point")["collapse"].agg(["sum", "count"])
    fit = report.fit_logistic(np.linspace(0, 1, 21), by["sum"], by["count"])
    assert f"x_c = {fit['x_c']:.4g} (standard error {fit['x_c_se']:.2g})" in text
    assert abs(fit["x_c"] - 0.4) < 0.02 and abs(fit["w"] - 0.08) < 0.02
    k0, n0 = int(by["sum"][0]), int(by["count"][0])
    lo, hi = report.wilson(k0, n0)
    assert f"| 0 | 0 | {k0}/{n0} = {k0 / n0:.0%} ({lo:.0%} to {hi:.0%}) |" in text
    assert "abc123" in text and "`advance_slowdown`" in text
    assert_png(d / "report" / "sweep.png")


def test_report_of_a_real_batch(tmp_path):
    from sim.batch import run_batch
    from sim.scenario import find_scenario, load_scenario

    spec = load_scenario(find_scenario("baseline_2024"))
    out = tmp_path / "b"
    result = run_batch(spec, 3, seed=0, workers=1, until=date(2024, 1, 20), out=out, progress=False)
    assert main(["report", str(out), str(out)]) == 0
    text = (out / "report" / "report.md").read_text()
    lo, mid, hi = np.percentile(result.runs["russia_gain_km2"], [5, 50, 95])
    assert f"Russian gains by 2024-01-20: median {_num(mid)} km²" in text
    assert result.summary["content_hash"] in text
    assert_png(out / "report" / "gains.png")


def test_sweep_report_fits_collapse_against_the_start_density(tmp_path):
    """With each point's batch directory beside the sweep tables, the report reads the defenders
    per km on day 0 and fits the logistic in that density: the critical density it states is
    the fit of the shares against those densities."""
    d = make_sweep(tmp_path / "s", x_c=0.4, w=0.08, reps=200)
    design = pd.read_parquet(d / "design.parquet")
    density = 100 + 200 * design["advance_slowdown"].to_numpy()  # 100..300 men per km
    for i, dens in enumerate(density):
        point = d / f"point_{i:04d}"
        point.mkdir()
        pd.DataFrame(
            {"day": [0, 0, 1, 1], "defenders_per_km": [dens, dens, dens - 50, dens + 50]}
        ).to_parquet(point / "daily.parquet", index=False)
    assert main(["report", str(d)]) == 0
    text = (d / "report" / "report.md").read_text()
    runs = pd.read_parquet(d / "sweep.parquet")
    by = runs.groupby("point")["collapse"].agg(["sum", "count"])
    fit = report.fit_logistic(density, by["sum"], by["count"])
    # x = 100 + 200 u, so the fit in density is the fit in u moved and stretched.
    assert fit["x_c"] == pytest.approx(180, abs=6) and fit["w"] == pytest.approx(16, abs=5)
    assert f"at **{fit['x_c']:,.1f} Ukrainian line troops per km**" in text
    answer = text.split("## Answer")[1].split("## Inputs")[0]
    assert f"at **{fit['x_c']:,.1f} Ukrainian line troops per km**" in answer
    k0, n0 = int(by["sum"].iloc[0]), int(by["count"].iloc[0])
    assert f"`advance_slowdown` = 0: collapse in {k0}/{n0} replications" in answer
    assert f"over {2 * np.log(9) * abs(fit['w']):,.0f} troops per km" in text
    assert f"| 0 | 0 | {density[0]:,.0f} |" in text
    assert_png(d / "report" / "collapse_density.png")


def test_sweep_report_without_point_directories_has_no_density_section(tmp_path):
    d = make_sweep(tmp_path / "s")
    assert main(["report", str(d)]) == 0
    text = (d / "report" / "report.md").read_text()
    assert "density of the defence" not in text
    assert not (d / "report" / "collapse_density.png").exists()
