"""The frontline command line: params, the generated docs, run (with a stand-in runner), errors."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from datetime import date
from pathlib import Path

import pytest

import sim.cli
import sim.cli_verbs
import sim.theatre
from sim.cli import main, render_parameters_doc
from sim.params import PARAMS as _PARAMS
from sim.params import REGISTRY, table

# Read from the registry, so the tests follow a deliberate change of the range.
SLOWDOWN_RANGE = f"[{_PARAMS['advance_slowdown'].low:g}, {_PARAMS['advance_slowdown'].high:g}]"

REPO = Path(__file__).resolve().parents[1]

SCENARIO = """\
name = "cli_test"
start = 2024-01-01
end = 2024-12-31
initial_control = "2024-01-01"

[params]
russia_recruits_per_day = 1100

[[sector]]
name = "Pokrovsk"
anchors = ["Avdiivka"]
russia_units = 20
ukraine_units = 14

[[sector]]
name = "Kursk"
anchors = ["Sudzha"]
russia_units = 2
ukraine_units = 0

[[event]]
date = 2024-08-06
kind = "redeploy"
side = "ukraine"
from_sector = "Pokrovsk"
to_sector = "Kursk"
units = 4
"""


@pytest.fixture
def scenario(tmp_path, monkeypatch) -> Path:
    # The theatre file may not be built where tests run; anchors are checked in test_scenario.
    monkeypatch.setattr(sim.cli_verbs, "_place_names", lambda: None)
    path = tmp_path / "cli_test.toml"
    path.write_text(SCENARIO)
    return path


@pytest.fixture
def runner(monkeypatch) -> types.SimpleNamespace:
    """A stand-in for sim.runner that records what the CLI passes it."""
    calls = types.SimpleNamespace(spec=None, seed=None, written=None)

    class Result:
        summary = {"scenario": "cli_test", "seed": None}

        def write(self, out_dir: Path) -> None:
            calls.written = out_dir

    def run_scenario(spec, seed):
        calls.spec, calls.seed = spec, seed
        result = Result()
        result.summary = {"scenario": spec.name, "seed": seed}
        return result

    def format_summary(summary: dict) -> str:
        return f"SUMMARY {summary['scenario']} seed={summary['seed']}"

    fake = types.ModuleType("sim.runner")
    fake.run_scenario = run_scenario
    fake.format_summary = format_summary
    monkeypatch.setitem(sys.modules, "sim.runner", fake)
    return calls


def assert_usage_error(capsys, code: int, *parts: str) -> str:
    out, err = capsys.readouterr()
    assert code == 2
    assert "error:" in err
    assert "Traceback" not in err and out == ""
    for part in parts:
        assert part in err, f"{part!r} not in {err!r}"
    return err


# --------------------------------------------------------------------------------------------
# params and docs/parameters.md


def test_params_prints_every_registry_name(capsys):
    assert main(["params"]) == 0
    out = capsys.readouterr().out
    assert out == table() + "\n"
    for p in REGISTRY:
        assert p.name in out


def test_params_markdown_is_the_doc(capsys):
    assert main(["params", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out == render_parameters_doc()
    assert out.startswith("# Parameters\n")
    assert out.count("\n| ") == len(REGISTRY) + 1  # header + one row per parameter


def test_committed_parameters_doc_is_current():
    committed = (REPO / "docs" / "parameters.md").read_text()
    assert committed == render_parameters_doc(), (
        "docs/parameters.md is stale: run `frontline params --markdown > docs/parameters.md`"
    )


def test_python_dash_m_sim(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "sim", "params"], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0 and REGISTRY[0].name in done.stdout


def test_help_and_missing_verb(capsys):
    assert main(["--help"]) == 0
    assert "run" in capsys.readouterr().out
    assert main([]) == 2
    assert "required" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# run


def test_run_passes_seed_overrides_and_until(scenario, runner, capsys, tmp_path):
    argv = ["run", str(scenario), "--seed", "7", "--until", "2024-06-30"]
    argv += ["--set", "advance_slowdown=0.05", "--set", "russia_recruits_per_day=900"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "SUMMARY cli_test seed=7" in out
    assert f"wrote {tmp_path / 'out'}" in out
    assert runner.seed == 7 and runner.written == tmp_path / "out"
    assert runner.spec.params["advance_slowdown"] == 0.05
    assert runner.spec.params["russia_recruits_per_day"] == 900
    assert runner.spec.end == date(2024, 6, 30)
    assert runner.spec.events == ()  # the August redeploy falls after --until


def test_run_defaults(scenario, runner, capsys):
    assert main(["run", str(scenario)]) == 0
    assert "seed=0" in capsys.readouterr().out
    assert runner.seed == 0 and runner.written is None
    assert runner.spec.end == date(2024, 12, 31) and len(runner.spec.events) == 1


def test_run_bare_name_from_scenarios_dir(tmp_path, monkeypatch, runner, capsys):
    monkeypatch.setattr(sim.cli_verbs, "_place_names", lambda: None)
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "cli_test.toml").write_text(SCENARIO)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "cli_test"]) == 0
    assert runner.spec.name == "cli_test"


def test_run_missing_scenario(tmp_path, capsys):
    code = main(["run", str(tmp_path / "nowhere.toml")])
    assert_usage_error(capsys, code, "frontline: error:", "nowhere.toml", "not found")


def test_run_bad_scenario_file(scenario, tmp_path, capsys):
    scenario.write_text(SCENARIO.replace("russia_units = 20", "russia_units = -3"))
    code = main(["run", str(scenario)])
    assert_usage_error(capsys, code, "cli_test.toml", "sector[0].russia_units = -3", ">= 0")


@pytest.mark.parametrize(
    ("args", "parts"),
    [
        (
            ["--set", "russia_shels_per_day=5"],
            ["--set russia_shels_per_day", "'russia_shells_per_day'"],
        ),
        (["--set", "advance_slowdown=2"], ["--set advance_slowdown", SLOWDOWN_RANGE]),
        (["--set", "advance_slowdown=fast"], ["--set advance_slowdown", "not a number"]),
        (["--set", "a=1", "--set", "a=2"], ["--set given more than once for: a"]),
        (["--until", "2025-06-01"], ["until = 2025-06-01", "2024-12-31"]),
        (["--until", "2023-06-01"], ["until", "2024-01-01"]),
    ],
)
def test_run_bad_options_exit_2(scenario, runner, capsys, args, parts):
    code = main(["run", str(scenario), *args])
    assert_usage_error(capsys, code, "frontline: error:", *parts)
    assert runner.spec is None  # nothing ran


@pytest.mark.parametrize("args", [["--set", "no_equals"], ["--until", "June"], ["--seed", "x"]])
def test_run_malformed_options_are_argparse_errors(scenario, runner, capsys, args):
    code = main(["run", str(scenario), *args])
    assert_usage_error(capsys, code, "frontline run: error:")
    assert runner.spec is None


# --------------------------------------------------------------------------------------------
# theatre (with stand-ins: the real builder needs the [build] extras and minutes)


def test_theatre_info(monkeypatch, capsys):
    info = {"nodes": 1234, "area_km2": 98765.5, "dates": ["2024-01-01"]}
    fake = types.ModuleType("sim.theatre.theatre")
    fake.Theatre = types.SimpleNamespace(load=lambda: types.SimpleNamespace(info=lambda: info))
    monkeypatch.setitem(sys.modules, "sim.theatre.theatre", fake)
    assert main(["theatre", "info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == info
    assert main(["theatre", "info"]) == 0
    out = capsys.readouterr().out
    assert "nodes     1234" in out and '["2024-01-01"]' in out


def test_theatre_build_defaults_and_options(monkeypatch, capsys, tmp_path):
    calls = []
    fake = types.ModuleType("sim.theatre.build")
    fake.DEFAULT_FRONTLINES, fake.DEFAULT_OUT = Path("fl"), Path("out.npz")
    fake.build_theatre = lambda fl, out: calls.append((fl, out)) or {"nodes": 3}
    monkeypatch.setitem(sys.modules, "sim.theatre.build", fake)
    monkeypatch.setattr(sim.theatre, "build", fake, raising=False)
    assert main(["theatre", "build"]) == 0
    assert main(["theatre", "build", "--frontlines", str(tmp_path), "--out", "x.npz"]) == 0
    assert calls == [(Path("fl"), Path("out.npz")), (tmp_path, Path("x.npz"))]
    assert json.loads(capsys.readouterr().out.split("}\n")[0] + "}") == {"nodes": 3}


def test_theatre_build_missing_frontlines_exit_2(monkeypatch, capsys):
    def build_theatre(fl, out):
        raise FileNotFoundError(f"control polygons not found in {fl}")

    fake = types.ModuleType("sim.theatre.build")
    fake.DEFAULT_FRONTLINES, fake.DEFAULT_OUT = Path("fl"), Path("out.npz")
    fake.build_theatre = build_theatre
    monkeypatch.setitem(sys.modules, "sim.theatre.build", fake)
    monkeypatch.setattr(sim.theatre, "build", fake, raising=False)
    code = main(["theatre", "build"])
    assert_usage_error(capsys, code, "frontline: error:", "control polygons not found in fl")
