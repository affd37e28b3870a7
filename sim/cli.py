"""The ``frontline`` command line.

Argument parsing only: each verb hands its arguments to one function elsewhere in ``sim``.
Heavy or optional modules (the theatre builder, the runner) are imported inside the verb that
needs them, so ``frontline params`` stays instant and works without the build extras.

Verbs::

    frontline params [--markdown]
    frontline theatre build [--frontlines DIR] [--out PATH] [--record DIR]
    frontline theatre info [--json]
    frontline run SCENARIO [--seed N] [--until DATE] [--set KEY=VALUE ...] [--out DIR]
    frontline batch SCENARIO --replications R [--workers W | --scheduler ADDRESS] [--seed N]
                    [--until DATE] [--set KEY=VALUE ...] --out DIR
    frontline sweep SCENARIO --design grid|lhs|sobol --param KEY=LOW:HIGH [--param ...]
                    --samples N --replications R [--seed N] [--workers W] [--until DATE]
                    [--set KEY=VALUE ...] --out DIR [--sobol OUTCOME ...]
    frontline report DIR [DIR2] [--out OUT] [--places A,B,...] [--dates D1,D2,...]
    frontline record [--by month|half-month] [--sectors SCENARIO] [--places] [--json]
                     [--score BATCH_DIR ...]
    frontline view [SCENARIO] [--host HOST] [--port PORT]

Later verbs (``calibrate``) get their own ``_add_<verb>`` parser function
and ``_<verb>`` handler, following the same pattern.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
import tempfile
import tomllib
import traceback
import warnings
from datetime import date
from pathlib import Path

from sim import params as registry
from sim import validate
from sim.scenario import ScenarioError, ScenarioSpec, find_scenario, load_scenario
from sim.validate import InputError

__all__ = ["main", "render_parameters_doc"]

PROG = "frontline"


class UsageError(Exception):
    """A command line that parses but makes no sense (reported like an argparse error)."""


def main(argv: list[str] | None = None) -> int:
    """Run the ``frontline`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        Exit code (README, "Errors and limits"): 0 success; 2 a usage or input error (one line on
        stderr naming the file or flag, the key and what is allowed; never a traceback); 1 an
        unexpected error (a short message and the path of a saved traceback); 130 interrupted
        (Ctrl-C); 141 the reader of stdout went away (``frontline theatre info | head``).
    """
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            code = _dispatch(argv)
        if sys.stdout is not None:  # None when started with stdout closed (`>&-`)
            sys.stdout.flush()  # a closed pipe shows up here, not at exit, where it cannot be caught
        return code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Nobody reads stdout any more: point it at /dev/null so the flush at exit is quiet.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 141
    except (ScenarioError, UsageError, InputError, FileNotFoundError) as err:
        print(f"{PROG}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:
        if err.errno not in _ENVIRONMENT_ERRNOS:
            return _internal_error(err)
        # The machine, not frontline: a full disk, a read-only or forbidden place.
        where = f"{err.filename}: " if err.filename else ""
        print(f"{PROG}: error: {where}{err.strerror}", file=sys.stderr)
        return 2
    except Exception as err:  # a bug: keep the traceback, but in a file, not on the screen
        if _caused_by_ctrl_c(err):
            print(f"{PROG}: interrupted", file=sys.stderr)
            return 130
        return _internal_error(err)


def _caused_by_ctrl_c(err: BaseException) -> bool:
    """Whether ``err`` wraps a KeyboardInterrupt: Ctrl-C inside a Numba-compiled function
    reaches Python as a SystemError whose cause is the KeyboardInterrupt."""
    seen: set[int] = set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _internal_error(err: BaseException) -> int:
    saved = _save_traceback()
    print(
        f"{PROG}: internal error ({type(err).__name__}: {_one_line(err)}); "
        f"traceback saved to {saved}; please report it",
        file=sys.stderr,
    )
    return 1


_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


def _dispatch(argv: list[str] | None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # argparse has printed usage or help already
        return done.code if isinstance(done.code, int) else 2
    for name, value in vars(args).items():  # no file name or value can hold a NUL
        for item in value if isinstance(value, list) else [value]:
            if "\0" in str(item):
                raise UsageError(f"--{name.replace('_', '-')}: contains a NUL character")
    return args.handler(args)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr, like errors (no source file and line of ``sim``)."""
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) if "\n" in str(err) else str(err)
    return text or type(err).__name__


def _save_traceback() -> str:
    """Write the current exception's traceback to a new file; return its path (or why not)."""
    text = traceback.format_exc()
    try:
        fd, path = tempfile.mkstemp(prefix="frontline-traceback-", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write(f"frontline {' '.join(sys.argv[1:])}\n\n{text}")
        return path
    except OSError as err:
        return f"(not saved: {err.strerror})"


# --------------------------------------------------------------------------------------------
# Parsers


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (with where to find help), like all others."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Agent-based simulation of the Russia-Ukraine front.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for add in (
        _add_params,
        _add_theatre,
        _add_run,
        _add_batch,
        _add_sweep,
        _add_calibrate,
        _add_report,
        _add_record,
        _add_view,
    ):
        add(verbs)
    return parser


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
    _add_scenario_args(p, seed_help="batch seed; replication seeds are spawned from it (default 0)")
    p.add_argument(
        "--replications", type=int, required=True, metavar="R", help="number of runs (>= 1)"
    )
    p.add_argument(
        "--workers", type=int, default=None, metavar="W", help="processes (default: all cores)"
    )
    p.add_argument(
        "--force-workers",
        action="store_true",
        help="allow more --workers than this machine's cores (they only share the cores)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on the Dask cluster whose scheduler is at ADDRESS (tcp://127.0.0.1:8786) "
        "instead of local processes; needs pip install -e '.[cluster]'",
    )
    p.add_argument(
        "--out",
        type=_path,
        required=True,
        metavar="DIR",
        help="write outputs here; a re-run with the same arguments resumes",
    )
    p.add_argument(
        "--posterior",
        type=_path,
        default=None,
        metavar="FILE",
        help="a calibrated parameter sample (CSV, sim.posterior): each replication runs with "
        "the set its own seed draws",
    )
    p.set_defaults(handler=_batch)


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
    p.add_argument(
        "--replications", type=int, required=True, metavar="R", help="runs per point (>= 1)"
    )
    p.add_argument(
        "--workers", type=int, default=None, metavar="W", help="processes (default: all cores)"
    )
    p.add_argument(
        "--force-workers",
        action="store_true",
        help="allow more --workers than this machine's cores (they only share the cores)",
    )
    p.add_argument(
        "--out",
        type=_path,
        required=True,
        metavar="DIR",
        help="write outputs here; a re-run with the same arguments resumes",
    )
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
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument(
        "--force-workers",
        action="store_true",
        help="allow more --workers than this machine's cores (they only share the cores)",
    )
    p.add_argument("--targets", type=_path, default=None, help="targets TOML (calibration/)")
    p.add_argument("--search", type=_path, default=None, help="search settings TOML")
    p.add_argument("--out", type=_path, default=None, help="output directory (calibration/)")
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


def _calibrate_record(args: argparse.Namespace) -> int:
    from sim import record_fit
    from sim.executor import Executor, ExecutorError

    search_path = _settings_file(args.search or record_fit.SEARCH_PATH, "--search")
    out = args.out or record_fit.DEFAULT_OUT
    validate.check_out_dir(out)
    try:
        record_fit.load_search(search_path, quick=args.quick)
    except (ValueError, KeyError, TypeError, AttributeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"{search_path}: {err}") from None
    try:
        executor = Executor(args.workers, force_workers=args.force_workers)
    except ExecutorError as err:
        raise UsageError(f"--{err}") from None
    with executor:
        result = record_fit.calibrate_to_record(
            out, quick=args.quick, search_path=search_path, map_fn=executor.map, log=print
        )
    print(
        f"wrote {out / 'posterior.csv'}: {len(result.posterior)} parameter sets, effective "
        f"sample size {result.ess:.0f}"
    )
    return 0


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


# --------------------------------------------------------------------------------------------
# Handlers: one call each into the library


def _params(args: argparse.Namespace) -> int:
    if args.markdown:  # byte-for-byte the committed docs/parameters.md
        sys.stdout.write(render_parameters_doc())
    else:
        print(registry.table())
    return 0


def render_parameters_doc() -> str:
    """Return the text of ``docs/parameters.md``, generated from the registry.

    ``frontline params --markdown > docs/parameters.md`` regenerates the file; a test checks
    that the committed copy is current.
    """
    return (
        "# Parameters\n\n"
        "Generated from `sim/params.py` by `frontline params --markdown`; do not edit by hand.\n\n"
        + registry.table(markdown=True)
    )


def _theatre_build(args: argparse.Namespace) -> int:
    try:
        from sim.theatre import build  # needs the [build] extras
    except ImportError as err:
        raise UsageError(
            f'theatre build needs the build extras ({err}): pip install -e ".[build]"'
        ) from None

    extra = {"record_dir": args.record} if args.record else {}
    summary = build.build_theatre(
        args.frontlines or build.DEFAULT_FRONTLINES, args.out or build.DEFAULT_OUT, **extra
    )
    print(json.dumps(summary, indent=2, default=float))
    return 0


def _theatre_info(args: argparse.Namespace) -> int:
    from sim.theatre.theatre import Theatre

    info = Theatre.load().info()
    if args.json:
        print(json.dumps(info, indent=2, default=float))
    else:
        width = max(map(len, info), default=0)
        for key, value in info.items():
            shown = json.dumps(value, default=float) if isinstance(value, dict | list) else value
            print(f"{key.ljust(width)}  {shown}")
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.out is not None:  # before simulating: a run must not be lost for want of a place
        validate.check_out_dir(args.out)
    spec = _load_spec(args)

    from sim.runner import format_summary, run_scenario  # imported late: loads the model

    result = run_scenario(spec, seed=args.seed)
    print(format_summary(result.summary))
    if args.out is not None:
        result.write(args.out)
        print(f"wrote {args.out}")
    return 0


def _batch(args: argparse.Namespace) -> int:
    spec = _load_spec(args)

    from sim.batch import BatchError, format_batch, run_batch  # imported late: loads the model

    if args.scheduler is not None and args.workers is not None:
        raise UsageError("--workers and --scheduler do not mix: the cluster has its own workers")
    _check_replications(args.replications, spec)
    validate.check_out_dir(args.out)
    posterior = None
    if args.posterior is not None:
        from sim.posterior import PosteriorError, load_posterior

        try:
            posterior = load_posterior(args.posterior)
        except PosteriorError as err:
            raise UsageError(str(err)) from None
    try:
        result = run_batch(
            spec,
            replications=args.replications,
            seed=args.seed,
            workers=args.workers,
            until=args.until,
            out=args.out,
            scheduler=args.scheduler,
            force_workers=args.force_workers,
            posterior=posterior,
        )
    except BatchError as err:  # bad arguments, another batch in --out, no scheduler: not a bug
        raise UsageError(str(err)) from None
    print(format_batch(result))
    print(f"wrote {args.out} ({len(result.computed or [])} replications run now)")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from sim import sweep  # imported late: loads the model
    from sim.batch import BatchError

    bounds = {key: (low, high) for key, low, high in args.ranges}
    if len(bounds) < len(args.ranges):
        keys = [k for k, _, _ in args.ranges]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise UsageError(f"--param given more than once for: {', '.join(twice)}")
    both = sorted(set(bounds) & {k for k, _ in args.sets})
    if both:
        raise UsageError(f"both --param and --set given for: {', '.join(both)}")
    if args.sobol and args.design != "sobol":
        raise UsageError("--sobol needs --design sobol")
    validate.check_seed(args.seed)
    validate.check_out_dir(args.out)
    try:
        sweep.check_bounds(bounds)  # before loading the scenario: fail fast
        spec = _load_spec(args)
        _check_replications(args.replications, spec)
        common = {"seed": args.seed, "workers": args.workers, "until": args.until, "out": args.out}
        common["force_workers"] = args.force_workers
        analysis = None
        if args.sobol:
            result, analysis = sweep.sweep_sobol(
                spec, bounds, args.sobol, args.samples, args.replications, **common
            )
        else:
            points = sweep.design(args.design, bounds, args.samples, seed=args.seed)
            result = sweep.run_sweep(spec, points, args.replications, **common)
    except (sweep.SweepError, BatchError) as err:  # bad arguments or another sweep in --out
        raise UsageError(str(err)) from None
    print(sweep.format_sweep(result))
    if analysis is not None:
        print(sweep.format_sobol(analysis))
    print(f"wrote {args.out} ({len(result.computed)} runs computed now)")
    return 0


def _settings_file(path: Path, flag: str) -> Path:
    """A ``--targets``/``--search`` file: a regular file of at most 1 MiB, checked before it is
    opened (a directory or ``/dev/zero`` would fail late, or never end)."""
    import stat

    from sim.scenario import MAX_FILE_BYTES

    try:
        info = os.stat(path)
    except OSError as err:
        raise UsageError(f"{flag} {path}: cannot read it ({err.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{flag} {path}: not a regular file; name a .toml settings file")
    if info.st_size > MAX_FILE_BYTES:
        raise UsageError(f"{flag} {path}: larger than {MAX_FILE_BYTES // 1024} KiB")
    return path


def _path(text: str) -> Path:
    """An argparse type: a path, but not the empty string (``Path("")`` is the current
    directory, so ``--out "$UNSET"`` would write there)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path; name a file or directory")
    return Path(text)


def _calibrate(args: argparse.Namespace) -> int:
    if args.record:
        return _calibrate_record(args)
    from sim import calibrate as cal  # imported late: loads the model

    targets_path = _settings_file(args.targets or cal.CALIBRATION_DIR / "targets.toml", "--targets")
    search_path = _settings_file(args.search or cal.CALIBRATION_DIR / "search.toml", "--search")
    out = args.out or cal.CALIBRATION_DIR
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    validate.check_out_dir(out)
    from sim.executor import ExecutorError, check_workers

    try:  # before any run: a calibration takes a long time to reach its first pool
        check_workers(args.workers, args.force_workers)
    except ExecutorError as err:
        raise UsageError(f"--{err}") from None
    try:
        targets = cal.load_targets(targets_path)
        search = cal.load_search(search_path, quick=args.quick)
    except (ValueError, KeyError, TypeError, AttributeError, tomllib.TOMLDecodeError) as err:
        text = str(err)
        named = str(targets_path) in text or str(search_path) in text
        raise UsageError(text if named else f"{targets_path} or {search_path}: {text}") from None
    names = _place_names()
    specs = [load_scenario(find_scenario(t.scenario), place_names=names) for t in targets]
    out.mkdir(parents=True, exist_ok=True)
    command = "frontline " + " ".join(
        sys.argv[1:] if sys.argv[1:2] == ["calibrate"] else ["calibrate"]
    )
    result = cal.calibrate(
        specs,
        targets,
        search,
        workers=args.workers,
        sensitivity=not args.no_sensitivity,
        force_workers=args.force_workers,
    )
    cal.write_calibrated(result, out / "calibrated.toml", command)
    report = cal.write_report(result, out, command)
    print(f"wrote {out / 'calibrated.toml'} and {report}")
    return 0


def _record(args: argparse.Namespace) -> int:
    if args.score:
        from sim import fit

        try:
            scores = [fit.score_batch(d) for d in args.score]
        except ValueError as err:
            raise UsageError(str(err)) from None
        if args.json:
            print(json.dumps({"done_when": fit.done_when(scores), "scores": scores}, default=str))
        else:
            print(fit.format_scores(scores), end="")
        if args.report:
            from sim.fit_report import write_fit_report

            path = write_fit_report(
                args.score, args.report, posterior=args.posterior, scores=scores
            )
            print(f"wrote {path}")
        return 0
    if args.report or args.posterior:
        raise UsageError("--report and --posterior go with --score BATCH_DIR ...")
    from sim import record

    s = record.series(args.by, args.sectors, args.places)
    print(
        json.dumps(s, default=str) if args.json else record.format_series(s),
        end="\n" if args.json else "",
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    from sim.report import ReportError, write_report

    places = [p.strip() for p in args.places.split(",") if p.strip()] if args.places else None
    dates = None
    if args.dates:
        try:
            dates = [date.fromisoformat(d.strip()) for d in args.dates.split(",") if d.strip()]
        except ValueError as err:
            raise UsageError(f"--dates: {err}; give dates as YYYY-MM-DD,YYYY-MM-DD") from None
    if args.out is not None:
        validate.check_out_dir(args.out)
    try:
        report = write_report(args.dir, args.dir2, out=args.out, places=places, dates=dates)
    except ReportError as err:
        raise UsageError(str(err)) from None
    print(f"wrote {report}")
    return 0


def _load_spec(args: argparse.Namespace) -> ScenarioSpec:
    """The scenario of ``args.scenario`` with ``--set`` overrides applied and cut at ``--until``."""
    overrides = dict(args.sets)
    if len(overrides) < len(args.sets):
        keys = [k for k, _ in args.sets]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise UsageError(f"--set given more than once for: {', '.join(twice)}")

    validate.check_seed(args.seed)
    names = _place_names()
    spec = load_scenario(find_scenario(args.scenario), place_names=names, allow=args.allow_path)
    if overrides:
        spec = spec.with_overrides(overrides)
    if args.until is not None:
        spec = spec.with_end(args.until)
    if names is not None:  # the theatre is there: check the sectors against it
        _check_theatre(spec)
    return spec


def _check_theatre(spec: ScenarioSpec) -> None:
    from sim.theatre.theatre import Theatre

    validate.check_sectors(spec, Theatre.load())


def _check_replications(replications: int, spec: ScenarioSpec) -> None:
    if replications < 1:
        raise UsageError(
            f"--replications: replications must be a whole number >= 1, got {replications}"
        )
    days = (spec.end - spec.start).days
    validate.REPLICATIONS.check(replications, "--replications", validate.replication_bytes(days))


def _view(args: argparse.Namespace) -> int:
    import importlib.util
    import os
    import signal
    import subprocess

    if not 1 <= args.port <= 65535:
        raise UsageError(f"--port = {args.port}: a TCP port is a whole number in [1, 65535]")
    path = find_scenario(args.scenario)  # a bad name fails here, before the server starts
    # Loaded (and checked) here too, so a bad scenario is one line now, not a server that fails.
    load_scenario(path, place_names=_place_names(), allow=args.allow_path)
    if importlib.util.find_spec("solara") is None:
        raise UsageError('the view needs the viz extra: pip install -e ".[viz]"')
    validate.check_bindable(args.host, args.port)  # a busy port: one line, not a server log
    warning = validate.exposure_warning(args.host, args.port)
    if warning:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    env = {**os.environ, "FRONTLINE_VIEW_SCENARIO": str(path.resolve())}
    if args.allow_path:
        env["FRONTLINE_VIEW_ALLOW"] = os.pathsep.join(str(p.resolve()) for p in args.allow_path)
    root = str(Path(__file__).resolve().parents[1])  # so `sim.app` imports from any directory
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "solara", "run", "sim.app", "--host", args.host]
    cmd += ["--port", str(args.port), "--production", "--no-open", "--no-check-version"]
    env.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")  # offline and private
    print(f"frontline view: {path.stem} on http://{args.host}:{args.port}/ (Ctrl-C stops)")
    if sys.stdout is not None:
        sys.stdout.flush()
    from sim.executor import die_with_parent

    # The server stops with this process whatever ends it, kill -9 included (SIGTERM: it then
    # shuts down cleanly), and on SIGTERM or Ctrl-C here.
    proc = subprocess.Popen(cmd, env=env, preexec_fn=lambda: die_with_parent(signal.SIGTERM))
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        return 0


def _place_names() -> list[str]:
    """Named theatre nodes, against which scenario anchors and objectives are checked."""
    from sim.theatre.theatre import Theatre

    return [name for name in Theatre.load().name if name]
