"""Scenarios: TOML files checked against the parameter registry, with ``extends``.

A scenario gives the exogenous inputs of one run: dates, the initial line, parameter overrides
(optionally scheduled by date), the order of battle by sector and dated events. The loader
turns a file (and the files it extends) into a frozen :class:`ScenarioSpec`. The model reads
only that object, never the TOML.

Every bad input raises :class:`ScenarioError`. Its message gives the file, the key path
(``sector[2].russia_units``), the bad value and what is allowed. Unknown keys get the nearest
known name, so a typo cannot quietly turn into a default.

File format (all keys; ``extends`` and ``description`` are optional)::

    extends = "baseline_2024.toml"     # relative to this file: inherit, then override
    name = "kursk_2024"
    description = "..."
    assumptions = ["..."]              # what a forecast assumes (reports state them)
    start = 2024-01-01                 # TOML date or "YYYY-MM-DD"
    end = 2024-12-31
    initial_control = "2024-01-01"     # one of CONTROL_DATES

    [params]                           # registry parameters (sim.params)
    russia_recruits_per_day = 1100

    [schedule.russia_shells_per_day]   # value in force from each date on
    "2024-01-01" = 50000

    [[sector]]                         # name, anchors, russia_units, ukraine_units required
    name = "Pokrovsk"
    anchors = ["Avdiivka"]
    russia_units = 20
    ukraine_units = 14
    russia_posture = "attack"          # "attack" | "hold" (default "hold")
    ukraine_posture = "hold"
    russia_objective = "Pokrovsk"      # optional place name
    ukraine_objective = "Donetsk"

    [[event]]                          # kinds: redeploy, reinforce, posture
    date = 2024-08-06
    kind = "redeploy"
    side = "ukraine"
    from_sector = "Pokrovsk"
    to_sector = "Kursk"
    units = 4
    surprise = true

``extends`` merges ``[params]`` and ``[schedule]`` key by key (a child's schedule of a key
replaces the parent's), merges ``[[sector]]`` entries by ``name`` (field by field) and
appends the child's ``[[event]]`` list to the parent's.
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import hashlib
import json
import os
import re
import stat
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sim
from sim import validate
from sim.params import PARAMS, Params

__all__ = [
    "CONTROL_DATES",
    "EVENT_KINDS",
    "POSTURES",
    "SIDES",
    "EventSpec",
    "ScenarioError",
    "ScenarioSpec",
    "SectorSpec",
    "find_scenario",
    "load_scenario",
]

# The dated control lines the theatre is built with (data/frontlines/control_<date>.geojson).
CONTROL_DATES: tuple[str, ...] = ("2023-01-01", "2024-01-01", "2024-08-06", "2024-11-20")
POSTURES: tuple[str, ...] = ("attack", "hold")
SIDES: tuple[str, ...] = ("russia", "ukraine")
EVENT_KINDS: tuple[str, ...] = ("redeploy", "reinforce", "posture")

_TOP_KEYS = tuple(
    "extends calibration name description assumptions start end initial_control params schedule"
    " sector event hold".split()
)
_TOP_REQUIRED = ("name", "start", "end", "initial_control")
_SECTOR_KEYS = tuple(
    "name anchors russia_units ukraine_units russia_posture ukraine_posture"
    " russia_objective ukraine_objective russia_fortification ukraine_fortification"
    " russia_own_soil_only ukraine_own_soil_only".split()
)
_SECTOR_REQUIRED = ("name", "anchors", "russia_units", "ukraine_units")
_EVENT_COMMON = ("date", "kind", "side", "surprise")
# Which keys each kind of event takes (besides the common ones) and which of those it needs.
_EVENT_KEYS = {
    "redeploy": ("from_sector", "to_sector", "units", "posture"),
    "reinforce": ("sector", "units", "posture"),
    "posture": ("sector", "posture"),
}
_EVENT_REQUIRED = {
    "redeploy": ("from_sector", "to_sector", "units"),
    "reinforce": ("sector", "units"),
    "posture": ("sector", "posture"),
}
_ALL_EVENT_KEYS = tuple(dict.fromkeys(_EVENT_COMMON + sum(_EVENT_KEYS.values(), ())))
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Parameters the model reads only when it is built (the length of the recruits' training
# pipeline, the collapse window's deque), so a [schedule] of them would silently do nothing.
CONSTRUCTION_ONLY = ("training_delay_days", "collapse_window_days")
# How far a run's start may lie from the date of the control map it starts from: further,
# the "initial line" is fiction (a 1900 start with the 2024 line is a typo, not a question).
MAP_SLACK_DAYS = 366
# Files a scenario may name (extends, calibration) may lie under these, besides the scenario's
# own directory and any the user allows; and no file read as a scenario may be larger.
_REPO = Path(sim.__file__).resolve().parents[1]
TRUSTED_DIRS: tuple[Path, ...] = (_REPO / "calibration", _REPO / "scenarios")
MAX_FILE_BYTES = 1 << 20
_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ScenarioError(ValueError):
    """A scenario (or an override of one) that cannot be used.

    The message names the file, the key path, the bad value and what is allowed.
    """


# --------------------------------------------------------------------------------------------
# The public, resolved objects


@dataclass(frozen=True)
class SectorSpec:
    """Order of battle and intent on one stretch of front at the start.

    Attributes
    ----------
    name : str
        Sector name, unique in the scenario; events refer to it.
    anchors : tuple of str
        Theatre place names the sector is built around.
    russia_units, ukraine_units : int
        Number of manoeuvre units (regiment/brigade equivalents) each side has there.
    russia_posture, ukraine_posture : {"attack", "hold"}
    russia_objective, ukraine_objective : str or None
        Place each side attacks toward, if any.
    russia_fortification, ukraine_fortification : float
        Fortification (0 none, 1 hasty, 2 prepared, 3 fortified) of each side's front cells in
        the sector at the start; default 1 (hasty positions after a year of war).
    russia_own_soil_only, ukraine_own_soil_only : bool
        The side's attacks in the sector stop at the state border: it takes back its own soil
        but assaults no cell on the other's (a counter-attack to clear an incursion); default
        false.
    """

    name: str
    anchors: tuple[str, ...]
    russia_units: int
    ukraine_units: int
    russia_posture: str = "hold"
    ukraine_posture: str = "hold"
    russia_objective: str | None = None
    ukraine_objective: str | None = None
    russia_fortification: float = 1.0
    ukraine_fortification: float = 1.0
    russia_own_soil_only: bool = False
    ukraine_own_soil_only: bool = False


@dataclass(frozen=True)
class EventSpec:
    """A dated order executed by one side's command.

    Attributes
    ----------
    date : datetime.date
    kind : {"redeploy", "reinforce", "posture"}
        ``redeploy`` moves ``units`` from ``from_sector`` to ``to_sector``; ``reinforce`` adds
        ``units`` new units to ``sector``; ``posture`` changes ``sector``'s posture.
    side : {"russia", "ukraine"}
    sector : str or None
        Target sector of ``reinforce`` and ``posture``.
    from_sector, to_sector : str or None
        Source and target of ``redeploy``.
    units : int or None
        Units moved or added (``redeploy``, ``reinforce``).
    posture : {"attack", "hold"} or None
        New posture in the receiving sector (required for ``posture``).
    surprise : bool
        The receiving side attacks with surprise that day.
    """

    date: date
    kind: str
    side: str
    sector: str | None = None
    from_sector: str | None = None
    to_sector: str | None = None
    units: int | None = None
    posture: str | None = None
    surprise: bool = False

    @property
    def target_sector(self) -> str:
        """The sector the event acts on (``to_sector`` of a redeploy, else ``sector``)."""
        return self.to_sector if self.kind == "redeploy" else self.sector  # type: ignore[return-value]


@dataclass(frozen=True)
class HoldSpec:
    """A correction to the initial control map: ``side`` holds every node within
    ``radius_km`` of ``place`` (on ``soil``'s side of the border only, if given).

    For ground the dated polygons do not draw, such as Ukraine's Kursk salient (the polygons
    cover occupied Ukraine only).
    """

    side: str
    place: str
    radius_km: float
    soil: str | None = None


@dataclass(frozen=True)
class ScenarioSpec:
    """A fully resolved, validated scenario (``extends`` applied, defaults filled in).

    Not called ``Scenario`` because Mesa reserves that name for its own scenario objects.
    Build it with :func:`load_scenario`; derive variants with :meth:`with_overrides` and
    :meth:`with_end`, which re-validate and recompute ``content_hash``.

    Attributes
    ----------
    name, description : str
    path : pathlib.Path
        The file loaded (the last of its ``extends`` chain).
    start, end : datetime.date
        Dates of the first and last control maps of a run (``end > start``): a run steps
        ``(end - start).days`` days, and its gains are the difference of those two maps.
    initial_control : str
        ISO date of the control line the run starts from, one of :data:`CONTROL_DATES`.
    params : sim.params.Params
        Registry defaults with the scenario's ``[params]``.
    schedule : dict of str to list of (date, float)
        For scheduled parameters, the value in force from each date on, sorted by date.
    sectors : tuple of SectorSpec
    events : tuple of EventSpec
        Sorted by date; events of the same date keep file order.
    assumptions : tuple of str
        What a forecast assumes beyond its documented inputs (``assumptions = [...]``; a file
        adds its own to those of the file it extends). Reports state them.
    content_hash : str
        SHA-256 of a canonical JSON of everything above except ``path``: two specs with the
        same hash are the same inputs, wherever their files live.
    """

    name: str
    description: str
    path: Path
    start: date
    end: date
    initial_control: str
    params: Params
    schedule: dict[str, list[tuple[date, float]]]
    sectors: tuple[SectorSpec, ...]
    events: tuple[EventSpec, ...]
    holds: tuple[HoldSpec, ...] = ()
    assumptions: tuple[str, ...] = ()
    content_hash: str = ""

    # Params and dict fields are unhashable; the content hash identifies the content anyway.
    def __hash__(self) -> int:
        return hash(self.content_hash)

    def param_on(self, name: str, day: date) -> float:
        """Return the value of parameter ``name`` in force on ``day``.

        That is the latest scheduled value dated on or before ``day``; before the first
        scheduled date, or for an unscheduled parameter, it is ``params[name]``.

        Examples
        --------
        >>> spec.schedule["russia_shells_per_day"]  # doctest: +SKIP
        [(datetime.date(2024, 1, 1), 50000), (datetime.date(2024, 6, 1), 30000)]
        >>> spec.param_on("russia_shells_per_day", date(2024, 7, 1))  # doctest: +SKIP
        30000
        """
        if name not in self.params:
            raise KeyError(f"unknown parameter '{name}'{_hint(name, PARAMS)}")
        steps = self.schedule.get(name)
        if steps:
            i = bisect.bisect_right([d for d, _ in steps], day)
            if i:
                return steps[i - 1][1]
        return self.params[name]

    def with_overrides(self, pairs: Mapping[str, str | float]) -> ScenarioSpec:
        """Return a copy with ``--set KEY=VALUE`` overrides applied.

        Parameters
        ----------
        pairs : mapping
            Registry parameter names (the value replaces ``params[KEY]`` and drops any schedule
            of KEY), or ``start``/``end`` (ISO dates) or ``initial_control``. Values may be
            strings as typed on the command line.

        Raises
        ------
        ScenarioError
            Unknown key (with the nearest name), non-numeric or out-of-range value, bad date.
            The message names the ``--set`` key it came from.
        """
        params = dict(self.params)
        schedule = dict(self.schedule)
        start, end, control = self.start, self.end, self.initial_control
        known = [*PARAMS, "start", "end", "initial_control"]
        for key, raw in pairs.items():
            at = _At(self.path, f"--set {key}")
            if key in PARAMS:
                params[key] = _param(key, _number(raw, at), at)
                schedule.pop(key, None)
            elif key == "start":
                start = _date(raw, at)
            elif key == "end":
                end = _date(raw, at)
            elif key == "initial_control":
                control = _control(raw, at)
            else:
                raise at.error(f"unknown key{_hint(key, known)}; see `frontline params`")
        if end <= start:
            which = "start" if "start" in pairs else "end"
            raise _At(self.path, f"--set {which}").error(
                f"start ({start}) must be before end ({end})", start if which == "start" else end
            )
        which = "start" if "start" in pairs else "initial_control"
        _check_map_date(start, control, _At(self.path, f"--set {which}"))
        for i, ev in enumerate(self.events):
            if ev.date < start:
                raise _At(self.path, "--set start").error(
                    f"event[{i}] ({ev.kind}) is dated {ev.date}, before the new start", start
                )
        spec = self._evolve(
            params=Params(params), schedule=schedule, start=start, initial_control=control
        )
        return spec._truncate(end) if end < self.end else spec._evolve(end=end)

    def with_end(self, d: date) -> ScenarioSpec:
        """Return a copy that stops on ``d`` (for ``--until``); later events are dropped.

        ``d`` must be after ``start`` and no later than ``end``.
        """
        if not self.start < d <= self.end:
            raise _At(self.path, "until").error(
                f"a run must end after the scenario's start ({self.start}) and no later "
                f"than its end ({self.end})",
                d,
            )
        return self._truncate(d)

    def _truncate(self, d: date) -> ScenarioSpec:
        # Events after the last day would never fire; keeping them would break the invariant
        # that every event lies within [start, end].
        return self._evolve(end=d, events=tuple(e for e in self.events if e.date <= d))

    def _evolve(self, **changes: Any) -> ScenarioSpec:
        return _hashed(dataclasses.replace(self, **changes))

    def to_dict(self) -> dict[str, Any]:
        """Return the resolved content as plain JSON-ready data (dates as ISO strings)."""
        return {
            "name": self.name,
            "description": self.description,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "initial_control": self.initial_control,
            # float() so a whole-number parameter hashes the same whether given as 30 or 30.0
            "params": {k: float(v) for k, v in self.params.items()},
            "schedule": {
                k: [[d.isoformat(), float(v)] for d, v in steps]
                for k, steps in sorted(self.schedule.items())
            },
            "sectors": [dataclasses.asdict(s) for s in self.sectors],
            "events": [{**dataclasses.asdict(e), "date": e.date.isoformat()} for e in self.events],
            "holds": [dataclasses.asdict(h) for h in self.holds],
            # Only when stated, so scenarios without assumptions keep their hash.
            **({"assumptions": list(self.assumptions)} if self.assumptions else {}),
        }


def _hashed(spec: ScenarioSpec) -> ScenarioSpec:
    text = json.dumps(spec.to_dict(), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).hexdigest()
    return dataclasses.replace(spec, content_hash=digest)


# --------------------------------------------------------------------------------------------
# Finding and loading files


def find_scenario(ref: str | Path, cwd: Path | None = None) -> Path:
    """Resolve a scenario reference to a file.

    Parameters
    ----------
    ref : str or Path
        A path to a TOML file, or a bare name such as ``baseline_2024`` looked up as
        ``scenarios/<name>.toml`` in ``cwd`` and then in the repository next to the package.
    cwd : Path, optional
        Directory for relative lookups; the current directory by default.

    Raises
    ------
    ScenarioError
        Nothing found; the message lists where it looked and the nearest known names.
    """
    cwd = Path.cwd() if cwd is None else cwd
    path = Path(ref)
    candidates = [path if path.is_absolute() else cwd / path]
    dirs = [cwd / "scenarios", Path(sim.__file__).resolve().parents[1] / "scenarios"]
    if len(path.parts) == 1:  # a bare name, with or without ".toml"
        candidates += [d / f"{path.stem}.toml" for d in dirs]
    candidates = list(dict.fromkeys(c.resolve() for c in candidates))  # cwd may be the repo
    for c in candidates:
        if c.is_file():
            return c
    known = sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.toml")})
    raise ScenarioError(
        f"scenario '{ref}' not found (looked for {', '.join(str(c) for c in candidates)})"
        f"{_hint(path.stem, known)}; known scenarios: {', '.join(known) or 'none'}"
    )


def load_scenario(
    path: str | Path,
    place_names: Collection[str] | None = None,
    allow: Iterable[str | Path] = (),
) -> ScenarioSpec:
    """Load, merge (``extends``) and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        The TOML file.
    place_names : collection of str, optional
        Known theatre place names. If given, every sector anchor and objective must be one.
    allow : iterable of path, optional
        More directories whose files ``extends`` and ``calibration`` may name. By default they
        may name only ``.toml`` files under the directory of ``path`` and under the project's
        ``calibration/`` and ``scenarios/`` (:data:`TRUSTED_DIRS`).

    Returns
    -------
    ScenarioSpec

    Raises
    ------
    ScenarioError
        For any bad input: missing file, malformed TOML, unknown key, wrong type, value out
        of range, inconsistent dates or sectors, a file outside the allowed directories or not
        a regular ``.toml`` file. The message says where and what is allowed.

    Examples
    --------
    >>> spec = load_scenario("scenarios/baseline_2024.toml")  # doctest: +SKIP
    >>> spec.param_on("russia_shells_per_day", spec.start)  # doctest: +SKIP
    50000
    """
    path = Path(path)
    roots = (path.resolve().parent, *TRUSTED_DIRS, *(Path(a).resolve() for a in allow))
    chain = _read_chain(path, roots)
    layers = [_parse_layer(p, raw, roots) for p, raw in chain]
    return _resolve(layers, place_names)


def _read_chain(path: Path, roots: tuple[Path, ...]) -> list[tuple[Path, dict[str, Any]]]:
    """Read a file and the files it extends; return them root first."""
    chain: list[tuple[Path, dict[str, Any]]] = []
    seen: list[Path] = []
    at: _At | None = None  # where the current file was named, for a missing-file error
    while True:
        real = path.resolve()
        if real in seen:
            loop = " -> ".join(str(p) for p in [*seen, real])
            raise ScenarioError(f"{chain[-1][0]}: extends: cycle of extends: {loop}")
        seen.append(real)
        raw = _read_toml(path, at)
        chain.append((path, raw))
        if "extends" not in raw:
            return chain[::-1]
        at = _At(path, "extends")
        path = _named_file(path, raw["extends"], at, roots)


def _named_file(parent: Path, value: object, at: _At, roots: tuple[Path, ...]) -> Path:
    """The file a scenario names (``extends``, ``calibration``), relative to the naming file.

    Only ``.toml`` files under ``roots`` may be named: a scenario is data from anywhere, and
    must not make frontline read (and echo in errors) any file of the user's.
    """
    name = _str(value, at)
    if "\0" in name:
        raise at.error("a file name cannot contain a NUL character", name)
    path = parent.parent / name
    real = path.resolve()
    if real.suffix != ".toml":
        raise at.error("must name a .toml file", name)
    if not any(real.is_relative_to(r) for r in roots):
        shown = ", ".join(str(r) for r in roots)
        raise at.error(
            f"{real} is outside the directories a scenario may read ({shown}); "
            "to allow another directory, pass --allow-path DIR",
            name,
        )
    return path


def _read_toml(path: Path, named_at: _At | None) -> dict[str, Any]:
    """Parse a TOML file, refusing anything but a regular file of at most MAX_FILE_BYTES.

    Opened non-blocking and checked with ``fstat`` on the open descriptor, so a FIFO (which
    would block) or a device (``/dev/zero``, which never ends) is refused before any read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if named_at is not None:
            raise named_at.error(f"file not found: {path}", str(path.name)) from None
        raise ScenarioError(f"{path}: scenario file not found") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a directory, not a scenario file") from None
    except OSError as err:
        raise ScenarioError(f"{path}: cannot open ({err.strerror})") from None
    # Checked before fdopen, which refuses a directory (Linux opens one read-only) with an
    # IsADirectoryError of its own.
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ScenarioError(f"{path}: is a directory, not a scenario file")
        raise ScenarioError(f"{path}: not a regular file (a device, FIFO or socket)")
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB: not a scenario")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ScenarioError(
            f"{path}: not UTF-8 text (byte 0x{data[err.start]:02x} on line {line}); "
            "TOML files must be UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        # tomllib's message ends with "(at line L, column C)".
        raise ScenarioError(f"{path}: malformed TOML: {err}") from None
    except RecursionError:  # tomllib recurses once per level of [[[...]]] nesting
        raise ScenarioError(f"{path}: malformed TOML: arrays or tables nested too deeply") from None


# --------------------------------------------------------------------------------------------
# Error locations and one validator per kind of check


_NO_VALUE = object()


@dataclass(frozen=True)
class _At:
    """Where a value sits: a file and a key path in it (``sector[2].russia_units``)."""

    file: Path
    key: str

    def child(self, key: str) -> _At:
        shown = key if _BARE_KEY.fullmatch(key) else json.dumps(key)
        return _At(self.file, f"{self.key}.{shown}" if self.key else shown)

    def item(self, index: int) -> _At:
        return _At(self.file, f"{self.key}[{index}]")

    def error(self, problem: str, value: object = _NO_VALUE) -> ScenarioError:
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


# --------------------------------------------------------------------------------------------
# One file: local checks (each value on its own). Values keep their location so that checks
# made after merging ``extends`` still point at the file and key that set them.

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

    params = _calibrated_params(path, raw, root, roots)
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
    return _Layer(path, top, params, schedule, sectors, events, holds)


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


def _calibrated_params(
    path: Path, raw: dict[str, Any], root: _At, roots: tuple[Path, ...]
) -> dict[str, _Tagged]:
    """The ``[params]`` of the file named by ``calibration`` (e.g. calibration/calibrated.toml),
    which the scenario's own ``[params]`` then override."""
    if "calibration" not in raw:
        return {}
    at = root.child("calibration")
    calib = _named_file(path, raw["calibration"], at, roots)
    table = _read_toml(calib, at)
    calib_at = _At(calib, "params")
    return {
        k: (_param(k, v, calib_at.child(k)), calib_at.child(k))
        for k, v in _table(table.get("params", {}), calib_at).items()
    }


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
    checks = {
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
    }
    fields = {k: (checks[k](v, at.child(k)), at.child(k)) for k, v in table.items()}
    if kind == "redeploy" and fields["from_sector"][0] == fields["to_sector"][0]:
        raise at.child("to_sector").error("must differ from from_sector", fields["to_sector"][0])
    return fields


# --------------------------------------------------------------------------------------------
# Merging extends and the checks that need the whole scenario


def _resolve(layers: list[_Layer], place_names: Collection[str] | None) -> ScenarioSpec:
    leaf = layers[-1].path
    top: dict[str, _Tagged] = {}
    params: dict[str, _Tagged] = {}
    schedule: dict[str, _Tagged] = {}
    sectors: dict[str, tuple[dict[str, _Tagged], _At]] = {}
    events: list[tuple[dict[str, _Tagged], _At]] = []
    holds: list[tuple[dict[str, _Tagged], _At]] = []
    assumptions: list[str] = []
    for layer in layers:  # root first, so children override
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
        for fields, _ in holds:
            _check_place(*fields["place"], set(place_names))

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
        )
    )


def _check_redeploys(
    sectors: list[SectorSpec], events: list[tuple[EventSpec, dict[str, _Tagged]]]
) -> None:
    """No redeploy moves more units than its sector can have by then.

    The bound is the order of battle plus what events bring in and take out before that day
    (losses only lower it): a redeploy above it cannot be meant, and would quietly move fewer.
    """
    have = {(side, s.name): getattr(s, f"{side}_units") for s in sectors for side in SIDES}
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
