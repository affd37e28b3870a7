"""Phase 5, metrics (MECHANICS M11), and the gain definitions.

Gains are counted as analysts count them, as the **difference of two maps** (MODEL.md):

- ``russia_gain_km2``: area inside Ukraine that Ukraine held at the start and Russia holds now;
- ``ukraine_gain_km2``: area inside Ukraine that Russia held at the start and Ukraine holds now;
- ``russia_net_gain_km2`` = ``russia_gain_km2 - ukraine_gain_km2``, which equals the change in the
  area of Ukraine held by Russia.

Contested ground: the model's control is binary. A node counts for the side that holds it until
the attacker's penetration reaches the node's depth and it changes hands; ground being fought
over (penetration > 0) is reported as ``contested_km2`` but not as a gain. At the start, the
theatre build counts DeepState's grey zone at half weight when deciding who holds a cell.

Ground Ukraine takes inside Russia (Kursk 2024) is reported separately as
``ukraine_held_in_russia_km2`` and is not part of either gain inside Ukraine.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np
from mesa import DataCollector

from sim.frontage import front_edges
from sim.kernels.metrics import (
    contested_area,
    front_length,
    node_metrics,
    node_metrics_state,
    node_metrics_update,
    unit_metrics,
)
from sim.state import MetricBuffers
from sim.units import RUSSIA, UKRAINE

if TYPE_CHECKING:
    from datetime import date

    import pandas as pd

    from sim.params import Params
    from sim.state import World

UA_COUNTRY, RU_COUNTRY = 0, 1
# A front of no length (every node one side's) divides as one of a nanometre: no division by 0.
MIN_FRONT_KM = 1e-9

# Daily table columns: all are model attributes set by metrics_phase (string reporters are the
# cheapest kind of DataCollector reporter).
COLUMNS = (
    "day",
    "russia_gain_km2",
    "ukraine_gain_km2",
    "russia_net_gain_km2",
    "russia_held_in_ukraine_km2",
    "ukraine_held_in_russia_km2",
    "contested_km2",
    "nodes_changed",
    "front_length_km",
    "ukraine_line_personnel",
    "russia_line_personnel",
    "defenders_per_km",
    "attackers_per_km",
    "ukraine_personnel",
    "russia_personnel",
    "ukraine_losses",
    "russia_losses",
    "ukraine_losses_cum",
    "russia_losses_cum",
    "ukraine_captured_cum",
    "russia_captured_cum",
    "ukraine_hubs",
    "russia_hubs",
    "ukraine_population",
    "russia_population",
    "ukraine_front_supply",
    "russia_front_supply",
    "ukraine_units_cut_off",
    "russia_gain_30d_km2",
    "collapse",
)


def gains(
    area_km2: np.ndarray, country: np.ndarray, before: np.ndarray, after: np.ndarray
) -> dict[str, float]:
    """Russian and Ukrainian gains inside Ukraine between two control maps.

    Parameters
    ----------
    area_km2 : ndarray of float
        Area of each node (km2).
    country : ndarray of int
        0 where the node lies in Ukraine, 1 in Russia.
    before, after : ndarray of int
        Controlling side of each node (0 Ukraine, 1 Russia) at the two dates.

    Returns
    -------
    dict
        ``russia_gain_km2``, ``ukraine_gain_km2`` and ``russia_net_gain_km2``.

    Examples
    --------
    >>> a = np.array([10.0, 20.0, 30.0]); c = np.zeros(3, int)
    >>> gains(a, c, np.array([0, 0, 1]), np.array([1, 0, 0]))["russia_net_gain_km2"]
    -20.0
    """
    in_ua = country == UA_COUNTRY
    ru = float(area_km2[in_ua & (before == UKRAINE) & (after == RUSSIA)].sum())
    ua = float(area_km2[in_ua & (before == RUSSIA) & (after == UKRAINE)].sum())
    return {"russia_gain_km2": ru, "ukraine_gain_km2": ua, "russia_net_gain_km2": ru - ua}


class Recorder:
    """Daily metrics through Mesa's DataCollector, plus the rolling collapse window.

    Parameters
    ----------
    params : Params
        The run's parameters (``collapse_window_days`` sizes the window).
    start : date
        The run's start date (the daily table's first ``date``).
    """

    def __init__(self, params: Params, start: date) -> None:
        # Russia's gain on each of the last collapse_window_days + 1 days (empty before the
        # initial state is measured).
        self.window: deque[float] = deque(maxlen=int(params.collapse_window_days) + 1)
        self.collector = DataCollector(model_reporters={c: c for c in COLUMNS})
        self.first_collapse: int | None = None
        self.start = start

    def collect(self, model: World) -> None:
        c = self.collector
        if not c._validated or c.agent_reporters or c.agenttype_reporters:
            c.collect(model)
            return
        # What DataCollector.collect does for string reporters, without its deepcopy of each
        # value: every column is a Python float, int or bool, which deepcopy returns as is.
        if hasattr(c, "_collection_steps"):
            c._collection_steps.append(model.time)
        # The columns are the model's attributes, and all but ``day`` are the fields of
        # ``model.today`` (sim.model's _Field): read from its __dict__, not through the
        # descriptor, thirty times a day.
        today = vars(model.today)
        for var, values in c.model_vars.items():
            values.append(today[var] if var in today else getattr(model, var, None))

    def table(self) -> pd.DataFrame:
        """The daily metrics as a pandas DataFrame with a ``date`` column."""
        import pandas as pd

        df = self.collector.get_model_vars_dataframe().reset_index(drop=True)
        df.insert(0, "date", pd.to_datetime(self.start) + pd.to_timedelta(df["day"], unit="D"))
        return df


def metrics_phase(model: World, record: bool = True) -> None:
    """Phase 5: compute today's metrics into ``model.today`` and record them.

    Parameters
    ----------
    model : World
        Writes ``model.today`` and appends to ``model.recorder``.
    record : bool, default True
        Append the day's row to the daily table.
    """
    t, today = model.theatre, model.today
    st = _static(model)
    ctrl = model.state.control
    ru, ua, held_ua, held_ru, contested, changed, pop_ru = _node_metrics(model, st)
    today.russia_gain_km2 = ru
    today.ukraine_gain_km2 = ua
    today.russia_net_gain_km2 = ru - ua
    today.russia_held_in_ukraine_km2 = held_ua
    today.ukraine_held_in_russia_km2 = held_ru
    today.contested_km2 = contested
    today.nodes_changed = int(changed)

    # The quiet international border (each side on its own soil) is not part of the front.
    today.front_length_km = front_length(
        front_edges(model)[0],
        model.edge_u,
        model.edge_v,
        t.edge_border_km,
        t.country,
        ctrl,
        st.edge_buf,
    )

    _unit_metrics(model, st)
    hubs = model.supply_net.hub_nodes
    counted = st.hub_counts
    if counted is None or counted[0] is not hubs or counted[1] is not st.control_sums:
        # Counted again only when control (so control_sums) or the hubs changed.
        counted = st.hub_counts = (
            hubs,
            st.control_sums,
            int((ctrl[hubs] == UKRAINE).sum()),
            int((ctrl[hubs] == RUSSIA).sum()),
        )
    today.ukraine_hubs, today.russia_hubs = counted[2], counted[3]
    today.russia_population = int(pop_ru)
    today.ukraine_population = st.total_population - today.russia_population

    _collapse_window(model, record)


def _node_metrics(
    model: World, st: MetricBuffers
) -> tuple[float, float, float, float, float, int, int]:
    """The node-wide figures of the day: gains, ground held across the border, contested area,
    nodes changed and population held by Russia."""
    t, ctrl = model.theatre, model.state.control
    # What gains() and the plain masked sums compute, in one compiled pass over the nodes (or
    # over the masks' node lists): each sum adds the same elements in the same order as numpy's
    # ``x[mask].sum()``, with its pairwise summation, so the figures are identical to them.
    key = ctrl.tobytes()
    if key == st.control_key and st.control_sums is not None:
        # No node changed hands since the last day: only the contested area can differ.
        ru, ua, held_ua, held_ru, changed, pop_ru = st.control_sums
        contested = contested_area(t.area_km2, model.state.penetration, st.node_buf[4])
    elif st.control_prev is not None and st.node_state is not None:
        # A few nodes changed hands: the masks' node lists are updated at them and the same
        # sums taken again (sim.kernels.metrics.node_metrics_update), not a pass over all.
        ru, ua, held_ua, held_ru, changed, pop_ru, st.node_state = node_metrics_update(
            np.flatnonzero(ctrl != st.control_prev),
            st.control_prev,
            ctrl,
            model.initial_control,
            t.country,
            t.area_km2,
            st.population,
            st.node_state,
            st.node_buf,
        )
        contested = contested_area(t.area_km2, model.state.penetration, st.node_buf[4])
    else:
        ru, ua, held_ua, held_ru, contested, changed, pop_ru = node_metrics(
            ctrl,
            model.initial_control,
            t.country,
            t.area_km2,
            model.state.penetration,
            st.population,
            st.node_buf,
        )
        st.node_state = node_metrics_state(ctrl, model.initial_control, t.country, st.population)
    if key != st.control_key:
        st.control_key, st.control_sums = key, (ru, ua, held_ua, held_ru, changed, pop_ru)
        st.control_prev = ctrl.copy()
    return ru, ua, held_ua, held_ru, contested, changed, pop_ru


def _unit_metrics(model: World, st: MetricBuffers) -> None:
    """The unit-wide figures of the day: men in line and in all, prisoners, supply at the front,
    units cut off, men per km of front and the day's and cumulative losses."""
    u, today, state = model.units, model.today, model.state
    n = u.n
    if st.unit_buf.shape[1] < n:
        st.unit_buf = np.empty((8, 2 * n))
    (
        today.ukraine_line_personnel,
        today.russia_line_personnel,
        today.ukraine_personnel,
        today.russia_personnel,
        today.ukraine_captured_cum,
        today.russia_captured_cum,
        today.ukraine_front_supply,
        today.russia_front_supply,
        cut,
    ) = unit_metrics(
        u.views("alive", "side", "posture", "personnel", "captured_total", "supply", "node"),
        model.state.connected,
        st.unit_buf,
    )
    today.ukraine_units_cut_off = int(cut)
    length = max(today.front_length_km, MIN_FRONT_KM)
    today.defenders_per_km = today.ukraine_line_personnel / length
    today.attackers_per_km = today.russia_line_personnel / length
    state.losses_cum = state.losses_cum + state.losses_today
    today.ukraine_losses, today.russia_losses = (float(x) for x in state.losses_today)
    today.ukraine_losses_cum, today.russia_losses_cum = (float(x) for x in state.losses_cum)


def _collapse_window(model: World, record: bool) -> None:
    """Russia's gain over the last ``collapse_window_days``, whether it passes
    ``collapse_area_km2`` (a collapse), and the day's row of the daily table."""
    rec, today = model.recorder, model.today
    if not rec.window:  # the initial state
        today.russia_gain_30d_km2 = 0.0
        today.collapse = False
        rec.window.append(today.russia_gain_km2)
        if record:
            rec.collect(model)
        return
    rec.window.append(today.russia_gain_km2)
    today.russia_gain_30d_km2 = rec.window[-1] - rec.window[0]
    today.collapse = bool(today.russia_gain_30d_km2 >= model.p.collapse_area_km2)
    if today.collapse and rec.first_collapse is None:
        rec.first_collapse = model.day
    if record:
        rec.collect(model)


def _static(model: World) -> MetricBuffers:
    st = model.caches.metric_buffers
    if st is None:
        t = model.theatre
        population = np.asarray(t.population, dtype=np.int64)
        st = model.caches.metric_buffers = MetricBuffers(
            population=population,
            total_population=int(population.sum()),
            node_buf=np.empty((5, t.n_nodes)),
            edge_buf=np.empty(len(t.edge_u)),
            unit_buf=np.empty((8, 256)),
        )
    return st


def hub_control(model: World) -> dict[str, str]:
    """Controlling side of each named hub."""
    names = ("ukraine", "russia")
    return {
        name: names[int(model.state.control[node])] for name, node in model.theatre.hubs.items()
    }
