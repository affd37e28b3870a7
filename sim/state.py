"""The model's declared state: every array the daily phases read and write, in one place.

:class:`FrontlineModel <sim.model.FrontlineModel>` owns one :class:`State` (what the run is
at: ground, supply, command, manpower, the record of changes of hands), one :class:`Caches`
(what is kept between days only to go faster, and could be thrown away at any moment without
changing a result) and one :class:`DayMetrics` (the day's outputs, written by the metrics
phase). No phase creates attributes on the model: each reads and writes these fields.

:class:`World` is what a mechanic may use of the model: the state, the parameters, the
theatre, the unit table and a few helpers. The mechanics are typed against it, not against the
model class, so no mechanic imports :mod:`sim.model`.

Examples
--------
>>> s = State.empty(n_nodes=4, n_sectors=2, training_delay_days=1)
>>> s.control.shape, s.threat.shape, s.recruit_pipeline.shape
((4,), (2, 2), (2, 2))
>>> int(s.surprise_day[0, 0]) == NEVER
True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from mesa.discrete_space import Network

    from sim.metrics import Recorder
    from sim.params import Params
    from sim.scenario import ScenarioSpec
    from sim.sectors import Sectors
    from sim.supply import SupplyNetwork, SupplyTree
    from sim.units import Unit, UnitTable

# A day long before any run: a side's surprise in a sector that never had one has faded.
NEVER = -10_000

# A change of hands: (date of the state it shows in, node, side before, side after).
Event = tuple[date, int, int, int]


@dataclass
class State:
    """Everything the phases carry from one day to the next (the unit table aside).

    Attributes
    ----------
    control : ndarray of int8, shape (n_nodes,)
        The side holding each node (0 Ukraine, 1 Russia).
    penetration : ndarray of float, shape (n_nodes,)
        Km an attacker has advanced into each node; it changes hands at the node's depth.
    fortification : ndarray of float, shape (n_nodes,)
        Fortification level of each node for its holder, 0 (none) to 3 (prepared).
    loss_memory : ndarray of float, shape (n_nodes,)
        Averaged daily loss fraction of each node's defenders (Epstein's withdrawal reads it).
    supply_level : ndarray of float, shape (2, n_nodes)
        Supply each side delivers to each node.
    connected : ndarray of bool, shape (2, n_nodes)
        Whether each node joins an own hub through own ground within the supply tether.
    supply_trees : list of SupplyTree or None
        Each side's shortest-path forest from its hubs, updated in place as ground changes.
    supply_stale : bool
        Control changed since the supply levels were computed.
    sector_posture : ndarray of int8, shape (2, n_sectors)
        Each side's posture (HOLD or ATTACK) in each sector.
    surprise_day : ndarray of int, shape (2, n_sectors)
        Day a side's surprise in a sector began (``NEVER`` if it had none).
    threat, attack_ratio : ndarray of float, shape (2, n_sectors)
        Yesterday's pressure on each side's defence, and its best attack, by sector.
    objective : ndarray of int, shape (2, n_sectors)
        Node each side attacks toward in each sector (-1 for none): the scenario's, until an
        ``objective`` event moves it.
    recruit_pool : ndarray of float, shape (2,)
        Trained men not yet placed in a unit.
    recruit_pipeline : ndarray of float, shape (2, training_delay_days + 1)
        Recruits in training, by days left.
    losses_today, losses_cum : ndarray of float, shape (2,)
        Men lost by each side today and since the start.
    events : list of Event
        Every change of hands, in order.
    falls : dict of str to date
        Date of the first change of hands of each named place.
    """

    control: np.ndarray
    penetration: np.ndarray
    fortification: np.ndarray
    loss_memory: np.ndarray
    supply_level: np.ndarray
    connected: np.ndarray
    sector_posture: np.ndarray
    surprise_day: np.ndarray
    threat: np.ndarray
    attack_ratio: np.ndarray
    recruit_pool: np.ndarray
    recruit_pipeline: np.ndarray
    supply_trees: list[SupplyTree | None] = field(default_factory=lambda: [None, None])
    supply_stale: bool = True
    losses_today: np.ndarray = field(default_factory=lambda: np.zeros(2))
    losses_cum: np.ndarray = field(default_factory=lambda: np.zeros(2))
    events: list[Event] = field(default_factory=list)
    falls: dict[str, date] = field(default_factory=dict)
    objective: np.ndarray = field(default_factory=lambda: np.full((2, 0), -1))

    @classmethod
    def empty(
        cls,
        n_nodes: int,
        n_sectors: int,
        training_delay_days: int,
        control: np.ndarray | None = None,
        sector_posture: np.ndarray | None = None,
        objective: np.ndarray | None = None,
    ) -> State:
        """A state at the start of a run: nothing fought over, dug in, supplied or recruited.

        Parameters
        ----------
        n_nodes, n_sectors : int
            Sizes of the theatre and of the scenario's sector list.
        training_delay_days : int
            Days from recruitment to joining a unit (the pipeline holds one more day).
        control, sector_posture, objective : ndarray, optional
            The initial map, postures and objectives (Ukraine everywhere, HOLD and none by
            default).
        """
        return cls(
            control=np.zeros(n_nodes, dtype=np.int8) if control is None else control,
            penetration=np.zeros(n_nodes),
            fortification=np.zeros(n_nodes),
            loss_memory=np.zeros(n_nodes),
            supply_level=np.zeros((2, n_nodes)),
            connected=np.zeros((2, n_nodes), dtype=bool),
            sector_posture=(
                np.zeros((2, n_sectors), dtype=np.int8)
                if sector_posture is None
                else sector_posture
            ),
            surprise_day=np.full((2, n_sectors), NEVER),
            threat=np.zeros((2, n_sectors)),
            attack_ratio=np.zeros((2, n_sectors)),
            recruit_pool=np.zeros(2),
            recruit_pipeline=np.zeros((2, training_delay_days + 1)),
            objective=np.full((2, n_sectors), -1) if objective is None else objective,
        )


@dataclass
class MetricBuffers:
    """What the daily metrics need that stays fixed for a run (the theatre's population) and
    the scratch space of their compiled passes."""

    population: np.ndarray
    total_population: int
    node_buf: np.ndarray
    edge_buf: np.ndarray
    unit_buf: np.ndarray
    # The control map (as bytes) the node metrics were last computed for, and those of them
    # that depend on control alone: reused on the days no node changed hands.
    control_key: bytes | None = None
    control_sums: tuple[float, float, float, float, int, int] | None = None
    # The control map of control_key as an array, and the node lists and counts of
    # sim.kernels.metrics.node_metrics_update for it (updated on the days a few nodes change).
    control_prev: np.ndarray | None = None
    node_state: Any = None
    # The hub nodes and the control_sums (a new tuple whenever control changes) the hubs held
    # by each side (Ukraine, Russia) were counted for.
    hub_counts: tuple[np.ndarray, object, int, int] | None = None


@dataclass
class Caches:
    """What the phases keep between days only to go faster.

    Each entry is a pure function of the state (and the theatre), kept with the key it was
    computed from; throwing any of them away changes no result.
    """

    # The front: its edge and node masks and the control map they were computed from.
    front_key: np.ndarray | None = None
    front_key_bytes: bytes | None = None  # front_key.tobytes(), made once
    front_edges: np.ndarray | None = None
    front_nodes: np.ndarray | None = None
    front_edge_ids: np.ndarray | None = None  # flatnonzero(front_edges), int64
    # (front node mask, its flatnonzero), see FrontlineModel.front_node_ids.
    front_node_ids: tuple[np.ndarray, np.ndarray] | None = None
    # (front node mask, both sides' own front nodes), see sim.command.own_fronts.
    own_fronts: tuple[np.ndarray, list[np.ndarray]] | None = None
    # (front edge mask, ids, end nodes, border lengths, midpoints) of the front edges.
    front_geometry: tuple[np.ndarray, ...] | None = None
    # Per side: (own front mask, points, k-d tree) of its front nodes.
    front_trees: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    # Per side: the last nearest-unit answer and the inputs it was computed from.
    nearest_unit: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    # Per side: each front edge's nearest unit at the last search, what the next one starts
    # from (see sim.frontage.nearest_by_edge).
    nearest_edges: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    # Per side: the components of its cut-off nodes, see sim.pockets.
    cut_off_parts: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    # Scratch arrays over the nodes, reused day after day (the kernels zero them).
    node_int_scratch: tuple[np.ndarray, np.ndarray] | None = None
    node_float_scratch: tuple[np.ndarray, np.ndarray] | None = None
    node_flags: np.ndarray | None = None
    metric_buffers: MetricBuffers | None = None
    # Each node's depth (km), the square root of its area: what penetration must reach.
    node_depth_km: np.ndarray | None = None

    def node_floats(self, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
        """Two float scratch arrays over the nodes, made once (the kernels zero them)."""
        scratch = self.node_float_scratch
        if scratch is None:
            scratch = self.node_float_scratch = (np.zeros(n_nodes), np.zeros(n_nodes))
        return scratch


@dataclass
class DayMetrics:
    """The day's outputs, one field per column of the daily table (``day`` aside).

    Written by :func:`sim.metrics.metrics_phase`; see :mod:`sim.metrics` for the definitions.
    """

    russia_gain_km2: float = 0.0
    ukraine_gain_km2: float = 0.0
    russia_net_gain_km2: float = 0.0
    russia_held_in_ukraine_km2: float = 0.0
    ukraine_held_in_russia_km2: float = 0.0
    contested_km2: float = 0.0
    nodes_changed: int = 0
    front_length_km: float = 0.0
    ukraine_line_personnel: float = 0.0
    russia_line_personnel: float = 0.0
    defenders_per_km: float = 0.0
    attackers_per_km: float = 0.0
    ukraine_personnel: float = 0.0
    russia_personnel: float = 0.0
    ukraine_losses: float = 0.0
    russia_losses: float = 0.0
    ukraine_losses_cum: float = 0.0
    russia_losses_cum: float = 0.0
    ukraine_captured_cum: float = 0.0
    russia_captured_cum: float = 0.0
    ukraine_hubs: int = 0
    russia_hubs: int = 0
    ukraine_population: int = 0
    russia_population: int = 0
    ukraine_front_supply: float = 0.0
    russia_front_supply: float = 0.0
    ukraine_units_cut_off: int = 0
    russia_gain_30d_km2: float = 0.0
    collapse: bool = False


METRIC_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(DayMetrics))


class TheatreArrays(Protocol):
    """What the mechanics read of the theatre (:class:`sim.theatre.theatre.Theatre` is one):
    its node and edge arrays, read-only."""

    n_nodes: int
    x_km: np.ndarray
    y_km: np.ndarray
    area_km2: np.ndarray
    name: np.ndarray
    population: np.ndarray
    country: np.ndarray
    terrain: np.ndarray
    hub_capacity: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length_km: np.ndarray
    edge_border_km: np.ndarray
    edge_river: np.ndarray
    edge_road: np.ndarray
    hubs: dict[str, int]

    def node_by_name(self, name: str) -> int: ...


class World(Protocol):
    """What a mechanic may use of the model (:class:`sim.model.FrontlineModel` is one)."""

    state: State
    caches: Caches
    today: DayMetrics
    recorder: Recorder
    initial_control: np.ndarray
    theatre: TheatreArrays
    spec: ScenarioSpec
    p: Params
    inputs: dict[str, float]
    rng: np.random.Generator
    crn_key: int
    day: int
    time: float  # Mesa's model time (steps so far)
    units: UnitTable
    unit_by_row: list[Unit]
    _space: Network | None  # the Mesa space, once built (see FrontlineModel.space)
    sectors: Sectors
    supply_net: SupplyNetwork
    xy: np.ndarray
    neighbors: tuple[np.ndarray, np.ndarray]
    edge_u: np.ndarray
    edge_v: np.ndarray

    @property
    def date(self) -> date: ...

    def front_edge_mask(self) -> np.ndarray: ...

    def front_node_mask(self) -> np.ndarray: ...

    def front_edge_ids(self) -> np.ndarray: ...

    def front_node_ids(self) -> np.ndarray: ...

    def line_rows(self, side: int) -> np.ndarray: ...

    def unit(self, row: int) -> Unit: ...
