"""Forces: the strength of the units (MECHANICS M6, M10).

- losses from combat come off the units, and cohesion falls with the day's loss fraction;
- new units: the order of battle's, a ``reinforce`` event's, and those formed from surplus
  recruits, each with a breakpoint drawn from the registry's Beta distribution;
- rotation and refit: a line unit past its breakpoint is pulled out to refit at its nearest own
  hub, relieved by a reserve, and returns to reserve once filled up and rested;
- replacements: recruits join after the training delay, filling refitting units first, and a
  pool of surplus recruits forms new units in reserve.

Reserves and refitting units wait at the side's hub nearest them (:func:`rear_node`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.kernels.forces import apply_losses as _apply_losses_kernel
from sim.kernels.forces import fill_up, refitted_rows, rows_in_posture, worn_rows
from sim.march import send
from sim.units import ATTACK, REFIT, RESERVE, Unit

if TYPE_CHECKING:
    from sim.state import World

# A refitting unit returns to reserve at this share of its establishment and this cohesion:
# close to full strength, as the US Army's top personnel readiness level (P-1, at least 90 %
# of required strength; AR 220-1), and most of its cohesion back (a modelling choice, not
# calibrated).
REFIT_STRENGTH = 0.9
REFIT_COHESION = 0.8
# Replacements fill a refitting unit's deficit three times as fast as a line unit's: pulling it
# out of the line is what lets it take in and train drafts (a modelling choice, not calibrated).
REFIT_FILL_WEIGHT = 3.0


def breakpoint_draws(model: World, n: int) -> np.ndarray:
    """Draw ``n`` breakpoints ~ Beta with the registry's mean and s.d. (M6).

    Parameters
    ----------
    model : World
        Draws from the model's random generator.
    n : int
        How many.

    Returns
    -------
    ndarray of float
        Cumulative loss fractions at which each unit is rotated out.
    """
    m, s = model.p.breakpoint_mean, model.p.breakpoint_sd
    k = m * (1 - m) / (s * s) - 1
    return model.rng.beta(m * k, (1 - m) * k, size=n)


def rear_node(model: World, side: int, near: int) -> int:
    """The side's hub nearest a node, where reserves and refitting units wait (any own node if
    the side holds no hub).

    Parameters
    ----------
    model : World
        Reads the supply network's hubs and the state's control.
    side : int
        The side.
    near : int
        The node.

    Returns
    -------
    int
    """
    hubs = model.supply_net.hub_nodes
    own = hubs[model.state.control[hubs] == side]
    if len(own) == 0:
        own = np.flatnonzero(model.state.control == side)
    d = np.hypot(*(model.xy[own] - model.xy[near]).T)
    return int(own[np.argmin(d)])


def new_units(
    model: World, side: int, sector: int, nodes: np.ndarray, posture: int, arrival: int = 0
) -> list[Unit]:
    """Create units of ``side`` at full strength, one on each of ``nodes``.

    Parameters
    ----------
    model : World
        The units are added to its unit table (and draw from its generator).
    side, sector : int
        Their side and sector.
    nodes : ndarray of int
        One node per unit.
    posture : int
        Their posture.
    arrival : int, default 0
        Their arrival day (for units created in transit).

    Returns
    -------
    list of Unit
    """
    p = model.p
    est = p.ukraine_unit_personnel if side == 0 else p.russia_unit_personnel
    quality = p.ukraine_quality if side == 0 else p.russia_quality
    bps = breakpoint_draws(model, len(nodes))
    return [
        Unit(model, side, int(node), est, est, quality, posture, sector, float(bp), arrival)
        for node, bp in zip(nodes, bps, strict=True)
    ]


def apply_losses(model: World, losses: np.ndarray) -> None:
    """Take today's losses off the units (at most their men); cohesion falls by
    ``cohesion_loss_per_loss`` times the day's loss fraction. Sets ``state.losses_today``.

    Parameters
    ----------
    model : World
        Writes the unit table and the state's losses of the day.
    losses : ndarray of float
        Men lost by each unit row today.
    """
    u = model.units
    n = u.n
    model.state.losses_today = np.array(
        _apply_losses_kernel(
            losses,
            u.views(
                "personnel",
                "establishment",
                "losses_total",
                "losses_since_refit",
                "cohesion",
                "side",
            ),
            model.p.cohesion_loss_per_loss,
            np.empty((2, n)),
        )
    )


def rotate_and_refit(model: World) -> None:
    """Rotate worn units out of the line and return refitted ones to reserve (M6).

    A line unit whose losses since its last refit reach its breakpoint goes to refit at its
    nearest own hub, relieved by the side's first reserve in row order (not the nearest); with
    no reserve it stays in the line. A refitting unit at ``REFIT_STRENGTH`` of establishment and
    ``REFIT_COHESION`` returns to reserve.

    Parameters
    ----------
    model : World
        Moves units of the unit table between the line, refit and reserve.
    """
    u = model.units
    alive, side_of, posture, losses, breakpoint = u.views(
        "alive", "side", "posture", "losses_since_refit", "breakpoint"
    )
    worn = worn_rows(alive, posture, losses, breakpoint, ATTACK)
    for row in worn:
        side = int(u.side[row])
        reserves, _ = rows_in_posture(alive, side_of, posture, side, RESERVE)
        if len(reserves) == 0:
            break  # with nothing to relieve it, a worn unit stays in the line
        relief = int(reserves[0])
        send(model, relief, int(u.sector[row]))
        u.posture[row] = REFIT
        model.unit(int(row)).move_to_node(rear_node(model, side, int(u.node[row])))
    men, establishment, cohesion = u.views("personnel", "establishment", "cohesion")
    refitted = refitted_rows(
        alive, posture, men, establishment, cohesion, REFIT, REFIT_STRENGTH, REFIT_COHESION
    )
    u.posture[refitted] = RESERVE
    u.losses_since_refit[refitted] = 0.0


def replace_and_recruit(model: World) -> None:
    """Replacements and new units (M10).

    Recruits counted today join after ``training_delay_days`` + 1 days (the pipeline is read
    before today's intake is added), only the ``*_recruit_line_share`` of the intake, and with
    them the ``wounded_return_share`` of today's losses (the recovered wounded). They fill
    each side's units in proportion to their deficit, refitting units' weighted by
    ``REFIT_FILL_WEIGHT``; a pool of at least a unit's establishment forms new units in reserve
    at the side's hub nearest the first sector's anchor.

    Parameters
    ----------
    model : World
        Writes the state's recruit pipeline and pool, and the unit table.
    """
    p, u = model.p, model.units
    pipe = model.state.recruit_pipeline
    arriving = pipe[:, 0].copy()
    pipe[:, :-1] = pipe[:, 1:]
    # Only the share of each side's intake that reaches its line units joins the theatre's
    # units (x * 1.0 is exact, so the default share leaves runs unchanged bit for bit). The
    # recovered wounded of today's losses rejoin after the same delay, a convalescence of weeks;
    # with the default share 0 nothing is added.
    pipe[:, -1] = [
        model.inputs["ukraine_recruits_per_day"] * p.ukraine_recruit_line_share,
        model.inputs["russia_recruits_per_day"] * p.russia_recruit_line_share,
    ]
    if p.wounded_return_share > 0.0:
        pipe[:, -1] += p.wounded_return_share * model.state.losses_today
    n = u.n  # units formed today are not filled up today
    buf = np.empty((2, n))
    for side in (0, 1):
        pool = model.state.recruit_pool[side] + arriving[side]
        # Refitting units are filled first: that is what pulling them out of the line is for.
        pool = np.float64(
            fill_up(
                u.views("alive", "side", "posture", "establishment", "personnel", n=n),
                side,
                pool,
                REFIT,
                REFIT_FILL_WEIGHT,
                buf,
            )
        )
        est = p.ukraine_unit_personnel if side == 0 else p.russia_unit_personnel
        if pool >= est and (model.state.control == side).any():
            anchor = int(model.sectors.anchor_node[0])
            count = int(pool // est)
            new_units(model, side, 0, np.full(count, rear_node(model, side, anchor)), RESERVE)
            pool -= count * est
        model.state.recruit_pool[side] = pool


__all__ = [
    "apply_losses",
    "breakpoint_draws",
    "new_units",
    "rear_node",
    "replace_and_recruit",
    "rotate_and_refit",
]
