"""The record-fit report (sim.fit_report) on a batch that replays the record exactly: every
table must show a perfect fit, which a wrong month, date or map alignment would break."""

from datetime import date

import numpy as np
import pandas as pd
from test_fit import _replay_batch

from sim.fit_report import monthly_gains, record_monthly, write_fit_report


def test_monthly_gains_of_a_replay_equal_the_records(tmp_path):
    out = _replay_batch(tmp_path / "replay", n=2)
    daily = pd.read_parquet(out / "daily.parquet")
    start, end = date(2024, 1, 1), date(2024, 11, 20)
    model = monthly_gains(daily, "russia_gain_km2", start, end)
    rec = record_monthly(start, end)["russia_gain_km2"]
    assert model.shape == (2, 11)
    np.testing.assert_allclose(model[0], rec, atol=1e-9)
    np.testing.assert_allclose(model[1], rec, atol=1e-9)


def test_report_of_a_replay_shows_a_perfect_fit(tmp_path):
    out = _replay_batch(tmp_path / "replay", n=2)
    path = write_fit_report([out], tmp_path / "report", budget="2 replayed runs")
    text = path.read_text(encoding="utf-8")
    assert (tmp_path / "report" / "fit_gains.png").stat().st_size > 10_000
    assert (tmp_path / "report" / "fit_maps.png").stat().st_size > 10_000
    assert "## Done when (issue 12)" in text and "## Run budget" in text
    # Every 2024 map date: the majority map is the record's, so F1 is 1.
    maps = text.split("## Maps")[1]
    rows = [r for r in maps.splitlines() if r.startswith("| 2024-")]
    assert len(rows) == 3 and all(r.rstrip(" |").endswith("1.00") for r in rows)
    places = text.split("## Places")[1].split("## Maps")[0]
    on_time = [r for r in places.splitlines() if r.startswith("| ") and "#" in r]
    assert on_time and all(r.rstrip(" |").endswith("yes") for r in on_time)


def test_record_command_writes_the_report(tmp_path, capsys):
    from sim.cli import main

    out = _replay_batch(tmp_path / "replay", n=1)
    assert main(["record", "--score", str(out), "--report", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "REPORT.md").exists()
    assert "wrote" in capsys.readouterr().out
    # With --posterior, the sample's header comment (method and run budget) is the budget.
    post = tmp_path / "post.csv"
    post.write_text("# 4 waves x 48 points\n# digest x\nadvance_slowdown\n0.01\n0.02\n")
    rep = tmp_path / "rep2"
    assert (
        main(["record", "--score", str(out), "--report", str(rep), "--posterior", str(post)]) == 0
    )
    text = (rep / "REPORT.md").read_text(encoding="utf-8")
    assert "## Run budget\n\n4 waves x 48 points digest x" in text
    assert "2 parameter sets" in text
    # --report without batches to score is a usage error, not a silent no-op.
    assert main(["record", "--report", str(tmp_path / "other")]) == 2
    assert "--score" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()
