"""Property-based fuzzing (Hypothesis) of the scenario loader and the command line (issue 15).

Properties: whatever the input, the loader returns a spec or raises ``ScenarioError`` (never
another exception), and ``frontline`` returns 0 or 2 (never 1, an internal error, nor a
traceback); neither hangs past :data:`BOUND_S` seconds an example. Both run in-process with fixed
seeds (``derandomize``) and small budgets, so the whole file takes a few seconds; the simulation
itself is stubbed out of the command-line fuzz (only arguments and inputs are under test).
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import types

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import sim.batch
import sim.calibrate
import sim.sweep
from sim.cli import main
from sim.scenario import ScenarioError, load_scenario
from sim.theatre.theatre import Theatre

BOUND_S = 10  # seconds an example may take before it counts as a hang
FUZZ = settings(
    derandomize=True,
    max_examples=120,
    deadline=None,  # the alarm below bounds each example; timings on a shared machine vary
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

BASE = """\
name = "fuzz"
description = "a fuzzed scenario"
start = 2024-01-01
end = 2024-03-31
initial_control = "2024-01-01"

[params]
advance_slowdown = 0.03
training_delay_days = 30

[schedule.russia_shells_per_day]
"2024-02-01" = 30000

[[sector]]
name = "Pokrovsk"
anchors = ["Avdiivka"]
russia_units = 20
ukraine_units = 14
russia_posture = "attack"
russia_objective = "Pokrovsk"

[[sector]]
name = "Kursk"
anchors = ["Sudzha"]
russia_units = 2
ukraine_units = 1

[[event]]
date = 2024-02-06
kind = "redeploy"
side = "ukraine"
from_sector = "Pokrovsk"
to_sector = "Kursk"
units = 4

[[hold]]
side = "ukraine"
place = "Sudzha"
radius_km = 10
"""

# TOML values a careless or hostile user might write, good and bad.
LITERALS = [
    "0", "-1", "1", "20", "100000000", "99999999999999999999999", "1e309", "-1e309", "nan",
    "inf", "0.5", "-0.0", "true", "false", '""', '" "', '"x"', '"attack"', '"hold"',
    '"redeploy"', '"reinforce"', '"posture"', '"russia"', '"ukraine"', '"Avdiivka"',
    '"Atlantis"', '"Kursk"', '"2024-01-01"', '"1900-01-01"', "2024-13-01", "1900-01-01",
    "2024-08-06", "2024-01-01T12:00:00", "[]", '["Avdiivka", "Avdiivka"]', "[1, 2]",
    "{a = 1}", '"../../etc/passwd"', '"/dev/zero"', '"fuzz.toml"', '"missing.toml"',
    '"\\u0000"', '"__import__(\'os\')"',
]  # fmt: skip
EXTRA_KEYS = ["extends", "calibration", "colour", "units", "name", "end", "start"]


def _alarm(signum, frame):
    raise TimeoutError(f"an example ran for more than {BOUND_S} s")


@contextlib.contextmanager
def bounded():
    """Fail an example that runs longer than BOUND_S (SIGALRM: the tests run in the main thread)."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, BOUND_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def places() -> list[str]:
    return [n for n in Theatre.load().name if n]


def mutate(data: st.DataObject) -> str:
    """BASE with a few values replaced, lines dropped or keys added, drawn by Hypothesis."""
    lines = BASE.splitlines()
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        i = data.draw(st.integers(0, len(lines) - 1), label="line")
        action = data.draw(st.sampled_from(["value", "drop", "add", "text"]), label="action")
        key = lines[i].partition("=")[0].strip()
        if action == "value" and "=" in lines[i]:
            lines[i] = f"{key} = {data.draw(st.sampled_from(LITERALS), label='literal')}"
        elif action == "drop":
            del lines[i]
        elif action == "add":
            extra = data.draw(st.sampled_from(EXTRA_KEYS), label="key")
            lines.insert(i, f"{extra} = {data.draw(st.sampled_from(LITERALS), label='value')}")
        else:
            lines[i] = data.draw(st.text(max_size=40), label="text")
    return "\n".join(lines) + "\n"


@FUZZ
@given(data=st.data())
def test_the_scenario_loader_raises_only_scenario_errors(data, tmp_path_factory, places):
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.toml"
    if data.draw(st.booleans(), label="raw bytes"):
        path.write_bytes(data.draw(st.binary(max_size=200), label="bytes"))
    else:
        path.write_text(mutate(data), encoding="utf-8", errors="surrogatepass")
    with bounded():
        try:
            spec = load_scenario(path, place_names=places)
        except ScenarioError as err:
            assert str(err) and "\n" not in str(err).strip() or "TOML" in str(err)
        else:
            assert spec.end > spec.start and spec.sectors


# --------------------------------------------------------------------------------------------
# The command line


@pytest.fixture
def stubbed(monkeypatch, tmp_path):
    """The CLI with the simulation, the server and the outputs stubbed, in a scratch directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text(BASE)
    calls = []

    # The stubs keep what the real functions do first with their arguments (seed a generator,
    # spawn seeds), so an argument the real run would choke on makes the stub choke too.
    def run_scenario(spec, seed):
        calls.append("run")
        np.random.default_rng(seed)
        return types.SimpleNamespace(summary={"name": spec.name}, write=lambda out: None)

    def run_batch(spec, replications, seed=0, **kw):
        calls.append("batch")
        sim.batch.replication_seeds(seed, min(replications, 4))
        return done

    def run_sweep(spec, points, replications, seed=0, **kw):
        calls.append("sweep")
        sim.batch.replication_seeds(seed, min(replications, 4))
        return done

    fake = types.ModuleType("sim.runner")
    fake.run_scenario = run_scenario
    fake.format_summary = lambda summary: "ran"
    fake.SUMMARY_OUTCOMES = ("russia_gain_km2",)
    monkeypatch.setitem(sys.modules, "sim.runner", fake)
    done = types.SimpleNamespace(computed=[])
    monkeypatch.setattr(sim.batch, "run_batch", run_batch)
    monkeypatch.setattr(sim.batch, "format_batch", lambda result: "batch")
    monkeypatch.setattr(sim.sweep, "run_sweep", run_sweep)
    monkeypatch.setattr(sim.sweep, "sweep_sobol", lambda *a, **kw: (run_sweep(*a, **kw), None))
    monkeypatch.setattr(sim.sweep, "format_sweep", lambda result: "sweep")
    monkeypatch.setattr(sim.sweep, "format_sobol", lambda analysis: "sobol")
    monkeypatch.setattr(sim.calibrate, "calibrate", lambda *a, **kw: None)
    monkeypatch.setattr(sim.calibrate, "write_calibrated", lambda *a, **kw: None)
    monkeypatch.setattr(sim.calibrate, "write_report", lambda *a, **kw: "report.md")
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **kw: types.SimpleNamespace(wait=int))
    return calls


VERBS = [
    ["params"],
    ["theatre", "info"],
    ["run"],
    ["batch"],
    ["sweep"],
    ["report"],
    ["view"],
    ["calibrate"],
]
FLAGS = [
    "--seed", "--until", "--set", "--out", "--replications", "--workers", "--design", "--param",
    "--samples", "--sobol", "--places", "--dates", "--host", "--port", "--allow-path", "--json",
    "--markdown", "--search", "--targets", "--scheduler", "--quick", "--no-sensitivity",
]  # fmt: skip
VALUES = [
    "s.toml", "baseline_2024", "nowhere", "-1", "0", "1", "2", "3", "99999", "1000000000",
    "9223372036854775808", "2024-01-15", "2024-02-30", "1900-01-01", "x", "", "grid", "lhs",
    "sobol", "advance_slowdown=0.01:0.02", "advance_slowdown=0.5:0.1", "surprise_days=1:9",
    "advance_slowdown=0.02", "start=1900-01-01", "end=2024-01-10", "bogus=1", "Atlantis",
    "Avdiivka,Pokrovsk", "0.0.0.0", "127.0.0.1", ".", "out", "s.toml/x", "/dev/null",
    "russia_gain_km2", "nan", "inf", "--", "-h",
]  # fmt: skip


# Flags each verb needs, with a plausible value, so that most examples get past the parser.
REQUIRED = {
    "batch": ["--replications", "2", "--out", "out"],
    "sweep": ["--design", "lhs", "--param", "advance_slowdown=0.01:0.02", "--samples", "2"]
    + ["--replications", "1", "--out", "out"],
}
SCENARIOS = ["s.toml", "baseline_2024", "nowhere", "/dev/null", ".", "s.toml/x"]


@st.composite
def command_lines(draw) -> list[str]:
    verb = draw(st.sampled_from(VERBS))
    argv = list(verb)
    if verb[0] in ("run", "batch", "sweep", "view"):
        argv.append(draw(st.sampled_from(SCENARIOS)))
    elif verb[0] == "report":
        argv.append(draw(st.sampled_from([".", "out", "nowhere", "s.toml"])))
    if draw(st.booleans()):
        argv += REQUIRED.get(verb[0], [])
    pairs = st.tuples(st.sampled_from(FLAGS), st.sampled_from(VALUES) | st.text(max_size=12))
    for flag, value in draw(st.lists(pairs, max_size=4)):
        argv += [flag, value]
    return argv


@FUZZ
@given(argv=command_lines())
# Cases from the sweep, always run besides the generated ones.
@example(argv=["run", "s.toml", "--seed", "-1"])
@example(argv=["calibrate", "--search", "s.toml"])
@example(argv=["view", "s.toml", "--port", "99999"])
@example(argv=["run", "s.toml", "--out", "s.toml"])
@example(argv=["batch", "s.toml", "--replications", "2", "--out", "b", "--seed", "-5"])
def test_the_command_line_never_shows_a_traceback(stubbed, capsys, argv):
    with bounded():
        code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code in (0, 2), f"frontline {' '.join(argv)} -> {code}: {err}"


def test_the_fuzzed_commands_reach_past_the_parser(stubbed, capsys):
    """The stubs are reached (a fuzz where every command failed to parse would test little)."""
    assert main(["run", "s.toml", "--until", "2024-01-15"]) == 0
    assert main(["batch", "s.toml", "--replications", "2", "--out", "b"]) == 0
    assert main(["sweep", "s.toml", *REQUIRED["sweep"]]) == 0
    assert stubbed == ["run", "batch", "sweep"]
    assert capsys.readouterr().out.count("ran") == 1
