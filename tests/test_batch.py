"""Batches: replication seeds, worker-count invariance, aggregation, resume (also after a kill)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim.runner
from sim.batch import BatchError, read_tables, replication_seeds, run_batch, summarise_batch
from sim.cli import main
from sim.scenario import find_scenario, load_scenario

REPO = Path(__file__).resolve().parents[1]
UNTIL = date(2024, 1, 15)  # two weeks: ~0.4 s a run
REPS = 3


@pytest.fixture(scope="module")
def spec():
    return load_scenario(find_scenario("baseline_2024"))


@pytest.fixture(scope="module")
def reference(spec, tmp_path_factory):
    """An uninterrupted in-process batch, written to disk."""
    out = tmp_path_factory.mktemp("batch") / "ref"
    result = run_batch(spec, REPS, seed=7, workers=1, until=UNTIL, out=out, progress=False)
    return result, out


def tables(out: Path) -> tuple[pd.DataFrame, ...]:
    return tuple(read_tables(out).values())


# --------------------------------------------------------------------------------------------
# Seeds


def test_replication_seeds_are_deterministic_distinct_and_prefix_stable():
    five = replication_seeds(42, 5)
    assert five == replication_seeds(42, 5)
    assert len(set(five)) == 5
    assert all(type(s) is int and 0 <= s < 2**63 for s in five)
    assert replication_seeds(42, 3) == five[:3]  # replication i's seed does not depend on n
    assert replication_seeds(43, 5) != five
    expected = np.random.SeedSequence(42).spawn(1)[0].generate_state(1, np.uint64)[0]
    assert five[0] == int(expected) >> 1


# --------------------------------------------------------------------------------------------
# Outputs and worker-count invariance


def test_batch_writes_its_outputs(reference, spec):
    result, out = reference
    assert sorted(p.name for p in out.iterdir()) == [
        "batch.json",
        "checksums.json",
        "daily.parquet",
        "events.parquet",
        "nodes.parquet",
        "parts",
        "runs.parquet",
        "summary.json",
    ]
    assert sorted(p.name for p in (out / "parts").iterdir()) == [
        f"rep_{i:05d}.parquet" for i in range(REPS)
    ]
    runs, daily, _, _ = tables(out)
    pd.testing.assert_frame_equal(runs, result.runs)
    pd.testing.assert_frame_equal(daily, result.daily)
    assert runs["replication"].tolist() == list(range(REPS))
    assert runs["seed"].tolist() == replication_seeds(7, REPS)
    assert list(runs.columns[:6]) == [
        "replication",
        "seed",
        "scenario",
        "content_hash",
        "version",
        "git_commit",
    ]
    for column in ("russia_gain_km2", "front_length_km", "russia_losses_cum", "days"):
        assert pd.api.types.is_numeric_dtype(runs[column])
    assert runs["collapse"].dtype == bool
    assert (runs["end"] == UNTIL.isoformat()).all()
    assert isinstance(json.loads(runs["falls"].iloc[0]), dict)
    assert runs["param_advance_slowdown"].iloc[0] == spec.params["advance_slowdown"]
    assert {f"param_{k}" for k in spec.params} <= set(runs.columns)

    assert list(daily.columns[:2]) == ["replication", "seed"]
    days = (UNTIL - spec.start).days + 1
    assert len(daily) == REPS * days
    assert daily.groupby("replication")["seed"].first().tolist() == runs["seed"].tolist()

    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "baseline_2024" and summary["seed"] == 7
    assert summary["replications"] == REPS and summary["until"] == UNTIL.isoformat()
    assert summary["content_hash"] == spec.with_end(UNTIL).content_hash
    assert summary == result.summary
    gains = summary["outcomes"]["russia_gain_km2"]
    assert gains["p50"] == pytest.approx(np.percentile(runs["russia_gain_km2"], 50))
    assert "seed" not in summary["outcomes"] and "replication" not in summary["outcomes"]


def test_same_tables_with_one_or_two_workers(reference, spec, tmp_path):
    _, ref = reference
    two = run_batch(spec, REPS, seed=7, workers=2, until=UNTIL, out=tmp_path / "two")
    assert two.computed == list(range(REPS))
    for one_table, two_table in zip(tables(ref), tables(tmp_path / "two"), strict=True):
        pd.testing.assert_frame_equal(one_table, two_table, check_exact=True)
    assert json.loads((ref / "summary.json").read_text()) == two.summary
    # Without --out, in-process, the tables are the same as those assembled from part files.
    unwritten = run_batch(spec, REPS, seed=7, workers=1, until=UNTIL)
    assert unwritten.out is None and unwritten.computed == list(range(REPS))
    pd.testing.assert_frame_equal(unwritten.runs, two.runs, check_exact=True)
    pd.testing.assert_frame_equal(unwritten.daily, two.daily, check_exact=True)
    assert unwritten.summary == two.summary


# --------------------------------------------------------------------------------------------
# Aggregation


def test_summarise_batch_on_a_hand_made_table():
    runs = pd.DataFrame(
        {
            "replication": [0, 1, 2, 3],
            "seed": [11, 12, 13, 14],
            "scenario": ["s"] * 4,
            "russia_gain_km2": [10.0, 20.0, 40.0, 30.0],
            "days": [5, 5, 5, 5],
            "collapse": [False, True, False, False],
            "collapse_day": [np.nan, 3.0, np.nan, np.nan],
            "param_advance_slowdown": [0.02] * 4,
            "falls": [
                json.dumps({"Avdiivka": "2024-02-17", "Marinka": "2024-01-05"}),
                json.dumps({"Avdiivka": "2024-02-10"}),
                json.dumps({}),
                json.dumps({"Avdiivka": "2024-02-20"}),
            ],
        }
    )
    s = summarise_batch(runs)
    assert s["replications"] == 4
    assert set(s["outcomes"]) == {"russia_gain_km2", "days", "collapse", "collapse_day"}
    x = np.array([10.0, 20.0, 40.0, 30.0])
    gains = s["outcomes"]["russia_gain_km2"]
    assert gains == {
        "p05": np.percentile(x, 5),
        "p50": np.percentile(x, 50),
        "p95": np.percentile(x, 95),
        "mean": 25.0,
    }
    assert gains["p05"] == pytest.approx(11.5) and gains["p95"] == pytest.approx(38.5)
    assert s["outcomes"]["collapse"]["mean"] == 0.25
    assert s["outcomes"]["collapse_day"] == {"p05": 3.0, "p50": 3.0, "p95": 3.0, "mean": 3.0}
    # Avdiivka fell in 3 of 4 runs, on 02-10, 02-17, 02-20: median 02-17. Marinka in 1 of 4.
    assert s["falls"] == {
        "Avdiivka": {"share": 0.75, "median_date": "2024-02-17"},
        "Marinka": {"share": 0.25, "median_date": "2024-01-05"},
    }
    # An even count: the median of ordinal days 02-10 and 02-17 is 02-13.5, rounded down.
    two = summarise_batch(runs.iloc[:2])
    assert two["falls"]["Avdiivka"] == {"share": 1.0, "median_date": "2024-02-13"}
    assert json.dumps(s)  # JSON-ready


# --------------------------------------------------------------------------------------------
# Resume


def test_resume_recomputes_only_the_missing_replication(reference, spec, tmp_path, monkeypatch):
    _, ref = reference
    out = tmp_path / "resume"
    shutil.copytree(ref, out)
    for name in ("parts/rep_00001.parquet", "runs.parquet", "summary.json"):
        (out / name).unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "parts").iterdir()}

    calls = []
    real = sim.runner.run_scenario

    def counting(spec, seed=0, until=None):
        calls.append(seed)
        return real(spec, seed=seed, until=until)

    monkeypatch.setattr(sim.runner, "run_scenario", counting)
    again = run_batch(spec, REPS, seed=7, workers=1, until=UNTIL, out=out)
    assert again.computed == [1]
    assert calls == [replication_seeds(7, REPS)[1]]
    assert {p.name: p.stat().st_mtime_ns for p in (out / "parts").iterdir() if p.name in kept} == (
        kept
    )
    for ref_table, new_table in zip(tables(ref), tables(out), strict=True):
        pd.testing.assert_frame_equal(ref_table, new_table, check_exact=True)
    assert json.loads((out / "summary.json").read_text()) == json.loads(
        (ref / "summary.json").read_text()
    )

    # A complete batch re-run computes nothing and still writes the same tables.
    calls.clear()
    assert run_batch(spec, REPS, seed=7, workers=1, until=UNTIL, out=out).computed == []
    assert calls == []


def test_a_killed_batch_resumes_to_the_same_tables(spec, tmp_path):
    reps = 4
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "sim", "batch", "baseline_2024", "--replications", str(reps)]
    cmd += ["--workers", "1", "--seed", "3", "--until", UNTIL.isoformat(), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while not list((out / "parts").glob("rep_*.parquet")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no part file within 60 s"
            time.sleep(0.02)
    finally:
        proc.kill()  # SIGKILL: no clean-up runs
        proc.wait()
        proc.stderr.close()
    finished = sorted(p.name for p in (out / "parts").glob("rep_*.parquet"))
    assert 1 <= len(finished) < reps
    assert not (out / "runs.parquet").exists()
    with pytest.raises(BatchError, match="not a finished batch"):
        read_tables(out)

    resumed = run_batch(spec, reps, seed=3, workers=1, until=UNTIL, out=out)
    assert len(resumed.computed) == reps - len(finished)
    whole = run_batch(spec, reps, seed=3, workers=1, until=UNTIL, out=tmp_path / "whole")
    # git_commit is read once per process; another commit may land in the shared tree while
    # the killed subprocess runs, so only that provenance column may differ.
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "runs.parquet").drop(columns="git_commit"),
        whole.runs.drop(columns="git_commit"),
        check_exact=True,
    )
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "daily.parquet"), whole.daily, check_exact=True
    )
    for name in ("events", "nodes"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(out / f"{name}.parquet"),
            pd.read_parquet(tmp_path / "whole" / f"{name}.parquet"),
            check_exact=True,
        )


# --------------------------------------------------------------------------------------------
# Bad input


def test_a_different_batch_in_out_is_refused(reference, spec, tmp_path):
    _, ref = reference
    out = tmp_path / "other"
    shutil.copytree(ref, out)
    with pytest.raises(BatchError, match="seed was 7 there, 8 now"):
        run_batch(spec, REPS, seed=8, workers=1, until=UNTIL, out=out)
    with pytest.raises(BatchError, match="replications was 3 there, 4 now"):
        run_batch(spec, REPS + 1, seed=7, workers=1, until=UNTIL, out=out)
    with pytest.raises(BatchError, match="content_hash"):
        changed = spec.with_overrides({"advance_slowdown": spec.params["advance_slowdown"] / 2})
        run_batch(changed, REPS, seed=7, workers=1, until=UNTIL, out=out)
    assert sorted(p.name for p in (out / "parts").iterdir()) == sorted(
        p.name for p in (ref / "parts").iterdir()
    )
    # A directory with outputs but no manifest is not taken over either.
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "summary.json").write_text("{}")
    with pytest.raises(BatchError, match="no batch.json"):
        run_batch(spec, REPS, seed=7, workers=1, until=UNTIL, out=stray)


def test_a_part_from_an_older_frontline_is_run_again(reference, spec, tmp_path, capsys):
    """A part file written before parts carried a checksum (and, older still, the run's changes
    of hands) cannot be verified: the batch says so and runs that replication again."""
    import pyarrow.parquet as pq

    _, ref = reference
    out = tmp_path / "old"
    shutil.copytree(ref, out)
    part = out / "parts" / "rep_00001.parquet"
    table = pq.read_table(part)
    meta = dict(table.schema.metadata)
    record = json.loads(meta[b"frontline.batch"])
    del record["events"]
    meta[b"frontline.batch"] = json.dumps(record).encode()
    del meta[b"frontline.sha256"]
    pq.write_table(table.replace_schema_metadata(meta), part)
    again = run_batch(spec, REPS, seed=7, workers=1, until=UNTIL, out=out)
    assert again.computed == [1]
    err = capsys.readouterr().err
    assert f"{part}: part file without a checksum" in err and "running replication 1 again" in err
    for ref_table, new_table in zip(tables(ref), tables(out), strict=True):
        pd.testing.assert_frame_equal(ref_table, new_table, check_exact=True)


def test_bad_counts_are_value_errors(spec):
    with pytest.raises(ValueError, match="replications must be a whole number >= 1, got 0"):
        run_batch(spec, 0)
    with pytest.raises(ValueError, match="workers must be a whole number >= 1, got 0"):
        run_batch(spec, 2, workers=0)


def test_cli_batch(reference, tmp_path, capsys):
    _, ref = reference
    out = tmp_path / "cli"
    code = main(["batch", "baseline_2024", "--replications", "0", "--out", str(out)])
    assert code == 2
    assert "replications must be a whole number >= 1" in capsys.readouterr().err
    assert not out.exists()

    # The CLI resolves the scenario as `run` does: a copy of the reference batch is complete.
    shutil.copytree(ref, out)
    args = ["batch", "baseline_2024", "--replications", str(REPS), "--seed", "7"]
    args += ["--until", UNTIL.isoformat(), "--workers", "1", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "baseline_2024: 3 replications (seed 7)" in printed
    assert "russia_gain_km2" in printed and "p95" in printed
    assert f"wrote {out} (0 replications run now)" in printed

    assert main([*args[:-1], str(tmp_path / "x"), "--set", "advance_slowdown=-1"]) == 2
    assert main([*args[:3], "2", *args[4:]]) == 2  # a different batch in --out
    assert "holds a different batch: replications was 3 there, 2 now" in capsys.readouterr().err
