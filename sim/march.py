"""Road marches: a unit ordered to a sector travels for a time set by the distance to it.

A unit on the march is in posture ``TRANSIT`` until ``arrival_day``, when :mod:`sim.command`
lands it on its new sector's front.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim.units import TRANSIT

if TYPE_CHECKING:
    from sim.state import World

# Road distance over straight-line distance, for march times: the circuity factor of national
# road networks, about 1.2-1.4 (Ballou, Rahardja and Sakai 2002, "Selected country circuity
# factors for road and rail network analysis", J. Transport Geography 10).
ROAD_TORTUOSITY = 1.3


def march_days(model: World, node: int, sector: int) -> int:
    """Days of road march from ``node`` to the anchor of ``sector``.

    The straight-line distance times ``ROAD_TORTUOSITY`` at ``unit_move_speed_km`` a day, rounded
    up, and at least one day.

    Parameters
    ----------
    model : World
        Reads the sectors' anchors and ``unit_move_speed_km``.
    node, sector : int
        Where the unit is, and the sector it goes to.

    Returns
    -------
    int
    """
    target = model.sectors.anchor_node[sector]
    km = float(np.hypot(*(model.xy[node] - model.xy[target]))) * ROAD_TORTUOSITY
    return max(1, int(math.ceil(km / model.p.unit_move_speed_km)))


def send(model: World, row: int, sector: int) -> None:
    """Put unit ``row`` on the road to ``sector``: in ``TRANSIT`` until its march ends.

    Parameters
    ----------
    model : World
        Writes the unit's posture, sector and arrival day.
    row, sector : int
        The unit's row in the unit table, and the sector it goes to.
    """
    u = model.units
    u.posture[row] = TRANSIT
    u.sector[row] = sector
    u.arrival_day[row] = model.day + march_days(model, int(u.node[row]), sector)


__all__ = ["ROAD_TORTUOSITY", "march_days", "send"]
