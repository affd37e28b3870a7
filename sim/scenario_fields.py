"""Readers of single scenario values: each checks one TOML value and names the file and key of a
bad one.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sim import validate
from sim.params import PARAMS

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


_NO_VALUE = object()


@dataclass(frozen=True)
class _At:
    """Where a value sits: a file and a key path in it (``sector[2].russia_units``)."""

    file: Path
    key: str

    def child(self, key: str) -> _At:
        """The location of key ``key`` under this one."""
        shown = key if _BARE_KEY.fullmatch(key) else json.dumps(key)
        return _At(self.file, f"{self.key}.{shown}" if self.key else shown)

    def item(self, index: int) -> _At:
        """The location of item ``i`` of this array."""
        return _At(self.file, f"{self.key}[{index}]")

    def error(self, problem: str, value: object = _NO_VALUE) -> ScenarioError:
        """A ScenarioError naming this file and key (and ``value``, if given) with ``message``."""
        shown = "" if value is _NO_VALUE else f" = {_show(value)}"
        return ScenarioError(f"{self.file}: {self.key}{shown}: {problem}")


def _show(value: object) -> str:
    """Render a value roughly as it is written in TOML."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return repr(value)


def _hint(name: str, known: Iterable[str], n: int = 1) -> str:
    close = difflib.get_close_matches(name, list(known), n=n, cutoff=0.5)
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)"


def _one_of(choices: Iterable[str]) -> str:
    return "one of " + ", ".join(json.dumps(c) for c in choices)


def _keys(table: Mapping[str, Any], known: Collection[str], at: _At) -> None:
    """Reject keys of ``table`` not in ``known``, naming the nearest known key."""
    for key in table:
        if key not in known:
            raise at.child(key).error(
                f"unknown key{_hint(key, known)}; allowed: {', '.join(known)}"
            )


def _required(table: Mapping[str, Any], keys: Iterable[str], at: _At, why: str = "") -> None:
    for key in keys:
        if key not in table:
            raise at.child(key).error(f"required key missing{why}")


def _table(value: object, at: _At) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise at.error(f"must be a table ([{at.key}])", value)
    return value


def _tables(value: object, at: _At) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise at.error(f"must be an array of tables ([[{at.key}]])", value)
    return value


def _str(value: object, at: _At) -> str:
    if not isinstance(value, str) or not value.strip():
        raise at.error("must be a non-empty string", value)
    return value


def _text(value: object, at: _At) -> str:
    if not isinstance(value, str):
        raise at.error("must be a string", value)
    return value


def _str_list(value: object, at: _At) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise at.error('must be a non-empty list of strings, like ["Avdiivka"]', value)
    return tuple(_str(v, at.item(i)) for i, v in enumerate(value))


def _int(value: object, at: _At, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise at.error(f"must be a whole number >= {low}", value)
    return value


def _units(value: object, at: _At, low: int = 0) -> int:
    """A number of units: whole, >= ``low`` and within :data:`sim.validate.UNITS`."""
    n = _int(value, at, low)
    try:
        validate.UNITS.check(n, f"{at.file}: {at.key}")
    except validate.InputError as err:
        raise ScenarioError(str(err)) from None
    return n


def _bool(value: object, at: _At) -> bool:
    if not isinstance(value, bool):
        raise at.error("must be true or false", value)
    return value


def _choice(value: object, at: _At, choices: Collection[str]) -> str:
    if value not in choices:
        hint = _hint(value, choices) if isinstance(value, str) else ""
        raise at.error(f"must be {_one_of(choices)}{hint}", value)
    return value  # type: ignore[return-value]


def _date(value: object, at: _At) -> date:
    """A TOML date, or a ``YYYY-MM-DD`` string (datetimes are rejected: runs are by day)."""
    try:
        return _iso_date(value)
    except ValueError as err:
        raise at.error(str(err), value) from None


def _date_key(key: str, at: _At) -> date:
    """A table key that must be a date (schedule entries); the key is the bad value."""
    try:
        return _iso_date(key)
    except ValueError as err:
        raise at.child(key).error(f"date key: {err}") from None


def _iso_date(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as err:
            raise ValueError(f"not a valid date ({err})") from None
    raise ValueError("must be a date written YYYY-MM-DD")


def _control(value: object, at: _At) -> str:
    return _choice(_date(value, at).isoformat(), at, CONTROL_DATES)


def _number(value: object, at: _At) -> float:
    """A number, or a string spelling one (command-line values arrive as strings)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
        except ValueError:
            raise at.error("not a number", value) from None
    return value  # type: ignore[return-value]  # Param.check rejects non-numbers


def _param(name: str, value: object, at: _At) -> float:
    if name not in PARAMS:
        raise at.error(f"unknown parameter{_hint(name, PARAMS)}; see `frontline params`")
    try:
        return PARAMS[name].check(value)
    except ValueError as err:
        raise at.error(str(err), value) from None


# The dated control lines the theatre is built with (data/frontlines/control_<date>.geojson).
CONTROL_DATES: tuple[str, ...] = ("2023-01-01", "2024-01-01", "2024-08-06", "2024-11-20")


# How far a run's start may lie from the date of the control map it starts from: further,
# the "initial line" is fiction (a 1900 start with the 2024 line is a typo, not a question).
MAP_SLACK_DAYS = 366


class ScenarioError(ValueError):
    """A scenario (or an override of one) that cannot be used.

    The message names the file, the key path, the bad value and what is allowed.
    """


def _check_map_date(start: date, control: str, at: _At) -> None:
    """The start lies within :data:`MAP_SLACK_DAYS` of the initial control map's date."""
    map_day = date.fromisoformat(control)
    if abs((start - map_day).days) > MAP_SLACK_DAYS:
        low = map_day - timedelta(days=MAP_SLACK_DAYS)
        high = map_day + timedelta(days=MAP_SLACK_DAYS)
        raise at.error(
            f"does not agree with the initial control map of {control}: a start must lie within "
            f"{MAP_SLACK_DAYS} days of its map ({low} to {high}); choose initial_control "
            f"from {', '.join(CONTROL_DATES)}",
            start,
        )


_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
