"""Reports: Markdown and PNG figures from a batch, a pair of batches, or a sweep directory.

:func:`write_report` reads the directories written by :func:`sim.batch.run_batch` and
:func:`sim.sweep.run_sweep` (never the model) and writes ``report.md`` and its figures:

- **batch** (``runs.parquet`` + ``daily.parquet``): fan chart of cumulative gains (median, 50%
  and 90% bands), fall-date curves of chosen places (share of replications in which each had
  fallen by each date) and a table of their fall dates;
- **pair** (two batch directories run with the same seed and replication count, so replication
  ``i`` of each has the same seed: common random numbers): the same for both, plus the paired
  difference ``DIR2 - DIR`` replication by replication of the final outcomes and of the
  cumulative Russian gains over time, and the change in the places' fall dates;
- **sweep** (``sweep.parquet`` + ``design.parquet``): collapse probability (Wilson 95%
  intervals) and Russian gains against each swept parameter; with one parameter, a logistic
  ``P = 1 / (1 + exp((x - x_c) / w))`` fitted to the collapse shares by
  ``scipy.optimize.curve_fit``, with standard errors.

The work is done elsewhere, one home per concept: :mod:`sim.analysis` loads the directories
and makes the tables and statistics, :mod:`sim.figures` draws, and :mod:`sim.reports` writes
the Markdown of each report kind. The public tables and statistics are re-exported here.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sim.analysis.errors import ReportError
from sim.analysis.load import check_pair, detect, load_batch
from sim.analysis.stats import fit_logistic, logistic, wilson
from sim.analysis.tables import (
    enemy_distance_km,
    fall_changes,
    fall_table,
    fan_quantiles,
    occupied_population,
    paired_daily_difference,
    paired_difference,
    place_nodes,
    russia_holds,
    sector_gains,
)
from sim.reports.batch import batch_report
from sim.reports.sweep import sweep_report

__all__ = [
    "ReportError",
    "detect",
    "fall_changes",
    "fall_table",
    "fan_quantiles",
    "fit_logistic",
    "logistic",
    "occupied_population",
    "paired_daily_difference",
    "enemy_distance_km",
    "paired_difference",
    "place_nodes",
    "russia_holds",
    "sector_gains",
    "wilson",
    "write_report",
]


def write_report(
    path: Path,
    path2: Path | None = None,
    out: Path | None = None,
    places: list[str] | None = None,
    dates: list[date] | None = None,
) -> Path:
    """Write ``report.md`` and its PNG figures into ``out`` (default ``path/report``).

    Parameters
    ----------
    path, path2 : Path
        A batch or sweep directory; a second batch for a paired report.
    out : Path, optional
        Where to write (default ``path/report``).
    places : list of str, optional
        Places whose falls (and, with maps, whose holder on each date) to report; by default
        the hubs that fell in any replication.
    dates : list of datetime.date, optional
        Dates of the maps, of the holdings table (what each side holds if the line froze on
        that date) and of the tables of gains; by default four dates spread through the run.

    Returns the path of ``report.md``. Raises :class:`ReportError` on bad input.
    """
    path = Path(path)
    kind = detect(path)
    if path2 is not None and (kind != "batch" or detect(Path(path2)) != "batch"):
        raise ReportError("a paired report needs two batch directories (not sweeps)")
    out = Path(out) if out is not None else path / "report"
    out.mkdir(parents=True, exist_ok=True)
    if kind == "sweep":
        lines = sweep_report(path, out)
    elif path2 is None:
        lines = batch_report([load_batch(path)], out, places, dates)
    else:
        a, b = load_batch(path), load_batch(Path(path2))
        check_pair(a, b)
        lines = batch_report([a, b], out, places, dates)
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report
