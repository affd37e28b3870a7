"""A batch draws its parameters from the posterior the scenario's calibration names, unless told
otherwise (``--posterior FILE``, ``--no-posterior``); ``--set`` keeps a parameter fixed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main
from sim.posterior import Posterior, load_posterior
from sim.scenario import ScenarioError, load_scenario

BASE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline_2024.toml"


def _world(tmp_path: Path, posterior: str | None = "post.csv") -> Path:
    (tmp_path / "post.csv").write_text(
        "# a test sample\nadvance_slowdown,fires_elasticity\n0.01,0.2\n0.02,0.3\n0.03,0.4\n"
    )
    line = f'posterior = "{posterior}"\n' if posterior else ""
    (tmp_path / "calib.toml").write_text(line + "[params]\nadvance_slowdown = 0.02\n")
    scen = tmp_path / "scen.toml"
    scen.write_text(f'extends = "{BASE}"\nname = "scen"\ncalibration = "calib.toml"\n')
    return scen


def test_the_calibration_names_the_posterior(tmp_path):
    spec = load_scenario(_world(tmp_path))
    assert spec.posterior == (tmp_path / "post.csv").resolve()
    assert load_scenario(_world(tmp_path, None)).posterior is None


@pytest.mark.parametrize(
    ("posterior", "message"),
    [("nope.csv", "no such file"), ("post.txt", "must name a .csv posterior sample")],
)
def test_a_bad_posterior_is_refused_naming_the_calibration_and_key(tmp_path, posterior, message):
    scen = _world(tmp_path, posterior)
    with pytest.raises(ScenarioError, match=rf"calib\.toml.*posterior.*{message}"):
        load_scenario(scen)


def _manifest(out: Path) -> dict:
    return json.loads((out / "batch.json").read_text())


@pytest.mark.parametrize(
    ("flags", "expect"),
    [
        ([], "all"),
        (["--no-posterior"], None),
        (["--set", "advance_slowdown=0.05"], "fires_elasticity"),
    ],
)
def test_a_batch_draws_from_the_calibration_s_posterior(tmp_path, flags, expect):
    """The manifest records the digest of the sample the replications drew from: the whole
    posterior by default, none with --no-posterior, and without the --set column."""
    scen = _world(tmp_path)
    out = tmp_path / "out"
    argv = ["batch", str(scen), "--replications", "2", "--until", "2024-01-05"]
    status = main([*argv, "--workers", "1", "--out", str(out), *flags])
    assert status == 0
    manifest = _manifest(out)
    post = load_posterior(tmp_path / "post.csv")
    if expect is None:
        assert "posterior" not in manifest
    elif expect == "all":
        assert manifest["posterior"] == post.digest()
    else:
        assert manifest["posterior"] == post.without(["advance_slowdown"]).digest()
        assert manifest["posterior"] != post.digest()


def test_posterior_and_no_posterior_do_not_mix(tmp_path, capsys):
    scen = _world(tmp_path)
    argv = ["batch", str(scen), "--replications", "1", "--out", str(tmp_path / "o")]
    assert main([*argv, "--posterior", str(tmp_path / "post.csv"), "--no-posterior"]) == 2
    assert "do not mix" in capsys.readouterr().err


def test_without_drops_only_the_named_columns():
    p = Posterior(("a", "b", "c"), np.arange(6.0).reshape(2, 3), "x.csv")
    q = p.without(["b", "zzz"])
    assert q.names == ("a", "c")
    assert q.values.tolist() == [[0.0, 2.0], [3.0, 5.0]]
