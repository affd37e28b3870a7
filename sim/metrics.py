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

from sim.units import RUSSIA, UKRAINE

if TYPE_CHECKING:
    from sim.model import FrontlineModel

UA_COUNTRY, RU_COUNTRY = 0, 1

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
    """Daily metrics through Mesa's DataCollector, plus the rolling collapse window."""

    def __init__(self, model: FrontlineModel) -> None:
        self.window: deque[float] = deque(maxlen=int(model.p.collapse_window_days) + 1)
        self.collector = DataCollector(model_reporters={c: c for c in COLUMNS})
        self.first_collapse: int | None = None
        model.losses_today = np.zeros(2)
        model.losses_cum = np.zeros(2)
        self.start = model.start
        metrics_phase(model, record=False)
        self.window.append(model.russia_gain_km2)

    def collect(self, model: FrontlineModel) -> None:
        self.collector.collect(model)

    def table(self):
        """The daily metrics as a pandas DataFrame with a ``date`` column."""
        import pandas as pd

        df = self.collector.get_model_vars_dataframe().reset_index(drop=True)
        df.insert(0, "date", pd.to_datetime(self.start) + pd.to_timedelta(df["day"], unit="D"))
        return df


def metrics_phase(model: FrontlineModel, record: bool = True) -> None:
    """Phase 5: compute today's metrics into model attributes and record them."""
    t, u = model.theatre, model.units
    rec = getattr(model, "recorder", None)
    st = _static_masks(model)
    ctrl = model.control
    area = t.area_km2
    # As gains() computes them; the masks that do not change during a run are made once. Each
    # sum runs over the same elements in the same order as the plain expression, so the
    # figures are identical to it.
    is_ru = ctrl == RUSSIA
    is_ua = ~is_ru
    ru = float(area[st.was_ua_in_ua & is_ru].sum())
    ua = float(area[st.was_ru_in_ua & is_ua].sum())
    model.russia_gain_km2 = ru
    model.ukraine_gain_km2 = ua
    model.russia_net_gain_km2 = ru - ua
    model.russia_held_in_ukraine_km2 = float(area[st.in_ua & is_ru].sum())
    model.ukraine_held_in_russia_km2 = float(area[st.in_ru & is_ua].sum())
    model.contested_km2 = float(area[model.penetration > 0].sum())
    model.nodes_changed = int((ctrl != model.initial_control).sum())

    fe = np.flatnonzero(model.front_edge_mask())
    eu, ev = model.edge_u[fe], model.edge_v[fe]
    # The quiet international border (each side on its own soil) is not part of the front.
    own = t.country == ctrl
    model.front_length_km = float(t.edge_border_km[fe[~(own[eu] & own[ev])]].sum())

    alive = u.alive[: u.n]
    side = u.side[: u.n]
    pers = u.personnel[: u.n]
    line = alive & (u.posture[: u.n] <= 1)
    model.ukraine_line_personnel = float(pers[line & (side == UKRAINE)].sum())
    model.russia_line_personnel = float(pers[line & (side == RUSSIA)].sum())
    length = max(model.front_length_km, 1e-9)
    model.defenders_per_km = model.ukraine_line_personnel / length
    model.attackers_per_km = model.russia_line_personnel / length
    model.ukraine_personnel = float(pers[alive & (side == UKRAINE)].sum())
    model.russia_personnel = float(pers[alive & (side == RUSSIA)].sum())
    model.losses_cum = model.losses_cum + model.losses_today
    model.ukraine_losses, model.russia_losses = (float(x) for x in model.losses_today)
    model.ukraine_losses_cum, model.russia_losses_cum = (float(x) for x in model.losses_cum)
    cap = u.captured_total[: u.n]
    model.ukraine_captured_cum = float(cap[side == UKRAINE].sum())
    model.russia_captured_cum = float(cap[side == RUSSIA].sum())
    hubs = model.supply_net.hub_nodes
    model.ukraine_hubs = int((ctrl[hubs] == UKRAINE).sum())
    model.russia_hubs = int((ctrl[hubs] == RUSSIA).sum())
    model.russia_population = int(st.population @ is_ru)
    model.ukraine_population = st.total_population - model.russia_population
    sup = u.supply[: u.n]
    for s, name in ((UKRAINE, "ukraine"), (RUSSIA, "russia")):
        m = line & (side == s)
        setattr(model, f"{name}_front_supply", float(sup[m].mean()) if m.any() else 0.0)
    nodes = u.node[: u.n]
    cut = alive & ~model.connected[side, nodes] & (side == UKRAINE)
    model.ukraine_units_cut_off = int(cut.sum())

    if rec is None:  # the initial state, before the recorder exists
        model.russia_gain_30d_km2 = 0.0
        model.collapse = False
        return
    rec.window.append(model.russia_gain_km2)
    model.russia_gain_30d_km2 = rec.window[-1] - rec.window[0]
    model.collapse = bool(model.russia_gain_30d_km2 >= model.p.collapse_area_km2)
    if model.collapse and rec.first_collapse is None:
        rec.first_collapse = model.day
    if record:
        rec.collect(model)


class _StaticMasks:
    """Node masks that stay fixed for a run (the country of each node, who held it at the
    start), made once per model."""

    def __init__(self, model: FrontlineModel) -> None:
        t = model.theatre
        self.initial_control = model.initial_control.copy()
        self.in_ua = t.country == UA_COUNTRY
        self.in_ru = ~self.in_ua
        self.was_ua_in_ua = self.in_ua & (self.initial_control == UKRAINE)
        self.was_ru_in_ua = self.in_ua & (self.initial_control == RUSSIA)
        self.population = np.asarray(t.population, dtype=np.int64)
        self.total_population = int(self.population.sum())


def _static_masks(model: FrontlineModel) -> _StaticMasks:
    st = getattr(model, "_metrics_static", None)
    if st is None or not np.array_equal(st.initial_control, model.initial_control):
        st = model._metrics_static = _StaticMasks(model)
    return st


def hub_control(model: FrontlineModel) -> dict[str, str]:
    """Controlling side of each named hub."""
    names = ("ukraine", "russia")
    return {name: names[int(model.control[node])] for name, node in model.theatre.hubs.items()}
