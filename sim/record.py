"""The record of 2023-2024 on the theatre: who held each node on each map date, and its series.

``sim/data/record.npz`` is built with the theatre (:mod:`sim.theatre.record_build`) from
DeepState's maps of the 1st and 16th of every month, 2023-01-01 to 2024-11-20, with the same rule
as the initial controls. A map dated D shows the last snapshot before 00:00 UTC of D, that is
the state at the end of day D - 1; a change seen first on D happened in the half month before.

Everything here is a map difference counted as :func:`sim.metrics.gains` counts it (ground inside
Ukraine, area-weighted on the theatre's cells):

- :func:`period_gains`: each side's gains between consecutive dates (half months, or months);
- :func:`sector_gains`: the same by scenario sector (:class:`sim.command.Sectors`);
- :func:`place_changes`: every change of hands of each named place, as the interval in which it
  happened.

Only numpy and pandas are needed: runs never read ``../shared``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from sim.metrics import gains
from sim.theatre.theatre import Theatre, built_file

__all__ = [
    "DEFAULT_PATH",
    "Record",
    "load_record",
    "period_dates",
    "period_gains",
    "sector_gains",
    "place_changes",
    "sector_of_node",
    "cumulative_gain",
    "PLACE_ALIASES",
]

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "record.npz"
SIDES = ("ukraine", "russia")
# Names used in public reporting (and issue 12) for theatre nodes named otherwise.
PLACE_ALIASES = {"Niu-York": "New York (Niu-York)", "New York": "New York (Niu-York)"}


@dataclass(frozen=True)
class Record:
    """The record on the theatre.

    Attributes
    ----------
    dates : list of str
        The map dates (ISO), ascending.
    control : ndarray of int8, shape (len(dates), n_nodes)
        0 Ukraine, 1 Russia.
    meta : dict
        The build's description (rule, source, per-map snapshot time and areas).
    """

    dates: list[str]
    control: np.ndarray
    meta: dict

    def at(self, day: str | date) -> np.ndarray:
        """The map dated ``day`` (ISO string or date).

        Raises
        ------
        KeyError
            If no map has that date; the message lists the dates.
        """
        key = str(day)
        if key not in self.dates:
            raise KeyError(f"the record has no map dated {key}; dates are {self.dates}")
        return self.control[self.dates.index(key)]


def load_record(path: str | Path | None = None, theatre: Theatre | None = None) -> Record:
    """Read the record file.

    Parameters
    ----------
    path : str or Path, optional
        Default ``sim/data/record.npz``.
    theatre : Theatre, optional
        If given, the record must have one column per theatre node.

    Raises
    ------
    FileNotFoundError
        If the file does not exist (build it with ``frontline theatre build``).
    ValueError
        If it does not match the theatre.
    """
    p = built_file(path, DEFAULT_PATH, "record", "it reads ../shared/data/record")
    with np.load(p, allow_pickle=False) as z:
        control = z["control"]
        dates = [str(d) for d in z["dates"]]
        meta = json.loads(str(z["meta"]))
    control.setflags(write=False)
    if theatre is not None and control.shape[1] != theatre.n_nodes:
        raise ValueError(
            f"{p}: record has {control.shape[1]} nodes but the theatre has {theatre.n_nodes}; "
            "rebuild both with `frontline theatre build`"
        )
    return Record(dates, control, meta)


def period_dates(record: Record, by: str = "half-month") -> list[str]:
    """The dates bounding the periods of a series.

    ``"half-month"``: every map date. ``"month"``: the 1st of every month, and the last map date
    if it is not a 1st (2024-11-20 closes the last, partial month).

    Examples
    --------
    >>> r = Record(["2023-01-01", "2023-01-16", "2023-02-01", "2023-02-16", "2023-02-20"],
    ...            np.zeros((5, 1), np.int8), {})
    >>> period_dates(r, "month")
    ['2023-01-01', '2023-02-01', '2023-02-20']
    """
    if by == "half-month":
        return list(record.dates)
    if by != "month":
        raise ValueError(f"by must be 'month' or 'half-month', not {by!r}")
    out = [d for d in record.dates if d.endswith("-01")]
    if record.dates[-1] != out[-1]:
        out.append(record.dates[-1])
    return out


def period_gains(record: Record, theatre: Theatre, dates: list[str]) -> pd.DataFrame:
    """Each side's gains between consecutive ``dates`` (map difference, km², Ukraine only).

    Returns
    -------
    pandas.DataFrame
        ``from``, ``to``, ``russia_gain_km2``, ``ukraine_gain_km2``, ``russia_net_gain_km2``.
    """
    rows = []
    for a, b in zip(dates[:-1], dates[1:], strict=True):
        g = gains(theatre.area_km2, theatre.country, record.at(a), record.at(b))
        rows.append({"from": a, "to": b, **g})
    return pd.DataFrame(rows)


def cumulative_gain(record: Record, theatre: Theatre, start: str, dates: list[str]) -> np.ndarray:
    """Russia's gain since ``start`` (map difference against the ``start`` map) at each date.

    This is what a run's daily ``russia_gain_km2`` measures against its start map.
    """
    base = record.at(start)
    return np.array(
        [
            gains(theatre.area_km2, theatre.country, base, record.at(d))["russia_gain_km2"]
            for d in dates
        ]
    )


def sector_of_node(theatre: Theatre, scenario: str) -> tuple[list[str], np.ndarray]:
    """Sector names of a scenario and the sector index of every node (:class:`~sim.command.Sectors`)."""
    from sim.command import Sectors
    from sim.scenario import find_scenario, load_scenario

    spec = load_scenario(find_scenario(scenario))
    sectors = Sectors(theatre, spec.sectors)
    return list(sectors.names), np.asarray(sectors.of_node)


def sector_gains(
    record: Record, theatre: Theatre, dates: list[str], scenario: str = "baseline_2024"
) -> pd.DataFrame:
    """Each side's gains between consecutive ``dates`` by the scenario's sectors.

    Returns
    -------
    pandas.DataFrame
        ``from``, ``to``, ``sector``, ``russia_gain_km2``, ``ukraine_gain_km2`` (one row per
        period and sector, sectors in the scenario's order).
    """
    names, of_node = sector_of_node(theatre, scenario)
    rows = []
    for a, b in zip(dates[:-1], dates[1:], strict=True):
        before, after = record.at(a), record.at(b)
        for k, name in enumerate(names):
            m = of_node == k
            g = gains(theatre.area_km2[m], theatre.country[m], before[m], after[m])
            rows.append(
                {
                    "from": a,
                    "to": b,
                    "sector": name,
                    "russia_gain_km2": g["russia_gain_km2"],
                    "ukraine_gain_km2": g["ukraine_gain_km2"],
                }
            )
    return pd.DataFrame(rows)


def place_node(theatre: Theatre, name: str) -> int:
    """Theatre node of a named place, allowing the names of :data:`PLACE_ALIASES`."""
    return theatre.node_by_name(PLACE_ALIASES.get(name, name))


def place_changes(record: Record, theatre: Theatre, places: list[str]) -> pd.DataFrame:
    """Every change of hands of each place in the record.

    A change seen first on the map dated ``to`` happened between the maps ``from`` and ``to``;
    ``mid`` is the middle of that interval, the date used against a model's.

    Returns
    -------
    pandas.DataFrame
        ``place``, ``node``, ``k`` (1 for the first change, 2 for the second, ...), ``from``,
        ``to``, ``mid`` (dates), ``to_side`` (``"russia"`` or ``"ukraine"``). Places that never
        changed hands have no row.
    """
    rows = []
    for p in places:
        node = place_node(theatre, p)
        side = record.control[:, node]
        k = 0
        for i in np.flatnonzero(side[1:] != side[:-1]):
            k += 1
            a, b = date.fromisoformat(record.dates[i]), date.fromisoformat(record.dates[i + 1])
            rows.append(
                {
                    "place": p,
                    "node": int(node),
                    "k": k,
                    "from": a,
                    "to": b,
                    "mid": a + timedelta(days=(b - a).days // 2),
                    "to_side": SIDES[int(side[i + 1])],
                }
            )
    cols = ["place", "node", "k", "from", "to", "mid", "to_side"]
    return pd.DataFrame(rows, columns=cols)


def ukrainian_places(theatre: Theatre) -> list[str]:
    """The places of ``sim/data/places.csv`` in Ukraine, in the file's order."""
    import csv

    with open(Path(__file__).resolve().parent / "data" / "places.csv", newline="") as fh:
        return [r["name"] for r in csv.DictReader(fh) if r["country"] == "UA"]


# --------------------------------------------------------------------------------------------
# The series as `frontline record` prints it

YEARS = (("2023", "2023-01-01", "2024-01-01"), ("2024", "2024-01-01", "2024-11-20"))


def series(
    by: str = "half-month",
    sectors: str | None = None,
    places: bool = False,
    record: Record | None = None,
    theatre: Theatre | None = None,
) -> dict:
    """The record's series as plain data (what ``frontline record --json`` prints).

    Parameters
    ----------
    by : {"half-month", "month"}
        Period of the gains series.
    sectors : str, optional
        A scenario whose sectors split the gains (e.g. ``"baseline_2024"``).
    places : bool
        Add every change of hands of the places of ``places.csv`` in Ukraine, and the places
        that never changed hands.

    Returns
    -------
    dict
        ``gains`` (rows of :func:`period_gains`), ``years`` (each year's map difference),
        and optionally ``sectors`` (rows of :func:`sector_gains`, plus each year's by sector)
        and ``places`` / ``held``.
    """
    t = theatre if theatre is not None else Theatre.load()
    r = record if record is not None else load_record(theatre=t)
    dates = period_dates(r, by)
    out: dict = {
        "by": by,
        "rule": r.meta.get("control_rule", ""),
        "gains": period_gains(r, t, dates).to_dict("records"),
        "years": [
            {"year": y, **period_gains(r, t, [a, b]).to_dict("records")[0]} for y, a, b in YEARS
        ],
    }
    if sectors:
        out["sector_scenario"] = sectors
        out["sectors"] = sector_gains(r, t, dates, sectors).to_dict("records")
        out["sector_years"] = [
            {"year": y, **row}
            for y, a, b in YEARS
            for row in sector_gains(r, t, [a, b], sectors).to_dict("records")
        ]
    if places:
        names = ukrainian_places(t)
        ch = place_changes(r, t, names)
        out["places"] = [
            {k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()}
            for row in ch.to_dict("records")
        ]
        out["held"] = [
            {"place": p, "side": SIDES[int(r.control[0, place_node(t, p)])]}
            for p in names
            if p not in set(ch["place"])
        ]
    return out


def format_series(s: dict) -> str:
    """Plain-text tables of :func:`series`."""
    lines = [
        f"The record on the theatre, by {s['by']} (km², map difference inside Ukraine; a map",
        "dated D shows the state at 00:00 UTC of D). Control rule: " + s["rule"],
        "",
        f"{'from':<11} {'to':<11} {'russia':>8} {'ukraine':>8} {'net':>8}",
    ]
    for g in s["gains"]:
        lines.append(
            f"{g['from']:<11} {g['to']:<11} {g['russia_gain_km2']:8.0f} "
            f"{g['ukraine_gain_km2']:8.0f} {g['russia_net_gain_km2']:8.0f}"
        )
    lines.append("")
    for y in s["years"]:
        lines.append(
            f"{y['year']} ({y['from']} to {y['to']}): Russia {y['russia_gain_km2']:.0f}, "
            f"Ukraine {y['ukraine_gain_km2']:.0f}, net {y['russia_net_gain_km2']:.0f} km²"
        )
    if "sectors" in s:
        names = list(dict.fromkeys(row["sector"] for row in s["sectors"]))
        lines += ["", f"Russian gains by sector of {s['sector_scenario']} (km²)", ""]
        width = max(len(n) for n in names)
        lines.append(f"{'from':<11} " + " ".join(f"{n[:8]:>8}" for n in names))
        periods = list(dict.fromkeys(row["from"] for row in s["sectors"]))
        for p in periods:
            vals = {row["sector"]: row for row in s["sectors"] if row["from"] == p}
            lines.append(
                f"{p:<11} " + " ".join(f"{vals[n]['russia_gain_km2']:8.0f}" for n in names)
            )
        lines += ["", f"{'sector':<{width}} " + " ".join(f"{y} RU {y} UA" for y, _, _ in YEARS)]
        for n in names:
            cells = []
            for y, _, _ in YEARS:
                row = next(r for r in s["sector_years"] if r["year"] == y and r["sector"] == n)
                cells.append(f"{row['russia_gain_km2']:7.0f} {row['ukraine_gain_km2']:7.0f}")
            lines.append(f"{n:<{width}} " + " ".join(cells))
    if "places" in s:
        lines += ["", "Changes of hands (between the maps 'from' and 'to')", ""]
        lines.append(f"{'place':<20} {'k':>2} {'from':<11} {'to':<11} to")
        for p in s["places"]:
            lines.append(
                f"{p['place']:<20} {p['k']:>2} {p['from']:<11} {p['to']:<11} {p['to_side']}"
            )
        held = ", ".join(f"{h['place']} ({h['side']})" for h in s["held"])
        lines += ["", "Never changed hands in the record: " + held]
    return "\n".join(lines) + "\n"
