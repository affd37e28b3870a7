"""Figures that pytest-benchmark does not measure well: peak memory of one replication and the
speed-up of a batch on 2 workers over 1.

    .venv/bin/python benchmarks/report.py [--replications 24] [--skip-batch]

Peak memory is ``ru_maxrss`` of a fresh interpreter that imports the package, runs one full
``baseline_2024`` year through ``run_scenario`` (model, daily table, summary) and exits; the
same interpreter's peak after the imports alone is printed beside it. The batch figure is the
wall-clock time of ``run_batch`` over full-year replications on 1 and on 2 spawned workers (the
2-worker time includes starting the workers). Prints Markdown table rows and the machine load.
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

_BATCH = """
import json, sys, time
from sim.batch import run_batch
from sim.model import resolve_scenario, default_theatre
if __name__ == "__main__":
    spec = resolve_scenario("baseline_2024", default_theatre())
    n, workers = int(sys.argv[1]), int(sys.argv[2])
    t0 = time.perf_counter()
    res = run_batch(spec, n, seed=11, workers=workers, progress=False)
    print(json.dumps({"seconds": time.perf_counter() - t0, "runs": len(res.runs)}))
"""


def _python(code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replications", type=int, default=24)
    ap.add_argument("--skip-batch", action="store_true")
    args = ap.parse_args(argv)

    print(f"load average before: {_load()}")
    mem = _python(_MEMORY)
    print(
        f"| peak memory, one replication (RSS) | {mem['peak_kb'] / 1024:.0f} MB "
        f"(imports alone {mem['imports_kb'] / 1024:.0f} MB; the run took {mem['wall_s']:.2f} s "
        "with model construction and outputs) |"
    )
    if not args.skip_batch:
        n = args.replications
        one = _python(_BATCH, str(n), "1")
        two = _python(_BATCH, str(n), "2")
        print(
            f"| batch of {n} full years, 1 vs 2 workers | {one['seconds']:.1f} s vs "
            f"{two['seconds']:.1f} s: {one['seconds'] / two['seconds']:.2f}x |"
        )
    print(f"load average after: {_load()}")
    print(time.strftime("%Y-%m-%d %H:%M"))


if __name__ == "__main__":
    main()
