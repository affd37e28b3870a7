"""Build the record (``sim/data/record.npz``): who held each theatre node on each map date.

The record is DeepState's half-monthly control maps of 2023-2024
(``../shared/data/record/control_DATE.geojson``), put on the theatre's cells with the rule that
sets the initial controls (:func:`sim.theatre.build.control_rule`, on the dry part of each cell,
:func:`sim.theatre.build.control_shares`). It is built inside :func:`sim.theatre.build.build_theatre`,
where the cells exist; only the per-node sides are committed, never the polygons.

The file holds ``control`` (int8, shape ``(dates, nodes)``, 0 Ukraine, 1 Russia), ``dates``
(ISO strings) and ``meta`` (JSON: the rule, the source, each map's snapshot time and its
occupied and grey areas on the theatre's dry cells). :mod:`sim.record` reads it at run time with
numpy alone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

VERSION = 1
_FILE = re.compile(r"^control_(\d{4}-\d{2}-\d{2})\.geojson$")


def record_files(record_dir: Path) -> list[tuple[str, Path]]:
    """The record's maps in ``record_dir``, as ``(date, path)`` sorted by date.

    Raises
    ------
    FileNotFoundError
        If the directory holds no ``control_YYYY-MM-DD.geojson``.
    """
    record_dir = Path(record_dir)
    found = sorted(
        (m.group(1), p)
        for p in (record_dir.iterdir() if record_dir.is_dir() else [])
        if (m := _FILE.match(p.name))
    )
    if not found:
        raise FileNotFoundError(
            f"record maps not found in {record_dir}: expected control_YYYY-MM-DD.geojson "
            "(DeepState-derived GeoJSON with 'occupied' and 'contested' features; pass --record DIR)"
        )
    return found


def record_controls(
    proj, files: list[tuple[str, Path]], dry_cells, dry_area: np.ndarray, country: np.ndarray
) -> tuple[np.ndarray, dict]:
    """Each node's side on each map date, by the theatre's control rule.

    Parameters
    ----------
    proj : sim.theatre.build.Projector
        The theatre's projection (the cells are in its km).
    files : list of (date, Path)
        :func:`record_files` output.
    dry_cells, dry_area : ndarray
        The theatre's cells without the Dnipro's water and their areas
        (:func:`sim.theatre.build.dry_cells_of`).
    country : ndarray of int
        0 Ukraine, 1 Russia (whose soil).

    Returns
    -------
    control : ndarray of int8, shape (len(files), n_nodes)
    log : dict
        Per date: ``snapshot_utc``, ``occupied_dry_km2`` and ``contested_dry_km2``.
    """
    from sim.theatre.regions import control_polygons, control_rule, control_shares

    control = np.zeros((len(files), len(dry_area)), np.int8)
    log = {}
    for k, (date, path) in enumerate(files):
        with open(path) as fh:
            gj = json.load(fh)
        occ, cont = control_polygons(proj, gj)
        share = control_shares(dry_cells, dry_area, country, occ, cont)
        control[k], _ = control_rule(share, country)
        log[date] = {
            "snapshot_utc": gj.get("properties", {}).get("snapshot_utc"),
            "occupied_dry_km2": float((share["occ"] * dry_area).sum()),
            "contested_dry_km2": float((share["cont"] * dry_area).sum()),
        }
    return control, log


def build_record(
    proj, record_dir: Path, dry_cells, dry_area: np.ndarray, country: np.ndarray, out: Path
) -> dict:
    """Put the record's maps on the theatre's cells and write ``out`` (npz).

    Returns
    -------
    dict
        Build summary: dates, nodes, output path and size.
    """
    from sim.theatre.sources import write_npz

    files = record_files(record_dir)
    control, log = record_controls(proj, files, dry_cells, dry_area, country)
    dates = [d for d, _ in files]
    meta = {
        "version": VERSION,
        "n_nodes": int(len(dry_area)),
        "control_rule": (
            "as the theatre's initial controls (sim.theatre.build.control_rule): Russia iff "
            "share_occupied + 0.5*share_contested > 0.5 of the cell's dry area; cells in Russia "
            "are Russian on every date (DeepState does not draw the Kursk salient)"
        ),
        "source": (
            "control polygons derived from DeepState map snapshots (deepstatemap.live), the last "
            "snapshot before 00:00 UTC of each date; the polygons are not part of the project"
        ),
        "maps": log,
    }
    write_npz(
        out,
        {
            "control": control,
            "dates": np.array(dates),
            "meta": np.array(json.dumps(meta, sort_keys=True)),
        },
    )
    return {
        "dates": len(dates),
        "first": dates[0],
        "last": dates[-1],
        "out": str(out),
        "size_bytes": Path(out).stat().st_size,
    }
