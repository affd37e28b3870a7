"""What a scenario is once read: sectors, events, holds and the scenario itself (frozen dataclasses
with a content hash), and the constants their fields take.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sim.params import PARAMS, Params
from sim.scenario_fields import (
    _At,
    _check_map_date,
    _control,
    _date,
    _hint,
    _number,
    _param,
)

POSTURES: tuple[str, ...] = ("attack", "hold")


SIDES: tuple[str, ...] = ("russia", "ukraine")


EVENT_KINDS: tuple[str, ...] = ("redeploy", "reinforce", "posture", "objective")


# Parameters the model reads only when it is built (the length of the recruits' training
# pipeline, the collapse window's deque), so a [schedule] of them would silently do nothing.
CONSTRUCTION_ONLY = ("training_delay_days", "collapse_window_days")


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
    russia_reserves_sent, ukraine_reserves_sent : bool
        Whether the side's theatre reserves (and units lent by its quiet sectors) may be sent
        to the sector; false where the scenario's events alone set its force there (a force
        formed for that front, not drawn from the theatre); default true.
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
    russia_reserves_sent: bool = True
    ukraine_reserves_sent: bool = True


@dataclass(frozen=True)
class EventSpec:
    """A dated order executed by one side's command.

    Attributes
    ----------
    date : datetime.date
    kind : {"redeploy", "reinforce", "posture", "objective"}
        ``redeploy`` moves ``units`` from ``from_sector`` to ``to_sector``; ``reinforce`` adds
        ``units`` new units to ``sector``; ``posture`` changes ``sector``'s posture;
        ``objective`` turns ``sector``'s attack toward the place ``objective``.
    side : {"russia", "ukraine"}
    sector : str or None
        Target sector of ``reinforce``, ``posture`` and ``objective``.
    from_sector, to_sector : str or None
        Source and target of ``redeploy``.
    units : int or None
        Units moved or added (``redeploy``, ``reinforce``).
    posture : {"attack", "hold"} or None
        New posture in the receiving sector (required for ``posture``).
    surprise : bool
        The receiving side attacks with surprise that day.
    objective : str or None
        The place the sector's attack turns toward (``objective``).
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
    objective: str | None = None

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
    # The calibration's posterior sample (``posterior`` in the file ``calibration`` names), which
    # batches draw each replication's parameters from; not hashed (a batch records its digest).
    posterior: Path | None = None

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
