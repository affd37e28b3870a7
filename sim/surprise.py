"""Surprise (MECHANICS M3): the bonus of an attack the defender did not see coming (Kursk 2024).

Everything about it is here:

- **when it starts**: a scenario event with ``surprise = true`` (``scenarios/kursk_2024.toml``)
  starts the receiving side's surprise in the receiving sector on the day its last unit
  arrives (:func:`begin`, called by :mod:`sim.command`);
- **whom it helps**: the side, not the units: any unit of that side assaulting into that sector
  has it;
- **how it fades**: linearly, from full on the first day to nothing after ``surprise_days``
  (:func:`on_edges`);
- **what it does**: two terms handed to :func:`sim.combat.fight` on each assault edge: the force
  ratio is multiplied by ``1 + (surprise_multiplier - 1) f``, and the attacker escapes the share
  ``surprise_exploitation f`` of the transparent-battlefield slowdown of its advance.

Parameters: ``surprise_multiplier``, ``surprise_days`` (registry group ``combat``) and
``surprise_exploitation`` (group ``advance``).

Examples
--------
>>> from sim.state import State
>>> s = State.empty(n_nodes=3, n_sectors=2, training_delay_days=0)
>>> begin(s, side=0, sector=1, day=5)
>>> int(s.surprise_day[0, 1])
5
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.kernels.surprise import surprise_fade

if TYPE_CHECKING:
    from sim.state import State, World


def begin(state: State, side: int, sector: int, day: int) -> None:
    """Start ``side``'s surprise in ``sector`` on ``day`` (a later one replaces it)."""
    state.surprise_day[side, sector] = day


def on_edges(
    model: World, attacker: np.ndarray, sector: np.ndarray, assault: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Today's surprise on each fought edge.

    Parameters
    ----------
    model : World
        Reads the state's ``surprise_day``, the day and the surprise parameters.
    attacker : ndarray of int
        The assaulting side of each edge (the nominal side on quiet edges).
    sector : ndarray of int
        The sector of each edge's defended node.
    assault : ndarray of bool
        Whether the edge is assaulted (a quiet edge has no surprise).

    Returns
    -------
    surprise : ndarray of float
        The force-ratio multiplier (1 where there is none).
    unseen : ndarray of float or None
        The share of the transparent-battlefield slowdown escaped; None when
        ``surprise_exploitation`` is 0, so that runs without it stay bit for bit as they were.
    """
    p = model.p
    surprise, unseen = surprise_fade(
        assault,
        attacker,
        sector,
        model.state.surprise_day,
        model.day,
        p.surprise_days,
        p.surprise_multiplier,
        p.surprise_exploitation,
    )
    return surprise, (unseen if p.surprise_exploitation > 0 else None)


__all__ = ["begin", "on_edges"]
