"""Model behaviour on small synthetic grid theatres whose answer is known by construction."""

from pathlib import Path

import numpy as np
import pytest

from sim.model import FrontlineModel
from sim.scenario import load_scenario
from sim.theatre.synthetic import grid_arrays, write_grid
from sim.theatre.theatre import Theatre
from sim.units import HOLD, RUSSIA, UKRAINE, Unit

SCENARIO = """
name = "grid"
start = 2024-01-01
end = {end}
initial_control = "2024-01-01"
{params}
{sectors}
"""


def sector(name, anchors, ru, ua, ru_posture="hold", objective=None) -> str:
    text = f"""
[[sector]]
name = "{name}"
anchors = {anchors!r}
russia_units = {ru}
ukraine_units = {ua}
russia_posture = "{ru_posture}"
""".replace("'", '"')
    if objective:
        text += f'russia_objective = "{objective}"\n'
    return text


def make(tmp_path: Path, theatre_kw: dict, sectors: str, end="2024-03-01", params="", seed=1):
    theatre = Theatre.load(write_grid(tmp_path / "grid.npz", **theatre_kw))
    path = tmp_path / "grid.toml"
    path.write_text(SCENARIO.format(end=end, params=params, sectors=sectors))
    return FrontlineModel(load_scenario(path), rng=seed, theatre=theatre)


def test_units_are_mesa_agents_on_the_network(tmp_path):
    names = {5 * 20 + 5: "West", 5 * 20 + 15: "East"}
    m = make(tmp_path, dict(nx=20, ny=10, names=names), sector("all", ["West", "East"], 4, 3))
    units = list(m.agents_by_type[Unit])
    assert len(units) == 7
    for u in units:
        assert u.cell is m.space[u.node]  # the Mesa cell and the table agree
        assert m.control[u.node] == u.side  # each stands on its own side's ground
    assert sum(u.side == RUSSIA for u in units) == 4


def pocket_theatre() -> dict:
    """A 15x15 grid held by Russia with a 3x3 Ukrainian pocket in the middle, no hub inside it,
    plus a Ukrainian column on the east edge with the Ukrainian hub."""
    nx = ny = 15
    control = np.ones(nx * ny, dtype=np.int8)
    col, row = np.arange(nx * ny) % nx, np.arange(nx * ny) // nx
    pocket = (abs(col - 6) <= 1) & (abs(row - 7) <= 1)
    control[pocket | (col >= 13)] = 0
    hubs = {"Russian Hub": 7 * nx + 0, "Ukrainian Hub": 7 * nx + 14}
    names = {7 * nx + 6: "Pocket", 2 * nx + 13: "Outside", 7 * nx + 3: "Besiegers"}
    return dict(nx=nx, ny=ny, control=control, hubs=hubs, names=names)


def test_cut_off_pocket_starves_and_surrenders(tmp_path):
    """A unit with no path to any hub uses up its stocks at pocket_supply_decay a day and
    surrenders, while a connected unit keeps its supply."""
    sectors = sector("pocket", ["Pocket"], 0, 1) + sector("outside", ["Outside"], 0, 1)
    # No fires and no recruits, so supply and surrender are the only things at work.
    quiet = "\n".join(
        f"{k} = 0"
        for k in (
            "ukraine_recruits_per_day",
            "russia_shells_per_day",
            "ukraine_shells_per_day",
            "russia_glide_bombs_per_day",
            "russia_drone_sorties_per_day",
            "ukraine_drone_sorties_per_day",
        )
    )
    m = make(tmp_path, pocket_theatre(), sectors, params="[params]\n" + quiet)
    inside = next(u for u in m.agents_by_type[Unit] if m.sectors.of_node[u.node] == 0)
    outside = next(u for u in m.agents_by_type[Unit] if m.sectors.of_node[u.node] == 1)
    assert not m.connected[UKRAINE, inside.node]
    assert m.connected[UKRAINE, outside.node]
    start = inside.personnel
    for _ in range(8):
        m.step()
    decay = m.p.pocket_supply_decay
    assert inside.supply == pytest.approx((1 - decay) ** 8, rel=1e-9)
    assert outside.supply > 0.3 > 2 * inside.supply  # hub under fires, but connected
    assert inside.personnel < 0.75 * start  # surrender accelerates as supply runs out
    assert outside.personnel > 0.95 * start
    assert m.units.captured_total[outside.row] < 0.05 * start
    for _ in range(30):
        m.step()
    assert not m.units.alive[inside.row]  # the pocket's garrison is gone...
    assert m.units.alive[outside.row]
    col, row = np.arange(15 * 15) % 15, np.arange(15 * 15) // 15
    pocket = (abs(col - 6) <= 1) & (abs(row - 7) <= 1)
    assert (m.control[pocket] == RUSSIA).all()  # ...and the pocket mopped up


def two_sector_theatre() -> dict:
    nx, ny = 24, 24
    names = {
        18 * nx + 11: "North",
        5 * nx + 11: "South",
        18 * nx + 20: "NorthGoal",
        5 * nx + 20: "SouthGoal",
    }
    return dict(nx=nx, ny=ny, russia_columns=12, names=names)


def test_fighting_concentrates_where_the_forces_are(tmp_path):
    """Russia attacks in both halves against the same defenders, with five times the units in the
    north: the north sees far more ground change hands and far more Russian losses."""
    sectors = sector("north", ["North"], 15, 5, "attack", "NorthGoal") + sector(
        "south", ["South"], 3, 5, "attack", "SouthGoal"
    )
    gained = {"north": [], "south": []}
    for seed in range(4):
        # A fast advance, so that two months show the difference; the speed is not the point.
        m = make(
            tmp_path,
            two_sector_theatre(),
            sectors,
            end="2024-03-15",
            seed=seed,
            params="[params]\nadvance_slowdown = 0.02",
        )
        ru_rows = np.flatnonzero(m.units.side[: m.units.n] == RUSSIA)
        sec = m.units.sector[ru_rows].copy()
        m.run()
        taken = (m.control == RUSSIA) & (m.initial_control == UKRAINE)
        for k, name in enumerate(("north", "south")):
            gained[name].append(int((taken & (m.sectors.of_node == k)).sum()))
        lost = m.units.losses_total[ru_rows]
        # More men engaged, more losses in total, although the weaker southern attack loses more
        # per man (the QJM opposition factor, R^-0.4).
        assert lost[sec == 0].sum() > lost[sec == 1].sum()
    assert np.mean(gained["north"]) > 2 * np.mean(gained["south"]) + 1


def test_same_seed_same_run_and_different_seeds_differ(tmp_path):
    sectors = sector("north", ["North"], 10, 5, "attack", "NorthGoal") + sector(
        "south", ["South"], 5, 5, "attack", "SouthGoal"
    )

    def run(seed):
        m = make(tmp_path, two_sector_theatre(), sectors, end="2024-02-01", seed=seed)
        m.run()
        return m.events, m.recorder.table()

    e1, d1 = run(5)
    e2, d2 = run(5)
    e3, d3 = run(6)
    assert e1 == e2
    assert d1.equals(d2)
    assert not d1.equals(d3)


def test_quiet_front_does_not_move(tmp_path):
    """With both sides holding, nobody advances: only positional losses and fires."""
    sectors = sector("north", ["North"], 6, 6) + sector("south", ["South"], 6, 6)
    m = make(tmp_path, two_sector_theatre(), sectors, end="2024-02-01")
    m.run()
    assert (m.control == m.initial_control).all()
    assert m.russia_losses_cum > 0 and m.ukraine_losses_cum > 0
    assert all(u.posture == HOLD for u in m.agents_by_type[Unit] if u.posture <= 1)


def test_gains_are_a_difference_of_maps():
    """russia_gain counts ground Ukraine held at the start and Russia holds now, ukraine_gain the
    reverse, net their difference; ground in Russia counts for neither."""
    from sim.metrics import gains

    area = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    country = np.array([0, 0, 0, 0, 1])
    before = np.array([0, 0, 1, 1, 1])
    after = np.array([1, 0, 0, 1, 0])
    g = gains(area, country, before, after)
    assert g == {"russia_gain_km2": 10.0, "ukraine_gain_km2": 30.0, "russia_net_gain_km2": -20.0}
    held_before = area[(country == 0) & (before == 1)].sum()
    held_after = area[(country == 0) & (after == 1)].sum()
    assert g["russia_net_gain_km2"] == held_after - held_before


def test_grid_arrays_conserve_area():
    a = grid_arrays(7, 5, cell_km=2.0)
    assert a["area_km2"].sum() == pytest.approx(7 * 5 * 4.0)


def test_no_phase_creates_attributes_on_the_model():
    """Every array the phases read and write is declared (sim/state.py): forty days of the
    Kursk scenario, its surprise offensive included, adds no attribute to the model, and the
    caches and the day's outputs live in their declared places."""
    m = FrontlineModel("kursk_2024", rng=1)
    before = set(vars(m))
    m.run_for(40)
    assert set(vars(m)) == before
    assert m.caches.front_nodes is not None and m.caches.metric_buffers is not None
    assert m.russia_gain_km2 == m.today.russia_gain_km2
    assert m.control is m.state.control
    m.control = m.control.copy()  # the old names write the declared state too
    assert m.control is m.state.control


def test_encircled_units_of_both_sides_break_out_to_their_own_nearest_ground():
    """Several units encircled on one day (each side's own ground searched once for all its
    units): each breaks out to the nearest node its side holds and leaves its prisoners."""
    from sim import pockets

    m = FrontlineModel("baseline_2024", rng=1)
    u, control = m.units, m.state.control
    indptr, indices = m.neighbors[0], m.neighbors[1]
    picked = []
    for side in (UKRAINE, RUSSIA, UKRAINE):  # two of one side, one of the other
        rows = [r for r in m.line_rows(side) if r not in picked]
        picked.append(int(rows[len(rows) // 2]))
    for row in picked:  # each unit's node and its neighbours pass to the enemy
        node = int(u.node[row])
        ring = np.append(indices[indptr[node] : indptr[node + 1]], node)
        control[ring] = 1 - u.side[row]
    before = {
        r: (int(u.node[r]), float(u.personnel[r]), float(u.captured_total[r])) for r in picked
    }
    pockets.fall_back(m)
    rate = m.p.pocket_surrender_rate
    for row in picked:
        side, target = int(u.side[row]), int(u.node[row])
        origin, personnel, captured = before[row]
        held = np.flatnonzero(control == side)
        assert control[target] == side and target != origin
        # The nearest node the unit's own side holds (not the enemy's, not another unit's).
        distance = np.hypot(*(m.xy[held] - m.xy[origin]).T)
        assert np.hypot(*(m.xy[target] - m.xy[origin])) == distance.min()
        assert m.unit(row).node == target
        assert u.personnel[row] == pytest.approx(personnel * (1 - rate))
        assert u.captured_total[row] == pytest.approx(captured + personnel * rate)
