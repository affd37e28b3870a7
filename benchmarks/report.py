"""Figures that pytest-benchmark does not measure well, each in a fresh interpreter as a user
meets them: peak memory of one replication, model construction, batch throughput on 1 and 2
workers, and a calibration-shaped workload.

    .venv/bin/python benchmarks/report.py [--replications 64] [--skip-batch] [--skip-memory]
        [--construction] [--calibration [WAVES,POINTS,REPLICATIONS]] [--tree DIR]

Peak memory is ``ru_maxrss`` of a fresh interpreter that imports the package, runs one full
``baseline_2024`` year through ``run_scenario`` (model, daily table, summary) and exits; the
same interpreter's peak after the imports alone is printed beside it. The batch figures are the
wall-clock time of ``run_batch`` over full-year replications on 1 and on 2 workers (the 2-worker
time includes starting the workers), and the replications per core-second they give
(:func:`workloads.batch_throughput`). The calibration workload is
:func:`workloads.calibration_workload` (default 4 waves of 32 points x 4 replications of the
2024 year, on 2 workers).

With ``--tree DIR`` (another checkout of the package, e.g. ``git archive 5bf39d0`` unpacked)
each selected figure is also measured on that tree, just before this one's, and the ratio
printed. Prints Markdown table rows and the machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_MEMORY = """
import json, resource, time
import sim.runner
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
r = sim.runner.run_scenario("baseline_2024", seed=1)
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"imports_kb": before, "peak_kb": peak, "days": r.summary["days"],
                  "wall_s": wall}))
"""

# Runs one function of workloads.py with JSON arguments (under the main guard: spawned workers
# re-import the main module).
_WORKLOAD = """
import json, sys
import workloads
if __name__ == "__main__":
    name, args = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps(getattr(workloads, name)(*args)))
"""


def _python(code: str, *args: str, tree: Path = ROOT) -> dict:
    path = os.pathsep.join([str(tree), str(ROOT / "benchmarks")])
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _workload(name: str, *args: object, tree: Path = ROOT) -> dict:
    return _python(_WORKLOAD, name, json.dumps(args), tree=tree)


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _ratio(got: dict[str, dict], key: str, higher_is_better: bool) -> str:
    if len(got) != 2:
        return ""
    old, new = (g[key] for g in got.values())
    return f" ({(new / old if higher_is_better else old / new):.2f}x)"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replications", type=int, default=64, help="batch size (default 64)")
    ap.add_argument("--skip-batch", action="store_true", help="no batch figures")
    ap.add_argument("--skip-memory", action="store_true", help="no peak-memory figure")
    ap.add_argument("--construction", action="store_true", help="time model construction")
    ap.add_argument(
        "--calibration",
        nargs="?",
        const="4,32,4",
        default=None,
        metavar="W,P,R",
        help="run the calibration workload (default 4 waves, 32 points, 4 replications)",
    )
    ap.add_argument("--tree", type=Path, default=None, help="another checkout to compare with")
    args = ap.parse_args(argv)
    trees = {"this tree": ROOT}
    if args.tree is not None:
        trees = {str(args.tree): args.tree.resolve(), **trees}
    names = " vs ".join(trees)

    print(f"load average before: {_load()}", flush=True)
    if not args.skip_memory:
        mem = _python(_MEMORY)
        print(
            f"| peak memory, one replication (RSS) | {mem['peak_kb'] / 1024:.0f} MB "
            f"(imports alone {mem['imports_kb'] / 1024:.0f} MB; the run took "
            f"{mem['wall_s']:.2f} s with model construction and outputs) |",
            flush=True,
        )
    if args.construction:
        got = {k: _workload("construction", tree=t) for k, t in trees.items()}
        cells = " vs ".join(
            f"{1e3 * g['first']:.0f} / {1e3 * g['next_median']:.1f} ms" for g in got.values()
        )
        ratio = _ratio(got, "next_median", higher_is_better=False)
        print(f"| model construction, first / next ({names}) | {cells}{ratio} |", flush=True)
    if not args.skip_batch:
        n = args.replications
        for workers in (1, 2):
            got = {k: _workload("batch_throughput", n, workers, tree=t) for k, t in trees.items()}
            cells = " vs ".join(
                f"{g['seconds']:.1f} s = {g['per_core_second']:.3f}" for g in got.values()
            )
            ratio = _ratio(got, "per_core_second", higher_is_better=True)
            cpu = " vs ".join(
                f"{g['cpu_seconds']:.1f} s = {g['per_cpu_second']:.3f}" for g in got.values()
            )
            cpu_ratio = _ratio(got, "per_cpu_second", higher_is_better=True)
            print(
                f"| batch of {n} full years on {workers} worker(s): wall time = replications "
                f"per core-second ({names}) | {cells}{ratio} |\n"
                f"| same, CPU time = replications per CPU-second | {cpu}{cpu_ratio} |",
                flush=True,
            )
    if args.calibration:
        waves, points, reps = (int(x) for x in args.calibration.split(","))
        got = {
            k: _workload("calibration_workload", waves, points, reps, 2, tree=t)
            for k, t in trees.items()
        }
        sums = {g["checksum"] for g in got.values()}
        cells = " vs ".join(
            f"{g['seconds']:.0f} s (CPU {g['cpu_seconds']:.0f} s)" for g in got.values()
        )
        ratio = _ratio(got, "seconds", higher_is_better=False)
        ratio += " wall," + _ratio(got, "cpu_seconds", higher_is_better=False) + " CPU"
        same = "same outcomes" if len(sums) == 1 else f"OUTCOMES DIFFER: {sorted(sums)}"
        print(
            f"| calibration workload, {waves} waves x {points} points x {reps} replications, "
            f"2 workers ({names}) | {cells}{ratio}; {same} |",
            flush=True,
        )
    print(f"load average after: {_load()}")
    print(time.strftime("%Y-%m-%d %H:%M"))


if __name__ == "__main__":
    main()
