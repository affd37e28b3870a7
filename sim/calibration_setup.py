"""What a calibration is asked to do: the targets it fits (``calibration/targets.toml``), the
search over the free parameters (``calibration/search.toml``) and the result it hands back.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from sim.history_matching import Prior
from sim.params import PARAMS

ROOT = Path(__file__).resolve().parents[1]


CALIBRATION_DIR = ROOT / "calibration"


# Fixed parameters whose influence on the fit the report measures (one at a time, range ends).
SENSITIVITY_FIXED = (
    "attacker_loss_rate",
    "ratio_loss_exponent",
    "advance_ratio_exponent",
    "success_ratio_slope",
    "depth_exponent",
    "frontage_cap_per_km",
    "breakpoint_mean",
    "supply_efold_km",
    "reserve_commit_threshold",
)


@dataclass(frozen=True)
class Target:
    """One calibration target: an outcome of a scenario at a date, with its source."""

    name: str
    scenario: str
    outcome: str
    until: date
    value: float
    observation_sd: float
    source: str


@dataclass
class Search:
    """The search settings of ``calibration/search.toml``."""

    seed: int
    params: list[FreeParam]
    discrepancy: float
    cutoff: float
    points_per_wave: int
    waves: int
    replications: int
    final_points: int
    final_replications: int
    verify_replications: int = 0
    verify_seed: int = 1


@dataclass
class CalibrationResult:
    """Everything the search found, in plain data."""

    targets: list[Target]
    search: Search
    evaluated: pd.DataFrame  # one row per (wave, point): parameters, per-target mean/sd/I
    best: dict[str, float]
    region: pd.DataFrame  # the surviving (non-implausible) points of the last wave
    predictive: list[dict]  # per target: p05/p50/p95 over parameter draws x replications
    runs: list[pd.DataFrame] = field(default_factory=list)  # per target: final runs' summaries
    daily: list[pd.DataFrame] = field(default_factory=list)  # per target: their daily tables
    sensitivity: pd.DataFrame | None = None
    verification: list[dict] = field(default_factory=list)  # best point alone, batch seeds
    seconds: float = 0.0
    n_runs: int = 0


def load_targets(path: Path = CALIBRATION_DIR / "targets.toml") -> list[Target]:
    """Read the calibration targets."""
    with Path(path).open("rb") as f:
        raw = tomllib.load(f)
    targets = []
    for i, t in enumerate(raw.get("target", [])):
        missing = {"name", "scenario", "outcome", "until", "value"} - set(t)
        if missing:
            raise ValueError(f"{path}: target[{i}] lacks {', '.join(sorted(missing))}")
        targets.append(
            Target(
                name=t["name"],
                scenario=t["scenario"],
                outcome=t["outcome"],
                until=t["until"]
                if isinstance(t["until"], date)
                else date.fromisoformat(t["until"]),
                value=float(t["value"]),
                observation_sd=float(t.get("observation_sd", 0.05)),
                source=t.get("source", ""),
            )
        )
    if not targets:
        raise ValueError(f"{path}: no [[target]] entries")
    return targets


def load_search(path: Path = CALIBRATION_DIR / "search.toml", quick: bool = False) -> Search:
    """Read the search settings; ``quick`` takes the ``[quick]`` budget instead of ``[budget]``.

    Raises ``ValueError`` naming the file for anything that is not a search settings file.
    """
    with Path(path).open("rb") as f:
        raw = tomllib.load(f)
    try:
        return _search(path, raw, quick)
    except (KeyError, TypeError, AttributeError) as err:
        what = "a scenario, not search settings" if "sector" in raw else "not search settings"
        raise ValueError(
            f"{path}: {what} ({type(err).__name__}: {err}); expected [params.NAME] tables with "
            "low and high, and a [budget] table (see calibration/search.toml)"
        ) from None


def _search(path: Path, raw: dict, quick: bool) -> Search:
    params = []
    for name, spec in raw["params"].items():
        if name not in PARAMS:
            raise ValueError(f"{path}: params.{name}: not a registry parameter")
        reg = PARAMS[name]
        low, high = float(spec["low"]), float(spec["high"])
        if not reg.low <= low < high <= reg.high:
            raise ValueError(
                f"{path}: params.{name}: range [{low}, {high}] must lie inside the registry's "
                f"[{reg.low}, {reg.high}]"
            )
        params.append(FreeParam(name, low, high, bool(spec.get("log", False))))
    budget = {**raw["budget"], **(raw.get("quick", {}) if quick else {})}
    hm = raw.get("history_matching", {})
    return Search(
        seed=int(raw.get("seed", 0)),
        params=params,
        discrepancy=float(hm.get("discrepancy", 0.15)),
        cutoff=float(hm.get("cutoff", 3.0)),
        points_per_wave=int(budget["points_per_wave"]),
        waves=int(budget["waves"]),
        replications=int(budget["replications"]),
        final_points=int(budget["final_points"]),
        final_replications=int(budget["final_replications"]),
        verify_replications=int(budget.get("verify_replications", 0)),
        verify_seed=int(budget.get("verify_seed", 1)),
    )


# A calibrated parameter and its prior range (sampled in log space if ``log``): the record
# calibration's prior, one definition for both.
FreeParam = Prior


def finite_quantiles(values, qs=(5, 50, 95)) -> list[float]:
    """The ``qs`` percentiles of the finite ``values`` (NaN for each if none)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return [float(np.percentile(v, q)) for q in qs] if len(v) else [math.nan] * len(qs)
