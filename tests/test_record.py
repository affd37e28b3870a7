"""The record on the theatre: its build (control rule on hand-made polygons), the committed
file's agreement with the initial controls, and the series computed from it."""

from __future__ import annotations

import json
from datetime import date
from types import SimpleNamespace

import numpy as np
import pytest

from sim.record import (
    Record,
    load_record,
    period_dates,
    period_gains,
    place_changes,
    sector_gains,
)
from sim.theatre.theatre import Theatre


@pytest.fixture(scope="module")
def theatre() -> Theatre:
    return Theatre.load()


@pytest.fixture(scope="module")
def record(theatre) -> Record:
    return load_record(theatre=theatre)


# ---------------------------------------------------------------------- the committed record


def test_record_matches_initial_controls_on_shared_dates(theatre, record):
    # Same files, same cells, same rule: the rows must equal the theatre's initial controls.
    for day in ("2023-01-01", "2024-01-01", "2024-11-20"):
        assert np.array_equal(record.at(day), theatre.control(day)), day


def test_record_dates_are_the_half_months(record):
    assert len(record.dates) == 47
    assert record.dates[0] == "2023-01-01" and record.dates[-1] == "2024-11-20"
    assert all(d[8:] in ("01", "16") for d in record.dates[:-1])
    assert record.control.dtype == np.int8 and set(np.unique(record.control)) <= {0, 1}


def test_record_russian_soil_always_russian(theatre, record):
    assert (record.control[:, theatre.country == 1] == 1).all()


def test_record_refuses_a_theatre_of_another_size(theatre, tmp_path):
    other = SimpleNamespace(n_nodes=theatre.n_nodes + 1)
    with pytest.raises(ValueError, match="rebuild both"):
        load_record(theatre=other)
    with pytest.raises(FileNotFoundError, match="frontline theatre build"):
        load_record(tmp_path / "none.npz")


def test_unknown_date_lists_the_dates(record):
    with pytest.raises(KeyError, match="2023-01-16"):
        record.at("2023-01-02")


# ---------------------------------------------------------------------- the build, by hand


def _square(x0, y0, x1, y1):
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def _write_map(path, occupied, contested):
    feats = [
        {
            "type": "Feature",
            "properties": {"kind": k},
            "geometry": {"type": "Polygon", "coordinates": g},
        }
        for k, g in (("occupied", occupied), ("contested", contested))
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))


class _Identity:
    """A projector that leaves coordinates alone: the hand-made cells are already in km."""

    def geom(self, g, inverse=False):
        return g


def test_record_build_side_of_a_node_from_a_hand_made_polygon(tmp_path):
    shapely = pytest.importorskip("shapely")
    from sim.theatre.record_build import record_controls, record_files

    # Four 10x10 km cells in a row; the last lies in Russia.
    cells = np.array([shapely.box(10 * i, 0, 10 * i + 10, 10) for i in range(4)], dtype=object)
    area = shapely.area(cells)
    country = np.array([0, 0, 0, 1])
    # Day 1: occupied covers 60% of cell 0; grey covers 80% of cell 1 (0.4 after halving) and
    # 40% of cell 2 with 40% occupied (0.4 + 0.2 > 0.5).
    _write_map(
        tmp_path / "control_2023-01-01.geojson", _square(0, 0, 6, 10), _square(12, 0, 20, 10)
    )
    _write_map(
        tmp_path / "control_2023-01-16.geojson",
        [[[20, 0], [24, 0], [24, 10], [20, 10], [20, 0]]],
        _square(24, 0, 28, 10),
    )
    (tmp_path / "notes.txt").write_text("not a map")
    files = record_files(tmp_path)
    assert [d for d, _ in files] == ["2023-01-01", "2023-01-16"]
    control, log = record_controls(_Identity(), files, cells, area, country)
    assert control.tolist() == [[1, 0, 0, 1], [0, 0, 1, 1]]
    assert log["2023-01-01"]["occupied_dry_km2"] == pytest.approx(60.0)
    assert log["2023-01-01"]["contested_dry_km2"] == pytest.approx(80.0)


def test_record_files_missing_is_a_clear_error(tmp_path):
    from sim.theatre.record_build import record_files

    with pytest.raises(FileNotFoundError, match=r"control_YYYY-MM-DD\.geojson"):
        record_files(tmp_path)


# ---------------------------------------------------------------------- the series


def _tiny():
    # Five nodes: four in Ukraine (areas 1, 2, 4, 8) and one in Russia (area 16).
    t = SimpleNamespace(
        area_km2=np.array([1.0, 2.0, 4.0, 8.0, 16.0]),
        country=np.array([0, 0, 0, 0, 1]),
        node_by_name=lambda name: {"A": 0, "B": 1, "C": 2}[name],
    )
    r = Record(
        ["2023-01-01", "2023-01-16", "2023-02-01", "2023-02-10"],
        np.array(
            [[0, 0, 0, 1, 1], [1, 0, 0, 1, 1], [1, 1, 0, 0, 1], [0, 1, 0, 0, 1]], dtype=np.int8
        ),
        {},
    )
    return t, r


def test_period_gains_are_map_differences():
    t, r = _tiny()
    hm = period_gains(r, t, period_dates(r))
    assert hm["russia_gain_km2"].tolist() == [1.0, 2.0, 0.0]
    assert hm["ukraine_gain_km2"].tolist() == [0.0, 8.0, 1.0]
    month = period_gains(r, t, period_dates(r, "month"))
    assert month["from"].tolist() == ["2023-01-01", "2023-02-01"]
    # A month is the difference of its two end maps, not the sum of its half months.
    assert month["russia_gain_km2"].tolist() == [3.0, 0.0]
    assert month["ukraine_gain_km2"].tolist() == [8.0, 1.0]


def test_place_changes_lists_every_change():
    t, r = _tiny()
    ch = place_changes(r, t, ["A", "B", "C"])
    assert ch[["place", "k", "to_side"]].values.tolist() == [
        ["A", 1, "russia"],
        ["A", 2, "ukraine"],
        ["B", 1, "russia"],
    ]
    assert ch["from"].iloc[1] == date(2023, 2, 1) and ch["mid"].iloc[1] == date(2023, 2, 5)


def test_sector_gains_add_up_to_the_total(theatre, record):
    dates = ["2024-01-01", "2024-07-01", "2024-11-20"]
    by_sector = sector_gains(record, theatre, dates, "baseline_2024")
    total = period_gains(record, theatre, dates)
    summed = by_sector.groupby("from", sort=True)[["russia_gain_km2", "ukraine_gain_km2"]].sum()
    assert np.allclose(summed["russia_gain_km2"], total["russia_gain_km2"])
    assert np.allclose(summed["ukraine_gain_km2"], total["ukraine_gain_km2"])


def test_record_places_that_changed_hands(theatre, record):
    ch = place_changes(record, theatre, ["Avdiivka", "Robotyne", "Pokrovsk"])
    # Avdiivka fell on 2024-02-17 (reported): the record sees it in 2024-02-16..03-01.
    av = ch[ch.place == "Avdiivka"]
    assert av["from"].tolist() == [date(2024, 2, 16)] and av["to_side"].tolist() == ["russia"]
    # Robotyne changed hands twice: Ukraine in August 2023, Russia in 2024.
    assert ch[ch.place == "Robotyne"]["to_side"].tolist() == ["ukraine", "russia"]
    assert "Pokrovsk" not in set(ch.place)


def test_theatre_build_passes_the_record_directory(monkeypatch, capsys, tmp_path):
    import sys
    import types
    from pathlib import Path

    import sim.theatre
    from sim.cli import main

    calls = []
    fake = types.ModuleType("sim.theatre.build")
    fake.DEFAULT_FRONTLINES, fake.DEFAULT_OUT = Path("fl"), Path("out.npz")
    fake.build_theatre = lambda fl, out, **kw: calls.append((fl, out, kw)) or {"nodes": 3}
    monkeypatch.setitem(sys.modules, "sim.theatre.build", fake)
    monkeypatch.setattr(sim.theatre, "build", fake, raising=False)
    assert main(["theatre", "build", "--record", str(tmp_path)]) == 0
    assert calls == [(Path("fl"), Path("out.npz"), {"record_dir": tmp_path})]
