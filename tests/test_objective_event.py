"""The ``objective`` event: a sector's attack turns toward another place on a date."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.model import FrontlineModel
from sim.scenario import ScenarioError
from sim.units import ATTACK

BASE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline_2024.toml"


def _scenario(tmp_path: Path, place: str) -> Path:
    path = tmp_path / "turn.toml"
    path.write_text(
        f'extends = "{BASE}"\nname = "turn"\n\n'
        '[[event]]\ndate = 2024-01-03\nkind = "objective"\nside = "russia"\n'
        f'sector = "Kupiansk"\nobjective = "{place}"\n',
        encoding="utf-8",
    )
    return path


def _front_node_nearest(m: FrontlineModel, k: int, node: int) -> int:
    front = np.flatnonzero(m.front_node_mask() & (m.control == 1) & (m.sectors.of_node == k))
    return int(front[np.argmin(np.hypot(*(m.xy[front] - m.xy[node]).T))])


def _attackers_on(m: FrontlineModel, k: int, node: int) -> int:
    u = m.units
    rows = m.line_rows(1)
    rows = rows[(u.sector[rows] == k) & (u.posture[rows] == ATTACK)]
    return int((u.node[rows] == node).sum())


def test_an_objective_event_turns_the_sectors_attack_on_its_date(tmp_path):
    # Kupiansk: Russia attacks toward Kupiansk; the event turns it toward Borova, at the
    # sector's southern end.
    m = FrontlineModel(_scenario(tmp_path, "Borova"), rng=1)
    k = m.sectors.index["Kupiansk"]
    kupiansk, borova = m.theatre.node_by_name("Kupiansk"), m.theatre.node_by_name("Borova")
    assert m.state.objective[1, k] == kupiansk  # the scenario's objective until the event
    m.step()
    m.step()  # days 0 and 1: nothing changes
    assert m.state.objective[1, k] == kupiansk
    toward = _front_node_nearest(m, k, borova)
    assert _attackers_on(m, k, toward) == 0  # the old axis leaves that end of the front bare
    m.step()  # day 2 = 2024-01-03
    assert m.state.objective[1, k] == borova
    assert m.sectors.objective[1, k] == kupiansk  # the scenario's own stays as it was
    # The attackers were placed again for the new axis: one stands on the sector's front
    # node nearest the new objective.
    assert _attackers_on(m, k, _front_node_nearest(m, k, borova)) >= 1


def test_an_objective_that_is_not_a_place_is_refused_naming_the_key(tmp_path):
    with pytest.raises(ScenarioError, match=r"objective.*not a theatre place name.*Borova"):
        FrontlineModel(_scenario(tmp_path, "Borowa"), rng=1)
