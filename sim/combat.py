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

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import ndtri

from sim.jit import (
    fight_clip_ratio,
    fight_hazards,
    fight_outcome,
    fight_ratio,
    fires_and_surprise,
    front_geometry,
    kd_resolve,
    losses_and_threat,
    nearest_on_candidates,
    presence_frontage,
    presence_power,
    select_battles,
)
from sim.params import Params
from sim.rng import uniforms_streams
from sim.units import ATTACK

# --- NPW tables (MECHANICS section 4) -------------------------------------------------------
# Terrain codes of the theatre: 0 open steppe (rolling/flat mixed), 1 urban, 2 forest
# (rolling, heavily wooded), 3 river line (flat mixed).
TERRAIN_DEFENCE = np.array([1.2, 1.4, 1.35, 1.2])  # r_u
TERRAIN_CASUALTY = np.array([0.7, 0.5, 0.6, 0.8])  # r_c
TERRAIN_ADVANCE = np.array([0.8, 0.7, 0.6, 0.9])  # infantry advance factor
# Fortification level phi in [0, 3]: none, hasty, prepared, fortified. Interpolated between.
FORT_LEVELS = np.array([0.0, 1.0, 2.0, 3.0])
FORT_STRENGTH = np.array([1.0, 1.3, 1.5, 1.6])  # u_s, posture strength
FORT_DEF_CASUALTY = np.array([1.0, 0.80, 0.85, 0.90])  # u_cd
FORT_ADVANCE_KM = np.array([6.0, 4.2, 2.05, 1.1])  # v0 at R = 1, km/day (QJM infantry)
# River-crossing advance factor by edge river code: none, Donets/Oskil class, Dnipro (>500 m).
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


def success_chance(ratio, params):
    """Chance that an attack at force ratio ``ratio`` succeeds: the Dupuy logistic in ln R."""
    x = params.success_ratio_slope * np.log(ratio / params.success_ratio_midpoint)
    return 1.0 / (1.0 + np.exp(-x))


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
    # passes of sim.jit do the arithmetic between them in the same order as the plain numpy
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
    return EdgeOutcome(losses_a, losses_d, ratio, advance)


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


def _presence(
    model, side: int, mid: np.ndarray, border: np.ndarray, edges: np.ndarray | None = None
):
    """Which line unit of ``side`` covers each front edge, and with how many men per km.

    ``mid`` are the edges' midpoints; with the edges' ids ``edges``, the nearest units are found
    from each edge's nearby nodes instead of a k-d tree (the same answer, see
    :func:`_nearest_unit`)."""
    p, u = model.p, model.units
    n_edges = len(mid)
    rows = model.line_rows(side)
    if len(rows) == 0:
        none = np.zeros(n_edges)
        return np.full(n_edges, -1), none, none, np.zeros(n_edges, dtype=bool)
    eff = (
        u.quality[rows]
        * u.cohesion[rows]
        * np.maximum(u.supply[rows], 0.0) ** p.supply_power_exponent
    )
    personnel = u.personnel[rows]
    if p.stack_pooling > 0:
        rows, personnel, eff = _pool_stacks(model, side, rows, personnel, eff, p.stack_pooling)
    dist, k = _nearest_unit(model, side, rows, mid, p.unit_frontage_km, edges)
    k = k.astype(np.int64)  # a copy: the nearest-unit answer is cached
    n_rows = len(rows)
    posture = u.posture[rows]
    present = np.empty(n_edges, dtype=np.bool_)
    per_km = np.empty(n_rows)
    # An attacking unit puts all its men on its assault frontage; the edges farther from it are
    # left to whoever else is near (an attacker does not also hold a long line). Each unit
    # spreads its men over the stretch of front it is nearest to: force-to-space.
    presence_frontage(
        dist, k, n_rows, posture, personnel, border, p.attack_frontage_km, present, per_km
    )
    # Men beyond the frontage cap cannot all fire at once, but echelons in depth replace losses
    # and keep up the pressure: they add power with diminishing returns.
    depth = np.maximum(per_km / p.frontage_cap_per_km, 1.0) ** p.depth_exponent
    owner = np.empty(n_edges, dtype=rows.dtype)
    engaged, power = np.empty(n_edges), np.empty(n_edges)
    attacking = np.empty(n_edges, dtype=np.bool_)
    presence_power(
        k,
        present,
        posture,
        rows,
        per_km,
        p.frontage_cap_per_km,
        border,
        eff,
        depth,
        owner,
        engaged,
        power,
        attacking,
    )
    return owner, engaged, power, attacking


def _pool_stacks(model, side, rows, personnel, eff, pooling):
    """Units of one side that stand on the same node with the same role (attacking or holding)
    fight as one: the edges nearest that node go to the stack's first row, which carries
    ``pooling`` of the other members' men and their personnel-weighted effectiveness.

    Without it the nearest-unit rule hands each edge to one unit, so the men of a second unit on
    the same node never fight, and massing on an axis (a brigade landing beside another on the
    node nearest the objective) adds nothing. The members' shares of the stack's losses are kept
    in ``model._stack_members`` for :func:`_spread_stack_losses`.
    """
    u = model.units
    key = u.node[rows].astype(np.int64) * 2 + (u.posture[rows] == ATTACK)
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    if len(first) == len(rows):
        model._stack_members[side] = None
        return rows, personnel, eff
    weight = np.where(np.arange(len(rows)) == first[group], 1.0, pooling)
    men = weight * personnel
    pooled = np.bincount(group, weights=men)
    pooled_eff = np.bincount(group, weights=men * eff) / np.maximum(pooled, 1e-12)
    # Each member's share of its stack's losses: in proportion to the men it puts in.
    share = men / np.maximum(pooled[group], 1e-12)
    model._stack_members[side] = (rows, rows[first][group], share)
    return rows[first], pooled, pooled_eff


def _spread_stack_losses(model, unit_losses: np.ndarray) -> np.ndarray:
    """Share each stack's losses, booked on its first row, among its members."""
    for members in model._stack_members:
        if members is None:
            continue
        rows, lead, share = members
        lost = unit_losses[lead] * share
        unit_losses[lead] = 0.0
        np.add.at(unit_losses, rows, lost)
    return unit_losses


def presence_reference(model, side: int, mid: np.ndarray, border: np.ndarray, tie_break=None):
    """What :func:`_presence` computes, one front edge and one unit at a time in plain Python.

    Kept as the oracle of a differential test and the baseline of the presence benchmark. Each
    edge goes to the nearest line unit within ``unit_frontage_km`` of its midpoint. Exact ties
    are common (units stacked on one node; edge midpoints equidistant from two nodes of the
    theatre's hexagonal fill) and the fast kernel's k-d tree breaks them by its traversal order,
    which no plain rule reproduces. So ``tie_break`` (one row per edge, -1 for none) may name the
    unit the fast kernel chose: it is checked to be one of the nearest units and then used, and
    everything else is computed here from scratch. Without it, the lowest row wins a tie.

    Raises
    ------
    ValueError
        If ``tie_break`` names a unit that is not among the nearest ones within reach.
    """
    p, u = model.p, model.units
    n_edges = len(mid)
    rows = [int(r) for r in model.line_rows(side)]
    owner, engaged, power = [-1] * n_edges, [0.0] * n_edges, [0.0] * n_edges
    attacking = [False] * n_edges
    reach2 = p.unit_frontage_km * p.unit_frontage_km
    nearest: list[tuple[int, float] | None] = []
    for e in range(n_edges):
        mx, my = float(mid[e, 0]), float(mid[e, 1])
        best, tied = None, []
        for row in rows:
            node = int(u.node[row])
            dx, dy = float(model.xy[node, 0]) - mx, float(model.xy[node, 1]) - my
            d2 = dx * dx + dy * dy
            if d2 >= reach2:
                continue
            if best is None or d2 < best[1]:
                best, tied = (row, d2), [row]
            elif d2 == best[1]:
                tied.append(row)
        if tie_break is not None:
            want = int(tie_break[e])
            if (want < 0) != (best is None) or (want >= 0 and want not in tied):
                raise ValueError(f"edge {e}: row {want} is not a nearest unit (nearest: {tied})")
            if best is not None:
                best = (want, best[1])
        if best is not None:
            row, d2 = best
            dist = math.sqrt(d2)
            if int(u.posture[row]) == 1 and not dist <= p.attack_frontage_km:
                best = None  # an attacker leaves its far edges to others
        nearest.append(best)
    frontage = dict.fromkeys(rows, 0.0)
    for e, best in enumerate(nearest):
        if best is not None:
            frontage[best[0]] += float(border[e])
    for e, best in enumerate(nearest):
        if best is None:
            continue
        row = best[0]
        per_km = float(u.personnel[row]) / frontage[row]
        engaged[e] = min(per_km, p.frontage_cap_per_km) * float(border[e])
        eff = (
            float(u.quality[row])
            * float(u.cohesion[row])
            * max(float(u.supply[row]), 0.0) ** p.supply_power_exponent
        )
        depth = max(per_km / p.frontage_cap_per_km, 1.0) ** p.depth_exponent
        power[e] = engaged[e] * (eff * depth)
        owner[e] = row
        attacking[e] = int(u.posture[row]) == 1
    return np.array(owner), np.array(engaged), np.array(power), np.array(attacking, dtype=bool)


class _EdgeReach:
    """The theatre's nodes within ``reach`` of each edge's midpoint, nearest first: built for an
    edge the first time it is asked for, and shared by every model of the process.

    Squared distances are computed as ``cKDTree`` computes them (``dx*dx + dy*dy`` from the same
    midpoint), so comparing them reproduces its answers exactly; ties keep node order.
    """

    def __init__(self, xy: np.ndarray, edge_u: np.ndarray, edge_v: np.ndarray, reach: float):
        self.xy, self.edge_u, self.edge_v, self.reach = xy, edge_u, edge_v, reach
        # 32-bit where it fits: the daily search reads these at random, so smaller is faster.
        self.start = np.zeros(len(edge_u), dtype=np.int32)
        self.count = np.full(len(edge_u), -1, dtype=np.int32)  # -1: not built yet
        self.node = np.zeros(0, dtype=np.int32)
        self.d2 = np.zeros(0)
        self.tree = None
        self.ensured = None  # the edges array last passed to ensure()

    def ensure(self, edges: np.ndarray) -> None:
        """Build the candidate lists of those ``edges`` that have none yet."""
        built = self.count[edges]
        if len(built) == 0 or built.min() >= 0:
            return
        missing = np.unique(edges[built < 0])
        if self.tree is None:
            self.tree = cKDTree(self.xy)
        xy = self.xy
        mid = 0.5 * (xy[self.edge_u[missing]] + xy[self.edge_v[missing]])
        # A kilometre of slack: the exact test below decides.
        near = self.tree.query_ball_point(mid, self.reach + 1.0, return_sorted=False)
        lens = np.fromiter((len(x) for x in near), dtype=np.int64, count=len(near))
        node = np.fromiter(itertools.chain.from_iterable(near), dtype=np.int64, count=lens.sum())
        group = np.repeat(np.arange(len(missing)), lens)
        dx = xy[node, 0] - mid[group, 0]
        dy = xy[node, 1] - mid[group, 1]
        d2 = dx * dx + dy * dy
        keep = d2 < self.reach * self.reach
        node, group, d2 = node[keep], group[keep], d2[keep]
        order = np.lexsort((node, d2, group))  # by edge, then distance, then node
        counts = np.bincount(group, minlength=len(missing))
        self.start[missing] = len(self.node) + np.cumsum(counts) - counts
        self.count[missing] = counts
        if len(self.node) + len(order) >= 2**31:
            raise OverflowError("candidate lists beyond 2**31 entries")
        self.node = np.concatenate([self.node, node[order].astype(np.int32)])
        self.d2 = np.concatenate([self.d2, d2[order]])


_REACH_CACHE: dict = {}


def _edge_reach(model, reach: float) -> _EdgeReach:
    key = (id(model.theatre), reach)
    hit = _REACH_CACHE.get(key)
    if hit is None or hit[0] is not model.theatre:
        hit = _REACH_CACHE[key] = (
            model.theatre,
            _EdgeReach(model.xy, model.edge_u, model.edge_v, reach),
        )
    return hit[1]


def _nearest_unit(
    model,
    side: int,
    rows: np.ndarray,
    mid: np.ndarray,
    reach: float,
    edges: np.ndarray | None = None,
):
    """Distance to, and index in ``rows`` of, the nearest unit within ``reach`` of each point
    (``inf`` and ``len(rows)`` beyond it), as ``cKDTree.query`` gives them.

    With ``edges`` (the theatre edges whose midpoints ``mid`` are), the nearest unit is read off
    each edge's list of nearby nodes (:class:`_EdgeReach`); where several units are equally near
    (units share nodes, and the theatre's regular fill makes equidistant nodes common), the
    k-d tree decides, as it did for every edge before, since its choice among equals follows
    its build and traversal order, which no plain rule reproduces: a compiled copy of scipy's
    cKDTree (:func:`sim.jit.kd_resolve`), or scipy's own on the rare build it does not copy.

    On about half the days neither the front nor any line unit moved: the last answer is kept
    per side and reused when the points, the rows, their nodes and ``reach`` are all unchanged.
    """
    nodes = model.units.node[rows]
    cache = model.__dict__.setdefault("_nearest_unit_cache", {})
    hit = cache.get(side)
    if (
        hit is not None
        and hit[3] == reach
        and np.array_equal(hit[1], rows)
        and np.array_equal(hit[2], nodes)
        and np.array_equal(hit[0], mid)
    ):
        return hit[4]
    if edges is None:
        answer = cKDTree(model.xy[nodes]).query(mid, distance_upper_bound=reach)
    else:
        answer = _nearest_by_edge(model, rows, nodes, mid, reach, edges)
    cache[side] = (mid.copy(), rows.copy(), nodes.copy(), reach, answer)
    return answer


def _nearest_by_edge(model, rows, nodes, mid, reach, edges):
    near = _edge_reach(model, reach)
    if near.ensured is not edges:
        near.ensure(edges)
        near.ensured = edges
    scratch = model.__dict__.get("_node_scratch")
    if scratch is None:
        n = len(model.xy)
        scratch = model._node_scratch = (np.zeros(n, dtype=np.int32), np.zeros(n, dtype=np.int32))
    dist, k, tied = nearest_on_candidates(
        edges, near.start, near.count, near.node, near.d2, nodes.astype(np.int64), *scratch
    )
    if len(tied) and not kd_resolve(model.xy[nodes], mid, tied, reach, dist, k):
        dist_t, k_t = cKDTree(model.xy[nodes]).query(mid[tied], distance_upper_bound=reach)
        dist[tied], k[tied] = dist_t, k_t
    return dist, k


def front_edges(model) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ids, end nodes, border lengths and midpoints of the front edges, recomputed only when the
    model's cached front (:meth:`FrontlineModel.front_edge_mask`) changes."""
    mask = model.front_edge_mask()
    hit = model.__dict__.get("_front_edges_geometry")
    if hit is None or hit[0] is not mask:
        geometry = front_geometry(
            mask, model.edge_u, model.edge_v, model.theatre.edge_border_km, model.xy
        )
        hit = model._front_edges_geometry = (mask, *geometry)
    return hit[1:]


def combat_phase(model) -> CombatResult:
    """Phase 3: gather the front from the unit table, fight every edge, return the result."""
    t, p = model.theatre, model.p
    fe, eu, ev, border, mid = front_edges(model)
    model._stack_members = [None, None]
    owner, engaged, power, attacking = zip(
        *(_presence(model, side, mid, border, fe) for side in (0, 1)), strict=True
    )
    secs = model.sectors
    if secs.own_soil_only.any():
        # A side whose sector attacks stop at the border assaults no cell on the other's soil.
        attacking = list(attacking)
        for side in (0, 1):
            target = np.where(model.control[eu] == side, ev, eu)  # the cell it would take
            barred = secs.own_soil_only[side, secs.of_node[target]] & (t.country[target] != side)
            attacking[side] = attacking[side] & ~barred
    # The edges where anyone is engaged; one assaulting side per edge (in a meeting engagement
    # the stronger side has the initiative), its engaged men, power and units.
    (fe, eu, ev, border, a, assault, defended, eng_a, eng_d, pow_a, pow_d, own_a, own_d) = (
        select_battles(fe, eu, ev, border, model.control, *engaged, *power, *attacking, *owner)
    )

    inputs = model.inputs
    fires_total = np.array(
        [
            inputs["ukraine_shells_per_day"]
            + p.drone_shell_equivalent * inputs["ukraine_drone_sorties_per_day"],
            inputs["russia_shells_per_day"]
            + p.glide_bomb_shell_equivalent * inputs["russia_glide_bombs_per_day"]
            + p.drone_shell_equivalent * inputs["russia_drone_sorties_per_day"],
        ]
    )
    sector = model.sectors.of_node[defended]
    # Fires: a share spread along the front by length, the rest on the assault axes. Surprise
    # multiplies the force ratio, fading linearly over surprise_days.
    fires_a, fires_d, glide, surprise, unseen = fires_and_surprise(
        border,
        assault,
        a,
        fires_total,
        float(inputs["russia_glide_bombs_per_day"]),
        p.fires_axis_focus,
        sector,
        model.surprise_day,
        model.day,
        p.surprise_days,
        p.surprise_multiplier,
        p.surprise_exploitation,
        np.empty(len(border)),
    )
    key, day = model.crn_key, model.day
    u_shock, u_loss_a, u_loss_d = uniforms_streams(
        key, day, (STREAM_SHOCK, STREAM_LOSS_ATT, STREAM_LOSS_DEF), fe
    )
    fortification = model.fortification[defended]
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
        unseen=unseen if p.surprise_exploitation > 0 else None,
    )
    out = fight(battle, p)

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
        np.interp(fortification, FORT_LEVELS, FORT_STRENGTH),
        p.max_force_ratio,
        model.threat,
        model.attack_ratio,
    )
    if p.stack_pooling > 0:
        unit_losses = _spread_stack_losses(model, unit_losses)
    return CombatResult(fe, a, defended, assault, out, eng_a, eng_d, glide, unit_losses)
