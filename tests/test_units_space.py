"""The Mesa side of the units: a lazily built space whose cells follow the unit table."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from sim.model import FrontlineModel
from sim.units import POSTURES, SIDES, Unit

FIELDS = ("side", "personnel", "establishment", "quality", "cohesion", "supply", "posture")
FIELDS += ("sector", "node", "breakpoint", "losses_total")


def assert_in_step(m: FrontlineModel) -> None:
    """Every registered unit stands in its table node's cell, and reads its table row."""
    space = m.space
    u = m.units
    units = list(m.agents_by_type[Unit])
    assert len(units) == int(u.alive[: u.n].sum())  # removed units leave the registry
    for unit in units:
        assert unit.cell is space[int(u.node[unit.row])]
        assert unit in unit.cell.agents
        for name in FIELDS:
            assert getattr(unit, name) == getattr(u, name)[unit.row], name
    placed = sum(len(cell.agents) for cell in space.all_cells)
    assert placed == len(units)  # nothing left behind in an old cell, no dead unit in a cell
    for row in np.flatnonzero(~u.alive[: u.n]):
        assert m.unit(int(row)).cell is None


@pytest.fixture(scope="module")
def stepped() -> FrontlineModel:
    m = FrontlineModel("baseline_2024", rng=2)
    m.run(date(2024, 3, 1))
    return m


def test_space_is_not_built_until_read() -> None:
    m = FrontlineModel("baseline_2024", rng=1)
    m.run(date(2024, 1, 10))
    assert m._space is None  # no phase reads it
    assert_in_step(m)


def test_lazy_space_places_units_after_moves_and_losses(stepped: FrontlineModel) -> None:
    m = stepped
    u = m.units
    # The run moved and destroyed units before anyone looked.
    assert u.n > len(m.agents_by_type[Unit])
    assert_in_step(m)


def test_cells_follow_the_table_once_built() -> None:
    m = FrontlineModel("baseline_2024", rng=3)
    _ = m.space  # built before any step: later moves go through the cells
    before = m.units.node[: m.units.n].copy()
    m.run(date(2024, 2, 15))
    assert not np.array_equal(before, m.units.node[: len(before)])  # units did move
    assert_in_step(m)


def test_building_the_space_early_changes_nothing() -> None:
    """The Network keeps the model's generator but draws nothing from it at construction."""
    lazy = FrontlineModel("baseline_2024", rng=4)
    eager = FrontlineModel("baseline_2024", rng=4)
    _ = eager.space
    for m in (lazy, eager):
        m.run(date(2024, 2, 1))
    assert lazy.random.getstate() == eager.random.getstate()
    assert np.array_equal(lazy.control, eager.control)
    assert lazy.recorder.table().equals(eager.recorder.table())


def test_moving_an_agent_by_cell_updates_the_table(stepped: FrontlineModel) -> None:
    m = stepped
    unit = next(iter(m.agents_by_type[Unit]))
    target = next(iter(unit.cell.connections.values()))
    unit.cell = target
    assert m.units.node[unit.row] == target.coordinate
    assert unit.node == target.coordinate
    unit.move_to_node(int(m.units.node[unit.row]))  # and back through the table
    assert_in_step(m)


def test_agent_attributes_write_through_to_the_table(stepped: FrontlineModel) -> None:
    unit = next(iter(stepped.agents_by_type[Unit]))
    unit.personnel = 1234.0
    assert stepped.units.personnel[unit.row] == 1234.0
    assert unit.side_name in SIDES and unit.posture_name in POSTURES


def test_shared_construction_caches_are_read_only(stepped: FrontlineModel) -> None:
    """What models of one process share cannot be written by one of them."""
    m = stepped
    other = FrontlineModel("baseline_2024", rng=9)
    assert other.sectors is m.sectors and other.supply_net is m.supply_net
    assert other.initial_control is m.initial_control
    for array in (m.initial_control, m.sectors.of_node, m.supply_net.cost):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = array[0]
