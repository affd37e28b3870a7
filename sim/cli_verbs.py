"""What each verb of the ``frontline`` command does with its parsed arguments: one handler per
verb, each handing its work to one function elsewhere in ``sim`` (imported inside the handler,
so ``frontline params`` stays instant).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from datetime import date
from pathlib import Path

from sim import params as registry
from sim import validate
from sim.posterior import Posterior
from sim.scenario import ScenarioSpec, find_scenario, load_scenario
from sim.theatre.theatre import Theatre

PROG = "frontline"


class UsageError(Exception):
    """A command line that parses but makes no sense (reported like an argparse error)."""


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
    posterior = _batch_posterior(args, spec)
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


def _batch_posterior(args: argparse.Namespace, spec: ScenarioSpec) -> Posterior | None:
    """The parameter sample a batch draws from: ``--posterior FILE``, else the posterior of the
    scenario's calibration, unless ``--no-posterior``. A parameter given with ``--set`` keeps
    its value in every replication (its column is dropped from the sample)."""
    from sim.posterior import PosteriorError, load_posterior

    if args.posterior is not None and args.no_posterior:
        raise UsageError("--posterior and --no-posterior do not mix")
    path = args.posterior if args.posterior is not None else spec.posterior
    if path is None or args.no_posterior:
        return None
    try:
        posterior = load_posterior(path)
    except PosteriorError as err:
        raise UsageError(str(err)) from None
    fixed = [k for k, _ in args.sets if k in posterior.names]
    if fixed:
        print(f"--set fixes {', '.join(fixed)} in every replication (not drawn from {path})")
        posterior = posterior.without(fixed)
    return posterior if posterior.names else None


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

    from sim.scenario_files import MAX_FILE_BYTES

    try:
        info = os.stat(path)
    except OSError as err:
        raise UsageError(f"{flag} {path}: cannot read it ({err.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{flag} {path}: not a regular file; name a .toml settings file")
    if info.st_size > MAX_FILE_BYTES:
        raise UsageError(f"{flag} {path}: larger than {MAX_FILE_BYTES // 1024} KiB")
    return path


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

    _check_sectors(spec, Theatre.load())


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
    # Restored on the way out: a handler left behind would outlive the server it stops.
    previous = signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def _place_names() -> list[str]:
    """Named theatre nodes, against which scenario anchors and objectives are checked."""
    from sim.theatre.theatre import Theatre

    return [name for name in Theatre.load().name if name]


def _check_sectors(spec: ScenarioSpec, theatre: Theatre) -> None:
    """Every sector of ``spec`` gets theatre nodes (its anchors are not another sector's).

    Nodes go to the sector of the nearest anchor, so two sectors anchored on the same place
    leave one of them without ground, units placed nowhere and events that act on nothing.
    """
    import numpy as np

    from sim.command import Sectors

    sectors = Sectors(theatre, spec.sectors)
    counts = np.bincount(sectors.of_node, minlength=len(spec.sectors))
    owner: dict[int, str] = {}
    for s in spec.sectors:
        for place in s.anchors:
            owner.setdefault(theatre.node_by_name(place), s.name)
    for k, s in enumerate(spec.sectors):
        if counts[k]:
            continue
        shared = sorted(
            {
                f"{place} (also an anchor of sector {owner[theatre.node_by_name(place)]!r})"
                for place in s.anchors
                if owner[theatre.node_by_name(place)] != s.name
            }
        )
        detail = "; ".join(shared) or "other sectors' anchors are nearer to all its ground"
        raise validate.InputError(
            f"{spec.path}: sector[{k}].anchors: sector {s.name!r} gets no theatre nodes: "
            f"{detail}; give each sector anchors of its own"
        )
