"""Fit statistics against the record: shares, coverage, F1, the null model, place dates, and a
whole batch scored end to end (a batch that replays the record must fit it)."""

from __future__ import annotations

import doctest
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

import sim.fit_measures
import sim.record
import sim.theatre.regions
from sim import fit
from sim.cli import main


@pytest.mark.parametrize("module", [sim.fit_measures, sim.record, sim.theatre.regions])
def test_doctests(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_shares_from_a_daily_cumulative_series():
    days = pd.date_range("2024-01-01", "2024-03-10", freq="D")
    # 1 km2 a day in January, nothing in February, 3 a day in March (to the 10th, 00:00).
    per_day = np.where(days < "2024-02-01", 1.0, np.where(days < "2024-03-01", 0.0, 3.0))
    cum = np.concatenate([[0.0], np.cumsum(per_day[:-1])])  # state at 00:00 of each date
    daily = pd.DataFrame({"replication": 0, "date": days, "russia_gain_km2": cum})
    shares = fit.monthly_shares(daily, date(2024, 1, 1), date(2024, 3, 10))
    assert shares.shape == (1, 3)
    assert np.allclose(shares[0], [31 / 58, 0.0, 27 / 58])


def test_band_coverage_counts_months_inside_the_90_band():
    rng = np.random.default_rng(3)
    samples = rng.normal(0.0, 1.0, size=(2001, 4))
    lo, hi = np.quantile(samples, [0.05, 0.95], axis=0)
    observed = np.array([lo[0] + 1e-9, hi[1] - 1e-9, hi[2] + 1e-6, lo[3] - 1e-6])
    assert fit.band_coverage(observed, samples).tolist() == [True, True, False, False]
    # A 50% band is narrower: the first point is no longer inside.
    assert not fit.band_coverage(observed, samples, level=0.5)[0]


def test_correlation_and_h2_h1():
    assert fit.correlation(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])) == pytest.approx(
        -1
    )
    assert np.isnan(fit.correlation(np.ones(3), np.arange(3.0)))
    r = fit.h2_h1_ratio(np.array([0.0, 0.0]), np.array([100.0, 0.0]), np.array([350.0, 10.0]))
    assert r[0] == pytest.approx(2.5) and np.isnan(r[1])


def test_f1_on_a_hand_made_map():
    area = np.array([10.0, 20.0, 30.0, 40.0])
    truth = np.array([True, True, False, False])
    # Predicted {1, 2}: TP 20, FP 30, FN 10 -> 40 / (40 + 30 + 10).
    assert fit.f1_area(np.array([0, 1, 1, 0]), truth, area) == pytest.approx(0.5)
    assert fit.f1_area(truth, truth, area) == 1.0
    assert fit.f1_area(~truth, truth, area) == 0.0
    # Fractional membership: half of node 0 and all of node 1 -> TP 25, FP 0, FN 5.
    assert fit.f1_area(np.array([0.5, 1, 0, 0]), truth, area) == pytest.approx(50 / 55)


def test_null_model_advances_exactly_the_total_area_nearest_first():
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 100, size=(400, 2))
    area = rng.uniform(1, 5, size=400)
    held = xy[:, 0] < 30  # Russia holds the west
    in_ua = xy[:, 1] > 5  # a strip of "Russia" along the south
    p = fit.null_advance(held, in_ua, xy, area, 500.0)
    assert (p * area).sum() == pytest.approx(500.0)
    assert (p[held] == 0).all() and (p[~in_ua] == 0).all()
    assert ((p >= 0) & (p <= 1)).all() and ((p > 0) & (p < 1)).sum() <= 1
    # A uniform band: every node taken lies nearer Russian-held ground than every node left.
    from scipy.spatial import cKDTree

    d = cKDTree(xy[held]).query(xy)[0]
    taken, left = p == 1, (p == 0) & ~held & in_ua
    assert d[taken].max() <= d[left].min()


def test_place_fall_within_days_and_most_runs():
    rec = date(2024, 10, 8)
    on_time = [rec + timedelta(days=d) for d in (-40, 10, 44)]
    assert fit.place_fall(on_time, rec)["ok"]
    late = [rec + timedelta(days=d) for d in (46, 50, 60)]
    res = fit.place_fall(late, rec)
    assert res["days_off"] == 50 and not res["ok"]
    # On time, but in only half the runs: not "most runs".
    assert not fit.place_fall([rec, rec, None, None], rec)["ok"]
    none = fit.place_fall([None, None], rec)
    assert none["share"] == 0 and none["median"] is None and not none["ok"]


def test_place_held_share():
    held = np.array([[True, False, False], [False, False, True], [False, True, True]])
    assert fit.place_held(held, 0) == pytest.approx(2 / 3)
    assert fit.place_held(held, 2, "russia") == pytest.approx(2 / 3)


# ---------------------------------------------------------------------- a whole batch


def _replay_batch(out, n=2):
    """A batch whose every replication replays the record from 2024-01-01 to 2024-11-20."""
    from sim.batch import node_table
    from sim.metrics import gains
    from sim.scenario import find_scenario, load_scenario
    from sim.theatre.theatre import Theatre

    t = Theatre.load()
    rec = sim.record.load_record(theatre=t)
    spec = load_scenario(find_scenario("baseline_2024"))
    nodes = node_table(spec)
    dates = [d for d in rec.dates if d >= "2024-01-01"]
    base = rec.at("2024-01-01")
    days = pd.date_range("2024-01-01", "2024-11-20", freq="D")
    # The state on each day is the latest map at or before it.
    idx = np.searchsorted(pd.to_datetime(dates), days, side="right") - 1
    per_map = [gains(t.area_km2, t.country, base, rec.at(d)) for d in dates]
    daily, events, runs = [], [], []
    for r in range(n):
        daily.append(
            pd.DataFrame(
                {
                    "replication": r,
                    "seed": r,
                    "date": days,
                    "russia_gain_km2": [per_map[i]["russia_gain_km2"] for i in idx],
                    "ukraine_gain_km2": [per_map[i]["ukraine_gain_km2"] for i in idx],
                }
            )
        )
        for a, b in zip(dates[:-1], dates[1:], strict=True):
            for node in np.flatnonzero(rec.at(a) != rec.at(b)):
                side = "russia" if rec.at(b)[node] else "ukraine"
                events.append((r, r, pd.Timestamp(b), int(node), side))
        runs.append(
            {
                "replication": r,
                "seed": r,
                "scenario": "baseline_2024",
                "start": "2024-01-01",
                "end": "2024-11-20",
            }
        )
    out.mkdir()
    pd.DataFrame(runs).to_parquet(out / "runs.parquet")
    pd.concat(daily).to_parquet(out / "daily.parquet")
    pd.DataFrame(events, columns=["replication", "seed", "date", "node", "to_side"]).to_parquet(
        out / "events.parquet"
    )
    nodes.to_parquet(out / "nodes.parquet")
    return out


def test_a_batch_replaying_the_record_fits_it(tmp_path, capsys):
    out = _replay_batch(tmp_path / "replay")
    s = fit.score_batch(out)
    assert s["year"] == "2024"
    assert s["coverage"] == {"inside": 11, "months": 11}
    assert s["correlation"] == pytest.approx(1.0)
    assert s["h2_h1"]["p50"] == pytest.approx(s["h2_h1"]["record"])
    assert s["map"]["f1"] == pytest.approx(1.0) and s["map"]["f1_null"] < 1.0
    assert s["level"]["p50"] == pytest.approx(s["record_level_km2"])
    changed = [p for p in s["places"] if p.get("k") is not None]
    assert changed and all(p["ok"] and p["share"] == 1.0 for p in changed)
    assert all(h["share"] == 1.0 for h in s["held"])
    assert all(r["inside"] for r in s["sectors"])
    assert main(["record", "--score", str(out)]) == 0
    text = capsys.readouterr().out
    assert "[yes] Level 2024" in text and "F1 1.00" in text


def test_score_refuses_a_batch_that_does_not_cover_a_year(tmp_path, capsys):
    out = _replay_batch(tmp_path / "replay", n=1)
    daily = pd.read_parquet(out / "daily.parquet")
    daily[daily["date"] <= "2024-06-01"].to_parquet(out / "daily.parquet")
    assert main(["record", "--score", str(out)]) == 2
    assert "reaches its end" in capsys.readouterr().err


def test_record_command_prints_the_series(capsys):
    assert main(["record", "--by", "month", "--places"]) == 0
    text = capsys.readouterr().out
    assert "2024-11-01  2024-11-20" in text and "Robotyne" in text
    assert main(["record", "--json", "--sectors", "baseline_2024"]) == 0
    import json

    s = json.loads(capsys.readouterr().out)
    assert len(s["gains"]) == 46 and {r["year"] for r in s["sector_years"]} == {"2023", "2024"}
