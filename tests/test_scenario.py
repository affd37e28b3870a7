"""Scenario loading: values, extends, schedules, --set overrides and every class of bad input."""

from __future__ import annotations

import dataclasses
import math
import pickle
import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_files import load_error

from sim.params import PARAMS, REGISTRY
from sim.params import PARAMS as _PARAMS
from sim.scenario import ScenarioError, ScenarioSpec, find_scenario, load_scenario

# Read from the registry, so the tests follow a deliberate change of the range.
SLOWDOWN_RANGE = f"[{_PARAMS['advance_slowdown'].low:g}, {_PARAMS['advance_slowdown'].high:g}]"

HEAD = """\
name = "test"
description = "a test"
start = 2024-01-01
end = 2024-12-31
initial_control = "2024-01-01"
"""

SECTORS = """\
[[sector]]
name = "Pokrovsk"
anchors = ["Avdiivka", "Ocheretyne"]
russia_units = 20
ukraine_units = 14
russia_posture = "attack"
ukraine_posture = "hold"
russia_objective = "Pokrovsk"

[[sector]]
name = "Kursk"
anchors = ["Sudzha"]
russia_units = 2
ukraine_units = 0
"""

EVENT = """\
[[event]]
date = 2024-08-06
kind = "redeploy"
side = "ukraine"
from_sector = "Pokrovsk"
to_sector = "Kursk"
units = 4
surprise = true
"""

VALID = (
    HEAD
    + """
[params]
russia_recruits_per_day = 1100
training_delay_days = 20

[schedule.russia_shells_per_day]
"2024-06-01" = 30000
"2024-01-01" = 50000

"""
    + SECTORS
    + "\n"
    + EVENT
    + """
[[event]]
date = "2024-03-01"
kind = "posture"
side = "russia"
sector = "Kursk"
posture = "attack"
"""
)

PLACES = ["Avdiivka", "Ocheretyne", "Pokrovsk", "Sudzha", "Donetsk"]


def write(dir_: Path, name: str, text: str) -> Path:
    path = dir_ / name
    path.write_text(text)
    return path


def bad(tmp_path: Path, text: str, **kw) -> str:
    """Load ``text`` as bad.toml and return the error message (which must name the file)."""
    message = load_error(write(tmp_path, "bad.toml", text), **kw)
    assert "bad.toml" in message
    return message


# --------------------------------------------------------------------------------------------
# Valid files


def test_valid_file_loads_with_its_values(tmp_path):
    spec = load_scenario(write(tmp_path, "ok.toml", VALID), place_names=PLACES)
    assert isinstance(spec, ScenarioSpec)
    assert (spec.name, spec.description) == ("test", "a test")
    assert (spec.start, spec.end) == (date(2024, 1, 1), date(2024, 12, 31))
    assert spec.initial_control == "2024-01-01"
    assert spec.params["russia_recruits_per_day"] == 1100
    assert spec.params["training_delay_days"] == 20
    assert spec.params["advance_slowdown"] == PARAMS["advance_slowdown"].default
    assert spec.schedule == {
        "russia_shells_per_day": [(date(2024, 1, 1), 50000), (date(2024, 6, 1), 30000)]
    }
    pokrovsk, kursk = spec.sectors
    assert pokrovsk.anchors == ("Avdiivka", "Ocheretyne")
    assert (pokrovsk.russia_units, pokrovsk.ukraine_units) == (20, 14)
    assert (pokrovsk.russia_posture, pokrovsk.russia_objective) == ("attack", "Pokrovsk")
    assert (kursk.russia_posture, kursk.ukraine_posture, kursk.ukraine_objective) == (
        "hold",
        "hold",
        None,
    )
    # Sorted by date although the file lists the August event first.
    assert [e.kind for e in spec.events] == ["posture", "redeploy"]
    redeploy = spec.events[1]
    assert (redeploy.from_sector, redeploy.to_sector, redeploy.units) == ("Pokrovsk", "Kursk", 4)
    assert redeploy.surprise is True and spec.events[0].surprise is False
    assert redeploy.target_sector == "Kursk" and spec.events[0].target_sector == "Kursk"
    assert re.fullmatch(r"[0-9a-f]{64}", spec.content_hash)


def test_string_dates_equal_toml_dates_and_hash_ignores_location(tmp_path):
    a = load_scenario(write(tmp_path, "a.toml", VALID))
    text = VALID.replace("start = 2024-01-01", 'start = "2024-01-01"')
    (tmp_path / "sub").mkdir()
    b = load_scenario(write(tmp_path / "sub", "b.toml", text))
    assert a.start == b.start
    assert a.content_hash == b.content_hash
    assert a == dataclasses.replace(b, path=a.path)


def test_content_hash_changes_with_content(tmp_path):
    a = load_scenario(write(tmp_path, "a.toml", VALID))
    b = load_scenario(write(tmp_path, "b.toml", VALID.replace("units = 4", "units = 5")))
    assert a.content_hash != b.content_hash


def test_spec_pickles_and_hashes(tmp_path):
    # Batch runs ship specs to worker processes.
    spec = load_scenario(write(tmp_path, "ok.toml", VALID))
    copy = pickle.loads(pickle.dumps(spec))
    assert copy == spec and hash(copy) == hash(spec)


def test_same_day_events_keep_file_order(tmp_path):
    text = HEAD + SECTORS
    for sector in ("Kursk", "Pokrovsk", "Kursk"):
        text += f"""
[[event]]
date = 2024-05-01
kind = "reinforce"
side = "russia"
sector = "{sector}"
units = 1
"""
    text += '\n[[event]]\ndate = 2024-04-01\nkind = "reinforce"\nside = "ukraine"\nsector = "Kursk"\nunits = 2\n'
    spec = load_scenario(write(tmp_path, "ok.toml", text))
    assert [(e.date.month, e.sector) for e in spec.events] == [
        (4, "Kursk"),
        (5, "Kursk"),
        (5, "Pokrovsk"),
        (5, "Kursk"),
    ]


def test_param_on_follows_schedule(tmp_path):
    text = VALID.replace('"2024-01-01" = 50000', '"2024-02-01" = 50000')
    spec = load_scenario(write(tmp_path, "ok.toml", text))
    shells = "russia_shells_per_day"
    # Before the first scheduled date the [params]/registry value holds.
    assert spec.param_on(shells, date(2024, 1, 15)) == PARAMS[shells].default
    assert spec.param_on(shells, date(2024, 2, 1)) == 50000
    assert spec.param_on(shells, date(2024, 5, 31)) == 50000
    assert spec.param_on(shells, date(2024, 6, 1)) == 30000
    assert spec.param_on(shells, date(2024, 12, 31)) == 30000
    assert spec.param_on("russia_recruits_per_day", date(2024, 6, 1)) == 1100
    with pytest.raises(KeyError, match="russia_shells_per_day"):
        spec.param_on("russia_shells_per_dya", date(2024, 6, 1))


# --------------------------------------------------------------------------------------------
# extends


def test_extends_merges_params_sectors_events_and_schedules(tmp_path):
    write(tmp_path, "base.toml", VALID)
    child = write(
        tmp_path,
        "child.toml",
        """\
extends = "base.toml"
name = "child"

[params]
advance_slowdown = 0.03
russia_recruits_per_day = 1200

[schedule.russia_shells_per_day]
"2024-03-01" = 40000

[schedule.ukraine_shells_per_day]
"2024-01-01" = 8000

[[sector]]
name = "Kursk"
russia_units = 5

[[sector]]
name = "Kharkiv"
anchors = ["Vovchansk"]
russia_units = 6
ukraine_units = 5

[[event]]
date = 2024-02-01
kind = "reinforce"
side = "russia"
sector = "Kharkiv"
units = 2
""",
    )
    spec = load_scenario(child)
    assert spec.name == "child" and spec.description == "a test"  # inherited
    assert spec.path == child
    assert spec.params["advance_slowdown"] == 0.03
    assert spec.params["russia_recruits_per_day"] == 1200  # child wins
    assert spec.params["training_delay_days"] == 20  # parent kept
    # A child's schedule of a key replaces the parent's whole schedule of that key.
    assert spec.schedule["russia_shells_per_day"] == [(date(2024, 3, 1), 40000)]
    assert spec.schedule["ukraine_shells_per_day"] == [(date(2024, 1, 1), 8000)]
    assert [s.name for s in spec.sectors] == ["Pokrovsk", "Kursk", "Kharkiv"]
    kursk = spec.sectors[1]
    assert (kursk.russia_units, kursk.ukraine_units, kursk.anchors) == (5, 0, ("Sudzha",))
    assert [(e.kind, e.date) for e in spec.events] == [
        ("reinforce", date(2024, 2, 1)),
        ("posture", date(2024, 3, 1)),
        ("redeploy", date(2024, 8, 6)),
    ]


def test_extends_chain_of_two(tmp_path):
    write(tmp_path, "a.toml", VALID)
    (tmp_path / "sub").mkdir()
    # Paths are relative to the file that holds the extends.
    write(tmp_path / "sub", "b.toml", 'extends = "../a.toml"\n[params]\nadvance_slowdown = 0.03\n')
    c = write(
        tmp_path / "sub",
        "c.toml",
        'extends = "b.toml"\nname = "c"\nend = 2024-09-30\n[params]\nfires_elasticity = 0.5\n',
    )
    # ../a.toml is outside c.toml's directory: read only when the user allows it (issue 15).
    with pytest.raises(ScenarioError, match=r"b\.toml: extends = \"\.\./a\.toml\".*--allow-path"):
        load_scenario(c)
    spec = load_scenario(c, allow=[tmp_path])
    assert spec.name == "c" and spec.end == date(2024, 9, 30)
    assert spec.params["advance_slowdown"] == 0.03
    assert spec.params["fires_elasticity"] == 0.5
    assert spec.params["russia_recruits_per_day"] == 1100
    assert len(spec.sectors) == 2 and len(spec.events) == 2


def test_extends_cycle_is_an_error(tmp_path):
    write(tmp_path, "a.toml", 'extends = "b.toml"\n' + VALID)
    write(tmp_path, "b.toml", 'extends = "a.toml"\nname = "b"\n')
    message = load_error(tmp_path / "a.toml")
    assert "cycle" in message and "a.toml" in message and "b.toml" in message


def test_extends_self_is_a_cycle(tmp_path):
    message = bad(tmp_path, 'extends = "bad.toml"\n' + VALID)
    assert "cycle" in message


def test_extends_missing_parent_names_child_and_parent(tmp_path):
    message = bad(tmp_path, 'extends = "nowhere.toml"\n' + VALID)
    assert "extends" in message and "nowhere.toml" in message and "not found" in message


def test_error_in_parent_names_parent_file(tmp_path):
    write(tmp_path, "base.toml", VALID.replace("ukraine_units = 14", "ukraine_units = -1"))
    child = write(tmp_path, "child.toml", 'extends = "base.toml"\nname = "c"\n')
    message = load_error(child)
    assert "base.toml: sector[0].ukraine_units = -1" in message


def test_new_sector_in_child_must_be_complete(tmp_path):
    write(tmp_path, "base.toml", VALID)
    child = write(
        tmp_path,
        "child.toml",
        'extends = "base.toml"\n[[sector]]\nname = "Kharkiv"\nrussia_units = 3\n',
    )
    message = load_error(child)
    assert "child.toml: sector[0].anchors" in message and "missing" in message


# --------------------------------------------------------------------------------------------
# with_overrides and with_end


@pytest.fixture
def spec(tmp_path) -> ScenarioSpec:
    return load_scenario(write(tmp_path, "ok.toml", VALID))


def test_with_overrides_sets_params_and_drops_schedule(spec):
    new = spec.with_overrides(
        {"russia_shells_per_day": "12000", "advance_slowdown": 0.05, "training_delay_days": "45"}
    )
    assert new.params["russia_shells_per_day"] == 12000
    assert "russia_shells_per_day" not in new.schedule
    assert new.param_on("russia_shells_per_day", date(2024, 7, 1)) == 12000
    assert new.params["advance_slowdown"] == 0.05
    assert new.params["training_delay_days"] == 45
    assert new.content_hash != spec.content_hash
    assert spec.params["advance_slowdown"] == PARAMS["advance_slowdown"].default  # unchanged


def test_with_overrides_dates_and_control(spec):
    new = spec.with_overrides({"end": "2024-06-30", "initial_control": "2024-08-06"})
    assert new.end == date(2024, 6, 30) and new.initial_control == "2024-08-06"
    assert [e.kind for e in new.events] == ["posture"]  # the August event is past the end
    later = spec.with_overrides({"end": "2025-03-31"})
    assert later.end == date(2025, 3, 31) and len(later.events) == 2


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ({"russia_shels_per_day": "1"}, ["--set russia_shels_per_day", "'russia_shells_per_day'"]),
        ({"advance_slowdown": "0.5"}, ["--set advance_slowdown", SLOWDOWN_RANGE]),
        ({"advance_slowdown": "fast"}, ["--set advance_slowdown", '"fast"', "not a number"]),
        ({"training_delay_days": "2.5"}, ["--set training_delay_days", "whole number"]),
        ({"training_delay_days": "inf"}, ["--set training_delay_days", "[0, 90]"]),
        ({"end": "2023-06-01"}, ["--set end", "must be before end"]),
        ({"start": "2025-02-01"}, ["--set start = 2025-02-01", "must be before end (2024-12-31)"]),
        ({"start": "2024-04-01"}, ["--set start", "event[0]"]),
        ({"start": "April"}, ["--set start", "YYYY-MM-DD"]),
        ({"initial_control": "2024-02-02"}, ["--set initial_control", "2024-11-20"]),
    ],
)
def test_with_overrides_rejects(spec, pairs, expected):
    with pytest.raises(ScenarioError) as info:
        spec.with_overrides(pairs)
    message = str(info.value)
    assert "ok.toml" in message
    for part in expected:
        assert part in message


def test_with_end(spec):
    short = spec.with_end(date(2024, 5, 1))
    assert short.end == date(2024, 5, 1) and len(short.events) == 1
    assert short.start == spec.start and short.params == spec.params
    for day in (date(2024, 1, 1), date(2025, 1, 1)):
        with pytest.raises(ScenarioError, match="until"):
            spec.with_end(day)


# --------------------------------------------------------------------------------------------
# Bad input: each class of error names the file, the key path and what is allowed


def test_missing_file(tmp_path):
    message = load_error(tmp_path / "absent.toml")
    assert str(tmp_path / "absent.toml") in message and "not found" in message


def test_malformed_toml_gives_line_and_column(tmp_path):
    message = bad(tmp_path, HEAD + "russia_units = = 3\n")
    assert "malformed TOML" in message and "line 6" in message and "column" in message


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # unknown keys, with the nearest known key
        (("", "sectors = []\n"), ["sectors", "did you mean 'sector'"]),
        (
            ("[params]", "[params]\nadvance_slowdwn = 0.03"),
            ["params.advance_slowdwn", "'advance_slowdown'"],
        ),
        (
            ('russia_posture = "attack"', 'russia_postur = "attack"'),
            ["sector[0].russia_postur", "'russia_posture'"],
        ),
        (("surprise = true", "suprise = true"), ["event[0].suprise", "'surprise'"]),
        # values out of range, naming the range
        (
            ("[params]", "[params]\nadvance_slowdown = 0.5"),
            ["params.advance_slowdown = 0.5", SLOWDOWN_RANGE],
        ),
        (
            ('"2024-06-01" = 30000', '"2024-06-01" = -5'),
            ['schedule.russia_shells_per_day."2024-06-01" = -5', "[0, 100000]"],
        ),
        (
            ("training_delay_days = 20", "training_delay_days = 2.5"),
            ["params.training_delay_days = 2.5", "whole number"],
        ),
        # wrong types
        (
            ("[params]", '[params]\nadvance_slowdown = "0.03"'),
            ['params.advance_slowdown = "0.03"', "number"],
        ),
        (('name = "test"', "name = 3"), ["name = 3", "string"]),
        (
            ("russia_units = 20", "russia_units = 20.5"),
            ["sector[0].russia_units = 20.5", "whole number >= 0"],
        ),
        (("ukraine_units = 14", "ukraine_units = -1"), ["sector[0].ukraine_units = -1", ">= 0"]),
        (
            ('anchors = ["Sudzha"]', 'anchors = "Sudzha"'),
            ['sector[1].anchors = "Sudzha"', "list of strings"],
        ),
        (('anchors = ["Sudzha"]', "anchors = []"), ["sector[1].anchors", "non-empty list"]),
        (("surprise = true", 'surprise = "yes"'), ['event[0].surprise = "yes"', "true or false"]),
        (("units = 4", "units = 0"), ["event[0].units = 0", ">= 1"]),
        (
            (
                "[params]\nrussia_recruits_per_day = 1100\ntraining_delay_days = 20\n",
                "params = 3\n",
            ),
            ["params = 3", "table"],
        ),
        (
            ("[params]", "[params]\nadvance_slowdown = true"),
            ["params.advance_slowdown = true", "number"],
        ),
        # dates
        (
            ("start = 2024-01-01", 'start = "2024-13-01"'),
            ['start = "2024-13-01"', "not a valid date"],
        ),
        (("start = 2024-01-01", 'start = "1 Jan 2024"'), ['start = "1 Jan 2024"', "YYYY-MM-DD"]),
        (
            ("start = 2024-01-01", "start = 2024-01-01T08:00:00"),
            ["start = 2024-01-01T08:00:00", "YYYY-MM-DD"],
        ),
        (
            ('"2024-06-01" = 30000', '"2024-13-01" = 30000'),
            ['schedule.russia_shells_per_day."2024-13-01"', "not a valid date"],
        ),
        (
            ("end = 2024-12-31", "end = 2024-01-01"),
            ["end = 2024-01-01", "must be after start (2024-01-01)"],
        ),
        (
            ("date = 2024-08-06", "date = 2025-08-06"),
            ["event[0].date = 2025-08-06", "[2024-01-01, 2024-12-31]"],
        ),
        (('date = "2024-03-01"', 'date = "2023-03-01"'), ["event[1].date = 2023-03-01", "outside"]),
        (
            ('initial_control = "2024-01-01"', 'initial_control = "2024-02-01"'),
            [
                'initial_control = "2024-02-01"',
                '"2023-01-01", "2024-01-01", "2024-08-06", "2024-11-20"',
            ],
        ),
        # enums
        (
            ('russia_posture = "attack"', 'russia_posture = "attak"'),
            ['sector[0].russia_posture = "attak"', '"attack", "hold"', "did you mean 'attack'"],
        ),
        (
            ('side = "ukraine"', 'side = "ukriane"'),
            ['event[0].side = "ukriane"', '"russia", "ukraine"'],
        ),
        (
            ('kind = "redeploy"', 'kind = "retreat"'),
            ['event[0].kind = "retreat"', '"redeploy", "reinforce", "posture"'],
        ),
        (('kind = "posture"', 'kind = "reinforce"'), ["event[1].units", "missing", "reinforce"]),
        (
            ('"Kursk"\nposture = "attack"\n', '"Kursk"\nposture = "attack"\nunits = 3\n'),
            ["event[1].units", 'not used by kind "posture"'],
        ),
        # references and duplicates
        (
            ('to_sector = "Kursk"', 'to_sector = "Kurks"'),
            ['event[0].to_sector = "Kurks"', "no such sector", "'Kursk'"],
        ),
        (('to_sector = "Kursk"', 'to_sector = "Pokrovsk"'), ["event[0].to_sector", "must differ"]),
        (
            ('name = "Kursk"', 'name = "Pokrovsk"'),
            ['sector[1].name = "Pokrovsk"', "duplicate", "sector[0]"],
        ),
        # required keys
        (('name = "test"\n', ""), ["name", "required key missing"]),
        (("end = 2024-12-31\n", ""), ["end", "required key missing"]),
        (('initial_control = "2024-01-01"\n', ""), ["initial_control", "required key missing"]),
        (("russia_units = 2\n", ""), ["sector[1].russia_units", "required key missing"]),
        (('\nsector = "Kursk"\n', "\n"), ["event[1].sector", "missing", "posture"]),
    ],
)
def test_bad_input(tmp_path, edit, expected):
    old, new = edit
    assert old in VALID or old == ""
    text = new + VALID if old == "" else VALID.replace(old, new, 1)
    message = bad(tmp_path, text)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_no_sector_is_an_error(tmp_path):
    message = bad(tmp_path, HEAD)
    assert "sector" in message and "at least one" in message


def test_sector_without_name(tmp_path):
    message = bad(tmp_path, HEAD + '[[sector]]\nanchors = ["Sudzha"]\n')
    assert "sector[0].name" in message and "required key missing" in message


def test_empty_schedule_and_unknown_scheduled_param(tmp_path):
    message = bad(tmp_path, HEAD + SECTORS + "[schedule.russia_shells_per_day]\n")
    assert "schedule.russia_shells_per_day" in message and "at least one" in message
    message = bad(tmp_path, HEAD + SECTORS + '[schedule.russia_shels_per_day]\n"2024-01-01" = 1\n')
    assert "schedule.russia_shels_per_day" in message and "'russia_shells_per_day'" in message


def test_unknown_place_names_list_close_matches(tmp_path):
    message = bad(tmp_path, VALID, place_names=[*PLACES[:1], "Ocheretyne2", "Pokrovsk", "Sudzha"])
    assert 'sector[0].anchors[1] = "Ocheretyne"' in message
    assert "Ocheretyne2" in message
    message = bad(
        tmp_path,
        VALID.replace('russia_objective = "Pokrovsk"', 'russia_objective = "Pokrovks"'),
        place_names=PLACES,
    )
    assert 'sector[0].russia_objective = "Pokrovks"' in message and "Pokrovsk" in message
    # Without place_names, names are not checked.
    assert load_scenario(tmp_path / "bad.toml").sectors[0].russia_objective == "Pokrovks"


# --------------------------------------------------------------------------------------------
# Properties over the whole registry


def toml_number(value: float) -> str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def in_range_value(p):
    if p.integer:
        return st.integers(int(math.ceil(p.low)), int(math.floor(p.high)))
    return st.floats(p.low, p.high, allow_nan=False)


def out_of_range_value(p):
    below = st.floats(max_value=p.low, exclude_max=True, allow_nan=False)
    above = st.floats(min_value=p.high, exclude_min=True, allow_nan=False)
    return below | above


NO_TMP_RESET = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@NO_TMP_RESET
@given(data=st.data())
def test_any_in_range_value_loads_and_round_trips(tmp_path, data):
    p = data.draw(st.sampled_from(REGISTRY))
    value = data.draw(in_range_value(p))
    path = write(
        tmp_path, "p.toml", HEAD + f"[params]\n{p.name} = {toml_number(value)}\n" + SECTORS
    )
    spec = load_scenario(path)
    assert spec.params[p.name] == value
    assert spec.param_on(p.name, spec.start) == value
    assert spec.with_overrides({p.name: str(value)}).params[p.name] == value


@NO_TMP_RESET
@given(data=st.data())
def test_any_out_of_range_value_is_rejected_naming_param_and_range(tmp_path, data):
    p = data.draw(st.sampled_from(REGISTRY))
    value = data.draw(out_of_range_value(p))
    path = write(
        tmp_path, "p.toml", HEAD + f"[params]\n{p.name} = {toml_number(value)}\n" + SECTORS
    )
    message = load_error(path)
    assert f"p.toml: params.{p.name} = " in message
    assert f"[{p.low:g}, {p.high:g}]" in message


# --------------------------------------------------------------------------------------------
# Finding scenario files


def test_find_scenario_by_path_and_bare_name(tmp_path):
    (tmp_path / "scenarios").mkdir()
    target = write(tmp_path / "scenarios", "mine.toml", VALID)
    assert find_scenario("mine", cwd=tmp_path) == target.resolve()
    assert find_scenario("mine.toml", cwd=tmp_path) == target.resolve()
    assert find_scenario(target) == target.resolve()
    with pytest.raises(ScenarioError) as info:
        find_scenario("mien", cwd=tmp_path)
    assert "mien" in str(info.value) and "'mine'" in str(info.value)
