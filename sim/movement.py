"""Phase 4, movement and its consequences: today's combat result applied to units and ground.

In order:
1. losses come off the units (:func:`sim.forces.apply_losses`);
2. penetration accumulates and nodes change hands, by advance or withdrawal (:mod:`sim.ground`);
3. fortification grows and glide bombs wear it down (:mod:`sim.fortification`);
4. pockets are mopped up and units on lost ground fall back or break out (:mod:`sim.pockets`);
5. supply reaches the units; cut-off units starve and surrender (:mod:`sim.pockets`);
6. replacements and new units (:mod:`sim.forces`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim import forces, fortification, ground, pockets

if TYPE_CHECKING:
    from sim.combat import CombatResult
    from sim.state import World


def movement_phase(model: World, result: CombatResult) -> None:
    """Phase 4: apply today's combat result to units and ground, in the order of the module
    docstring.

    Parameters
    ----------
    model : World
        Its state and unit table are brought to the end of the day.
    result : CombatResult
        Today's combat (phase 3).
    """
    state, p, theatre, caches, today = model.state, model.p, model.theatre, model.caches, model.date
    forces.apply_losses(model, result.unit_losses)
    flips = ground.advance(state, p, theatre, caches, result)
    fortification.fortify(state, p, theatre, caches, result)
    if len(flips):
        ground.change_hands(state, theatre, today, flips)
        ground.change_hands(state, theatre, today, pockets.mop_up(model))
        pockets.fall_back(model)
    if pockets.supply_units(model):  # a garrison died: its ground may now be an empty pocket
        ground.change_hands(state, theatre, today, pockets.mop_up(model))
    forces.replace_and_recruit(model)


__all__ = ["movement_phase"]
