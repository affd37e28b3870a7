"""The executor: warm workers, worker-count invariance, the worker cap, workers that die with
their parent, and a scheduler that never answers the Dask handshake."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import psutil
import pytest

import sim.batch
import sim.executor
from sim.batch import BatchError, run_batch
from sim.cli import main
from sim.executor import Executor, ExecutorError, check_workers, usable_cores
from sim.scenario import find_scenario, load_scenario

REPO = Path(__file__).resolve().parents[1]
UNTIL = date(2024, 1, 8)


def _task(x: int, y: int) -> tuple[int, int, str | None, int]:
    return x * y, os.getpid(), os.environ.get("PYTHONHASHSEED"), hash("frontline")


def _warm_pool(workers: int) -> None:
    # Tasks given to a pool that is still starting run in this process until its workers are
    # there: the tests about the workers themselves wait for them first.
    sim.executor._local_pool(workers)
    sim.executor._wait_ready()


@pytest.fixture(scope="module")
def two() -> Executor:
    """Two warm workers (forced on a one-core machine: the test is about processes)."""
    _warm_pool(2)
    return Executor(2, force_workers=True)


def test_results_are_in_task_order_for_any_worker_count(two: Executor) -> None:
    tasks = [(i, i + 1) for i in range(12)]
    serial = Executor(1).map(_task, tasks)
    pooled = two.map(_task, tasks)
    assert [r[0] for r in pooled] == [r[0] for r in serial] == [i * (i + 1) for i in range(12)]
    seen = sorted(i for i, _ in two.imap_unordered(_task, tasks))
    assert seen == list(range(12))  # every task once, whatever order they finish in


def test_workers_stay_warm_and_hash_the_same(two: Executor) -> None:
    _warm_pool(2)
    saved = os.environ.get("PYTHONHASHSEED")
    two.map(_task, [(i, 1) for i in range(8)])
    # The pool's processes, not the pids that happened to run a task: on a busy machine one
    # worker can take all eight quick tasks.
    first = set(sim.executor._pool._processes)
    again = Executor(2, force_workers=True)  # a second caller (a sweep point, a wave)
    results = again.map(_task, [(i, 1) for i in range(8)])
    assert {pid for _, pid, _, _ in results} <= first  # no new processes were started
    assert set(sim.executor._pool._processes) == first
    assert os.getpid() not in first
    assert {seed for _, _, seed, _ in results} == {"0"}
    assert len({h for *_, h in results}) == 1  # one string hash in every worker
    assert os.environ.get("PYTHONHASHSEED") == saved  # the parent's environment is restored


def _lineage() -> tuple[int, bool, str | None]:
    import sim.worker_process

    return os.getppid(), sim.worker_process._loaded, os.environ.get("PYTHONHASHSEED")


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no fork server here"
)
def test_workers_are_forked_from_a_preloaded_server_with_the_hash_seed(two: Executor) -> None:
    """The workers are children of the fork server (not of this process), which loaded the
    model before forking them, and which itself runs with PYTHONHASHSEED=0."""
    from multiprocessing import forkserver

    _warm_pool(2)
    results = two.map(_lineage, [()] * 4)
    server = forkserver._forkserver._forkserver_pid
    assert server is not None and server != os.getpid()
    assert {ppid for ppid, _, _ in results} == {server}
    assert all(loaded for _, loaded, _ in results)
    assert {seed for *_, seed in results} == {"0"}
    assert psutil.Process(server).environ().get("PYTHONHASHSEED") == "0"


def test_shutdown_stops_and_reaps_the_workers_and_the_server() -> None:
    """After shutdown no worker or server is left, and their CPU time is this process's
    children's (what the throughput benchmark reads)."""
    import resource

    ex = Executor(2, force_workers=True)
    _warm_pool(2)
    ex.map(_task, [(i, 1) for i in range(4)])
    pids = set(sim.executor._pool._processes)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sim.executor.shutdown()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert sim.executor._pool is None
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    from multiprocessing import forkserver

    assert getattr(forkserver._forkserver, "_forkserver_pid", None) is None
    # Each worker loaded nothing itself, but the server's ~1 s of loading is now reaped here.
    assert after.ru_utime + after.ru_stime > before.ru_utime + before.ru_stime + 0.3


def _slow(x: int) -> tuple[int, int]:
    time.sleep(0.05)
    return x * x, os.getpid()


def test_a_starting_pool_leaves_this_process_the_tasks_it_can_do_meanwhile() -> None:
    """While a new pool's workers start, this process runs tasks from the end of the list;
    every task runs once, and the results are those of a serial run, in task order."""
    sim.executor.shutdown()  # a cold start
    tasks = [(i,) for i in range(60)]
    ex = Executor(2, force_workers=True)
    seen = [i for i, _ in ex.imap_unordered(_slow, tasks)]
    assert sorted(seen) == list(range(60))
    results = ex.map(_slow, tasks)
    assert [r[0] for r in results] == [i * i for i in range(60)]
    sim.executor.shutdown()
    here = [
        i
        for i, (_, pid) in enumerate(Executor(2, force_workers=True).map(_slow, tasks))
        if pid == os.getpid()
    ]
    if "forkserver" in multiprocessing.get_all_start_methods():
        assert here and here == list(range(60 - len(here), 60))  # the last ones, here
        assert len(here) < 60  # and the workers did the rest


def test_workers_are_capped_at_the_cores_unless_forced(tmp_path, capsys) -> None:
    cores = usable_cores()
    assert check_workers(None) == cores
    with pytest.raises(ExecutorError, match=rf"at most the {cores} usable cores.*--force-workers"):
        check_workers(cores + 1)
    assert check_workers(cores + 1, force=True) == cores + 1
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ExecutorError, match="whole number >= 1"):
            check_workers(bad)

    base = ["baseline_2024", "--until", UNTIL.isoformat(), "--workers", str(cores + 1)]
    for verb in (["batch", *base, "--replications", "2"], ["sweep", *base, "--replications", "1"]):
        if verb[0] == "sweep":
            verb += ["--design", "lhs", "--param", "advance_slowdown=0.01:0.02", "--samples", "2"]
        assert main([*verb, "--out", str(tmp_path / verb[0])]) == 2
        err = capsys.readouterr().err
        assert f"at most the {cores} usable cores" in err and "Traceback" not in err
        assert not (tmp_path / verb[0]).exists()
    assert main(["calibrate", "--quick", "--workers", str(cores + 1)]) == 2
    assert f"--workers must be at most the {cores} usable cores" in capsys.readouterr().err


def test_a_server_that_never_answers_the_dask_handshake_fails_in_time(
    tmp_path, monkeypatch, capsys
):
    pytest.importorskip("distributed")
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:  # accepts every connection and never says a word
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    address = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    monkeypatch.setattr(sim.batch, "CONNECT_TIMEOUT", 1.0)
    spec = load_scenario(find_scenario("baseline_2024"))
    try:
        start = time.monotonic()
        with pytest.raises(BatchError, match="no Dask handshake within 1 s"):
            run_batch(spec, 2, until=UNTIL, out=tmp_path / "a", scheduler=address)
        assert time.monotonic() - start < 1.0 + 3.0
        args = ["batch", "baseline_2024", "--replications", "2", "--until", UNTIL.isoformat()]
        start = time.monotonic()
        assert main([*args, "--out", str(tmp_path / "b"), "--scheduler", address]) == 2
        assert time.monotonic() - start < 1.0 + 3.0
        err = capsys.readouterr().err
        assert f"cannot connect to the Dask scheduler at '{address}'" in err
        assert "Traceback" not in err
        assert accepted  # it did accept the TCP connection
        assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    finally:
        listener.close()
        for conn in accepted:
            conn.close()


# --------------------------------------------------------------------------------------------
# Workers die with their parent


def _gone(processes: list[psutil.Process], within: float) -> list[psutil.Process]:
    """The processes still running (zombies count as gone) after up to ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        alive = []
        for p in processes:
            try:
                if p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def test_kill_9_of_a_batch_leaves_no_worker_behind(tmp_path) -> None:
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "sim", "batch", "baseline_2024", "--replications", "6"]
    cmd += ["--workers", "2", "--force-workers", "--until", "2024-02-01", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 90
        while not list((out / "parts").glob("rep_*.parquet")):  # the workers are busy
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no part file within 90 s"
            time.sleep(0.05)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 2  # two workers (and multiprocessing's resource tracker)
    finally:
        proc.kill()  # SIGKILL: no clean-up runs in the parent
        proc.wait()
        proc.stderr.close()
    left = _gone(children, within=5.0)
    for p in left:  # do not leave them to the next test either
        p.kill()
    assert not left, f"still running after the parent's kill -9: {left}"


def _orphan(parent: int, ready) -> None:
    # A worker without PR_SET_PDEATHSIG: only the watchdog can end it.
    threading.Thread(target=sim.executor._watchdog, args=(parent,), daemon=True).start()
    ready.set()
    time.sleep(60)


def _middle(ready) -> None:
    # Starts the would-be orphan, then waits to be killed.
    ctx = multiprocessing.get_context("spawn")
    ctx.Process(target=_orphan, args=(os.getpid(), ready), daemon=False).start()
    time.sleep(60)


def test_the_watchdog_ends_a_worker_whose_parent_died() -> None:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    middle = ctx.Process(target=_middle, args=(ready,))
    middle.start()
    try:
        assert ready.wait(60), "the worker did not start"
        orphans = psutil.Process(middle.pid).children()
        assert len(orphans) >= 1
    finally:
        middle.kill()
        middle.join()
    left = _gone(orphans, within=sim.executor._WATCHDOG_PERIOD + 3.0)
    for p in left:
        p.kill()
    assert not left
