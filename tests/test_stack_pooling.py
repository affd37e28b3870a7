"""Stack pooling (``stack_pooling``): units of one side on the same node, in the same role, fight
as one, so massing on an axis adds weight.

Each edge of the front goes to the nearest line unit of each side. Before pooling, a second unit
standing on the same node as the one chosen never fought: it lost no men and added no power. These
tests stack two Russian attackers on one node of a quiet grid front and check, after one day,
who fought and how the day's losses were shared.
"""

from __future__ import annotations

import pytest

from sim.units import ATTACK, RUSSIA, UKRAINE
from tests.mechanics_world import SILENT, grid_world, rows, sector


def _stacked_world(tmp_path, pooling: float):
    """One sector, Russia attacking with two units, the second moved onto the first's node and
    given half its men (so a share by men differs from an even split)."""
    params = {**SILENT, "stack_pooling": pooling, "intensity_shock_sd": 0.0}
    m = grid_world(
        tmp_path,
        [sector("north", 6, 2, 2, russia_posture="attack", russia_objective="north")],
        params=params,
    )
    u = m.units
    a, b = rows(m, RUSSIA, ATTACK)[:2]
    u.node[b] = u.node[a]
    u.personnel[b] = 0.5 * u.personnel[a]
    return m, int(a), int(b)


@pytest.mark.parametrize("pooling", [0.0, 0.5, 1.0])
def test_stacked_attackers_share_the_day_s_losses_by_the_men_they_put_in(tmp_path, pooling):
    """The unit nearest the front edges carries its own men; the stacked one ``pooling`` of its
    men. Losses fall on each in proportion to what it put in: none on the second without
    pooling."""
    m, a, b = _stacked_world(tmp_path, pooling)
    u = m.units
    men_a, men_b = float(u.personnel[a]), float(u.personnel[b])
    lost_before = u.losses_total[[a, b]].copy()
    m.step()
    lost = u.losses_total[[a, b]] - lost_before
    assert lost[0] > 0
    if pooling == 0:
        assert lost[1] == 0
    else:
        assert lost[1] / lost[0] == pytest.approx(pooling * men_b / men_a, rel=1e-9)


def test_pooled_attackers_press_harder(tmp_path):
    """With the second unit's men pooled, Russia's pressure on the sector (the threat Ukraine
    reads for its reserves) is higher than with only the first unit fighting."""
    threat = {}
    for pooling in (0.0, 1.0):
        (tmp_path / str(pooling)).mkdir()
        m, _, _ = _stacked_world(tmp_path / str(pooling), pooling)
        m.step()
        threat[pooling] = float(m.threat[UKRAINE, 0])
    assert threat[1.0] > threat[0.0] > 0


def test_the_record_fit_scenarios_pool_stacks_and_the_baselines_do_not_yet():
    """Pooling is the corrected rule, adopted by the record fit's scenarios; the baselines keep
    the first rule (0) until that calibration is adopted, so their results stay as calibrated."""
    from sim.params import Params
    from sim.scenario import find_scenario, load_scenario

    assert Params().stack_pooling == 0.0
    for name in ("history_2023", "history_2024"):
        assert load_scenario(find_scenario(name)).params.stack_pooling == 1.0
    for name in ("baseline_2023", "baseline_2024"):
        assert load_scenario(find_scenario(name)).params.stack_pooling == 0.0
