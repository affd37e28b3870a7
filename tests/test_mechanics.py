"""Behaviour tests of the mechanics that had none (issue 13): rotation and refit, reserve
commitment, redeploy arrival, fortification growth, Epstein's withdrawal, replacements, and the
start and fade of a surprise.

Each test builds a small grid world (``tests/mechanics_world.py``), puts the model's state into
the situation the mechanic acts on, steps the model through its public ``step()``, and checks a
quantitative effect (a rate, a day, a threshold, a place) derived from the registry
(``sim/params.py``) and ``docs/model.md``, not copied from a run. A silent front (no fires, no
positional losses) keeps other mechanics out of the way where that matters.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from sim.params import Params
from sim.units import ATTACK, HOLD, REFIT, RESERVE, TRANSIT
from tests.mechanics_world import (
    FORT_MAX,
    HASTY,
    MIN_DONOR_LINE,
    QUIET_SHARE,
    REFIT_COHESION,
    REFIT_FILL_WEIGHT,
    REFIT_STRENGTH,
    RUSSIA,
    SILENT,
    UKRAINE,
    grid_world,
    march_days,
    nearest_own_hub,
    node_at,
    own_front,
    rows,
    sector,
    step_until,
)

DEFAULTS = Params()


# --- M6: rotation and refit -----------------------------------------------------------------
# Two sectors 69 km apart along a 96 km (32-row) front, each side with a hub behind each sector, so that
# "nearest" and "which sector" have different answers for different units.
TWO_HUBS = {"UH south": (9, 2), "UH north": (9, 29), "RH south": (0, 2), "RH north": (0, 29)}


def two_sectors(tmp_path, ua=6, ru=6, params=None, south=None, north=None, **kw):
    # south, north: more [[sector]] keys of each (as in TOML).
    return grid_world(
        tmp_path,
        [sector("south", 4, ru, ua, **(south or {})), sector("north", 27, ru, ua, **(north or {}))],
        params={**SILENT, "reserve_fraction": 0.34, "unit_move_speed_km": 20, **(params or {})},
        ny=32,
        hubs=TWO_HUBS,
        **kw,
    )


def test_a_unit_at_its_breakpoint_rotates_out_and_a_reserve_marches_to_relieve_it(tmp_path):
    """A line unit whose losses since its last refit reach its breakpoint goes to refit at the
    hub nearest it, and a reserve marches to its sector; a unit just short of its breakpoint
    stays in the line."""
    m = two_sectors(tmp_path)
    u = m.units
    line = rows(m, UKRAINE, HOLD)
    north_line = line[u.sector[line] == 1]
    worn, fresh = int(north_line[0]), int(north_line[1])
    u.losses_since_refit[worn] = u.breakpoint[worn]  # exactly at it: rotates
    u.personnel[worn] = (1.0 - u.breakpoint[worn]) * u.establishment[worn]  # the men it lost
    u.losses_since_refit[fresh] = np.nextafter(u.breakpoint[fresh], 0.0)  # just short: stays
    worn_node, fresh_node = int(u.node[worn]), int(u.node[fresh])
    reserves = rows(m, UKRAINE, RESERVE)
    m.step()

    assert u.posture[worn] == REFIT
    assert u.node[worn] == nearest_own_hub(m, UKRAINE, worn_node)
    assert u.posture[fresh] == HOLD and u.node[fresh] == fresh_node
    relief = reserves[u.posture[reserves] == TRANSIT]
    assert len(relief) == 1  # one relief for one worn unit
    r = int(relief[0])
    assert u.sector[r] == 1
    assert u.arrival_day[r] == 0 + march_days(m, int(u.node[r]), 1)
    assert len(rows(m, RUSSIA, REFIT)) == 0  # nothing happened to the other side


def test_a_worn_unit_stays_in_the_line_when_no_reserve_can_relieve_it(tmp_path):
    """Rotation needs a relief: with no reserve, a unit far past its breakpoint holds on."""
    m = two_sectors(tmp_path, params={"reserve_fraction": 0.0})
    u = m.units
    assert len(rows(m, UKRAINE, RESERVE)) == 0
    worn = int(rows(m, UKRAINE, HOLD)[0])
    u.losses_since_refit[worn] = 2 * u.breakpoint[worn]
    node = int(u.node[worn])
    for _ in range(3):
        m.step()
    assert u.posture[worn] == HOLD and u.node[worn] == node


def test_a_refitting_unit_recovers_out_of_line_and_returns_to_reserve_once_refilled(tmp_path):
    """Refitting units recover cohesion at the out-of-contact rate, not the in-line one, and go
    back to reserve (with their loss count reset) only once both strong and cohesive enough."""
    m = two_sectors(tmp_path)
    u = m.units
    line = rows(m, UKRAINE, HOLD)
    ready, shaken, weak, in_line = (int(r) for r in line[:4])
    est = u.establishment[ready]
    for row in (ready, shaken, weak):
        u.posture[row] = REFIT
        u.losses_since_refit[row] = 0.4
    u.personnel[ready] = u.personnel[shaken] = REFIT_STRENGTH * est
    u.cohesion[ready] = REFIT_COHESION
    u.cohesion[shaken] = np.nextafter(REFIT_COHESION, 0.0)
    u.personnel[weak] = np.nextafter(REFIT_STRENGTH * est, 0.0)
    u.cohesion[weak] = 0.5
    u.cohesion[in_line] = 0.5
    m.step()

    assert u.posture[ready] == RESERVE and u.losses_since_refit[ready] == 0.0
    assert u.posture[shaken] == REFIT and u.losses_since_refit[shaken] == 0.4
    assert u.posture[weak] == REFIT
    p = m.p
    assert u.cohesion[weak] == pytest.approx(0.5 + p.cohesion_recovery, abs=1e-12)
    assert u.cohesion[in_line] == pytest.approx(0.5 + p.cohesion_recovery_in_line, abs=1e-12)
    assert p.cohesion_recovery != p.cohesion_recovery_in_line  # the check above tells them apart
    m.step()  # the shaken unit has now recovered past the cohesion bar
    assert u.posture[shaken] == RESERVE and u.losses_since_refit[shaken] == 0.0


# --- M9: reserve commitment -----------------------------------------------------------------
def sent(m, before: np.ndarray, side: int) -> np.ndarray:
    """Rows of the side that were not in transit before the step and are now."""
    now = rows(m, side, TRANSIT)
    return np.setdiff1d(now, before)


@pytest.mark.parametrize(
    ("factor", "commits"), [(1.0 + 1e-9, True), (1.0, False), (1.0 - 1e-9, False)]
)
def test_a_reserve_is_committed_once_the_threat_passes_the_threshold(tmp_path, factor, commits):
    """The threatened side sends its reserve nearest the sector (not the first in its list),
    which arrives after the road march at the registry's speed; at or below the threshold it
    sends nothing."""
    m = two_sectors(tmp_path)
    u = m.units
    threshold = m.p.reserve_commit_threshold
    m.threat[UKRAINE, 1] = factor * threshold  # the north, as yesterday's fighting left it
    before = rows(m, UKRAINE, TRANSIT)
    m.step()
    moved = sent(m, before, UKRAINE)
    if not commits:
        assert len(moved) == 0
        return
    assert len(moved) == 1
    r = int(moved[0])
    north_anchor = int(m.sectors.anchor_node[1])
    assert u.sector[r] == 1
    assert u.node[r] == nearest_own_hub(m, UKRAINE, north_anchor)  # the north hub's reserve
    assert u.arrival_day[r] == march_days(m, int(u.node[r]), 1)
    assert len(sent(m, np.zeros(0, dtype=int), RUSSIA)) == 0


def test_one_reserve_a_day_goes_to_the_most_threatened_sector(tmp_path):
    """With both sectors past the threshold, a side still sends one unit a day, to the sector
    under most pressure."""
    m = two_sectors(tmp_path)
    u = m.units
    t = m.p.reserve_commit_threshold
    m.threat[UKRAINE] = [2.0 * t, 1.5 * t]
    before = rows(m, UKRAINE, TRANSIT)
    m.step()
    moved = sent(m, before, UKRAINE)
    assert len(moved) == 1 and u.sector[moved[0]] == 0
    before = rows(m, UKRAINE, TRANSIT)
    m.threat[UKRAINE] = [1.5 * t, 2.0 * t]
    m.step()
    moved = sent(m, before, UKRAINE)
    assert len(moved) == 1 and u.sector[moved[0]] == 1


def test_a_sector_closed_to_reserves_takes_none_however_threatened(tmp_path):
    """With ``ukraine_reserves_sent = false`` in the south, the side's reserve goes to the north
    even when the south is the more threatened; with neither open, nothing is sent."""

    for south_open, north_open, goes_to in (
        (True, True, 0),
        (False, True, 1),
        (False, False, None),
    ):
        m = two_sectors(
            tmp_path,
            south={"ukraine_reserves_sent": south_open},
            north={"ukraine_reserves_sent": north_open},
        )
        t = m.p.reserve_commit_threshold
        m.threat[UKRAINE] = [2.0 * t, 1.5 * t]
        before = rows(m, UKRAINE, TRANSIT)
        m.step()
        moved = sent(m, before, UKRAINE)
        if goes_to is None:
            assert len(moved) == 0
        else:
            assert len(moved) == 1 and m.units.sector[moved[0]] == goes_to


def three_sectors(tmp_path, ua_units=(5, 6, 3)):
    names = ("south", "middle", "north")
    return grid_world(
        tmp_path,
        [sector(n, r, 3, k) for n, r, k in zip(names, (4, 20, 36), ua_units, strict=True)],
        params={**SILENT, "reserve_fraction": 0.0, "unit_move_speed_km": 20},
        ny=40,
    )


@pytest.mark.parametrize(("share", "transfers"), [(QUIET_SHARE - 1e-6, True), (QUIET_SHARE, False)])
def test_with_no_reserve_a_quiet_sector_lends_a_line_unit(tmp_path, share, transfers):
    """With no reserve left, the threatened side takes a line unit from its quiet holding sector
    (quiet: threat under half the commit threshold) that keeps more than three in line: the one
    nearest the threatened sector. A sector with only three is never stripped."""
    m = three_sectors(tmp_path, ua_units=(MIN_DONOR_LINE + 2, 6, MIN_DONOR_LINE))
    u = m.units
    t = m.p.reserve_commit_threshold
    assert len(rows(m, UKRAINE, RESERVE)) == 0
    m.threat[UKRAINE] = [share * t, 1.1 * t, 0.0]  # the middle is threatened
    south = rows(m, UKRAINE, HOLD)[u.sector[rows(m, UKRAINE, HOLD)] == 0]
    middle_anchor = m.sectors.anchor_node[1]
    d = np.hypot(*(m.xy[u.node[south]] - m.xy[middle_anchor]).T)
    expected = int(south[np.argmin(d)])
    m.step()
    moved = sent(m, np.zeros(0, dtype=int), UKRAINE)
    if not transfers:
        assert len(moved) == 0
        return
    assert moved.tolist() == [expected]
    assert u.sector[expected] == 1
    assert u.arrival_day[expected] == march_days(m, int(u.node[expected]), 1)


def test_spare_reserves_exploit_the_best_attack(tmp_path):
    """Unthreatened, a side holding more reserves than its reserve fraction sends one to the
    sector where its attack goes best; holding only its fraction, it keeps them."""
    m = two_sectors(tmp_path)
    u = m.units
    mine = rows(m, RUSSIA)
    reserves = rows(m, RUSSIA, RESERVE)
    assert len(reserves) <= m.p.reserve_fraction * len(mine)  # as set up: nothing to spare
    m.attack_ratio[RUSSIA] = [0.5, 0.9]
    m.step()
    assert len(sent(m, np.zeros(0, dtype=int), RUSSIA)) == 0

    spare = int(rows(m, RUSSIA, HOLD)[0])
    u.posture[spare] = RESERVE  # now one more than the fraction
    m.unit(spare).move_to_node(nearest_own_hub(m, RUSSIA, int(u.node[spare])))
    reserves = rows(m, RUSSIA, RESERVE)
    assert len(reserves) > m.p.reserve_fraction * len(mine)
    north_anchor = m.sectors.anchor_node[1]
    d = np.hypot(*(m.xy[u.node[reserves]] - m.xy[north_anchor]).T)
    m.attack_ratio[RUSSIA] = [0.5, 0.9]
    before = rows(m, RUSSIA, TRANSIT)
    m.step()
    moved = sent(m, before, RUSSIA)
    assert moved.tolist() == [int(reserves[np.argmin(d)])]
    assert u.sector[moved[0]] == 1


# --- M9: scheduled redeployment -------------------------------------------------------------
@pytest.mark.parametrize("speed", [20.0, 45.0])
def test_a_redeployment_sends_the_strongest_units_and_lands_them_after_the_march(tmp_path, speed):
    """A redeploy event dated day 2 takes the source sector's strongest line units out of the
    line that day; each lands on the day its road march at ``unit_move_speed_km`` ends, not a
    day sooner or later, on a front node of the target sector, in that sector's posture."""
    event = {
        "date": (date(2024, 1, 1) + timedelta(days=2)).isoformat(),
        "kind": "redeploy",
        "side": "ukraine",
        "from_sector": "south",
        "to_sector": "north",
        "units": 2,
        "posture": "attack",
    }
    m = two_sectors(
        tmp_path,
        ua=8,
        params={"reserve_fraction": 0.0, "unit_move_speed_km": speed},
        events=[event],
    )
    u = m.units
    south = rows(m, UKRAINE, HOLD)[u.sector[rows(m, UKRAINE, HOLD)] == 0]
    # Distinct strengths, shuffled so that the two strongest are neither the first nor the last
    # rows: 0, 3, 6, 1, 4, 7, 2, 5 hundred men above 1,500.
    assert len(south) == 8
    strength = 1500.0 + 100.0 * ((3 * np.arange(8)) % 8)
    u.personnel[south] = strength
    strongest = south[np.argsort(-strength)[:2]]
    step_until(m, 2)
    assert len(rows(m, UKRAINE, TRANSIT)) == 0  # nothing moves before the event's day
    m.step()  # day 2
    going = rows(m, UKRAINE, TRANSIT)
    assert sorted(going.tolist()) == sorted(strongest.tolist())
    due = {int(r): 2 + march_days(m, int(u.node[r]), 1) for r in going}
    assert all(u.arrival_day[r] == d for r, d in due.items())
    assert max(due.values()) > 3  # the march takes days: a real test of the landing day
    last = max(due.values())
    anchor = m.sectors.anchor_node[1]  # the attack's objective: the event names none
    while m.day <= last:
        landing = [r for r, d in due.items() if d == m.day]
        taken = set(u.node[m.line_rows(UKRAINE)].tolist())
        m.step()  # the step of day m.day - 1 has ended
        for r, d in due.items():
            landed = u.posture[r] != TRANSIT
            assert landed == (m.day - 1 >= d), (r, d, m.day)
        if not landing:
            continue
        # An attacking arrival takes a free front node of its new sector, the nearest the
        # objective: the landers of a day take the free nodes nearest it, one each.
        front = np.flatnonzero(own_front(m, UKRAINE) & (m.sectors.of_node == 1))
        free = np.array([n for n in front if n not in taken])
        dist = lambda nodes: np.hypot(*(m.xy[nodes] - m.xy[anchor]).T)  # noqa: E731
        nodes = u.node[landing]
        assert len(set(nodes.tolist())) == len(landing)
        assert set(nodes.tolist()) <= set(free.tolist())
        np.testing.assert_allclose(
            np.sort(dist(nodes)), np.sort(dist(free))[: len(landing)], rtol=1e-12
        )
    for r in due:
        assert u.posture[r] == ATTACK  # the target sector's posture, set by the event
        assert u.sector[r] == 1


# --- M5: fortification ----------------------------------------------------------------------
def held_front(tmp_path, params=None, ru_posture="hold", names=None):
    """One sector, four big units a side on a 36 km front, no initial fortification belt."""
    keys = {"russia_fortification": 0.0, "ukraine_fortification": 0.0}
    if ru_posture == "attack":
        keys.update(russia_posture="attack", russia_objective="Goal")
    return grid_world(
        tmp_path,
        [sector("all", 6, 4, 4, **keys)],
        params={
            **SILENT,
            "reserve_fraction": 0.0,
            "russia_unit_personnel": 6000,
            "ukraine_unit_personnel": 6000,
            **(params or {}),
        },
        names={"Goal": (9, 2), **(names or {})},
    )


def dug_in(start: float, rate: float, days: int) -> float:
    """Fortification after ``days`` of docs/model.md's growth law from ``start``: a held node is
    at least a hasty defence, then d(phi)/dt = rate (1 - phi / 3), one step a day."""
    phi = start
    for _ in range(days):
        phi = max(phi, HASTY)
        phi = phi + rate * (1.0 - phi / FORT_MAX)
    return phi


@pytest.mark.parametrize(
    ("build_rate", "needed", "cap"),
    [
        (DEFAULTS.fortification_build_rate, 30.0, 300.0),  # dense enough: full rate
        (0.33, 30.0, 300.0),  # NPW's rate: close to the ceiling of 3 within the run
        (DEFAULTS.fortification_build_rate, 1000.0, 100.0),  # a tenth of the density needed
    ],
)
def test_held_front_nodes_dig_in_at_the_registry_rate(tmp_path, build_rate, needed, cap):
    """On a quiet front every held front node, of both sides, follows the growth law with rate
    g_f min(1, rho / rho_prep), rho being the men engaged per km (at most the frontage cap);
    ground off the front does not dig in at all."""
    days = 25
    m = held_front(
        tmp_path,
        {
            "fortification_build_rate": build_rate,
            "fortification_density_needed": needed,
            "frontage_cap_per_km": cap,
        },
    )
    front = m.front_node_mask().copy()
    assert front.sum() == 24  # the two columns either side of the line
    for _ in range(days):
        m.step()
    assert (m.front_node_mask() == front).all()  # nobody moved: the same nodes all along
    rate = build_rate * min(1.0, cap / needed)
    expected = dug_in(0.0, rate, days)
    np.testing.assert_allclose(m.fortification[front], expected, rtol=1e-12)
    assert (m.fortification[~front] == 0.0).all()
    assert m.fortification.max() < FORT_MAX


def test_a_node_under_assault_digs_in_at_the_registry_share_of_the_rate(tmp_path):
    """Where Russia assaults, the Ukrainian node attacked digs in at
    ``fortification_under_assault`` of the quiet rate; far from the assault, at the full rate."""
    m = held_front(tmp_path, {"fortification_density_needed": 30.0}, ru_posture="attack")
    u = m.units
    attackers = rows(m, RUSSIA, ATTACK)
    assert len(attackers) == 4
    m.step()
    p = m.p
    quiet = dug_in(0.0, p.fortification_build_rate, 1)
    assaulted = dug_in(0.0, p.fortification_build_rate * p.fortification_under_assault, 1)
    assert assaulted < quiet
    ua_front = np.flatnonzero(own_front(m, UKRAINE))
    # The Ukrainian cell facing each attacking unit is assaulted...
    facing = {int(u.node[r]) + 1 for r in attackers}
    np.testing.assert_allclose(m.fortification[sorted(facing)], assaulted, rtol=1e-12)
    # ...and a cell farther than any attacker's assault frontage is not.
    d = np.hypot(*(m.xy[ua_front][:, None] - m.xy[u.node[attackers]][None]).T).min(axis=0)
    far = ua_front[d > p.attack_frontage_km + 3.0]
    assert len(far) >= 2
    np.testing.assert_allclose(m.fortification[far], quiet, rtol=1e-12)


# --- M4: Epstein's withdrawal ---------------------------------------------------------------
def test_a_defender_cedes_a_node_when_its_averaged_losses_pass_the_threshold(tmp_path):
    """Withdrawal reads an exponential moving average of the defender's daily loss fraction,
    kept with weight 1 - 1/withdrawal_memory_days: a node whose average is still above
    ``defender_withdrawal_loss`` after today's update is ceded (and its capture dated
    tomorrow), one just below is held, and a quiet day decays the average by that weight."""
    m = held_front(tmp_path, names={"Held": (5, 3), "Ceded": (5, 8)})
    p = m.p
    keep = 1.0 - 1.0 / p.withdrawal_memory_days
    edge = p.defender_withdrawal_loss / keep  # the average that decays onto the threshold
    held, ceded = node_at(m, 5, 3), node_at(m, 5, 8)
    assert own_front(m, UKRAINE)[[held, ceded]].all()
    m.loss_memory[held] = edge * (1.0 - 1e-9)
    m.loss_memory[ceded] = edge * (1.0 + 1e-9)
    m.step()  # a quiet day: nothing adds to either average
    assert m.control[ceded] == RUSSIA
    assert m.control[held] == UKRAINE
    assert m.loss_memory[held] == pytest.approx(edge * (1.0 - 1e-9) * keep, rel=1e-12)
    assert m.loss_memory[ceded] == 0.0  # the new holder starts afresh
    tomorrow = date(2024, 1, 2)
    assert m.events == [(tomorrow, ceded, UKRAINE, RUSSIA)]
    assert m.falls == {"Ceded": tomorrow}
    m.step()
    assert m.loss_memory[held] == pytest.approx(edge * (1.0 - 1e-9) * keep**2, rel=1e-12)
    assert m.control[held] == UKRAINE


def test_one_day_of_heavy_losses_does_not_empty_a_position(tmp_path):
    """The same first day of a Russian assault, remembered over 7 days or over 1: the day's loss
    fraction enters the average with weight 1/withdrawal_memory_days, so with a 1-day memory
    exactly the nodes whose defenders lost more than ``defender_withdrawal_loss`` that day are
    ceded, and with a 7-day memory none is."""
    models = []
    for memory in (7, 1):
        (tmp_path / str(memory)).mkdir()
        params = {"russia_shells_per_day": 25000, "withdrawal_memory_days": memory}
        models.append(held_front(tmp_path / str(memory), params, ru_posture="attack"))
        models[-1].step()  # day 0 is fought alike in both: the memory only acts afterwards
    week, day = models
    threshold = week.p.defender_withdrawal_loss
    today = week.loss_memory * 7  # each node's loss fraction of the day
    hit = np.flatnonzero(today > 0)
    assert (week.control == week.initial_control).all()
    assert (week.initial_control[hit] == UKRAINE).all()  # the defended nodes
    assert (today[hit] > threshold).any() and (today[hit] < threshold).any()
    ceded = np.flatnonzero(day.control != day.initial_control)
    assert ceded.tolist() == np.flatnonzero(today > threshold).tolist()


def test_fortification_is_lost_with_the_ground_and_stops_growing_off_the_front(tmp_path):
    """A ceded node's works go with it (fortification 0 for the new holder), and a node the
    front has left, here the Russian cell facing it, keeps what it had but digs no further."""
    m = held_front(tmp_path, {"fortification_density_needed": 30.0})
    for _ in range(5):
        m.step()
    ceded, facing = node_at(m, 5, 6), node_at(m, 4, 6)
    before = m.fortification[[ceded, facing]].copy()
    assert (before > HASTY).all()
    m.loss_memory[ceded] = 1.0  # far past any threshold: ceded today
    m.step()
    assert m.control[ceded] == RUSSIA
    assert m.fortification[ceded] == 0.0
    assert not m.front_node_mask()[facing]  # all its neighbours are Russian now
    frozen = m.fortification[facing]
    assert frozen > before[1]  # it still dug in today, when it was on the front
    for _ in range(3):
        m.step()
    assert m.fortification[facing] == frozen


# --- M10: replacements ----------------------------------------------------------------------
def test_recruits_join_after_the_training_delay_at_the_recruitment_rate(tmp_path):
    """Recruits counted on a day join units ``training_delay_days + 1`` steps later (today's
    pipeline: the day's intake enters after the day's arrivals, behind training_delay_days
    days in training), at that day's rate: Ukraine recruits nobody until day 3, then 700 a day.
    So nothing arrives before day 3 + delay + 1, and 700 men arrive every day from then on."""
    delay, begin, rate = 4, 3, 700.0
    m = grid_world(
        tmp_path,
        [sector("all", 6, 4, 4)],
        params={**SILENT, "reserve_fraction": 0.0, "training_delay_days": delay},
        schedule={"ukraine_recruits_per_day": {"2024-01-01": 0, "2024-01-04": rate}},
    )
    u = m.units
    ua, ru = rows(m, UKRAINE), rows(m, RUSSIA)
    u.personnel[ua] = 0.5 * u.establishment[ua]  # deficits far larger than the intake
    u.personnel[ru] = 0.5 * u.establishment[ru]
    first = begin + delay + 1
    for day in range(first + 4):
        before = u.personnel[ua].sum(), u.personnel[ru].sum()
        m.step()
        gained = u.personnel[ua].sum() - before[0]
        assert gained == pytest.approx(rate if day >= first else 0.0, abs=1e-9), day
        assert u.personnel[ru].sum() == before[1]  # Russia recruits nobody here
    assert len(rows(m, UKRAINE)) == len(ua)  # all went to fill units: no new unit


def test_replacements_fill_units_by_deficit_refitting_units_first(tmp_path):
    """Arrivals are shared in proportion to each unit's deficit, a refitting unit's deficit
    weighing REFIT_FILL_WEIGHT times as much."""
    m = grid_world(
        tmp_path,
        [sector("all", 6, 4, 4)],
        params={
            **SILENT,
            "reserve_fraction": 0.0,
            "training_delay_days": 0,
            "ukraine_recruits_per_day": 1000,
        },
    )
    u = m.units
    a, b, refit, full = (int(r) for r in rows(m, UKRAINE))
    est = u.establishment[a]
    u.personnel[[a, b, refit]] = est - np.array([600.0, 1800.0, 600.0])
    u.posture[refit] = REFIT
    m.step()  # the first day's intake is still on its way
    given = est - u.personnel[[a, b, refit, full]]
    np.testing.assert_array_equal(given, [600.0, 1800.0, 600.0, 0.0])
    m.step()
    gained = u.personnel[[a, b, refit, full]] - (est - given)
    weights = np.array([600.0, 1800.0, REFIT_FILL_WEIGHT * 600.0, 0.0])
    np.testing.assert_allclose(gained, 1000.0 * weights / weights.sum(), rtol=1e-12)


def test_surplus_recruits_form_new_units_in_reserve(tmp_path):
    """With every unit full, recruits pool until they make a whole unit of the registry's
    establishment, which stands up in reserve at the side's hub; the remainder keeps pooling."""
    rate, days = 1000.0, 12
    m = grid_world(
        tmp_path,
        [sector("all", 6, 4, 4)],
        params={
            **SILENT,
            "reserve_fraction": 0.0,
            "training_delay_days": 0,
            "russia_recruits_per_day": rate,
        },
    )
    u = m.units
    est = m.p.russia_unit_personnel
    start = len(rows(m, RUSSIA))
    pool, made = 0.0, []
    for day in range(days):
        m.step()
        if day >= 1:  # the day-0 intake arrives on day 1
            pool += rate
        if pool >= est:
            made.append(day)
            pool -= est * (pool // est)
        assert len(rows(m, RUSSIA)) == start + len(made), day
        assert m.recruit_pool[RUSSIA] == pytest.approx(pool, abs=1e-9)
    assert len(made) >= 3  # several units stood up in the run, some with a remainder pooled
    new = rows(m, RUSSIA)[start:]
    assert (u.posture[new] == RESERVE).all()
    assert (u.personnel[new] == est).all()
    hub = nearest_own_hub(m, RUSSIA, int(m.sectors.anchor_node[0]))
    assert (u.node[new] == hub).all()


# --- M3: surprise (the Kursk 2024 bonus) ----------------------------------------------------
def test_a_surprise_redeployment_starts_the_sides_surprise_when_its_last_unit_arrives(tmp_path):
    """A redeploy event with ``surprise = true`` starts the receiving side's surprise in the
    receiving sector on the day its last unit lands (not the event's day), and only there. From
    that day an assault by that side into that sector has its force ratio multiplied by
    ``1 + (surprise_multiplier - 1) f`` and escapes ``surprise_exploitation f`` of the slowdown,
    with ``f`` fading linearly to 0 over ``surprise_days``; the other side, another sector, a
    quiet edge and the days before have none."""
    from sim import surprise
    from sim.state import NEVER

    event = {
        "date": (date(2024, 1, 1) + timedelta(days=2)).isoformat(),
        "kind": "redeploy",
        "side": "ukraine",
        "from_sector": "south",
        "to_sector": "north",
        "units": 2,
        "posture": "attack",
        "surprise": True,
    }
    params = {"reserve_fraction": 0.0, "surprise_days": 4, "surprise_multiplier": 2.5}
    params["surprise_exploitation"] = 0.5
    m = two_sectors(tmp_path, ua=8, params=params, events=[event])
    u = m.units
    step_until(m, 2)
    assert (m.surprise_day == NEVER).all()
    m.step()  # day 2: the units leave
    going = rows(m, UKRAINE, TRANSIT)
    last = int(u.arrival_day[going].max())
    assert last > 3  # a march of days: the start is the arrival, not the event
    north = 1
    assert m.surprise_day[UKRAINE, north] == last
    assert m.surprise_day[RUSSIA, north] == NEVER and m.surprise_day[UKRAINE, 0] == NEVER

    p = m.p
    side = np.array([UKRAINE, UKRAINE, RUSSIA, UKRAINE])
    sector_of = np.array([north, 0, north, north])
    assault = np.array([True, True, True, False])
    for k in (-1, 0, 1, 3, 4, 6):
        ratio, unseen = surprise.on_edges(m.state, p, last + k, side, sector_of, assault)
        f = max(0.0, 1.0 - k / p.surprise_days) if k >= 0 else 0.0
        np.testing.assert_allclose(ratio, [1.0 + 1.5 * f, 1.0, 1.0, 1.0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(unseen, [0.5 * f, 0.0, 0.0, 0.0], rtol=0, atol=1e-12)


def test_params_read_as_attributes_match_the_mapping_after_replace_and_pickling():
    """Params keeps its values as instance attributes too (a fast read): they must agree with
    the mapping after replace and a pickle round trip, shadow none of its methods, and an
    unknown name must still raise AttributeError."""
    import pickle

    p = Params({"advance_slowdown": 0.03}).replace(supply_efold_km=90.0)
    for q in (p, pickle.loads(pickle.dumps(p))):
        assert q.advance_slowdown == q["advance_slowdown"] == 0.03
        assert q.supply_efold_km == q["supply_efold_km"] == 90.0
        assert all(getattr(q, name) == q[name] for name in q)
        assert q == p
    assert not [name for name in p if hasattr(Params, name)]
    assert len(pickle.dumps(p)) < 2 * len(pickle.dumps(dict(p)))  # the values pickled once
    with pytest.raises(AttributeError, match="no parameter"):
        _ = p.no_such_parameter
