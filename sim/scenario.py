"""Scenarios: TOML files checked against the parameter registry, with ``extends``.

A scenario gives the exogenous inputs of one run: dates, the initial line, parameter overrides
(optionally scheduled by date), the order of battle by sector and dated events. The loader
turns a file (and the files it extends) into a frozen :class:`ScenarioSpec`. The model reads
only that object, never the TOML.

Every bad input raises :class:`ScenarioError`. Its message gives the file, the key path
(``sector[2].russia_units``), the bad value and what is allowed. Unknown keys get the nearest
known name, so a typo cannot quietly turn into a default.

File format (all keys; ``extends`` and ``description`` are optional)::

    extends = "baseline_2024.toml"     # relative to this file: inherit, then override
    name = "kursk_2024"
    description = "..."
    assumptions = ["..."]              # what a forecast assumes (reports state them)
    start = 2024-01-01                 # TOML date or "YYYY-MM-DD"
    end = 2024-12-31
    initial_control = "2024-01-01"     # one of CONTROL_DATES

    [params]                           # registry parameters (sim.params)
    russia_recruits_per_day = 1100

    [schedule.russia_shells_per_day]   # value in force from each date on
    "2024-01-01" = 50000

    [[sector]]                         # name, anchors, russia_units, ukraine_units required
    name = "Pokrovsk"
    anchors = ["Avdiivka"]
    russia_units = 20
    ukraine_units = 14
    russia_posture = "attack"          # "attack" | "hold" (default "hold")
    ukraine_posture = "hold"
    russia_objective = "Pokrovsk"      # optional place name
    ukraine_objective = "Donetsk"

    [[event]]                          # kinds: redeploy, reinforce, posture
    date = 2024-08-06
    kind = "redeploy"
    side = "ukraine"
    from_sector = "Pokrovsk"
    to_sector = "Kursk"
    units = 4
    surprise = true

``extends`` merges ``[params]`` and ``[schedule]`` key by key (a child's schedule of a key
replaces the parent's), merges ``[[sector]]`` entries by ``name`` (field by field) and
appends the child's ``[[event]]`` list to the parent's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

import sim
from sim.scenario_fields import (
    CONTROL_DATES,
    ScenarioError,
    _hint,
)
from sim.scenario_files import (
    TRUSTED_DIRS,
    _read_chain,
)
from sim.scenario_layers import (
    _parse_layer,
    _resolve,
)
from sim.scenario_spec import (
    CONSTRUCTION_ONLY,
    EVENT_KINDS,
    POSTURES,
    SIDES,
    EventSpec,
    ScenarioSpec,
    SectorSpec,
)

__all__ = [
    "CONSTRUCTION_ONLY",
    "CONTROL_DATES",
    "EVENT_KINDS",
    "POSTURES",
    "SIDES",
    "EventSpec",
    "ScenarioError",
    "ScenarioSpec",
    "SectorSpec",
    "find_scenario",
    "load_scenario",
]


# --------------------------------------------------------------------------------------------
# The public, resolved objects


# --------------------------------------------------------------------------------------------
# Finding and loading files


def find_scenario(ref: str | Path, cwd: Path | None = None) -> Path:
    """Resolve a scenario reference to a file.

    Parameters
    ----------
    ref : str or Path
        A path to a TOML file, or a bare name such as ``baseline_2024`` looked up as
        ``scenarios/<name>.toml`` in ``cwd`` and then in the repository next to the package.
    cwd : Path, optional
        Directory for relative lookups; the current directory by default.

    Raises
    ------
    ScenarioError
        Nothing found; the message lists where it looked and the nearest known names.
    """
    cwd = Path.cwd() if cwd is None else cwd
    path = Path(ref)
    candidates = [path if path.is_absolute() else cwd / path]
    dirs = [cwd / "scenarios", Path(sim.__file__).resolve().parents[1] / "scenarios"]
    if len(path.parts) == 1:  # a bare name, with or without ".toml"
        candidates += [d / f"{path.stem}.toml" for d in dirs]
    candidates = list(dict.fromkeys(c.resolve() for c in candidates))  # cwd may be the repo
    for c in candidates:
        if c.is_file():
            return c
    known = sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.toml")})
    raise ScenarioError(
        f"scenario '{ref}' not found (looked for {', '.join(str(c) for c in candidates)})"
        f"{_hint(path.stem, known)}; known scenarios: {', '.join(known) or 'none'}"
    )


def load_scenario(
    path: str | Path,
    place_names: Collection[str] | None = None,
    allow: Iterable[str | Path] = (),
) -> ScenarioSpec:
    """Load, merge (``extends``) and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        The TOML file.
    place_names : collection of str, optional
        Known theatre place names. If given, every sector anchor and objective must be one.
    allow : iterable of path, optional
        More directories whose files ``extends`` and ``calibration`` may name. By default they
        may name only ``.toml`` files under the directory of ``path`` and under the project's
        ``calibration/`` and ``scenarios/`` (:data:`TRUSTED_DIRS`).

    Returns
    -------
    ScenarioSpec

    Raises
    ------
    ScenarioError
        For any bad input: missing file, malformed TOML, unknown key, wrong type, value out
        of range, inconsistent dates or sectors, a file outside the allowed directories or not
        a regular ``.toml`` file. The message says where and what is allowed.

    Examples
    --------
    >>> spec = load_scenario("scenarios/baseline_2024.toml")  # doctest: +SKIP
    >>> spec.param_on("russia_shells_per_day", spec.start)  # doctest: +SKIP
    50000
    """
    path = Path(path)
    roots = (path.resolve().parent, *TRUSTED_DIRS, *(Path(a).resolve() for a in allow))
    chain = _read_chain(path, roots)
    layers = [_parse_layer(p, raw, roots) for p, raw in chain]
    return _resolve(layers, place_names)


# --------------------------------------------------------------------------------------------
# Error locations and one validator per kind of check


# --------------------------------------------------------------------------------------------
# One file: local checks (each value on its own). Values keep their location so that checks
# made after merging ``extends`` still point at the file and key that set them.


# --------------------------------------------------------------------------------------------
# Merging extends and the checks that need the whole scenario
