"""The parameter registry: every tunable number of the model, in one table.

Each parameter has a self-explaining name, a unit, a default, an allowed range and one line of
meaning, with its source. The model, the scenario loader, ``frontline params``,
``docs/parameters.md`` and the browser view all read this table; nothing else defines a parameter.

Sources are abbreviated; ``MECHANICS.md`` in the project's shared brief gives them in full
(NPW = Dupuy, *Numbers, Predictions and War*; QJM = his Quantified Judgment Model).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Param:
    """One model parameter.

    Attributes
    ----------
    name : str
        Identifier used in scenarios (``[params]``), ``--set`` and the model.
    unit : str
        Physical unit ("km", "1/day", "-" for dimensionless, ...).
    default : float
        Value used when no scenario sets it.
    low, high : float
        Inclusive allowed range; values outside are rejected on load.
    meaning : str
        One line saying what the parameter does.
    source : str
        Where the default and range come from.
    group : str
        Step phase or topic, for tables and the UI.
    integer : bool
        Whether only whole numbers are allowed.
    calibrated : bool
        True for the few parameters fitted to the calibration targets.
    """

    name: str
    unit: str
    default: float
    low: float
    high: float
    meaning: str
    source: str
    group: str
    integer: bool = False
    calibrated: bool = False

    def check(self, value: object) -> float:
        """Return ``value`` as a number if it is allowed, else raise ``ValueError``."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number in [{self.low:g}, {self.high:g}] {self.unit}")
        # Range first: it also rejects inf and nan, on which int() below would raise
        # OverflowError (not ValueError) or a confusing message.
        if not (self.low <= value <= self.high):
            raise ValueError(f"allowed range is [{self.low:g}, {self.high:g}] {self.unit}")
        if self.integer and float(value) != int(value):
            raise ValueError(f"must be a whole number in [{self.low:g}, {self.high:g}] {self.unit}")
        return int(value) if self.integer else float(value)


def _p(name, unit, default, low, high, meaning, source, group, **kw) -> Param:
    return Param(name, unit, default, low, high, meaning, source, group, **kw)


# The order here is the order of tables and of the UI.
REGISTRY: tuple[Param, ...] = (
    # --- supply (phase 1, M1) ---
    _p(
        "supply_efold_km",
        "km",
        80.0,
        40.0,
        150.0,
        "distance from a working hub over which supply falls by a factor e",
        "Vershinin 2021 (truck reach ~145 km from railheads); press 80-140 km",
        "supply",
    ),
    _p(
        "supply_tether_km",
        "km",
        145.0,
        100.0,
        200.0,
        "no supply arrives farther than this from a working hub",
        "Vershinin 2021",
        "supply",
    ),
    _p(
        "pocket_supply_decay",
        "1/day",
        0.25,
        0.15,
        0.35,
        "daily fraction of a cut-off unit's stocks used up",
        "Russian 2022 units carried 3-5 days of supply (secondary)",
        "supply",
    ),
    _p(
        "supply_power_exponent",
        "-",
        1.0,
        0.5,
        1.5,
        "combat power scales as supply**exponent",
        "sensitivity only: no data link supply to combat",
        "supply",
    ),
    _p(
        "hub_throughput_loss",
        "-",
        0.15,
        0.05,
        0.5,
        "share of a hub's throughput lost to each class of enemy fires that reaches it",
        "sensitivity only",
        "supply",
    ),
    _p(
        "fpv_range_km",
        "km",
        10.0,
        5.0,
        35.0,
        "reach of FPV drones from the enemy front",
        "5-15 km early 2024, 25-35 km by 2025 (press)",
        "supply",
    ),
    _p(
        "tube_artillery_range_km",
        "km",
        25.0,
        15.0,
        40.0,
        "reach of tube artillery from the enemy front",
        "MECHANICS section 8",
        "supply",
    ),
    _p(
        "glide_bomb_range_km",
        "km",
        65.0,
        40.0,
        80.0,
        "reach of glide bombs from the enemy front",
        "MECHANICS section 8",
        "supply",
    ),
    _p(
        "mlrs_range_km",
        "km",
        80.0,
        60.0,
        90.0,
        "reach of rocket artillery from the enemy front",
        "MECHANICS section 8",
        "supply",
    ),
    # --- combat power (phase 3, M2) ---
    _p(
        "frontage_cap_per_km",
        "men/km",
        300.0,
        100.0,
        1000.0,
        "most personnel per km of front that can engage on one front edge",
        "QJM 1-2 m of front per man (upper); 2024 dispersion (lower)",
        "combat",
    ),
    _p(
        "depth_exponent",
        "-",
        0.5,
        0.0,
        1.0,
        "weight of men in depth beyond the frontage cap: power x (density / cap)**exponent",
        "judgement: echelons behind the contact line sustain the pressure with diminishing "
        "returns (0 = only the engaged count, 1 = every man counts)",
        "combat",
    ),
    _p(
        "fires_elasticity",
        "-",
        0.35,
        0.1,
        0.6,
        "elasticity of the force ratio to the ratio of fires delivered",
        "calibrated: the shell ratio is what differs most between 2023 and 2024",
        "combat",
        calibrated=True,
    ),
    _p(
        "glide_bomb_shell_equivalent",
        "shells",
        20.0,
        5.0,
        50.0,
        "one glide bomb counted in 152 mm shell equivalents",
        "sensitivity (no data)",
        "combat",
    ),
    _p(
        "drone_shell_equivalent",
        "shells",
        0.5,
        0.1,
        2.0,
        "one FPV/bomber drone sortie counted in 152 mm shell equivalents",
        "sensitivity (no published conversion)",
        "combat",
    ),
    _p(
        "surprise_multiplier",
        "-",
        2.2,
        1.0,
        2.5,
        "force-ratio multiplier on the first day of a surprise attack, fading to 1 over "
        "surprise_days",
        "Dupuy: complete surprise x2.24 (QJM), x2.2 (TNDM)",
        "combat",
    ),
    _p(
        "surprise_days",
        "days",
        3,
        1,
        30,
        "days over which the effects of a surprise attack fade linearly to nothing",
        "QJM/TNDM: surprise effects last about 3 days against a prepared enemy",
        "combat",
        integer=True,
    ),
    _p(
        "surprise_exploitation",
        "-",
        0.0,
        0.0,
        1.0,
        "share of the transparent-battlefield slowdown a surprise attack escapes on its first day "
        "(fading over surprise_days): 0 none, 1 the full QJM advance rate",
        "scenario input: 0 on a watched front; near 1 against an unwatched, unprepared sector "
        "(Kursk 2024: ~1,000 km2 claimed in about a week, Syrskyi)",
        "advance",
    ),
    _p(
        "max_force_ratio",
        "-",
        6.0,
        3.0,
        20.0,
        "cap on the local force ratio (end of the QJM tables)",
        "NPW tables end at 6:1",
        "combat",
    ),
    # --- attrition (phase 3, M3) ---
    _p(
        "attacker_loss_rate",
        "1/day",
        0.01,
        0.005,
        0.08,
        "attacker's base daily loss fraction of engaged personnel in an assault at 1:1",
        "QJM 2.8%/day at division scale; German 1943 attacking 1.0% (secondary)",
        "attrition",
    ),
    _p(
        "defender_loss_ratio",
        "-",
        0.54,
        0.3,
        1.0,
        "defender's base loss rate as a fraction of the attacker's",
        "QJM 1.5/2.8",
        "attrition",
    ),
    _p(
        "ratio_loss_exponent",
        "-",
        0.4,
        0.25,
        0.6,
        "exponent p of the force ratio in the loss rates (Helmbold law, W = p)",
        "fit to the QJM opposition factor, O(R) ~ R^-0.4",
        "attrition",
    ),
    _p(
        "positional_loss_factor",
        "-",
        0.1,
        0.0,
        0.5,
        "direct-fire losses on a quiet front edge, as a fraction of an assault's",
        "judgement: positional fighting continues between assaults",
        "attrition",
    ),
    _p(
        "fires_lethality",
        "km/shell",
        3.0e-5,
        0.0,
        1.0e-3,
        "per-capita daily loss probability per shell-equivalent per day per km of front",
        "linear (area-fire) Lanchester term; no literature value: calibrated",
        "attrition",
        calibrated=True,
    ),
    _p(
        "intensity_shock_sd",
        "-",
        0.5,
        0.0,
        0.8,
        "s.d. of the log daily intensity shock shared by both sides on an edge",
        "Lauren 1999: clustered, fat-tailed casualties",
        "attrition",
    ),
    # --- advance (phase 4, M4) ---
    _p(
        "advance_slowdown",
        "-",
        0.003,
        0.0005,
        0.08,
        "transparent-battlefield factor: modern opposed advance as a share of the QJM rate",
        "calibrated; CSIS 15-135 m/day main-axis rates in 2024-25",
        "advance",
        calibrated=True,
    ),
    _p(
        "advance_ratio_exponent",
        "-",
        1.05,
        0.8,
        1.3,
        "exponent of the force ratio in the advance rate",
        "fit to NPW advance table",
        "advance",
    ),
    _p(
        "min_advance_ratio",
        "-",
        0.5,
        0.0,
        1.3,
        "no advance below this local force ratio",
        "QJM puts it at 1; but Dupuy Institute data show attackers winning 42% of engagements "
        "at 0.5-1:1, so the success curve below does the work and this is only a floor",
        "advance",
    ),
    _p(
        "success_ratio_midpoint",
        "-",
        1.05,
        0.8,
        1.5,
        "force ratio at which half of attacks succeed (the advance is scaled by that chance)",
        "logistic fit to 672 division engagements 1904-91 (Dupuy Institute; MECHANICS 1.4)",
        "advance",
    ),
    _p(
        "success_ratio_slope",
        "-",
        0.9,
        0.5,
        2.0,
        "slope of that logistic in ln(force ratio)",
        "MECHANICS section 5 (Dupuy logistic, slope ~0.9)",
        "advance",
    ),
    _p(
        "defender_withdrawal_loss",
        "1/day",
        0.05,
        0.02,
        0.2,
        "defender cedes a node when its (averaged) daily loss fraction there exceeds this",
        "Epstein 1985 base case",
        "advance",
    ),
    _p(
        "withdrawal_memory_days",
        "days",
        7.0,
        1.0,
        30.0,
        "time scale of the moving average of losses that the withdrawal rule reads",
        "judgement: a commander withdraws after sustained, not one day's, losses",
        "advance",
    ),
    # --- fortification (M5) ---
    _p(
        "fortification_build_rate",
        "1/day",
        0.05,
        0.0,
        0.33,
        "daily growth of fortification (0-3) of a held front node at full density",
        "NPW: prepared in 5-10 days (0.33); slower for dispersed 2023-24 positions",
        "fortification",
    ),
    _p(
        "fortification_density_needed",
        "men/km",
        80.0,
        30.0,
        1000.0,
        "defender density at which fortification grows at the full rate",
        "NPW <=1-2 m/man, scaled down for dispersed positions",
        "fortification",
    ),
    _p(
        "fortification_under_assault",
        "-",
        0.5,
        0.0,
        1.0,
        "fortification growth on a node under assault, as a share of the quiet rate",
        "judgement: digging continues under fire, slowed",
        "fortification",
    ),
    _p(
        "glide_bomb_fortification_damage",
        "1/bomb",
        0.002,
        0.0,
        0.02,
        "fortification levels destroyed per glide bomb on a node",
        "sensitivity (no data)",
        "fortification",
    ),
    # --- cohesion and rotation (M6) ---
    _p(
        "breakpoint_mean",
        "-",
        0.30,
        0.2,
        0.5,
        "mean cumulative loss fraction at which a unit is rotated out",
        "RUSI: rotated at ~30% casualties",
        "cohesion",
    ),
    _p(
        "breakpoint_sd",
        "-",
        0.08,
        0.05,
        0.15,
        "spread of units' breakpoints",
        "Helmbold 1971 (no universal breakpoint)",
        "cohesion",
    ),
    _p(
        "cohesion_loss_per_loss",
        "-",
        1.5,
        0.5,
        3.0,
        "cohesion lost per unit of daily loss fraction",
        "sensitivity",
        "cohesion",
    ),
    _p(
        "cohesion_recovery",
        "1/day",
        0.03,
        0.0,
        0.2,
        "daily cohesion recovery out of contact",
        "sensitivity",
        "cohesion",
    ),
    _p(
        "cohesion_recovery_in_line",
        "1/day",
        0.005,
        0.0,
        0.05,
        "daily cohesion recovery of units in the line (rest between assaults, replacements)",
        "sensitivity (no literature value)",
        "cohesion",
    ),
    # --- encirclement (M8) ---
    _p(
        "pocket_surrender_rate",
        "1/day",
        0.3,
        0.0,
        1.0,
        "daily surrender fraction of an encircled unit with no supply and no cohesion",
        "Dupuy Institute capture table: enveloped ~30%/day",
        "encirclement",
    ),
    # --- command and reserves (M9) ---
    _p(
        "reserve_fraction",
        "-",
        0.10,
        0.0,
        0.4,
        "share of each side's manoeuvre units held in reserve at the start",
        "Liddell Hart; Biddle (depth and reserves)",
        "command",
    ),
    _p(
        "reserve_commit_threshold",
        "-",
        1.3,
        0.5,
        3.0,
        "sector threat (attacking over defending power) above which a reserve is committed",
        "EINSTein-style meta-rule (Ilachinski 2004)",
        "command",
    ),
    _p(
        "unit_move_speed_km",
        "km/day",
        80.0,
        20.0,
        150.0,
        "road march speed of units moving between sectors",
        "MECHANICS M9: 50-150 km/day",
        "command",
    ),
    _p(
        "unit_frontage_km",
        "km",
        12.0,
        3.0,
        40.0,
        "most front a single unit can cover; farther edges are an open gap",
        "brigade frontages of 10-20 km in 2024 (press)",
        "command",
    ),
    _p(
        "hold_axis_share",
        "-",
        1.0,
        0.2,
        1.0,
        "share of a sector's front its holding units cover where the enemy attacks the sector "
        "(the stretch nearest the enemy's objective; the rest is only screened)",
        "Biddle 2004: force employment and economy of force; 1 spreads holders evenly",
        "command",
    ),
    _p(
        "stack_pooling",
        "-",
        0.0,
        0.0,
        1.0,
        "share of a second unit's men that fight when it stands on the same node, in the same "
        "role, as another of its side (0: only the unit nearest each front edge fights)",
        "Dupuy 1987, concentration: massed units add their weight; 1 in the record fit's "
        "scenarios (history_*), 0 (the first rule) until its calibration is adopted",
        "combat",
    ),
    _p(
        "attack_frontage_km",
        "km",
        6.0,
        2.0,
        20.0,
        "front an attacking unit concentrates on around its position",
        "judgement",
        "command",
    ),
    # --- replacement (M10) ---
    _p(
        "russia_recruits_per_day",
        "men/day",
        1000.0,
        0.0,
        3000.0,
        "Russian replacements arriving per day (before training delay)",
        "HUR/Ukrainian General Staff: ~1,000-1,200/day in 2024",
        "replacement",
    ),
    _p(
        "ukraine_recruits_per_day",
        "men/day",
        700.0,
        0.0,
        3000.0,
        "Ukrainian replacements arriving per day (before training delay)",
        "press: ~20-30k mobilised a month in 2024",
        "replacement",
    ),
    _p(
        "ukraine_recruit_line_share",
        "-",
        1.0,
        0.1,
        1.0,
        "share of Ukraine's recruits who reach its line units in the theatre (the rest go to new "
        "brigades outside the line, air defence, rear services and training cadres, or desert)",
        "press 2024: 2024 intake spread over new 150-series brigades and support; Ukraine's "
        "Prosecutor General: ~60,000 AWOL/desertion cases Jan-Sep 2024 (AP, 2024-11)",
        "replacement",
    ),
    _p(
        "russia_recruit_line_share",
        "-",
        1.0,
        0.1,
        1.0,
        "share of Russia's recruits who reach its line units in the theatre",
        "BBC, RUSI 2024: contract recruits went to assault units after 10-14 days' training",
        "replacement",
    ),
    _p(
        "wounded_return_share",
        "-",
        0.0,
        0.0,
        0.6,
        "share of each day's losses (killed and wounded) who return to their side's units after "
        "the training delay: the wounded who recover (0: no one returns)",
        "about 3 wounded per killed (US and UK estimates for both armies, 2023-2024, press); "
        "about half of the wounded returned to duty (US Army Medical Department, WWII)",
        "replacement",
    ),
    _p(
        "training_delay_days",
        "days",
        30.0,
        0.0,
        90.0,
        "days from recruitment to joining a unit",
        "BBC: 10-14 days (some Russian volunteers) to 30-60",
        "replacement",
        integer=True,
    ),
    # --- fires inputs (exogenous; usually scheduled by date in scenarios) ---
    _p(
        "russia_shells_per_day",
        "shells/day",
        20000.0,
        0.0,
        100000.0,
        "Russian artillery rounds fired per day across the theatre",
        "Syrskyi 2024-08-20: 20k (Aug-Sep 2023) to ~70k (Jan-May 2024)",
        "fires",
    ),
    _p(
        "ukraine_shells_per_day",
        "shells/day",
        10000.0,
        0.0,
        100000.0,
        "Ukrainian artillery rounds fired per day across the theatre",
        "Syrskyi 2024-08-20: 13k (Aug-Sep 2023), <=10k (late 2023-May 2024)",
        "fires",
    ),
    _p(
        "russia_glide_bombs_per_day",
        "bombs/day",
        30.0,
        0.0,
        300.0,
        "Russian glide bombs dropped per day",
        "Ukrainian officials: ~3,000-3,500/month in 2024",
        "fires",
    ),
    _p(
        "russia_drone_sorties_per_day",
        "sorties/day",
        1000.0,
        0.0,
        20000.0,
        "Russian FPV/bomber drone sorties per day",
        "order of magnitude, press 2024",
        "fires",
    ),
    _p(
        "ukraine_drone_sorties_per_day",
        "sorties/day",
        2000.0,
        0.0,
        20000.0,
        "Ukrainian FPV/bomber drone sorties per day",
        "order of magnitude, press 2024",
        "fires",
    ),
    _p(
        "fires_axis_focus",
        "-",
        0.6,
        0.0,
        1.0,
        "share of a side's fires put on edges where it attacks (rest spread over its front)",
        "judgement",
        "fires",
    ),
    # --- quality ---
    _p(
        "russia_quality",
        "-",
        1.0,
        0.5,
        2.0,
        "combat effectiveness value (CEV) of Russian units",
        "Dupuy CEV; default parity",
        "units",
    ),
    _p(
        "ukraine_quality",
        "-",
        1.0,
        0.5,
        2.0,
        "combat effectiveness value (CEV) of Ukrainian units",
        "Dupuy CEV; default parity",
        "units",
    ),
    _p(
        "russia_unit_personnel",
        "men",
        2500.0,
        500.0,
        6000.0,
        "establishment strength of a Russian regiment-equivalent",
        "Russian regiments/brigades 1,500-3,500 (RUSI)",
        "units",
    ),
    _p(
        "ukraine_unit_personnel",
        "men",
        2500.0,
        500.0,
        6000.0,
        "establishment strength of a Ukrainian brigade-equivalent",
        "Ukrainian brigades often under strength, 2,000-4,000 (press)",
        "units",
    ),
    # --- collapse (M7) ---
    _p(
        "collapse_area_km2",
        "km2",
        1500.0,
        100.0,
        10000.0,
        "area one side must take within the collapse window to count as a collapse",
        "MODEL.md: about twice the worst month of 2024",
        "collapse",
    ),
    _p(
        "collapse_window_days",
        "days",
        30.0,
        5.0,
        120.0,
        "window over which the collapse area is counted",
        "MODEL.md",
        "collapse",
        integer=True,
    ),
)

PARAMS: dict[str, Param] = {p.name: p for p in REGISTRY}
if len(PARAMS) != len(REGISTRY):  # pragma: no cover - guards edits of the table
    raise RuntimeError("duplicate parameter name in REGISTRY")


def suggest(name: str, known: list[str] | None = None) -> str:
    """Return a ' (did you mean ...?)' hint for an unknown name, or ''."""
    close = difflib.get_close_matches(
        name, list(PARAMS) if known is None else known, n=1, cutoff=0.5
    )
    return f" (did you mean '{close[0]}'?)" if close else ""


class Params(Mapping[str, float]):
    """A complete, validated parameter set: registry defaults with overrides.

    Parameters
    ----------
    overrides : mapping, optional
        Parameter values by name. Unknown names and out-of-range values raise ``ValueError``.

    Examples
    --------
    >>> p = Params({"advance_slowdown": 0.03})
    >>> p.advance_slowdown
    0.03
    >>> p["supply_efold_km"]
    80.0
    """

    def __init__(self, overrides: Mapping[str, object] | None = None) -> None:
        values = {p.name: p.default for p in REGISTRY}
        for key, value in (overrides or {}).items():
            if key not in PARAMS:
                raise ValueError(f"unknown parameter '{key}'{suggest(key)}")
            try:
                values[key] = PARAMS[key].check(value)
            except ValueError as err:
                raise ValueError(f"parameter '{key}' = {value!r}: {err}") from None
        self._values = values
        # The values also as instance attributes: the phases read ``p.name`` ~75 times a day,
        # and a plain attribute lookup skips __getattr__ (which stays for unknown names).
        vars(self).update(values)

    def __getstate__(self) -> dict[str, object]:
        return {"_values": self._values}

    def __setstate__(self, state: dict[str, object]) -> None:
        vars(self).update(state)
        vars(self).update(self._values)

    def __getattr__(self, name: str) -> float:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(f"no parameter '{name}'{suggest(name)}") from None

    def __getitem__(self, key: str) -> float:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def replace(self, **changes: float) -> Params:
        """Return a copy with some values changed (validated)."""
        return Params({**self._values, **changes})

    def __repr__(self) -> str:
        changed = {k: v for k, v in self._values.items() if v != PARAMS[k].default}
        return f"Params({changed})"


def table(markdown: bool = False) -> str:
    """Render the registry as a plain-text or Markdown table."""
    header = ("name", "unit", "default", "range", "meaning")
    rows = [
        (
            p.name + (" *" if p.calibrated else ""),
            p.unit,
            f"{p.default:g}",
            f"{p.low:g}-{p.high:g}",
            p.meaning,
        )
        for p in REGISTRY
    ]
    if markdown:
        lines = ["| " + " | ".join(header) + " | source |", "|" + "---|" * (len(header) + 1)]
        for p, row in zip(REGISTRY, rows, strict=True):
            lines.append("| " + " | ".join(row) + f" | {p.source} |")
        return "\n".join(lines) + "\n\n\\* calibrated to the two gain targets\n"
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    out = []
    for row in [header, *rows]:
        out.append(
            "  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)) + "  " + row[4]
        )
    out.append("* calibrated to the two gain targets")
    return "\n".join(out)
