"""Compiled passes of combat (:mod:`sim.combat`, :mod:`sim.frontage`).

Compiled with Numba; bit-identical to numpy (see :mod:`sim.kernels`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernels.sums import np_sum


# --- combat -----------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def presence_frontage(
    dist, k, n_rows, posture, personnel, border, attack_frontage, present, per_km
):
    """First half of :func:`sim.frontage.presence`, after the nearest-unit search.

    ``k`` (index among the rows, ``n_rows`` where ``dist`` is infinite) is made 0 where no unit
    is near; ``present`` is written (a unit covers the edge: attackers only within
    ``attack_frontage``) and ``per_km`` (men per km of each row's stretch of front). The
    frontage sums add each edge's border in edge order, as ``np.bincount`` does.
    """
    frontage = np.zeros(n_rows)
    for e in range(len(dist)):
        ok = dist[e] < np.inf
        if not ok:
            k[e] = 0
        ok = ok and (posture[k[e]] != 1 or dist[e] <= attack_frontage)
        present[e] = ok
        if ok:
            frontage[k[e]] += border[e]
    for r in range(n_rows):
        per_km[r] = personnel[r] / frontage[r] if frontage[r] > 0 else 0.0


@njit(cache=True, nogil=True)
def presence_power(
    k, present, posture, rows, per_km, cap, border, eff, depth, owner, engaged, power, attacking
):
    """Second half of :func:`sim.frontage.presence`: men engaged and combat power per edge
    (``eff`` and ``depth`` per row), the owning row and whether it assaults."""
    for e in range(len(k)):
        r = k[e]
        if present[e]:
            m = per_km[r]
            engaged[e] = (m if m < cap else cap) * border[e]
            owner[e] = rows[r]
            attacking[e] = posture[r] == 1
        else:
            engaged[e] = 0.0
            owner[e] = -1
            attacking[e] = False
        power[e] = engaged[e] * (eff[r] * depth[r])


@njit(cache=True, nogil=True)
def select_battles(
    fe, eu, ev, border, control, engaged0, engaged1, power0, power1, att0, att1, owner0, owner1
):
    """The front edges where anyone is engaged, with who assaults and who defends (the middle
    of :func:`sim.combat.combat_phase`).

    Returns
    -------
    tuple of arrays over the selected edges
        edge, u end, v end, border, attacker (int8), assault, defended node, engaged (attacker,
        defender), power (attacker, defender), owner row (attacker, defender).
    """
    n = 0
    for i in range(len(fe)):
        if engaged0[i] > 0 or engaged1[i] > 0:
            n += 1
    s_fe = np.empty(n, dtype=fe.dtype)
    s_u = np.empty(n, dtype=eu.dtype)
    s_v = np.empty(n, dtype=ev.dtype)
    s_border = np.empty(n)
    a = np.empty(n, dtype=np.int8)
    assault = np.empty(n, dtype=np.bool_)
    defended = np.empty(n, dtype=eu.dtype)
    eng_a, eng_d = np.empty(n), np.empty(n)
    pow_a, pow_d = np.empty(n), np.empty(n)
    own_a = np.empty(n, dtype=owner0.dtype)
    own_d = np.empty(n, dtype=owner0.dtype)
    j = 0
    for i in range(len(fe)):
        if not (engaged0[i] > 0 or engaged1[i] > 0):
            continue
        # One assaulting side per edge; in a meeting engagement the stronger side leads.
        side_a = 1 if att1[i] and (not att0[i] or power1[i] >= power0[i]) else 0
        s_fe[j], s_u[j], s_v[j], s_border[j] = fe[i], eu[i], ev[i], border[i]
        a[j] = side_a
        assault[j] = att0[i] or att1[i]
        defended[j] = eu[i] if control[eu[i]] == 1 - side_a else ev[i]
        if side_a == 1:
            eng_a[j], eng_d[j] = engaged1[i], engaged0[i]
            pow_a[j], pow_d[j] = power1[i], power0[i]
            own_a[j], own_d[j] = owner1[i], owner0[i]
        else:
            eng_a[j], eng_d[j] = engaged0[i], engaged1[i]
            pow_a[j], pow_d[j] = power0[i], power1[i]
            own_a[j], own_d[j] = owner0[i], owner1[i]
        j += 1
    return (
        s_fe,
        s_u,
        s_v,
        s_border,
        a,
        assault,
        defended,
        eng_a,
        eng_d,
        pow_a,
        pow_d,
        own_a,
        own_d,
    )


@njit(cache=True, nogil=True)
def edge_fires(border, assault, a, fires_total, glide_per_day, focus_share, scratch):
    """Fires delivered on each edge (a share spread along the front, the rest on the assault
    axes) and glide bombs, as the numpy expressions of :func:`sim.combat.combat_phase` compute
    them (``scratch``: len(border))."""
    n = len(border)
    weight = np.empty(n)
    norm = max(np_sum(border, n), 1e-9)
    for i in range(n):
        scratch[i] = border[i] * (1.0 if assault[i] else 0.0)
    focus_total = np_sum(scratch, n)
    if focus_total > 0:
        for i in range(n):
            weight[i] = (1.0 - focus_share) * border[i] / norm + focus_share * scratch[
                i
            ] / focus_total
    else:
        for i in range(n):
            weight[i] = border[i] / norm
    fires_a, fires_d, glide = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        fires_a[i] = fires_total[a[i]] * weight[i]
        fires_d[i] = fires_total[1 - a[i]] * weight[i]
        glide[i] = glide_per_day * weight[i] if a[i] == 1 else 0.0
    return fires_a, fires_d, glide


@njit(cache=True, nogil=True)
def losses_and_threat(
    n_units,
    losses_a,
    losses_d,
    owner_a,
    owner_d,
    assault,
    a,
    sector,
    power_a,
    power_d,
    posture,
    max_ratio,
    threat,
    attack_ratio,
):
    """Men each unit lost today, and each side's threat and attack ratio by sector, as the
    bincounts of :func:`sim.combat.combat_phase` sum them (edge order; ``threat`` and
    ``attack_ratio`` are written in place).
    """
    lost_a = np.zeros(n_units)
    lost_d = np.zeros(n_units)
    for i in range(len(losses_a)):
        if owner_a[i] >= 0:
            lost_a[owner_a[i]] += losses_a[i]
        if owner_d[i] >= 0:
            lost_d[owner_d[i]] += losses_d[i]
    unit_losses = lost_a + lost_d
    k = threat.shape[1]
    threat[:] = 0.0
    attack_ratio[:] = 0.0
    for side in range(2):
        push = np.zeros(k)
        hold = np.zeros(k)
        seen = False
        for i in range(len(a)):
            if assault[i] and 1 - a[i] == side:
                seen = True
                push[sector[i]] += power_a[i]
                hold[sector[i]] += power_d[i] * posture[i]
        if not seen:
            continue
        for s in range(k):
            if hold[s] > 0:
                ratio = push[s] / max(hold[s], 1e-9)
            else:
                ratio = max_ratio if push[s] > 0 else 0.0
            threat[side, s] = ratio
            other = attack_ratio[1 - side, s]
            attack_ratio[1 - side, s] = other if other >= ratio else ratio
    return unit_losses


# --- the combat law (sim.combat.fight) -----------------------------------------------------------
# fight() keeps numpy for ndtri, exp, log and **; the arithmetic between them is done here, in
# the same order as the numpy expressions it replaces (``a * b * c`` is ``(a * b) * c``).
@njit(cache=True, nogil=True)
def _interp(v, xp, fp):
    # np.interp at one point inside or outside a short sorted table, as numpy computes it.
    n = len(xp)
    if v > xp[n - 1]:
        return fp[n - 1]
    if v < xp[0]:
        return fp[0]
    j = 0
    while j < n - 1 and xp[j + 1] <= v:
        j += 1
    if j == n - 1 or xp[j] == v:
        return fp[j]
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    return slope * (v - xp[j]) + fp[j]


@njit(cache=True, nogil=True)
def fight_ratio(
    power_a,
    power_d,
    fires_a,
    fires_d,
    fortification,
    terrain,
    levels,
    strength,
    def_casualty,
    advance_km,
    terrain_defence,
    max_ratio,
):
    """Fortification tables at each edge (posture, defender casualty factor, v0), and the raw
    force ratio and fires ratio base ``(F_a + 1) / (F_d + 1)``."""
    n = len(power_a)
    posture, def_cas, v0 = np.empty(n), np.empty(n), np.empty(n)
    raw, fire_base = np.empty(n), np.empty(n)
    for i in range(n):
        f = fortification[i]
        posture[i] = _interp(f, levels, strength)
        def_cas[i] = _interp(f, levels, def_casualty)
        v0[i] = _interp(f, levels, advance_km)
        pd = power_d[i] * posture[i] * terrain_defence[terrain[i]]
        raw[i] = power_a[i] / pd if pd > 0 else max_ratio
        fire_base[i] = (fires_a[i] + 1.0) / (fires_d[i] + 1.0)
    return posture, def_cas, v0, raw, fire_base


@njit(cache=True, nogil=True)
def fight_clip_ratio(raw, fire_ratio, surprise, lo, hi, midpoint):
    """The force ratio, clipped as np.clip does, and ``ratio / midpoint`` for the logistic."""
    n = len(raw)
    ratio, scaled = np.empty(n), np.empty(n)
    for i in range(n):
        x = raw[i] * fire_ratio[i] * surprise[i]
        if not np.isnan(x):
            x = x if x > lo else lo
            x = x if x < hi else hi
        ratio[i] = x
        scaled[i] = x / midpoint
    return ratio, scaled


@njit(cache=True, nogil=True)
def fight_hazards(
    assault,
    terrain,
    shock,
    pow_neg,
    pow_pos,
    def_cas,
    fires_a,
    fires_d,
    border,
    c_att,
    c_def,
    positional_factor,
    lethality,
    terrain_casualty,
    log_scaled,
    slope,
):
    """The exponents of each side's daily loss chance, ``-(direct + area)``, and ``-x`` of the
    success logistic."""
    n = len(assault)
    neg_a, neg_d, neg_x = np.empty(n), np.empty(n), np.empty(n)
    cp = c_def * positional_factor
    for i in range(n):
        r_c = terrain_casualty[terrain[i]]
        if assault[i]:
            direct_a = c_att * r_c * pow_neg[i] * shock[i]
            direct_d = c_def * r_c * pow_pos[i] * def_cas[i] * shock[i]
        else:
            direct_a = direct_d = cp * r_c * shock[i]
        neg_a[i] = -(direct_a + lethality * fires_d[i] / border[i])
        neg_d[i] = -(direct_d + lethality * fires_a[i] / border[i])
        neg_x[i] = -(slope * log_scaled[i])
    return neg_a, neg_d, neg_x


@njit(cache=True, nogil=True)
def fight_outcome(
    engaged_a,
    engaged_d,
    exp_a,
    exp_d,
    z_a,
    z_d,
    assault,
    ratio,
    min_ratio,
    kappa,
    unseen,
    has_unseen,
    v0,
    terrain,
    river,
    terrain_advance,
    river_advance,
    pow_adv,
    exp_x,
    shock,
):
    """Losses and advance. Losses are Binomial(engaged, 1 - exp(-hazard)) in the normal
    approximation by inverse CDF (``z`` = ndtri(u)), clipped to [0, engaged]: one uniform per
    draw keeps common random numbers aligned across parameter values, which a rejection
    sampler would not."""
    n = len(engaged_a)
    loss_a, loss_d, advance = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        for side in range(2):
            m_e = engaged_a[i] if side == 0 else engaged_d[i]
            p = 1.0 - (exp_a[i] if side == 0 else exp_d[i])
            z = z_a[i] if side == 0 else z_d[i]
            mean = m_e * p
            sd = np.sqrt(mean * (1.0 - p))
            x = mean + sd * z
            if not np.isnan(x):
                x = x if x > 0.0 else 0.0
                x = x if x < m_e else m_e
            if side == 0:
                loss_a[i] = x
            else:
                loss_d[i] = x
        if assault[i] and ratio[i] > min_ratio:
            k = kappa + (1.0 - kappa) * unseen[i] if has_unseen else kappa
            chance = 1.0 / (1.0 + exp_x[i])
            advance[i] = (
                k
                * v0[i]
                * terrain_advance[terrain[i]]
                * river_advance[river[i]]
                * pow_adv[i]
                * chance
                * shock[i]
            )
        else:
            advance[i] = 0.0
    return loss_a, loss_d, advance


__all__ = [
    "fight_clip_ratio",
    "fight_hazards",
    "fight_outcome",
    "fight_ratio",
    "edge_fires",
    "losses_and_threat",
    "presence_frontage",
    "presence_power",
    "select_battles",
]
