"""Combat kernel: closed forms of the Lanchester laws it reduces to, and the fast kernel against
the plain-Python reference."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.combat import (
    TERRAIN_CASUALTY,
    TERRAIN_DEFENCE,
    EdgeBattle,
    fight,
    fight_reference,
)
from sim.params import Params


def reduced_params(**changes) -> SimpleNamespace:
    """Registry defaults with the reductions of MECHANICS M3 (no shock, no fires, no surprise).

    A plain namespace rather than Params: the reductions (p = 1, p = 0) lie outside the ranges a
    scenario may use, and the kernel only needs attribute access.
    """
    values = dict(Params())
    values.update(intensity_shock_sd=0.0, fires_lethality=0.0, max_force_ratio=1e9)
    values.update(changes)
    return SimpleNamespace(**values)


def one_edge(x: float, y: float, terrain: int = 0, fires=(0.0, 0.0)) -> EdgeBattle:
    half = np.array([0.5])  # ndtri(0.5) = 0: losses equal their expectation
    return EdgeBattle(
        engaged_a=np.array([x]),
        engaged_d=np.array([y]),
        power_a=np.array([x]),
        power_d=np.array([y]),
        fires_a=np.array([fires[0]]),
        fires_d=np.array([fires[1]]),
        border_km=np.array([1.0]),
        terrain=np.array([terrain]),
        fortification=np.array([0.0]),
        river=np.array([0]),
        assault=np.array([True]),
        surprise=np.array([1.0]),
        u_shock=half,
        u_loss_a=half,
        u_loss_d=half,
    )


def integrate(params, x: float, y: float, days: int, **kw) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [x], [y]
    for _ in range(days):
        out = fight(one_edge(x, y, **kw), params)
        x, y = x - out.losses_a[0], y - out.losses_d[0]
        xs.append(x)
        ys.append(y)
    return np.array(xs), np.array(ys)


def test_square_law_matches_closed_form():
    """p = 1 gives Lanchester's square law: dx/dt = -alpha y, dy/dt = -beta x, whose solution is
    x(t) = x0 cosh(g t) - sqrt(alpha/beta) y0 sinh(g t), g = sqrt(alpha beta)."""
    c = 0.002
    p = reduced_params(ratio_loss_exponent=1.0, attacker_loss_rate=c, defender_loss_ratio=0.5)
    r_c, r_u = TERRAIN_CASUALTY[0], TERRAIN_DEFENCE[0]
    alpha = c * r_c * r_u  # attacker's losses per defender per day
    beta = 0.5 * c * r_c / r_u  # defender's losses per attacker per day
    x0, y0, days = 3000.0, 2000.0, 150
    xs, ys = integrate(p, x0, y0, days)
    t = np.arange(days + 1)
    g = np.sqrt(alpha * beta)
    x_exact = x0 * np.cosh(g * t) - np.sqrt(alpha / beta) * y0 * np.sinh(g * t)
    y_exact = y0 * np.cosh(g * t) - np.sqrt(beta / alpha) * x0 * np.sinh(g * t)
    # Daily steps with per-capita hazards 1 - exp(-h) approximate the ODE to O(h) ~ 0.5%.
    np.testing.assert_allclose(xs, x_exact, rtol=0.01)
    np.testing.assert_allclose(ys, y_exact, rtol=0.01)
    invariant = beta * xs**2 - alpha * ys**2
    assert abs(invariant[-1] - invariant[0]) < 0.01 * abs(invariant[0])


def test_logarithmic_law_when_exponent_is_zero():
    """p = 0: each side loses a fixed fraction of itself a day, whatever the enemy's size."""
    c = 0.01
    p = reduced_params(ratio_loss_exponent=0.0, attacker_loss_rate=c, defender_loss_ratio=0.5)
    for y in (500.0, 5000.0):
        out = fight(one_edge(1000.0, y), p)
        assert out.losses_a[0] == pytest.approx(1000 * (1 - np.exp(-c * TERRAIN_CASUALTY[0])))
        assert out.losses_d[0] == pytest.approx(y * (1 - np.exp(-0.5 * c * TERRAIN_CASUALTY[0])))


def test_linear_law_conserves_difference_with_fires_only():
    """c0 = 0 and fires proportional to strength: dx/dt = -k x y = dy/dt, so x - y is conserved."""
    p = reduced_params(attacker_loss_rate=0.0, fires_lethality=1e-6)
    x, y = 3000.0, 2000.0
    for _ in range(100):
        out = fight(one_edge(x, y, fires=(x, y)), p)
        x, y = x - out.losses_a[0], y - out.losses_d[0]
    assert y < 1600  # the fires did real damage
    assert x - y == pytest.approx(1000.0, rel=0.01)


def test_qjm_exponent_reproduces_opposition_factor():
    """With p = 0.4 the attacker's loss rate follows the QJM opposition factor O(R) ~ R^-0.4."""
    p = reduced_params(attacker_loss_rate=0.001)
    table = {0.49: 1.35, 0.99: 0.95, 1.99: 0.75, 2.99: 0.65, 4.99: 0.5}  # NPW, section 4
    r_u = TERRAIN_DEFENCE[0]
    rates = {}
    for ratio in table:
        out = fight(one_edge(1000.0 * ratio * r_u, 1000.0), p)
        rates[ratio] = out.losses_a[0] / (1000.0 * ratio * r_u)
    base = rates[0.99] / 0.95
    for ratio, factor in table.items():
        assert rates[ratio] / base == pytest.approx(factor, rel=0.12)


def test_advance_follows_the_dupuy_success_curve():
    """No advance below the floor ratio; above it the advance is the QJM rate scaled by the
    logistic chance of success, so it grows with the ratio and halves at R50 relative to a sure
    success."""
    p = reduced_params(min_advance_ratio=0.5)
    r_u = TERRAIN_DEFENCE[0]
    assert fight(one_edge(0.4 * r_u * 1000, 1000.0), p).advance_km[0] == 0.0
    a = fight(one_edge(0.8 * r_u * 1000, 1000.0), p).advance_km[0]
    b = fight(one_edge(2.0 * r_u * 1000, 1000.0), p).advance_km[0]
    assert 0 < a < b
    at_mid = fight(one_edge(p.success_ratio_midpoint * r_u * 1000, 1000.0), p).advance_km[0]
    qjm = p.advance_slowdown * 6.0 * 0.8 * p.success_ratio_midpoint**p.advance_ratio_exponent
    assert at_mid == pytest.approx(0.5 * qjm)


def random_battle(rng: np.random.Generator, n: int) -> EdgeBattle:
    engaged_a = rng.uniform(0, 2000, n)
    engaged_d = rng.uniform(0, 2000, n)
    engaged_d[rng.random(n) < 0.1] = 0.0  # gaps in the line
    return EdgeBattle(
        engaged_a=engaged_a,
        engaged_d=engaged_d,
        power_a=engaged_a * rng.uniform(0.3, 1.2, n),
        power_d=engaged_d * rng.uniform(0.3, 1.2, n),
        fires_a=rng.uniform(0, 200, n),
        fires_d=rng.uniform(0, 200, n),
        border_km=rng.uniform(0.5, 6, n),
        terrain=rng.integers(0, 4, n),
        fortification=rng.uniform(0, 3, n),
        river=rng.integers(0, 3, n),
        assault=rng.random(n) < 0.6,
        surprise=np.where(rng.random(n) < 0.1, 2.2, 1.0),
        u_shock=rng.random(n),
        u_loss_a=rng.random(n),
        u_loss_d=rng.random(n),
        unseen=np.where(rng.random(n) < 0.2, rng.random(n), 0.0),
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300))
def test_fast_kernel_equals_reference(seed, n):
    """The vectorised kernel and the per-edge reference agree on any state and draws."""
    battle = random_battle(np.random.default_rng(seed), n)
    fast, ref = fight(battle, Params()), fight_reference(battle, Params())
    for name in ("losses_a", "losses_d", "ratio", "advance_km"):
        np.testing.assert_allclose(getattr(fast, name), getattr(ref, name), rtol=1e-10, atol=1e-9)


def test_losses_never_exceed_engaged_and_are_never_negative():
    battle = random_battle(np.random.default_rng(3), 5000)
    out = fight(battle, Params({"fires_lethality": 1e-3, "attacker_loss_rate": 0.08}))
    assert (out.losses_a >= 0).all() and (out.losses_a <= battle.engaged_a + 1e-9).all()
    assert (out.losses_d >= 0).all() and (out.losses_d <= battle.engaged_d + 1e-9).all()


def test_surprise_exploitation_lifts_the_slowdown_toward_the_qjm_rate():
    """An attack that escapes a share u of the transparent-battlefield slowdown advances at
    kappa + (1 - kappa) u of the QJM rate: the full QJM rate at u = 1, unchanged at u = 0."""
    p = reduced_params()
    base = one_edge(2000.0, 1000.0)
    slow = fight(base, p).advance_km[0]
    assert slow > 0
    for u in (0.0, 0.25, 1.0):
        lifted = fight(dataclasses.replace(base, unseen=np.array([u])), p).advance_km[0]
        kappa = p.advance_slowdown + (1 - p.advance_slowdown) * u
        assert lifted == pytest.approx(slow * kappa / p.advance_slowdown)
    # None (the default) and all zeros are the same computation.
    zero = fight(dataclasses.replace(base, unseen=np.array([0.0])), p).advance_km[0]
    assert zero == slow


def test_fight_posture_is_numpy_interp_of_the_fortification():
    """combat_phase hands losses_and_threat the posture factor fight() computed: it must be
    np.interp of FORT_STRENGTH at each fought edge's fortification, to the bit."""
    from sim.combat import combat_phase
    from sim.fortification import FORT_LEVELS, FORT_STRENGTH
    from sim.model import FrontlineModel

    m = FrontlineModel("baseline_2024", rng=1)
    m.run_for(40)  # fortification built up and worn down unevenly by then
    r = combat_phase(m)
    fort = m.state.fortification[r.defended_node]
    assert len(np.unique(fort)) > 3
    want = np.interp(fort, FORT_LEVELS, FORT_STRENGTH)
    assert r.outcome.posture is not None
    assert r.outcome.posture.tobytes() == want.tobytes()
