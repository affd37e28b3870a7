"""FrontlineModel: one day per step, data flowing one way through five phases.

    supply  ->  command  ->  combat  ->  movement  ->  metrics

Everything the phases read and write is declared in :mod:`sim.state`: the model owns one
:class:`~sim.state.State` (per-node and per-sector arrays: control, penetration,
fortification, supply, ...), one :class:`~sim.state.Caches` and one
:class:`~sim.state.DayMetrics` (the day's outputs); no phase creates attributes on the model.
Units are Mesa agents (:class:`sim.units.Unit`) on a ``mesa.discrete_space.Network`` of the
theatre, their numbers kept in a :class:`UnitTable`. docs/architecture.md shows the flow.
Every random number comes from the model's seeded generator (``rng``), directly or through the
counter-based streams of :mod:`sim.rng` keyed from it.

Construction is cheap after the first model in a process: what depends only on the theatre and
the scenario's static fields (the supply network's structure, the sector of each node, the
initial control map, the place names) is built once per process and shared read-only, and the
Mesa ``Network`` (13k cells, ~0.1-0.4 s to build, read by no phase) is built on first access to
:attr:`FrontlineModel.space`, which then puts every unit agent in the cell of its node.
"""

from __future__ import annotations

import datetime
import functools
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import mesa
import numpy as np
from mesa.discrete_space import Network

from sim import command, metrics, movement, supply
from sim.combat import combat_phase
from sim.kernels.front import (
    front_ids_update,
    front_masks,
    front_masks_update,
    front_node_ids_update,
    line_rows,
)
from sim.scenario import ScenarioSpec, load_scenario
from sim.sectors import Sectors
from sim.state import METRIC_NAMES, Caches, DayMetrics, State
from sim.theatre.theatre import Theatre
from sim.units import RUSSIA, SIDE_INDEX, UKRAINE, Unit, UnitTable

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"

# Keys whose value may change from day to day through a scenario's [schedule].
DAILY_INPUTS = (
    "russia_shells_per_day",
    "ukraine_shells_per_day",
    "russia_glide_bombs_per_day",
    "russia_drone_sorties_per_day",
    "ukraine_drone_sorties_per_day",
    "russia_recruits_per_day",
    "ukraine_recruits_per_day",
)


@functools.cache
def default_theatre() -> Theatre:
    """The packaged theatre, loaded once per process."""
    return Theatre.load()


@functools.cache
def _graph_and_layout(theatre: Theatre) -> tuple:
    # Built once per theatre and process, and only when a model's space is first read: every
    # model's Network reads the same graph, and the layout is the nodes' real coordinates (Mesa
    # would otherwise run a spring layout).
    graph = theatre.to_networkx()
    layout = {
        i: (float(x), float(y))
        for i, (x, y) in enumerate(zip(theatre.lon, theatre.lat, strict=True))
    }
    return graph, layout


@functools.cache
def _place_names(theatre: Theatre) -> frozenset[str]:
    return frozenset(n for n in theatre.name.tolist() if n)


def _read_only(*arrays: np.ndarray) -> None:
    # Shared between models: a write would leak into every other model of the process.
    for a in arrays:
        a.setflags(write=False)


# Distinct fires reaches whose hub-distance tables a shared supply network keeps (a few MB each):
# a sweep over a range parameter would otherwise grow them without bound in a warm worker.
_MAX_REACHES = 4


def _supply_network(theatre: Theatre) -> supply.SupplyNetwork:
    net = _new_supply_network(theatre)
    if len(net._hub_pairs) > _MAX_REACHES:
        net._hub_pairs.clear()  # recomputed on demand, identically
    return net


@functools.cache
def _new_supply_network(theatre: Theatre) -> supply.SupplyNetwork:
    # The supply graph's structure depends on the theatre alone; the caches it fills lazily
    # (hub pairs by reach, adjacency lists) are functions of that structure, so every model of
    # the process shares one network and its caches. Its per-run state lives in the model's
    # supply trees.
    net = supply.SupplyNetwork.from_theatre(theatre)
    _read_only(net.u, net.v, net.cost, net.hub_nodes, net.xy)
    return net


# The supply forests of a scenario's first day, by (network, control map, tether): every model
# of the scenario starts from the same ones. A few scenarios' worth are kept.
_INITIAL_TREES: dict[tuple[int, bytes, float], tuple[Any, list[supply.SupplyTree]]] = {}
_INITIAL_TREES_SIZE = 8


def _initial_trees(
    net: supply.SupplyNetwork, control: np.ndarray, limit: float
) -> list[supply.SupplyTree | None]:
    """Fresh copies of both sides' forests from scratch for ``control`` (kept per process: the
    incremental updates change a model's forests in place)."""
    key = (id(net), control.tobytes(), limit)
    hit = _INITIAL_TREES.get(key)
    if hit is None or hit[0] is not net:  # hit[0]: the network the id was of
        if len(_INITIAL_TREES) >= _INITIAL_TREES_SIZE:
            _INITIAL_TREES.clear()
        hit = _INITIAL_TREES[key] = (net, [net.tree(control, side, limit) for side in (0, 1)])
    return [
        supply.SupplyTree(t.own.copy(), t.dist.copy(), t.pred.copy(), t.source.copy(), t.limit)
        for t in hit[1]
    ]


@functools.cache
def _sectors(theatre: Theatre, specs: tuple) -> Sectors:
    # Nearest-anchor assignment of 13k nodes: a function of the theatre and the sectors' static
    # fields (anchors, objectives, soil rules), which scenario events never change.
    sectors = Sectors(theatre, specs)
    _read_only(
        sectors.anchor_node,
        sectors.of_node,
        sectors.own_soil_only,
        sectors.reserves_sent,
        sectors.objective,
    )
    return sectors


@functools.cache
def _initial_control(theatre: Theatre, date_key: str, holds: tuple) -> np.ndarray:
    control = _control_with_holds(theatre, date_key, holds)
    _read_only(control)
    return control


@functools.cache
def _edge_index(theatre: Theatre) -> tuple[np.ndarray, np.ndarray]:
    # Edge end points as intp, built once per theatre: numpy gathers with int32 indices are ~4x
    # slower than with intp ones, and the phases gather along all edges several times a day.
    out = (theatre.edge_u.astype(np.intp), theatre.edge_v.astype(np.intp))
    for a in out:
        a.setflags(write=False)
    return out


@functools.cache
def _edge_incidence(theatre: Theatre) -> tuple[np.ndarray, np.ndarray]:
    # The edges at each node (CSR: node n's at inc_edge[inc_ptr[n]:inc_ptr[n + 1]]), built once
    # per theatre for the incremental front update.
    u, v = _edge_index(theatre)
    ends = np.concatenate([u, v])
    order = np.argsort(ends, kind="stable")
    inc_edge = np.concatenate([np.arange(len(u)), np.arange(len(v))])[order]
    inc_ptr = np.zeros(theatre.n_nodes + 1, dtype=np.intp)
    np.cumsum(np.bincount(ends, minlength=theatre.n_nodes), out=inc_ptr[1:])
    for a in (inc_ptr, inc_edge):
        a.setflags(write=False)
    return inc_ptr, inc_edge


def resolve_scenario(spec: ScenarioSpec | str | Path, theatre: Theatre) -> ScenarioSpec:
    """Accept a loaded scenario, a path, or a bare name from ``scenarios/``."""
    if isinstance(spec, ScenarioSpec):
        return spec
    path = Path(spec)
    if not path.suffix and not path.exists():
        path = SCENARIO_DIR / f"{spec}.toml"
    return load_scenario(path, place_names=_place_names(theatre))


class _Field:
    """A model attribute that is a field of one of its declared parts (``state``, ``today``):
    ``model.control`` is ``model.state.control``, kept for the model's readers."""

    def __init__(self, part: str) -> None:
        self.part = part

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return getattr(getattr(obj, self.part), self.name)

    def __set__(self, obj: object, value: object) -> None:
        setattr(getattr(obj, self.part), self.name, value)


class FrontlineModel(mesa.Model):
    """An attritional front, stepped one day at a time.

    Parameters
    ----------
    spec : ScenarioSpec or str or Path, default "baseline_2024"
        The scenario: a loaded spec, a TOML path, or a name in ``scenarios/``.
    rng : int, optional
        Seed of the model's random generator. The same seed gives the same run.
    theatre : Theatre, optional
        The theatre graph; the packaged one by default.
    **overrides : float
        Parameter overrides by registry name (as ``--set`` does).

    Examples
    --------
    >>> m = FrontlineModel("baseline_2024", rng=1)      # doctest: +SKIP
    >>> m.run_for(30); m.date                            # doctest: +SKIP
    datetime.date(2024, 1, 31)
    """

    def __init__(
        self,
        spec: ScenarioSpec | str | Path = "baseline_2024",
        rng: int | None = 0,
        theatre: Theatre | None = None,
        **overrides: float,
    ) -> None:
        # SolaraViz passes the seed back as typed text; Mesa 3.5.1 would crash on a string.
        rng = None if rng is None or rng == "" else int(rng)
        super().__init__(rng=rng)
        self.theatre = theatre if theatre is not None else default_theatre()
        spec = resolve_scenario(spec, self.theatre)
        if overrides:
            spec = spec.with_overrides(overrides)
        self.spec = spec
        self.start: date = spec.start
        self.end: date = spec.end
        self.n_days = (spec.end - spec.start).days
        self.crn_key = int(self.rng.integers(2**63 - 1))
        self._changes = _schedule_changes(spec)
        self.p = spec.params
        self.inputs = {key: self.p[key] for key in DAILY_INPUTS}
        self.day = 0  # days simulated so far
        self._apply_schedule()  # so the initial state already shows day 0's scheduled inputs

        t = self.theatre
        self._space: Network | None = None  # built on first access to .space
        self.xy = np.column_stack([t.x_km, t.y_km])
        self.neighbors = t.neighbors_csr()[:2]
        self.edge_u, self.edge_v = _edge_index(t)
        self.supply_net = _supply_network(t)
        self.sectors = _sectors(t, spec.sectors)
        self.units = UnitTable()
        self.unit_by_row: list[Unit] = []

        # Shared and read-only: the gains are measured against it for the whole run.
        self.initial_control = _initial_control(t, spec.initial_control, spec.holds)
        self.state = State.empty(
            t.n_nodes,
            len(spec.sectors),
            int(self.p.training_delay_days),
            control=self.initial_control.copy(),
            sector_posture=self.sectors.initial_postures(),
            objective=self.sectors.objective.copy(),
        )
        self.caches = Caches()
        self.today = DayMetrics()
        self.recorder = metrics.Recorder(self.p, self.start)

        command.set_up_order_of_battle(self)
        if self.supply_net.incremental:  # the forests from scratch, or their copies
            self.state.supply_trees = _initial_trees(
                self.supply_net, self.state.control, self.p.supply_tether_km
            )
        supply.supply_phase(self)
        metrics.metrics_phase(self)  # the initial state is the daily table's first row

    # The declared state's fields, readable (and settable) as model attributes.
    control = _Field("state")
    penetration = _Field("state")
    fortification = _Field("state")
    loss_memory = _Field("state")
    supply_level = _Field("state")
    connected = _Field("state")
    supply_trees = _Field("state")
    supply_stale = _Field("state")
    sector_posture = _Field("state")
    surprise_day = _Field("state")
    threat = _Field("state")
    attack_ratio = _Field("state")
    recruit_pool = _Field("state")
    recruit_pipeline = _Field("state")
    losses_today = _Field("state")
    losses_cum = _Field("state")
    events = _Field("state")
    falls = _Field("state")

    # --- the Mesa space ------------------------------------------------------------------------
    @property
    def space(self) -> Network:
        """The theatre as a ``mesa.discrete_space.Network``, each living unit in its node's cell.

        Built on first access (no phase reads it, and it is the bulk of a model's construction
        cost); the units are then placed in the cells of their nodes, and every later move
        (:meth:`sim.units.Unit.move_to_node`) keeps cell and table in step. Each access also
        re-places any unit whose table node differs from its cell, so the unit table stays the
        one source of truth.
        """
        space = self._space
        if space is None:
            graph, layout = _graph_and_layout(self.theatre)
            # Building a Network draws no random numbers (it only keeps the generator), so a
            # model whose space is built, early, late or never, runs the same.
            space = self._space = Network(graph, layout=layout, random=self.random)
        for agent in self.agents_by_type.get(Unit, ()):
            agent._place(space)
        return space

    # --- time -------------------------------------------------------------------------------
    @property
    def date(self) -> date:
        """The date of the current state (the start date before the first step)."""
        return self.start + timedelta(days=self.day)

    @property
    def agents_units(self):
        return self.agents_by_type.get(Unit, [])

    def step(self) -> None:
        """Simulate one day: supply -> command -> combat -> movement -> metrics."""
        self._apply_schedule()
        supply.supply_phase(self)
        command.command_phase(self)
        result = combat_phase(self)
        movement.movement_phase(self, result)
        self.day += 1
        metrics.metrics_phase(self)
        if self.day >= self.n_days:
            self.running = False

    def run(self, until: datetime.date | None = None) -> None:  # `date` is the property here
        """Step until ``until`` (default: the scenario's end date)."""
        stop = until or self.end
        while self.running and self.date < stop:
            self.step()

    def _apply_schedule(self) -> None:
        change = self._changes.get(self.day)
        if change:
            self.p = self.p.replace(**change)
            self.inputs = {key: self.p[key] for key in DAILY_INPUTS}

    # --- helpers used by the phases ----------------------------------------------------------
    def front_edge_mask(self) -> np.ndarray:
        """Edges whose two ends are held by different sides (a read-only array).

        Several phases ask for it every day and control changes on few days, so the mask and
        the front nodes are cached against a copy of the control map they were computed from.
        """
        self._update_front()
        assert self.caches.front_edges is not None  # set by _update_front
        return self.caches.front_edges

    def front_node_mask(self) -> np.ndarray:
        """Nodes on the front (an end of a front edge), either side's (a read-only array)."""
        self._update_front()
        assert self.caches.front_nodes is not None  # set by _update_front
        return self.caches.front_nodes

    def front_edge_ids(self) -> np.ndarray:
        """The front edges' ids, ascending (``flatnonzero`` of :meth:`front_edge_mask`; a
        read-only int64 array), brought up to date with the front."""
        self._update_front()
        assert self.caches.front_edge_ids is not None  # set by _update_front
        return self.caches.front_edge_ids

    def front_node_ids(self) -> np.ndarray:
        """The front nodes' ids, ascending (``flatnonzero`` of :meth:`front_node_mask`; a
        read-only array), kept while the front is unchanged: several phases select from them
        instead of scanning every node."""
        mask = self.front_node_mask()
        hit = self.caches.front_node_ids
        if hit is None or hit[0] is not mask:
            ids = np.flatnonzero(mask)
            ids.setflags(write=False)
            hit = self.caches.front_node_ids = (mask, ids)
        return hit[1]

    def _front_node_ids_after(
        self, changed: np.ndarray, inc: tuple[np.ndarray, np.ndarray], nodes: np.ndarray
    ) -> None:
        # Brings the cached front node ids (if any, and of the last front) to the node mask
        # ``nodes`` that front_masks_update made at ``changed``: a merge, not a scan.
        c = self.caches
        hit = c.front_node_ids
        if hit is None or hit[0] is not c.front_nodes:
            return
        ids = front_node_ids_update(
            hit[1], changed, *inc, self.edge_u, self.edge_v, c.front_nodes, nodes
        )
        ids.setflags(write=False)
        c.front_node_ids = (nodes, ids)

    def _update_front(self) -> None:
        control = self.control
        # Compared as bytes (a memcmp): several times a day, and control rarely changes.
        c = self.caches
        key = c.front_key
        now = control.tobytes()
        if key is not None and now == c.front_key_bytes:
            return
        if key is not None and key.shape == control.shape:
            assert c.front_edges is not None and c.front_nodes is not None
            # Only edges at nodes that changed hands can have changed (new arrays: callers
            # may hold the old ones).
            edges, nodes = c.front_edges.copy(), c.front_nodes.copy()
            inc_ptr, inc_edge = _edge_incidence(self.theatre)
            changed = np.flatnonzero(control != key)  # a vectorised scan of the 13k nodes
            front_masks_update(
                changed, control, inc_ptr, inc_edge, self.edge_u, self.edge_v, edges, nodes
            )
            assert c.front_edge_ids is not None  # set with the masks
            # The ids from yesterday's and the few edges at today's changed nodes: a merge
            # instead of a scan of the ~40k edges.
            ids = front_ids_update(
                c.front_edge_ids, changed, inc_ptr, inc_edge, c.front_edges, edges
            )
            self._front_node_ids_after(changed, (inc_ptr, inc_edge), nodes)
        else:
            edges = np.empty(len(self.edge_u), dtype=bool)
            nodes = np.empty(len(control), dtype=bool)
            front_masks(control, self.edge_u, self.edge_v, edges, nodes)
            ids = np.flatnonzero(edges).astype(np.int64, copy=False)
        ids.setflags(write=False)
        c.front_edge_ids = ids
        edges.setflags(write=False)
        nodes.setflags(write=False)
        c.front_edges, c.front_nodes = edges, nodes
        c.front_key, c.front_key_bytes = control.copy(), now

    def line_rows(self, side: int) -> np.ndarray:
        """Rows of this side's living units that are in the line (hold or attack)."""
        u = self.units
        n = u.n
        return line_rows(u.alive[:n], u.side[:n], u.posture[:n], u.personnel[:n], side)

    def unit(self, row: int) -> Unit:
        """The agent of the unit table's row ``row``."""
        return self.unit_by_row[row]


# The day's outputs, readable as model attributes (the daily table's reporters read them so).
for _name in METRIC_NAMES:
    _field = _Field("today")
    _field.__set_name__(FrontlineModel, _name)
    setattr(FrontlineModel, _name, _field)
del _name, _field


def initial_control(theatre: Theatre, spec: ScenarioSpec) -> np.ndarray:
    """Controlling side of each node at a scenario's start (``UKRAINE`` 0, ``RUSSIA`` 1).

    The theatre's dated map named by ``spec.initial_control``, corrected by the scenario's
    ``[[hold]]`` entries for ground the dated polygons do not draw (e.g. the Kursk salient).

    Returns
    -------
    ndarray of int8, shape (n_nodes,)
    """
    return _control_with_holds(theatre, spec.initial_control, spec.holds)


def _control_with_holds(theatre: Theatre, date_key: str, holds: tuple) -> np.ndarray:
    t = theatre
    control = t.control(date_key).astype(np.int8)
    xy = np.column_stack([t.x_km, t.y_km])
    for hold in holds:
        centre = xy[t.node_by_name(hold.place)]
        near = np.hypot(*(xy - centre).T) <= hold.radius_km
        if hold.soil is not None:
            near &= t.country == SIDE_INDEX[hold.soil]
        control[near] = SIDE_INDEX[hold.side]
    return control


def _schedule_changes(spec: ScenarioSpec) -> dict[int, dict[str, float]]:
    """Map day index -> parameter values that take effect that day."""
    changes: dict[int, dict[str, float]] = {}
    for key, points in spec.schedule.items():
        for when, value in points:
            day = max(0, (when - spec.start).days)
            changes.setdefault(day, {})[key] = value
    return changes


__all__ = [
    "FrontlineModel",
    "RUSSIA",
    "UKRAINE",
    "default_theatre",
    "initial_control",
    "resolve_scenario",
]
