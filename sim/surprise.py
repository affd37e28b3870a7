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

Three days later, an assault by side 0 into sector 1 has 70 % of its surprise left, with
the ``kursk_2024`` settings (``surprise_days`` 10):

>>> from sim.params import Params
>>> p = Params({"surprise_days": 10, "surprise_multiplier": 2.0, "surprise_exploitation": 1.0})
>>> ratio, unseen = on_edges(s, p, 8, np.array([0]), np.array([1]), np.array([True]))
>>> round(float(ratio[0]), 3), round(float(unseen[0]), 3)
(1.7, 0.7)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.kernels.surprise import surprise_fade

if TYPE_CHECKING:
    from sim.params import Params
    from sim.state import State


def begin(state: State, side: int, sector: int, day: int) -> None:
    """Start ``side``'s surprise in ``sector`` on ``day`` (a later one replaces it)."""
    state.surprise_day[side, sector] = day


def on_edges(
    state: State,
    params: Params,
    day: int,
    attacker: np.ndarray,
    sector: np.ndarray,
    assault: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Today's surprise on each fought edge.

    Parameters
    ----------
    state : State
        Its ``surprise_day``.
    params : Params
        ``surprise_days``, ``surprise_multiplier`` and ``surprise_exploitation``.
    day : int
        Today (days since the start).
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
    p = params
    surprise, unseen = surprise_fade(
        assault,
        attacker,
        sector,
        state.surprise_day,
        day,
        p.surprise_days,
        p.surprise_multiplier,
        p.surprise_exploitation,
    )
    return surprise, (unseen if p.surprise_exploitation > 0 else None)


__all__ = ["begin", "on_edges"]
