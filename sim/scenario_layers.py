"""Scenario files as layers: each file's tables read and checked on their own, then the chain of
extends merged into one ScenarioSpec and checked as a whole.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sim.params import PARAMS, Params
from sim.scenario_fields import (
    _At,
    _bool,
    _check_map_date,
    _choice,
    _control,
    _date,
    _date_key,
    _hint,
    _keys,
    _param,
    _required,
    _show,
    _str,
    _str_list,
    _table,
    _tables,
    _text,
    _units,
)
from sim.scenario_files import (
    _named_file,
    _read_toml,
)
from sim.scenario_spec import (
    CONSTRUCTION_ONLY,
    EVENT_KINDS,
    POSTURES,
    SIDES,
    EventSpec,
    HoldSpec,
    ScenarioSpec,
    SectorSpec,
    _hashed,
)

_TOP_KEYS = tuple(
    "extends calibration name description assumptions start end initial_control params schedule"
    " sector event hold".split()
)


_TOP_REQUIRED = ("name", "start", "end", "initial_control")


_SECTOR_KEYS = tuple(
    "name anchors russia_units ukraine_units russia_posture ukraine_posture"
    " russia_objective ukraine_objective russia_fortification ukraine_fortification"
    " russia_own_soil_only ukraine_own_soil_only russia_reserves_sent ukraine_reserves_sent".split()
)


_SECTOR_REQUIRED = ("name", "anchors", "russia_units", "ukraine_units")


_EVENT_COMMON = ("date", "kind", "side", "surprise")


# Which keys each kind of event takes (besides the common ones) and which of those it needs.
_EVENT_KEYS = {
    "redeploy": ("from_sector", "to_sector", "units", "posture"),
    "reinforce": ("sector", "units", "posture"),
    "posture": ("sector", "posture"),
    "objective": ("sector", "objective"),
}


_EVENT_REQUIRED = {
    "redeploy": ("from_sector", "to_sector", "units"),
    "reinforce": ("sector", "units"),
    "posture": ("sector", "posture"),
    "objective": ("sector", "objective"),
}


_ALL_EVENT_KEYS = tuple(dict.fromkeys(_EVENT_COMMON + sum(_EVENT_KEYS.values(), ())))


_Tagged = tuple[Any, _At]


@dataclass
class _Layer:
    path: Path
    top: dict[str, _Tagged]
    params: dict[str, _Tagged]
    schedule: dict[str, _Tagged]
    sectors: list[tuple[dict[str, _Tagged], _At]]
    events: list[tuple[dict[str, _Tagged], _At]]
    holds: list[tuple[dict[str, _Tagged], _At]]
    posterior: Path | None = None
    names_calibration: bool = False  # a layer naming a calibration sets the posterior, or none


def _parse_layer(path: Path, raw: dict[str, Any], roots: tuple[Path, ...]) -> _Layer:
    root = _At(path, "")
    _keys(raw, _TOP_KEYS, root)
    checks = {
        "name": _str,
        "description": _text,
        "assumptions": _str_list,
        "start": _date,
        "end": _date,
        "initial_control": _control,
    }
    top = {
        k: (check(raw[k], root.child(k)), root.child(k)) for k, check in checks.items() if k in raw
    }

    params, posterior = _calibration(path, raw, root, roots)
    params_at = root.child("params")
    params.update(
        {
            k: (_param(k, v, params_at.child(k)), params_at.child(k))
            for k, v in _table(raw.get("params", {}), params_at).items()
        }
    )

    sched_at = root.child("schedule")
    schedule = {
        k: (_parse_schedule(k, v, sched_at.child(k)), sched_at.child(k))
        for k, v in _table(raw.get("schedule", {}), sched_at).items()
    }

    sectors = []
    names: dict[str, int] = {}
    for i, table in enumerate(_tables(raw.get("sector", []), root.child("sector"))):
        at = root.child("sector").item(i)
        fields = _parse_sector(table, at)
        name = fields["name"][0]
        if name in names:
            raise at.child("name").error(
                f"duplicate sector name (also sector[{names[name]}])", name
            )
        names[name] = i
        sectors.append((fields, at))

    events = [
        (_parse_event(table, root.child("event").item(i)), root.child("event").item(i))
        for i, table in enumerate(_tables(raw.get("event", []), root.child("event")))
    ]
    holds = [
        (_parse_hold(table, root.child("hold").item(i)), root.child("hold").item(i))
        for i, table in enumerate(_tables(raw.get("hold", []), root.child("hold")))
    ]
    return _Layer(
        path, top, params, schedule, sectors, events, holds, posterior, "calibration" in raw
    )


def _parse_hold(table: dict[str, Any], at: _At) -> dict[str, _Tagged]:
    _keys(table, ("side", "place", "radius_km", "soil"), at)
    _required(table, ["side", "place", "radius_km"], at)
    checks = {
        "side": lambda v, a: _choice(v, a, SIDES),
        "place": _str,
        "radius_km": _radius,
        "soil": lambda v, a: _choice(v, a, SIDES),
    }
    return {k: (checks[k](v, at.child(k)), at.child(k)) for k, v in table.items()}


def _radius(value: object, at: _At) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
        raise at.error("allowed range is (0, 100] km", value)
    return float(value)


def _calibration(
    path: Path, raw: dict[str, Any], root: _At, roots: tuple[Path, ...]
) -> tuple[dict[str, _Tagged], Path | None]:
    """What the file named by ``calibration`` (e.g. calibration/calibrated.toml) gives: its
    ``[params]``, which the scenario's own ``[params]`` then override, and the posterior sample
    it names with ``posterior = "FILE.csv"`` (relative to that file), or None. Only the
    sample's existence is checked here; batches read and check it."""
    if "calibration" not in raw:
        return {}, None
    at = root.child("calibration")
    calib = _named_file(path, raw["calibration"], at, roots)
    table = _read_toml(calib, at)
    calib_at = _At(calib, "params")
    params = {
        k: (_param(k, v, calib_at.child(k)), calib_at.child(k))
        for k, v in _table(table.get("params", {}), calib_at).items()
    }
    if "posterior" not in table:
        return params, None
    where = _At(calib, "posterior")
    value = table["posterior"]
    if not isinstance(value, str) or not value.endswith(".csv"):
        raise where.error("must name a .csv posterior sample, relative to this file", value)
    found = (calib.parent / value).resolve()
    if not found.is_file():
        raise where.error(f"no such file: {found}", value)
    return params, found


def _parse_schedule(name: str, table: object, at: _At) -> list[tuple[date, float]]:
    if name not in PARAMS:
        raise at.error(f"unknown parameter{_hint(name, PARAMS)}; only registry parameters")
    if name in CONSTRUCTION_ONLY:
        raise at.error(
            "cannot be scheduled: the model reads it only when a run starts; set it in [params] "
            "instead (parameters that cannot be scheduled: " + ", ".join(CONSTRUCTION_ONLY) + ")"
        )
    steps = [(_date_key(d, at), _param(name, v, at.child(d))) for d, v in _table(table, at).items()]
    if not steps:
        raise at.error('needs at least one "YYYY-MM-DD" = value entry')
    return sorted(steps)


def _parse_sector(table: dict[str, Any], at: _At) -> dict[str, _Tagged]:
    _keys(table, _SECTOR_KEYS, at)
    # The name is the merge key across extends, so every entry needs it, even an override.
    _required(table, ["name"], at)
    checks: dict[str, Callable[[Any, _At], Any]] = {
        "name": _str,
        "anchors": _str_list,
        "russia_units": _units,
        "ukraine_units": _units,
        "russia_posture": lambda v, a: _choice(v, a, POSTURES),
        "ukraine_posture": lambda v, a: _choice(v, a, POSTURES),
        "russia_objective": _str,
        "ukraine_objective": _str,
        "russia_fortification": _fortification,
        "ukraine_fortification": _fortification,
        "russia_own_soil_only": _bool,
        "ukraine_own_soil_only": _bool,
        "russia_reserves_sent": _bool,
        "ukraine_reserves_sent": _bool,
    }
    return {k: (checks[k](v, at.child(k)), at.child(k)) for k, v in table.items()}


def _fortification(value: object, at: _At) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3:
        raise at.error("allowed range is [0, 3] (0 none, 1 hasty, 2 prepared, 3 fortified)", value)
    return float(value)


def _parse_event(table: dict[str, Any], at: _At) -> dict[str, _Tagged]:
    _keys(table, _ALL_EVENT_KEYS, at)
    _required(table, ["date", "kind", "side"], at)
    kind = _choice(table["kind"], at.child("kind"), EVENT_KINDS)
    for key in table:
        if key not in _EVENT_COMMON and key not in _EVENT_KEYS[kind]:
            raise at.child(key).error(
                f"not used by kind {_show(kind)}, which takes: "
                + ", ".join(_EVENT_COMMON + _EVENT_KEYS[kind])
            )
    _required(table, _EVENT_REQUIRED[kind], at, f" for kind {_show(kind)}")
    checks = {
        "date": _date,
        "kind": lambda v, a: v,
        "side": lambda v, a: _choice(v, a, SIDES),
        "surprise": _bool,
        "sector": _str,
        "from_sector": _str,
        "to_sector": _str,
        "units": lambda v, a: _units(v, a, 1),
        "posture": lambda v, a: _choice(v, a, POSTURES),
        "objective": _str,
    }
    fields = {k: (checks[k](v, at.child(k)), at.child(k)) for k, v in table.items()}
    if kind == "redeploy" and fields["from_sector"][0] == fields["to_sector"][0]:
        raise at.child("to_sector").error("must differ from from_sector", fields["to_sector"][0])
    return fields


def _resolve(layers: list[_Layer], place_names: Collection[str] | None) -> ScenarioSpec:
    leaf = layers[-1].path
    top: dict[str, _Tagged] = {}
    params: dict[str, _Tagged] = {}
    schedule: dict[str, _Tagged] = {}
    sectors: dict[str, tuple[dict[str, _Tagged], _At]] = {}
    events: list[tuple[dict[str, _Tagged], _At]] = []
    holds: list[tuple[dict[str, _Tagged], _At]] = []
    assumptions: list[str] = []
    posterior: Path | None = None
    for layer in layers:  # root first, so children override
        if layer.names_calibration:
            posterior = layer.posterior
        if "assumptions" in layer.top:  # a child adds its own to what it extends
            assumptions.extend(layer.top["assumptions"][0])
        top.update(layer.top)
        params.update(layer.params)
        schedule.update(layer.schedule)
        for fields, at in layer.sectors:
            name = fields["name"][0]
            if name in sectors:
                sectors[name][0].update(fields)
            else:
                sectors[name] = (dict(fields), at)
        events.extend(layer.events)
        holds.extend(layer.holds)

    why = " (set in neither this file nor any it extends)" if len(layers) > 1 else ""
    _required(top, _TOP_REQUIRED, _At(leaf, ""), why)
    start, end = top["start"][0], top["end"][0]
    if end <= start:
        raise top["end"][1].error(f"must be after start ({start})", end)
    if not sectors:
        raise _At(leaf, "sector").error("at least one [[sector]] is required" + why)

    sector_specs = []
    for fields, at in sectors.values():
        _required(fields, _SECTOR_REQUIRED, at, why)
        sector_specs.append(SectorSpec(**{k: v for k, (v, _) in fields.items()}))

    event_specs = []
    for fields, _ in events:
        day, day_at = fields["date"]
        if not start <= day <= end:
            raise day_at.error(f"outside the scenario's dates [{start}, {end}]", day)
        for key in ("sector", "from_sector", "to_sector"):
            if key in fields and fields[key][0] not in sectors:
                value, where = fields[key]
                raise where.error(
                    f"no such sector{_hint(value, sectors)}; sectors: {', '.join(sectors)}", value
                )
        event_specs.append((EventSpec(**{k: v for k, (v, _) in fields.items()}), fields))
    event_specs.sort(key=lambda pair: pair[0].date)  # stable: same-day events keep file order
    _check_redeploys(sector_specs, event_specs)
    _check_map_date(start, top["initial_control"][0], top["start"][1])

    if place_names is not None:
        _check_places(sectors.values(), set(place_names))
        named = [fields["objective"] for _, fields in event_specs if "objective" in fields]
        named += [fields["place"] for fields, _ in holds]
        for place, where in named:
            _check_place(place, where, set(place_names))

    return _hashed(
        ScenarioSpec(
            name=top["name"][0],
            description=top.get("description", ("", None))[0],
            path=leaf,
            start=start,
            end=end,
            initial_control=top["initial_control"][0],
            params=Params({k: v for k, (v, _) in params.items()}),
            schedule={k: v for k, (v, _) in schedule.items()},
            sectors=tuple(sector_specs),
            events=tuple(e for e, _ in event_specs),
            holds=tuple(HoldSpec(**{k: v for k, (v, _) in f.items()}) for f, _ in holds),
            assumptions=tuple(dict.fromkeys(assumptions)),
            posterior=posterior,
        )
    )


def _check_redeploys(
    sectors: list[SectorSpec], events: list[tuple[EventSpec, dict[str, _Tagged]]]
) -> None:
    """No redeploy moves more units than its sector can have by then.

    The bound is the order of battle plus what events bring in and take out before that day
    (losses only lower it): a redeploy above it cannot be meant, and would quietly move fewer.
    """
    have: dict[tuple[str, str | None], Any] = {  # EventSpec fields are optional by kind
        (side, s.name): getattr(s, f"{side}_units") for s in sectors for side in SIDES
    }
    for ev, fields in events:
        if ev.kind == "reinforce":
            have[ev.side, ev.sector] += ev.units
        elif ev.kind == "redeploy":
            n = have[ev.side, ev.from_sector]
            if ev.units > n:
                raise fields["units"][1].error(
                    f"more units than {ev.side} can have in sector {ev.from_sector!r} on "
                    f"{ev.date} ({n}: its order of battle plus earlier events)",
                    ev.units,
                )
            have[ev.side, ev.from_sector] -= ev.units
            have[ev.side, ev.to_sector] += ev.units


def _check_places(sectors: Iterable[tuple[dict[str, _Tagged], _At]], places: set[str]) -> None:
    for fields, _ in sectors:
        anchors, at = fields["anchors"]
        named = [(a, at.item(i)) for i, a in enumerate(anchors)]
        named += [fields[k] for k in ("russia_objective", "ukraine_objective") if k in fields]
        for place, where in named:
            _check_place(place, where, places)


def _check_place(place: str, where: _At, places: set[str]) -> None:
    if place not in places:
        close = difflib.get_close_matches(place, places, n=3, cutoff=0.6)
        alts = f"; close matches: {', '.join(close)}" if close else ""
        raise where.error(f"not a theatre place name{alts}", place)
