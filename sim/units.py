"""Units: brigade- or regiment-scale Mesa agents, with their state kept in shared arrays.

Each :class:`Unit` is a Mesa ``CellAgent`` standing on a cell of the theatre's
``mesa.discrete_space.Network``. Its numbers (personnel, cohesion, supply, posture, ...) live in
one row of a :class:`UnitTable`, a struct of numpy arrays owned by the model, and the agent's
attributes read and write that row. The hot phases therefore work on whole arrays at once, and a
user still meets ordinary agents: ``unit.personnel``, ``unit.posture``, ``unit.cell``.

The table is the one source of truth, the unit's node included. The model's Mesa space is built
only when someone reads it (``model.space`` or ``unit.cell``); a unit's cell is then the cell of
its table node, and moving a unit keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from mesa.discrete_space import CellAgent
from mesa.discrete_space.cell_agent import HasCell

if TYPE_CHECKING:
    from mesa.discrete_space import Cell, Network

    from sim.state import World

UKRAINE, RUSSIA = 0, 1
SIDES = ("ukraine", "russia")
SIDE_INDEX = {name: i for i, name in enumerate(SIDES)}

# Postures. HOLD and ATTACK units are "in the line" and fight on front edges.
HOLD, ATTACK, RESERVE, REFIT, TRANSIT = range(5)
POSTURES = ("hold", "attack", "reserve", "refit", "transit")
POSTURE_INDEX = {name: i for i, name in enumerate(POSTURES)}

_FIELDS: dict[str, type] = {
    "side": np.int8,
    "personnel": np.float64,
    "establishment": np.float64,
    "quality": np.float64,
    "cohesion": np.float64,
    "supply": np.float64,
    "posture": np.int8,
    "sector": np.int16,
    "node": np.int32,
    "breakpoint": np.float64,
    "losses_since_refit": np.float64,
    "losses_total": np.float64,
    "captured_total": np.float64,
    "arrival_day": np.int32,
    "alive": np.bool_,
}


class UnitTable:
    """Struct of arrays holding every unit's state, one row per unit.

    Rows are never removed (a destroyed unit has ``alive = False``), so a unit's row index is
    stable for the whole run and arrays can be indexed by it.
    """

    # One array per field of _FIELDS, of its dtype, ``capacity`` long (rows beyond ``n`` unused).
    side: np.ndarray
    personnel: np.ndarray
    establishment: np.ndarray
    quality: np.ndarray
    cohesion: np.ndarray
    supply: np.ndarray
    posture: np.ndarray
    sector: np.ndarray
    node: np.ndarray
    breakpoint: np.ndarray
    losses_since_refit: np.ndarray
    losses_total: np.ndarray
    captured_total: np.ndarray
    arrival_day: np.ndarray
    alive: np.ndarray

    def __init__(self, capacity: int = 256) -> None:
        self.n = 0
        for name, dtype in _FIELDS.items():
            setattr(self, name, np.zeros(capacity, dtype=dtype))

    def add(self, **values: float) -> int:
        """Append one unit and return its row index."""
        if self.n == len(self.side):
            for name in _FIELDS:
                old = getattr(self, name)
                new = np.zeros(2 * len(old), dtype=old.dtype)
                new[: len(old)] = old
                setattr(self, name, new)
        row = self.n
        for name, value in values.items():
            getattr(self, name)[row] = value
        self.alive[row] = True
        self.n += 1
        return row

    def view(self, name: str) -> np.ndarray:
        """The live slice of one field for the units created so far."""
        live: np.ndarray = getattr(self, name)[: self.n]
        return live

    def views(self, *names: str, n: int | None = None) -> tuple[Any, ...]:
        """The live slices of several fields, in the order named (views, not copies): the first
        ``n`` rows (default: every unit created so far).

        Examples
        --------
        >>> t = UnitTable(); _ = t.add(side=1, personnel=900.0)
        >>> side, men = t.views("side", "personnel")
        >>> int(side[0]), float(men[0]), len(men)
        (1, 900.0, 1)
        """
        n = self.n if n is None else n
        # A list made into a tuple: about half the cost of a generator (called ~30 times a day).
        return tuple([getattr(self, name)[:n] for name in names])


def _field(name: str, cast: Callable[[Any], Any]) -> property:
    def get(self: Unit) -> Any:
        return cast(getattr(self.model.units, name)[self.row])

    def set(self: Unit, value: Any) -> None:
        getattr(self.model.units, name)[self.row] = value

    return property(get, set, doc=f"This unit's {name} (a view of the model's unit table).")


class Unit(CellAgent):
    """A brigade or regiment-equivalent.

    Parameters
    ----------
    model : World
        The model the unit belongs to (a :class:`sim.model.FrontlineModel`).
    side : int
        ``UKRAINE`` (0) or ``RUSSIA`` (1).
    node : int
        Theatre node id the unit starts on.
    personnel : float
        Starting strength (men).
    establishment : float
        Full strength (men); replacements fill the unit up to it.
    quality : float
        Combat effectiveness value (CEV), 1 = parity.
    posture : int
        One of ``HOLD, ATTACK, RESERVE, REFIT, TRANSIT``.
    sector : int
        Index of the sector the unit is assigned to.
    breakpoint : float
        Cumulative loss fraction at which the unit is rotated out.
    """

    side = _field("side", int)
    personnel = _field("personnel", float)
    establishment = _field("establishment", float)
    quality = _field("quality", float)
    cohesion = _field("cohesion", float)
    supply = _field("supply", float)
    posture = _field("posture", int)
    sector = _field("sector", int)
    node = _field("node", int)
    breakpoint = _field("breakpoint", float)
    losses_total = _field("losses_total", float)

    def __init__(
        self,
        model: World,
        side: int,
        node: int,
        personnel: float,
        establishment: float,
        quality: float,
        posture: int,
        sector: int,
        breakpoint: float,
        arrival_day: int = 0,
    ) -> None:
        super().__init__(model)
        self.row = model.units.add(
            side=side,
            personnel=personnel,
            establishment=establishment,
            quality=quality,
            cohesion=1.0,
            supply=1.0,
            posture=posture,
            sector=sector,
            node=node,
            breakpoint=breakpoint,
            arrival_day=arrival_day,
        )
        model.unit_by_row.append(self)
        if model._space is not None:  # else placed when the space is built
            self._place(model._space)

    @property
    def cell(self) -> Cell | None:
        """The Mesa cell of the unit's node (``None`` once removed); builds the space if needed."""
        if self.model._space is None:
            _ = self.model.space  # builds it and places every unit, this one included
        return self._mesa_cell

    @cell.setter
    def cell(self, cell: Cell | None) -> None:
        if cell is None and self._mesa_cell is None:
            return  # removal of a unit that was never placed: nothing to undo, no space needed
        if cell is not None and self.model._space is None:
            _ = self.model.space  # place every unit first, so Mesa's cell bookkeeping is complete
        HasCell.cell.fset(self, cell)
        if cell is not None:
            self.model.units.node[self.row] = cell.coordinate

    def _place(self, space: Network) -> None:
        """Put the unit in the cell of its table node (a no-op if it is there already)."""
        node = int(self.model.units.node[self.row])
        cell = self._mesa_cell
        if cell is None or cell.coordinate != node:
            HasCell.cell.fset(self, space[node])

    @property
    def side_name(self) -> str:
        return SIDES[self.side]

    @property
    def posture_name(self) -> str:
        return POSTURES[self.posture]

    def move_to_node(self, node: int) -> None:
        """Move the unit to a theatre node (keeps the Mesa cell and the table in step)."""
        self.model.units.node[self.row] = node
        space = self.model._space
        if space is not None:  # else the unit is placed when the space is built
            HasCell.cell.fset(self, space[int(node)])

    def remove(self) -> None:
        self.model.units.alive[self.row] = False
        super().remove()

    def __repr__(self) -> str:
        return (
            f"Unit({self.side_name}, row={self.row}, {self.personnel:.0f} men, "
            f"{self.posture_name}, node={self.node})"
        )
