"""The tables of a batch, built from its replications' records: runs (one row per replication),
daily, change-of-hands events and the node table, and the summary of the outcomes' spread.
"""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import pandas as pd

from sim.experiments.store import (
    BatchError,
    encode_falls,
    falls_column,
)
from sim.scenario import ScenarioSpec

# Columns of runs.parquet that identify a replication rather than measure its outcome.
_ID_COLUMNS = ("replication", "seed")


_QUANTILES = {"p05": 5, "p50": 50, "p95": 95}


def runs_table(rows: list[tuple[int, dict, pd.DataFrame]], spec: ScenarioSpec) -> pd.DataFrame:
    """One row per replication from the part records (already in replication order)."""
    records = []
    # Numeric summary keys, in summary order. A key that is None in some runs and a number in
    # others (collapse_day) is numeric too, so the columns never depend on the outcomes.
    numeric: dict[str, None] = {}
    for _, record, _ in rows:
        for key, value in record["summary"].items():
            if (value is None or _is_number(value)) and key not in _ID_COLUMNS:
                numeric.setdefault(key)
    for i, record, _ in rows:
        s = record["summary"]
        row = {
            "replication": i,
            "seed": record["seed"],
            "scenario": s["scenario"],
            "content_hash": s["content_hash"],
            "version": s["version"],
            "git_commit": record["git_commit"],
            "start": s["start"],
            "end": s["end"],
        }
        row.update({key: s.get(key) for key in numeric})
        row["falls"] = encode_falls(s["falls"])
        row["hubs"] = json.dumps(s["hubs"], sort_keys=True)
        params = record.get("params", spec.params)  # a posterior draw's, or the scenario's
        row.update({f"param_{k}": float(v) for k, v in params.items()})
        records.append(row)
    runs = pd.DataFrame(records)
    for key in numeric:  # None -> NaN; a column of whole numbers stays int64
        if runs[key].isna().any() or runs[key].dtype == object:
            runs[key] = pd.to_numeric(runs[key], errors="coerce").astype("float64")
    return runs


def events_table(records: list[tuple[int, dict]]) -> pd.DataFrame:
    """Every replication's changes of hands, in order: ``replication``, ``seed``, ``date``, ``node``, ``to_side``."""
    for i, record in records:
        if "events" not in record:  # a part file from before batches kept the changes of hands
            raise BatchError(
                f"replication {i} was written by an older frontline without its changes of "
                "hands: delete the batch's parts/ directory (or use another --out) and re-run"
            )
    # The replications' columns joined first and their dates parsed in one call (a call per
    # replication cost ~1 ms each, at the end of every batch): the same table as stacking one
    # frame per replication.
    events = [record["events"] for _, record in records]
    counts = [len(ev["date"]) for ev in events]
    return pd.DataFrame(
        {
            "replication": np.repeat(np.array([i for i, _ in records], dtype=np.int64), counts),
            "seed": np.repeat(np.array([r["seed"] for _, r in records], dtype=np.int64), counts),
            "date": pd.to_datetime(
                pd.Series([d for ev in events for d in ev["date"]], dtype=object)
            ),
            "node": np.array([x for ev in events for x in ev["node"]], dtype=np.int64),
            "to_side": pd.Series([x for ev in events for x in ev["to"]], dtype=object),
        }
    )


def node_table(spec: ScenarioSpec) -> pd.DataFrame:
    """The theatre's nodes as a scenario starts: what a report needs to rebuild maps.

    Columns: ``node``, ``name``, ``lon``, ``lat``, ``area_km2``, ``population`` (GeoNames, of
    the settlement the node is, 0 for terrain cells), ``country`` (``"ukraine"`` or ``"russia"``:
    whose soil), ``initial_side`` (who holds it at the start, after the scenario's holds),
    ``sector`` (the scenario sector it belongs to) and ``hub`` (a logistics hub).
    """
    from sim.command import Sectors
    from sim.model import default_theatre, initial_control
    from sim.units import SIDES

    t = default_theatre()
    sides = np.asarray(SIDES, dtype=object)
    sectors = Sectors(t, spec.sectors)
    is_hub = np.zeros(t.n_nodes, dtype=bool)
    is_hub[list(t.hubs.values())] = True
    return pd.DataFrame(
        {
            "node": np.arange(t.n_nodes, dtype=np.int64),
            "name": t.name,
            "lon": t.lon,
            "lat": t.lat,
            "area_km2": t.area_km2,
            "population": np.asarray(t.population, dtype=np.int64),
            "country": sides[t.country],
            "initial_side": sides[initial_control(t, spec)],
            "sector": np.asarray(sectors.names, dtype=object)[sectors.of_node],
            "hub": is_hub,
        }
    )


def _is_number(value: object) -> bool:
    return isinstance(value, bool | int | float)


def daily_table(parts: list[tuple[int, int, pd.DataFrame]]) -> pd.DataFrame:
    """The daily tables of the replications stacked, each led by its ``replication`` and ``seed``."""
    # Stacked first, the two leading columns added once (not two inserts per replication).
    stacked = pd.concat([daily for _, _, daily in parts], ignore_index=True)
    counts = [len(daily) for _, _, daily in parts]
    stacked.insert(0, "seed", np.repeat(np.array([s for _, s, _ in parts], dtype=np.int64), counts))
    stacked.insert(
        0, "replication", np.repeat(np.array([i for i, _, _ in parts], dtype=np.int64), counts)
    )
    return stacked


def summarise_batch(runs: pd.DataFrame) -> dict:
    """The spread of a batch's outcomes, from its ``runs`` table.

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per replication. Every numeric (or boolean) column other than
        ``replication``, ``seed`` and ``param_*`` is an outcome; a ``falls`` column, if present,
        holds each run's ``{place: ISO date}`` as JSON.

    Returns
    -------
    dict
        ``replications``; ``outcomes``: for each outcome ``{"p05", "p50", "p95", "mean"}``
        (numpy percentiles, linear interpolation; missing values skipped, all ``None`` if there
        are none); ``falls``: for each place that fell in any replication ``{"share",
        "median_date"}``, the fraction of replications in which it fell and the median of its
        fall dates among those (median of ordinal days, rounded down), sorted by place.
    """
    outcomes: dict[str, dict[str, float | None]] = {}
    for column in runs.columns:
        if column in _ID_COLUMNS or column.startswith("param_"):
            continue
        values = runs[column]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            continue
        x = values.dropna().to_numpy(dtype=float)
        if len(x) == 0:
            outcomes[column] = {"p05": None, "p50": None, "p95": None, "mean": None}
            continue
        stats: dict[str, float | None] = {
            k: float(np.percentile(x, q, method="linear")) for k, q in _QUANTILES.items()
        }
        stats["mean"] = float(np.mean(x))
        outcomes[column] = stats

    falls: dict[str, list[int]] = {}
    if "falls" in runs.columns:
        for fell in falls_column(runs):
            for place, when in fell.items():
                falls.setdefault(place, []).append(when.toordinal())
    n = len(runs)
    return {
        "replications": n,
        "outcomes": outcomes,
        "falls": {
            place: {
                "share": len(days) / n,
                "median_date": date.fromordinal(math.floor(np.median(days))).isoformat(),
            }
            for place, days in sorted(falls.items())
        },
    }
