"""The ``frontline`` command's argument parsers: one ``_add_<verb>`` function per verb, the shared
scenario arguments and the argument types.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from sim.cli_verbs import (
    _batch,
    _calibrate,
    _params,
    _record,
    _report,
    _run,
    _sweep,
    _theatre_build,
    _theatre_info,
    _view,
)


def _add_params(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("params", help="list the model parameters (the registry)")
    p.add_argument(
        "--markdown", action="store_true", help="print docs/parameters.md (Markdown table)"
    )
    p.set_defaults(handler=_params)


def _add_theatre(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("theatre", help="build or describe the theatre graph")
    sub = p.add_subparsers(dest="theatre_verb", required=True, metavar="ACTION")
    build = sub.add_parser("build", help="build the theatre file from geography (offline)")
    build.add_argument(
        "--frontlines", type=_path, default=None, help="directory of control_DATE.geojson"
    )
    build.add_argument("--out", type=_path, default=None, help="theatre file to write (.npz)")
    build.add_argument(
        "--record",
        type=_path,
        default=None,
        help="directory of the record's control_DATE.geojson (default ../shared/data/record); "
        "record.npz is written beside the theatre file",
    )
    build.set_defaults(handler=_theatre_build)
    info = sub.add_parser("info", help="summarise the committed theatre file")
    info.add_argument("--json", action="store_true", help="print the full summary as JSON")
    info.set_defaults(handler=_theatre_info)


def _add_run(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("run", help="run one scenario with one seed")
    _add_scenario_args(p, seed_help="random seed (default 0)")
    p.add_argument("--out", type=_path, default=None, metavar="DIR", help="write outputs here")
    p.set_defaults(handler=_run)


def _add_batch(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("batch", help="run many replications of a scenario and summarise them")
    p.set_defaults(handler=_batch)
    _add_scenario_args(p, seed_help="batch seed; replication seeds are spawned from it (default 0)")
    _add_replications(p, "number of runs (>= 1)")
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on the Dask cluster whose scheduler is at ADDRESS (tcp://127.0.0.1:8786) "
        "instead of local processes; needs pip install -e '.[cluster]'",
    )
    _add_resumable_out(p)
    p.add_argument(
        "--posterior",
        type=_path,
        default=None,
        metavar="FILE",
        help="a calibrated parameter sample (CSV, sim.posterior): each replication runs with "
        "the set its own seed draws (default: the posterior the scenario's calibration names)",
    )
    p.add_argument(
        "--no-posterior",
        action="store_true",
        help="run every replication with the calibration's single parameter set instead of "
        "drawing from its posterior",
    )


def _add_sweep(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "sweep", help="run a batch at every point of a parameter design (grid, LHS, Sobol')"
    )
    _add_scenario_args(p, seed_help="design and batch seed; every point gets the same seeds")
    p.add_argument("--design", choices=("grid", "lhs", "sobol"), required=True)
    p.add_argument(
        "--param",
        dest="ranges",
        action="append",
        type=_key_range,
        required=True,
        metavar="KEY=LOW:HIGH",
        help="a registry parameter and its range (inside the allowed range); repeatable",
    )
    p.add_argument(
        "--samples",
        type=int,
        required=True,
        metavar="N",
        help="grid: levels per parameter; lhs: points; sobol: points, a power of two "
        "(with --sobol: the base sample; N * (parameters + 2) points are run)",
    )
    _add_replications(p, "runs per point (>= 1)")
    _add_resumable_out(p)
    p.add_argument(
        "--sobol",
        nargs="+",
        default=None,
        metavar="OUTCOME",
        help="with --design sobol: Sobol' indices of these outcomes (each point's mean over "
        "its replications), printed and written to DIR/sobol.json",
    )
    p.set_defaults(handler=_sweep)


def _add_calibrate(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("calibrate", help="fit the free parameters to the gain targets")
    p.add_argument("--quick", action="store_true", help="tiny budget (for tests and smoke runs)")
    _add_workers(p, None)
    p.add_argument("--targets", type=_path, default=None, help="targets TOML (calibration/)")
    p.add_argument("--search", type=_path, default=None, help="search settings TOML")
    p.add_argument(
        "--out",
        type=_path,
        default=None,
        help="output directory (calibration/; with --record calibration/record_fit/)",
    )
    p.add_argument(
        "--no-sensitivity", action="store_true", help="skip the one-at-a-time sensitivity runs"
    )
    p.add_argument(
        "--record",
        action="store_true",
        help="fit the level and the record's shape instead (history matching with emulators; "
        "search calibration/record_search.toml, out calibration/record_fit/: posterior.csv and "
        "one file per wave, so a killed run resumes)",
    )
    p.set_defaults(handler=_calibrate)


def _add_record(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "record", help="print the record the model is fitted to, or score batches against it"
    )
    p.add_argument("--by", choices=("half-month", "month"), default="half-month")
    p.add_argument(
        "--sectors", default=None, metavar="SCENARIO", help="split the gains by its sectors"
    )
    p.add_argument("--places", action="store_true", help="when the named places changed hands")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--score",
        type=_path,
        nargs="+",
        default=None,
        metavar="BATCH_DIR",
        help="finished batches (baseline_2023 to 2023-12-31, baseline_2024 to 2024-11-20) to "
        "score against issue 12's targets",
    )
    p.add_argument(
        "--report",
        type=_path,
        default=None,
        metavar="DIR",
        help="with --score: write DIR/REPORT.md with figures (monthly bands, sectors, places, "
        "maps beside the record's)",
    )
    p.add_argument(
        "--posterior",
        type=_path,
        default=None,
        metavar="FILE",
        help="with --report: a posterior sample (CSV) to summarise in the report",
    )
    p.set_defaults(handler=_record)


def _add_report(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "report", help="write a Markdown report with figures from a batch, a pair or a sweep"
    )
    p.add_argument("dir", type=_path, metavar="DIR", help="a batch or sweep output directory")
    p.add_argument(
        "dir2",
        type=_path,
        nargs="?",
        default=None,
        metavar="DIR2",
        help="a second batch run with the same --seed and replications: a paired report",
    )
    p.add_argument("--out", type=_path, default=None, help="report directory (default DIR/report)")
    p.add_argument(
        "--places",
        default=None,
        metavar="A,B,...",
        help="places whose fall dates to report (default: the hubs that fell in any run)",
    )
    p.add_argument(
        "--dates",
        default=None,
        metavar="YYYY-MM-DD,...",
        help="dates of the maps and of the holdings tables (default: four spread through the run)",
    )
    p.set_defaults(handler=_report)


def _add_replications(p: argparse.ArgumentParser, replications_help: str) -> None:
    """``--replications`` then the local workers (``--workers``, ``--force-workers``)."""
    p.add_argument("--replications", type=int, required=True, metavar="R", help=replications_help)
    _add_workers(p, "W")


def _add_workers(p: argparse.ArgumentParser, metavar: str | None) -> None:
    """``--workers`` (shown with ``metavar``, or argparse's default) and ``--force-workers``."""
    shown: dict[str, Any] = {"metavar": metavar} if metavar else {}
    p.add_argument(
        "--workers", type=int, default=None, help="processes (default: all cores)", **shown
    )
    p.add_argument(
        "--force-workers",
        action="store_true",
        help="allow more --workers than this machine's cores (they only share the cores)",
    )


def _add_resumable_out(p: argparse.ArgumentParser) -> None:
    """``--out DIR`` of a verb that resumes an unfinished directory."""
    p.add_argument(
        "--out",
        type=_path,
        required=True,
        metavar="DIR",
        help="write outputs here; a re-run with the same arguments resumes",
    )


def _add_scenario_args(p: argparse.ArgumentParser, seed_help: str) -> None:
    """SCENARIO, --seed, --until and --set, shared by the verbs that run a scenario."""
    p.add_argument("scenario", metavar="SCENARIO", help="TOML path, or a name in scenarios/")
    p.add_argument("--seed", type=int, default=0, help=seed_help)
    p.add_argument(
        "--until", type=_iso_date, default=None, metavar="DATE", help="stop early on DATE"
    )
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter (or start, end, initial_control); repeatable",
    )
    _add_allow_path(p)


def _add_allow_path(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-path",
        dest="allow_path",
        action="append",
        type=_path,
        default=[],
        metavar="DIR",
        help="let the scenario's extends/calibration name .toml files under DIR (by default only "
        "the scenario's own directory and the project's calibration/ and scenarios/); repeatable",
    )


def _add_view(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("view", help="open the model in the browser (SolaraViz; needs [viz])")
    p.add_argument(
        "scenario",
        metavar="SCENARIO",
        nargs="?",
        default="baseline_2024",
        help="TOML path, or a name in scenarios/ (default baseline_2024)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    _add_allow_path(p)
    p.set_defaults(handler=_view)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _key_range(text: str) -> tuple[str, float, float]:
    key, sep, rest = text.partition("=")
    low, colon, high = rest.partition(":")
    try:
        if not (sep and colon and key.strip()):
            raise ValueError
        return key.strip(), float(low), float(high)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected KEY=LOW:HIGH, got {text!r}") from None


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _path(text: str) -> Path:
    """An argparse type: a path, but not the empty string (``Path("")`` is the current
    directory, so ``--out "$UNSET"`` would write there)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path; name a file or directory")
    return Path(text)
