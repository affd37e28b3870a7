"""A small grid world for the mechanics' behaviour tests (``tests/test_mechanics.py``).

The world is a synthetic grid theatre (:mod:`sim.theatre.synthetic`): square cells of
``CELL_KM``, Russia holding the western half, one named anchor place per sector on the first
Ukrainian column, and hubs where a test puts them. It goes through the ordinary scenario loader
and :class:`sim.model.FrontlineModel`, so the tests drive the model as a user does, then set the
state a mechanic reads (a unit's losses, a sector's threat, a node's averaged losses) before a
step.

Everything a test needs to know about the module layout (named constants of the mechanics,
private state) is gathered here, so a restructure that moves them has one file of tests to
adapt, not every test.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

# The mechanics' named constants the tests read (see each module for its source).
from sim.command import MIN_DONOR_LINE, QUIET_SHARE
from sim.forces import REFIT_COHESION, REFIT_FILL_WEIGHT, REFIT_STRENGTH
from sim.fortification import FORT_MAX, HASTY
from sim.march import ROAD_TORTUOSITY
from sim.model import FrontlineModel
from sim.scenario import load_scenario
from sim.theatre.synthetic import write_grid
from sim.theatre.theatre import Theatre
from sim.units import RUSSIA, UKRAINE

CELL_KM = 3.0
START = "2024-01-01"

# A silent front: no fires of any kind and no direct-fire losses on quiet edges, so that on a
# front where both sides hold nobody loses a man, and no recruits arrive. A test then sees one
# mechanic at work, not the day's attrition.
SILENT = {
    "russia_shells_per_day": 0,
    "ukraine_shells_per_day": 0,
    "russia_glide_bombs_per_day": 0,
    "russia_drone_sorties_per_day": 0,
    "ukraine_drone_sorties_per_day": 0,
    "positional_loss_factor": 0,
    "russia_recruits_per_day": 0,
    "ukraine_recruits_per_day": 0,
}


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return repr(v)


def _table(header: str, keys: dict) -> str:
    return f"{header}\n" + "".join(f"{k} = {_value(v)}\n" for k, v in keys.items())


def sector(name: str, row: int, russia_units: int, ukraine_units: int, **keys: object) -> dict:
    """A ``[[sector]]`` anchored at ``row`` of the first Ukrainian column (keys as in TOML)."""
    return {
        "name": name,
        "row": row,
        "russia_units": russia_units,
        "ukraine_units": ukraine_units,
        **keys,
    }


def grid_world(
    tmp_path: Path,
    sectors: list[dict],
    *,
    params: dict | None = None,
    events: Iterable[dict] = (),
    schedule: dict[str, dict[str, float]] | None = None,
    nx: int = 10,
    ny: int = 12,
    hubs: dict[str, tuple[int, int]] | None = None,
    names: dict[str, tuple[int, int]] | None = None,
    seed: int = 1,
    end: str = "2024-06-01",
) -> FrontlineModel:
    """A FrontlineModel on an ``nx`` x ``ny`` grid (Russia west of column ``nx // 2``).

    Parameters
    ----------
    sectors : list of dict
        From :func:`sector`; each anchor is a place named after the sector.
    params : dict, optional
        ``[params]`` of the scenario (registry names).
    events : iterable of dict
        ``[[event]]`` tables.
    schedule : dict, optional
        ``{parameter: {"YYYY-MM-DD": value}}``.
    hubs, names : dict, optional
        Hub or place name -> (column, row). By default one hub per side in the middle of its
        back edge.
    """
    front_col = nx // 2
    labels = {f"{s['name']}": (front_col, s["row"]) for s in sectors}
    labels.update(names or {})
    node = {label: row * nx + col for label, (col, row) in labels.items()}
    hub_nodes = None
    if hubs is not None:
        hub_nodes = {label: row * nx + col for label, (col, row) in hubs.items()}
    theatre = Theatre.load(
        write_grid(
            tmp_path / "grid.npz",
            nx=nx,
            ny=ny,
            cell_km=CELL_KM,
            hubs=hub_nodes,
            names={v: k for k, v in node.items()},
        )
    )
    text = f'name = "mechanics"\nstart = {START}\nend = {end}\ninitial_control = "{START}"\n\n'
    text += _table("[params]", params or {}) + "\n"
    for key, points in (schedule or {}).items():
        text += _table(f"[schedule.{key}]", {f'"{d}"': v for d, v in points.items()})
    for s in sectors:
        keys = {k: v for k, v in s.items() if k != "row"}
        keys["anchors"] = [s["name"]]
        text += "\n" + _table("[[sector]]", keys)
    for e in events:
        text += "\n" + _table("[[event]]", e)
    path = tmp_path / "grid.toml"
    path.write_text(text)
    return FrontlineModel(load_scenario(path), rng=seed, theatre=theatre)


# --- reading the state ----------------------------------------------------------------------
def rows(m: FrontlineModel, side: int, posture: int | None = None) -> np.ndarray:
    """Rows of the side's living units (of one posture, if given)."""
    u = m.units
    keep = u.alive[: u.n] & (u.side[: u.n] == side)
    if posture is not None:
        keep &= u.posture[: u.n] == posture
    return np.flatnonzero(keep)


def own_front(m: FrontlineModel, side: int) -> np.ndarray:
    """Mask of the side's nodes that touch the enemy's."""
    return m.front_node_mask() & (m.control == side)


def node_at(m: FrontlineModel, col: int, row: int) -> int:
    """Node id of a grid cell (ids run row by row)."""
    y = m.theatre.y_km
    nx = int((y == y.min()).sum())
    return row * nx + col


def nearest_own_hub(m: FrontlineModel, side: int, near: int) -> int:
    """The side's hub nearest a node: where reserves wait and refitting units go."""
    hubs = m.supply_net.hub_nodes
    own = hubs[m.control[hubs] == side]
    d = np.hypot(*(m.xy[own] - m.xy[near]).T)
    return int(own[np.argmin(d)])


def march_days(m: FrontlineModel, node: int, sector: int) -> int:
    """Days of road march from ``node`` to a sector's anchor, from the registry's speed.

    Road distance is the straight line times the road tortuosity; a march takes at least a day.
    """
    anchor = m.sectors.anchor_node[sector]
    km = float(np.hypot(*(m.xy[node] - m.xy[anchor]))) * ROAD_TORTUOSITY
    return max(1, math.ceil(km / m.p.unit_move_speed_km))


def step_until(m: FrontlineModel, day: int) -> None:
    """Step until ``m.day == day`` (the number of days simulated)."""
    while m.day < day:
        m.step()


__all__ = [
    "CELL_KM",
    "FORT_MAX",
    "HASTY",
    "MIN_DONOR_LINE",
    "QUIET_SHARE",
    "REFIT_COHESION",
    "REFIT_FILL_WEIGHT",
    "REFIT_STRENGTH",
    "RUSSIA",
    "SILENT",
    "UKRAINE",
    "grid_world",
    "march_days",
    "nearest_own_hub",
    "node_at",
    "own_front",
    "rows",
    "sector",
    "step_until",
]
