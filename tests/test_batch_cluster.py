"""Batches on a Dask distributed cluster: the same tables as a local batch, resume, bad addresses.

The cluster is a real ``distributed.LocalCluster`` on loopback (two worker processes, no
dashboard), started once for the module; the batch only connects to its scheduler's address.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import sim.batch
import sim.runner
from sim.batch import BatchError, read_tables, replication_seeds, run_batch
from sim.cli import main
from sim.scenario import find_scenario, load_scenario

distributed = pytest.importorskip("distributed")  # in the test extra; skipped only by hand

UNTIL = date(2024, 1, 11)  # ten days after the start
REPS = 3
SEED = 11


@pytest.fixture(scope="module")
def spec():
    return load_scenario(find_scenario("baseline_2024"))


@pytest.fixture(scope="module")
def local(spec, tmp_path_factory):
    """The reference: the same batch in this process."""
    out = tmp_path_factory.mktemp("cluster") / "local"
    run_batch(spec, REPS, seed=SEED, workers=1, until=UNTIL, out=out, progress=False)
    return out


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield cluster


def tables(out: Path) -> tuple[pd.DataFrame, ...]:
    return tuple(read_tables(out).values())


def assert_same_batch(out: Path, ref: Path) -> None:
    for ref_table, table in zip(tables(ref), tables(out), strict=True):
        pd.testing.assert_frame_equal(ref_table, table, check_exact=True)
    assert json.loads((out / "summary.json").read_text()) == json.loads(
        (ref / "summary.json").read_text()
    )
    assert sorted(p.name for p in (out / "parts").iterdir()) == sorted(
        p.name for p in (ref / "parts").iterdir()
    )


def workers_of(cluster) -> set[str]:
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        return set(client.scheduler_info()["workers"])


def test_cluster_batch_equals_the_local_batch(cluster, local, spec, tmp_path, monkeypatch):
    assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")

    def not_here(*args, **kwargs):
        raise AssertionError("a replication ran in the client process")

    monkeypatch.setattr(sim.runner, "run_scenario", not_here)  # the workers import their own
    before = workers_of(cluster)
    out = tmp_path / "dask"
    result = run_batch(
        spec, REPS, seed=SEED, until=UNTIL, out=out, scheduler=cluster.scheduler_address
    )
    assert result.computed == list(range(REPS))
    assert result.runs["replication"].tolist() == list(range(REPS))
    assert result.runs["seed"].tolist() == replication_seeds(SEED, REPS)
    assert_same_batch(out, local)
    assert not list((out / "parts").glob("*.tmp"))
    # The client started nothing and left the cluster as it found it.
    assert workers_of(cluster) == before and len(before) == 2
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        assert client.scheduler_info()["workers"] and not client.who_has()

    # Without --out the records come back in memory, the same tables again.
    unwritten = run_batch(spec, REPS, seed=SEED, until=UNTIL, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(unwritten.runs, result.runs, check_exact=True)
    pd.testing.assert_frame_equal(unwritten.daily, result.daily, check_exact=True)


def test_calibration_runner_on_the_cluster_equals_the_local_one(cluster, spec, monkeypatch):
    """The calibration's tasks (one target, several points and seeds) through the same
    executor on the cluster: the same summaries and daily tables, in task order."""
    from sim.calibrate import Runner

    seeds = replication_seeds(SEED, 2)
    tasks = [
        ((p, r), spec, {"advance_slowdown": slowdown}, seed, UNTIL, r == 0)
        for p, slowdown in enumerate((0.01, 0.05))
        for r, seed in enumerate(seeds)
    ]
    local = Runner(workers=1).map(tasks)

    def not_here(*args, **kwargs):
        raise AssertionError("a replication ran in the client process")

    monkeypatch.setattr(sim.runner, "run_scenario", not_here)
    runner = Runner(scheduler=cluster.scheduler_address)
    try:
        remote = runner.map(tasks)
    finally:
        runner.close()
    assert [key for key, _, _ in remote] == [key for key, _, _ in local]
    for (_, summary, daily), (_, ref_summary, ref_daily) in zip(remote, local, strict=True):
        assert summary == ref_summary
        if ref_daily is None:
            assert daily is None
        else:
            pd.testing.assert_frame_equal(daily, ref_daily, check_exact=True)


def test_cluster_batch_resumes_a_local_one(cluster, local, spec, tmp_path):
    out = tmp_path / "resume"
    shutil.copytree(local, out)
    for name in ("parts/rep_00001.parquet", "runs.parquet", "summary.json"):
        (out / name).unlink()
    again = run_batch(
        spec, REPS, seed=SEED, until=UNTIL, out=out, scheduler=cluster.scheduler_address
    )
    assert again.computed == [1]
    assert_same_batch(out, local)


def test_cli_batch_on_the_cluster(cluster, local, tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["batch", "baseline_2024", "--replications", str(REPS), "--seed", str(SEED)]
    args += ["--until", UNTIL.isoformat(), "--out", str(out)]
    assert main([*args, "--scheduler", cluster.scheduler_address]) == 0
    printed = capsys.readouterr().out
    assert f"baseline_2024: {REPS} replications (seed {SEED})" in printed
    assert f"wrote {out} ({REPS} replications run now)" in printed
    assert_same_batch(out, local)

    assert main([*args, "--scheduler", cluster.scheduler_address, "--workers", "2"]) == 2
    assert "--workers and --scheduler do not mix" in capsys.readouterr().err


def test_workers_that_cannot_import_sim_get_a_hint(cluster, spec, monkeypatch):
    def missing(*args):  # pickled by value: what a worker without the package would raise
        raise ModuleNotFoundError("No module named 'sim'", name="sim")

    monkeypatch.setattr(sim.batch, "_replicate", missing)
    with pytest.raises(BatchError, match="workers cannot import sim.*install the frontline"):
        run_batch(spec, 2, seed=SEED, until=UNTIL, scheduler=cluster.scheduler_address)


def test_a_bad_scheduler_address_is_a_quick_clear_error(spec, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sim.batch, "CONNECT_TIMEOUT", 1.0)
    out = tmp_path / "nowhere"
    start = time.monotonic()
    # Port 1 on loopback: nobody listens, the connection is refused until the timeout.
    with pytest.raises(BatchError, match="cannot connect to the Dask scheduler at 'tcp://127"):
        run_batch(spec, 2, until=UNTIL, out=out, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(BatchError, match="cannot connect.*'nonsense'.*port"):
        run_batch(spec, 2, until=UNTIL, out=out, scheduler="nonsense")
    with pytest.raises(BatchError, match="scheduler must be an address"):
        run_batch(spec, 2, until=UNTIL, out=out, scheduler=" ")
    assert not out.exists()  # refused before anything was written

    args = ["batch", "baseline_2024", "--replications", "2", "--until", UNTIL.isoformat()]
    args += ["--out", str(out), "--scheduler", "tcp://127.0.0.1:1"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "cannot connect to the Dask scheduler at 'tcp://127.0.0.1:1'" in err
    assert "Traceback" not in err
    assert not out.exists()
    assert time.monotonic() - start < 10


def test_without_distributed_the_error_says_what_to_install(spec, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_distributed(name, *args, **kwargs):
        if name == "distributed" or name.startswith("distributed."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_distributed)
    with pytest.raises(BatchError, match=r'pip install -e "\.\[cluster\]"'):
        run_batch(spec, 2, until=UNTIL, scheduler="tcp://127.0.0.1:8786")
