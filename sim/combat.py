"""Phase 3, combat on every front edge (MECHANICS M2-M4), vectorised over all edges at once.

The attrition law is **mixed** (M3): a fractional-exponent Helmbold term for direct fire plus a
Lanchester linear (area-fire) term for artillery, glide bombs and drones. On an assault edge,
with attacker a and defender d::

    P_a = E_a q_a k_a s_a^g                     combat power (engaged men x quality x cohesion x supply)
    P_d = E_d q_d k_d s_d^g u_s(phi) r_u(tau)   defender adds posture (fortification) and terrain
    R   = clip(P_a / P_d * (F_a / F_d)^omega * surprise, 1/max_force_ratio, max_force_ratio)
    h_a = c_a0 r_c(tau) R^-p eta                    + beta F_d / l
    h_d = c_d0 r_c(tau) R^+p u_cd(phi) eta          + beta F_a / l
    C_x ~ Binomial(E_x, 1 - exp(-h_x))            (normal approximation, one uniform per edge)
    v   = kappa_T v0(phi) T_adv(tau) river R^eta_adv W(R) eta   if R > R_min   (km/day)
    W(R) = 1 / (1 + exp(-s ln(R / R50)))      Dupuy's logistic chance that an attack succeeds

``eta`` is the day's intensity shock on the edge, LogNormal with mean 1, shared by both sides.
A surprise attack multiplies R by ``1 + (surprise_multiplier - 1) f`` and, on an unwatched
sector, escapes part of the transparent-battlefield slowdown: ``kappa = kappa_T + (1 - kappa_T)
surprise_exploitation f``, where ``f`` fades linearly from 1 to 0 over ``surprise_days``.
On a quiet edge (neither side assaults) only area fire and a small positional share of the
direct-fire term act, and nobody advances.

With q = k = s = u = r = eta = 1, omega = 0, beta = 0 and p = 1 this is Lanchester's square law;
p = 0 gives the logarithmic law (tested in ``tests/test_combat.py``).

:func:`fight` is the fast kernel; :func:`fight_reference` is the same mathematics written edge by
edge in plain Python, kept as a differential-test oracle and benchmark baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtri

from sim.fortification import FORT_ADVANCE_KM, FORT_DEF_CASUALTY, FORT_LEVELS, FORT_STRENGTH
from sim.frontage import front_edges, presence, spread_stack_losses
from sim.kernels.combat import (
    edge_fires,
    fight_clip_ratio,
    fight_hazards,
    fight_outcome,
    fight_ratio,
    losses_and_threat,
    select_battles,
)
from sim.params import Params
from sim.rng import uniforms_streams
from sim.surprise import on_edges as surprise_on_edges

if TYPE_CHECKING:
    from sim.state import World

# --- NPW tables (MECHANICS section 4) -------------------------------------------------------
# Source: Dupuy, "Numbers, Predictions and War" (1985), the QJM's terrain factors for defence
# (r_u), casualties (r_c) and the infantry advance rate, read for each terrain class.
# Terrain codes of the theatre: 0 open steppe (rolling/flat mixed), 1 urban, 2 forest
# (rolling, heavily wooded), 3 river line (flat mixed).
TERRAIN_DEFENCE = np.array([1.2, 1.4, 1.35, 1.2])  # r_u
TERRAIN_CASUALTY = np.array([0.7, 0.5, 0.6, 0.8])  # r_c
TERRAIN_ADVANCE = np.array([0.8, 0.7, 0.6, 0.9])  # infantry advance factor
# River-crossing advance factor by edge river code: none, Donets/Oskil class, Dnipro (>500 m);
# the QJM's river-obstacle factors for advance (NPW, 1985).
RIVER_ADVANCE = np.array([1.0, 0.7, 0.5])

# Stream ids for the counter-based uniforms (sim.rng), one per purpose.
STREAM_SHOCK, STREAM_LOSS_ATT, STREAM_LOSS_DEF = 0, 1, 2


@dataclass
class EdgeBattle:
    """The inputs of one day's combat, one entry per front edge.

    ``a`` is the side that assaults across the edge (or, on a quiet edge, an arbitrary one of the
    two), ``d`` the other. Powers are before posture and terrain, which :func:`fight` applies.
    """

    engaged_a: np.ndarray  # men engaged
    engaged_d: np.ndarray
    power_a: np.ndarray  # engaged x quality x cohesion x supply**gamma
    power_d: np.ndarray
    fires_a: np.ndarray  # shell equivalents delivered on this edge today
    fires_d: np.ndarray
    border_km: np.ndarray  # length of the edge's stretch of front
    terrain: np.ndarray  # terrain code of the defended node
    fortification: np.ndarray  # fortification of the defended node, 0-3
    river: np.ndarray  # river code of the edge
    assault: np.ndarray  # bool: side a assaults today
    surprise: np.ndarray  # force-ratio multiplier (1 = none)
    u_shock: np.ndarray  # uniforms for the intensity shock
    u_loss_a: np.ndarray  # uniforms for each side's losses
    u_loss_d: np.ndarray
    # Share of the transparent-battlefield slowdown escaped by surprise (0 = none; None: all 0).
    unseen: np.ndarray | None = None


@dataclass
class EdgeOutcome:
    """Casualties, force ratio and advance per front edge."""

    losses_a: np.ndarray
    losses_d: np.ndarray
    ratio: np.ndarray
    advance_km: np.ndarray
    # The defenders' fortification posture factor (np.interp of FORT_STRENGTH at each edge's
    # fortification), which fight() computes and combat_phase reuses; None from
    # fight_reference.
    posture: np.ndarray | None = None


def success_chance(ratio: np.ndarray | float, params: Params) -> np.ndarray:
    """Chance that an attack at force ratio ``ratio`` succeeds: the Dupuy logistic in ln R."""
    x = params.success_ratio_slope * np.log(ratio / params.success_ratio_midpoint)
    chance: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return chance


def fight(b: EdgeBattle, params: Params) -> EdgeOutcome:
    """Resolve one day of combat on all front edges at once.

    Parameters
    ----------
    b : EdgeBattle
        Per-edge inputs (arrays of equal length).
    params : Params
        Uses the combat, attrition and advance parameters of the registry.

    Returns
    -------
    EdgeOutcome
        Losses of each side (men), force ratio and penetration (km) per edge.
    """
    p = params
    # numpy computes every ndtri, exp, log and power (their rounding is numpy's); the compiled
    # passes of sim.kernels.combat do the arithmetic between them in the same order as the plain numpy
    # expressions of the module docstring (MECHANICS M2-M4).
    sigma = p.intensity_shock_sd
    shock = np.exp(sigma * ndtri(b.u_shock) - 0.5 * sigma * sigma)
    posture, def_cas, v0, raw, fire_base = fight_ratio(
        b.power_a,
        b.power_d,
        b.fires_a,
        b.fires_d,
        b.fortification,
        b.terrain,
        FORT_LEVELS,
        FORT_STRENGTH,
        FORT_DEF_CASUALTY,
        FORT_ADVANCE_KM,
        TERRAIN_DEFENCE,
        p.max_force_ratio,
    )
    ratio, scaled = fight_clip_ratio(
        raw,
        fire_base**p.fires_elasticity,
        b.surprise,
        1.0 / p.max_force_ratio,
        p.max_force_ratio,
        p.success_ratio_midpoint,
    )
    c_att = p.attacker_loss_rate
    neg_a, neg_d, neg_x = fight_hazards(
        b.assault,
        b.terrain,
        shock,
        ratio ** (-p.ratio_loss_exponent),
        ratio**p.ratio_loss_exponent,
        def_cas,
        b.fires_a,
        b.fires_d,
        b.border_km,
        c_att,
        c_att * p.defender_loss_ratio,
        p.positional_loss_factor,
        p.fires_lethality,
        TERRAIN_CASUALTY,
        np.log(scaled),
        p.success_ratio_slope,
    )
    return _outcome(b, p, ratio, v0, shock, neg_a, neg_d, neg_x, posture)


def _outcome(
    b: EdgeBattle,
    p: Params,
    ratio: np.ndarray,
    v0: np.ndarray,
    shock: np.ndarray,
    neg_a: np.ndarray,
    neg_d: np.ndarray,
    neg_x: np.ndarray,
    posture: np.ndarray,
) -> EdgeOutcome:
    # The last step of fight(): the day's losses (binomial, normal approximation) and advance.
    losses_a, losses_d, advance = fight_outcome(
        b.engaged_a,
        b.engaged_d,
        np.exp(neg_a),
        np.exp(neg_d),
        ndtri(b.u_loss_a),
        ndtri(b.u_loss_d),
        b.assault,
        ratio,
        p.min_advance_ratio,
        p.advance_slowdown,
        b.unseen if b.unseen is not None else ratio,
        b.unseen is not None,
        v0,
        b.terrain,
        b.river,
        TERRAIN_ADVANCE,
        RIVER_ADVANCE,
        ratio**p.advance_ratio_exponent,
        np.exp(neg_x),
        shock,
    )
    return EdgeOutcome(losses_a, losses_d, ratio, advance, posture)


def fight_reference(b: EdgeBattle, params: Params) -> EdgeOutcome:
    """The same mathematics as :func:`fight`, one edge at a time in plain Python.

    This is how a Mesa user would first write it. It is kept as the oracle of a differential test
    (both must agree to rounding) and as the baseline of the combat benchmark.
    """
    p = params
    n = len(b.border_km)
    out = EdgeOutcome(np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n))
    fort_levels = FORT_LEVELS.tolist()
    sigma = p.intensity_shock_sd
    for e in range(n):
        shock = math.exp(sigma * float(ndtri(b.u_shock[e])) - 0.5 * sigma * sigma)
        fort = float(b.fortification[e])
        terrain = int(b.terrain[e])
        posture = float(np.interp(fort, fort_levels, FORT_STRENGTH))
        power_d = float(b.power_d[e]) * posture * float(TERRAIN_DEFENCE[terrain])
        if power_d > 0:
            raw = float(b.power_a[e]) / power_d
        else:
            raw = p.max_force_ratio
        fire_ratio = ((b.fires_a[e] + 1.0) / (b.fires_d[e] + 1.0)) ** p.fires_elasticity
        ratio = min(
            max(raw * fire_ratio * b.surprise[e], 1.0 / p.max_force_ratio), p.max_force_ratio
        )
        r_c = float(TERRAIN_CASUALTY[terrain])
        c_def = p.attacker_loss_rate * p.defender_loss_ratio
        if b.assault[e]:
            direct_a = p.attacker_loss_rate * r_c * ratio ** (-p.ratio_loss_exponent) * shock
            def_cas = float(np.interp(fort, fort_levels, FORT_DEF_CASUALTY))
            direct_d = c_def * r_c * ratio**p.ratio_loss_exponent * def_cas * shock
        else:
            direct_a = direct_d = c_def * p.positional_loss_factor * r_c * shock
        for side, direct, fires_in, engaged, u in (
            ("a", direct_a, b.fires_d[e], b.engaged_a[e], b.u_loss_a[e]),
            ("d", direct_d, b.fires_a[e], b.engaged_d[e], b.u_loss_d[e]),
        ):
            prob = 1.0 - math.exp(-(direct + p.fires_lethality * fires_in / b.border_km[e]))
            mean = engaged * prob
            draw = mean + math.sqrt(mean * (1.0 - prob)) * float(ndtri(u))
            loss = min(max(draw, 0.0), float(engaged))
            (out.losses_a if side == "a" else out.losses_d)[e] = loss
        out.ratio[e] = ratio
        if b.assault[e] and ratio > p.min_advance_ratio:
            v0 = float(np.interp(fort, fort_levels, FORT_ADVANCE_KM))
            kappa = p.advance_slowdown
            if b.unseen is not None:
                kappa += (1.0 - kappa) * float(b.unseen[e])
            out.advance_km[e] = (
                kappa
                * v0
                * float(TERRAIN_ADVANCE[terrain])
                * float(RIVER_ADVANCE[int(b.river[e])])
                * ratio**p.advance_ratio_exponent
                * float(success_chance(ratio, p))
                * shock
            )
    return out


@dataclass
class CombatResult:
    """What phase 3 hands to phase 4: per active front edge, and per unit row."""

    edges: np.ndarray  # theatre edge ids of the edges fought over
    attacker: np.ndarray  # side assaulting (or nominal side a on quiet edges)
    defended_node: np.ndarray  # node of the edge held by the defender
    assault: np.ndarray
    outcome: EdgeOutcome
    engaged_a: np.ndarray
    engaged_d: np.ndarray
    glide_bombs: np.ndarray  # glide bombs dropped on each edge's defended node today
    unit_losses: np.ndarray  # per unit row, men lost today


def _engagements(model: World) -> tuple[np.ndarray, ...]:
    """The front edges where anyone is engaged, and on each the assaulting side (in a meeting
    engagement the stronger side has the initiative), its engaged men, power and units."""
    t = model.theatre
    fe, eu, ev, border, mid = front_edges(model)
    owner, engaged, power, attacking = (
        list(x)
        for x in zip(*(presence(model, side, mid, border, fe) for side in (0, 1)), strict=True)
    )
    secs = model.sectors
    if secs.own_soil_only.any():
        # A side whose sector attacks stop at the border assaults no cell on the other's soil.
        for side in (0, 1):
            target = np.where(model.state.control[eu] == side, ev, eu)  # the cell it would take
            barred = secs.own_soil_only[side, secs.of_node[target]] & (t.country[target] != side)
            attacking[side] = attacking[side] & ~barred
    battles: tuple[np.ndarray, ...] = select_battles(
        fe, eu, ev, border, model.state.control, *engaged, *power, *attacking, *owner
    )
    return battles


def _fires_total(inputs: dict[str, float], p: Params) -> np.ndarray:
    """Each side's fires of the day in shell equivalents (Ukraine, Russia)."""
    return np.array(
        [
            inputs["ukraine_shells_per_day"]
            + p.drone_shell_equivalent * inputs["ukraine_drone_sorties_per_day"],
            inputs["russia_shells_per_day"]
            + p.glide_bomb_shell_equivalent * inputs["russia_glide_bombs_per_day"]
            + p.drone_shell_equivalent * inputs["russia_drone_sorties_per_day"],
        ]
    )


def combat_phase(model: World) -> CombatResult:
    """Phase 3: gather the front from the unit table, fight every edge, return the result.

    Also writes ``state.threat`` and ``state.attack_ratio`` for tomorrow's reserve decisions.

    Parameters
    ----------
    model : World
        Reads the unit table and the state; writes its threat and attack ratio.

    Returns
    -------
    CombatResult
        What phase 4 applies: per fought edge, and each unit row's losses.
    """
    t, p, inputs = model.theatre, model.p, model.inputs
    (fe, _, _, border, a, assault, defended, eng_a, eng_d, pow_a, pow_d, own_a, own_d) = (
        _engagements(model)
    )
    fires_total = _fires_total(inputs, p)
    sector = model.sectors.of_node[defended]
    # Fires: a share spread along the front by length, the rest on the assault axes.
    fires_a, fires_d, glide = edge_fires(
        border,
        assault,
        a,
        fires_total,
        float(inputs["russia_glide_bombs_per_day"]),
        p.fires_axis_focus,
        np.empty(len(border)),
    )
    surprise, unseen = surprise_on_edges(model.state, p, model.day, a, sector, assault)
    key, day = model.crn_key, model.day
    u_shock, u_loss_a, u_loss_d = uniforms_streams(
        key, day, (STREAM_SHOCK, STREAM_LOSS_ATT, STREAM_LOSS_DEF), fe
    )
    fortification = model.state.fortification[defended]
    battle = EdgeBattle(
        engaged_a=eng_a,
        engaged_d=eng_d,
        power_a=pow_a,
        power_d=pow_d,
        fires_a=fires_a,
        fires_d=fires_d,
        border_km=border,
        terrain=t.terrain[defended],
        fortification=fortification,
        river=t.edge_river[fe],
        assault=assault,
        surprise=surprise,
        u_shock=u_shock,
        u_loss_a=u_loss_a,
        u_loss_d=u_loss_d,
        unseen=unseen,
    )
    out = fight(battle, p)
    assert out.posture is not None  # fight() returns the posture factor it computed

    # Men lost by each unit; pressure on each defending side by sector, and each attacker's
    # edge by sector, for tomorrow's reserve decisions.
    unit_losses = losses_and_threat(
        model.units.n,
        out.losses_a,
        out.losses_d,
        own_a,
        own_d,
        assault,
        a,
        sector,
        pow_a,
        pow_d,
        out.posture,
        p.max_force_ratio,
        model.state.threat,
        model.state.attack_ratio,
    )
    spread_stack_losses(model, unit_losses, p.stack_pooling)
    return CombatResult(fe, a, defended, assault, out, eng_a, eng_d, glide, unit_losses)
