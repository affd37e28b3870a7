"""The hostile-user sweep of issue 15: ~220 bad inputs and faults, run as a new user would.

Not a test (pytest collects only ``tests/``, and only ``test_*.py``): a script that runs
``python -m sim ...`` of the tree given by ``--tree`` in subprocesses, each case in its own
temporary directory, with a timeout that kills the whole process group, and classifies each
outcome:

``clear-error``
    exit 2, no traceback, a message on stderr;
``ran``
    exit 0 (or 130 for Ctrl-C, 141 for a closed pipe, where the case expects it) on a case where
    that is the right answer;
``traceback``
    "Traceback" on stderr, or an exit other than 0/2/130/141 (a crash, or ``1``: an unexpected
    error, which the README counts as a bug);
``silent``
    exit 0 on an input that should have been refused, or that produced a wrong result;
``hang``
    the timeout.

A ``clear-error`` on a case that should have run is marked ``wrong`` in the ``verdict`` column.

Usage::

    python benchmarks/hostile_sweep.py --tree /path/to/tree --out results.csv [--only ID,...]

and ``--compare before.csv after.csv --markdown out.md`` to write the before/after tables.
Cheap by design: every simulation stops a few days after its start.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT = 30.0
SLOW = 120.0  # cases that run a batch (a process pool) or a report
MEMORY_LIMIT = 6 * 2**30  # an unbounded read must not take the shared machine down
OUTCOMES = ("clear-error", "ran", "traceback", "silent", "hang", "setup-failed")

# A short run: three days of baseline_2024.
SHORT = ["--until", "2024-01-03"]
BATCH = ["batch", "baseline_2024", "--until", "2024-01-03", "--replications", "2",
         "--workers", "1", "--seed", "0"]  # fmt: skip


@dataclass
class Case:
    """One hostile input: the command, what a correct program does, how to prepare for it."""

    id: str
    category: str
    argv: list[str] | str  # a str is run by the shell (pipelines)
    expect: str = "error"  # error | ok | either | interrupt | pipe
    setup: Callable[[Path, Context], None] | None = None
    check: Callable[[Path, Context], bool] | None = None  # exit 0 is right only if True
    timeout: float = TIMEOUT
    sigint_after: float | None = None  # seconds of the child's CPU, then SIGINT
    warns: str | None = None  # exit 0 is right only with this on stderr (a printed warning)
    note: str = ""


@dataclass
class Context:
    tree: Path
    python: str
    work: Path
    batch: Path | None = None  # a finished two-replication batch, copied by the cases
    env: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# helpers for the cases


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def scen(name: str, body: str, extends: str | None = "BASE") -> Callable[[Path, Context], None]:
    """A scenario file ``name`` in the case directory; by default it extends a copy of
    baseline_2024 placed beside it (so ``extends`` stays in the scenario's own tree)."""

    def setup(d: Path, ctx: Context) -> None:
        text = body
        if extends == "BASE":
            base = (ctx.tree / "scenarios" / "baseline_2024.toml").read_text()
            base = base.replace(
                'calibration = "../calibration/calibrated.toml"',
                f'calibration = "{ctx.tree / "calibration" / "calibrated.toml"}"',
            )
            write(d / "base.toml", base)
            text = 'extends = "base.toml"\n' + body
        write(d / name, text)

    return setup


def sector_scen(name: str, sectors: str, params: str = "", events: str = "") -> Callable:
    """A stand-alone scenario with its own sectors (no extends: sectors would be added)."""
    head = (
        'name = "hostile"\nstart = 2024-01-01\nend = 2024-01-05\ninitial_control = "2024-01-01"\n'
    )
    return scen(name, head + params + sectors + events, extends=None)


SECTORS_OK = """
[[sector]]
name = "North"
anchors = ["Kupiansk"]
russia_units = 5
ukraine_units = 4

[[sector]]
name = "South"
anchors = ["Pokrovsk"]
russia_units = 6
ukraine_units = 5
"""


def copy_batch(mutate: Callable[[Path], None] | None = None) -> Callable[[Path, Context], None]:
    def setup(d: Path, ctx: Context) -> None:
        assert ctx.batch is not None
        shutil.copytree(ctx.batch, d / "b")
        if mutate:
            mutate(d / "b")

    return setup


def flip_that_decodes(path: Path) -> None:
    """One bit of a float value flipped so that the parquet file still decodes, differently."""
    import io

    import pyarrow.parquet as pq

    data = path.read_bytes()
    original = pq.read_table(path).to_pandas()
    group = pq.ParquetFile(path).metadata.row_group(0)
    for j in range(group.num_columns):
        column = group.column(j)
        if column.physical_type != "DOUBLE":
            continue
        start = column.data_page_offset
        for pos in range(start + column.total_compressed_size - 1, start, -1):
            changed = bytearray(data)
            changed[pos] ^= 0x01
            try:
                table = pq.read_table(io.BytesIO(bytes(changed))).to_pandas()
            except Exception:  # noqa: BLE001 - this flip does not decode; try the next
                continue
            if not table.equals(original):
                path.write_bytes(bytes(changed))
                return
    raise RuntimeError(f"no decodable bit flip in {path}")


def rewrite_table(path: Path) -> None:
    """A valid parquet file with one number changed (metadata, if any, kept)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    for i, f in enumerate(table.schema):
        if pa.types.is_floating(f.type) and len(table):
            values = table.column(i).to_pylist()
            values[0] = (values[0] or 0.0) + 12345.0
            table = table.set_column(i, f, pa.array(values, f.type))
            break
    pq.write_table(table, path)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def same_runs(d: Path, ctx: Context) -> bool:
    """A resumed batch is right only if it reports what the untouched batch reported."""
    import pandas as pd

    assert ctx.batch is not None
    got = d / "b" / "runs.parquet"
    return got.exists() and pd.read_parquet(got).equals(pd.read_parquet(ctx.batch / "runs.parquet"))


def make_fifo(name: str) -> Callable[[Path, Context], None]:
    def setup(d: Path, ctx: Context) -> None:
        os.mkfifo(d / name)

    return setup


def both(*setups: Callable[[Path, Context], None]) -> Callable[[Path, Context], None]:
    def setup(d: Path, ctx: Context) -> None:
        for s in setups:
            s(d, ctx)

    return setup


def silent_port(d: Path, ctx: Context) -> None:
    """A TCP listener that accepts and never speaks: started here, closed after the case."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    ctx.env["SILENT_PORT"] = str(sock.getsockname()[1])
    ctx.env["_sock"] = str(sock.fileno())
    _SOCKETS.append(sock)


_SOCKETS: list[socket.socket] = []


def free_port(d: Path, ctx: Context) -> None:
    """A port nothing listens on (for a view that should start, and is killed at the timeout)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        ctx.env["SILENT_PORT"] = str(sock.getsockname()[1])


def readonly_dir(d: Path, ctx: Context) -> None:
    """``d/ro``: a directory the case cannot write to. Permission bits do not stop root, so as
    root it is a link to /sys/kernel, which even root cannot write into."""
    if os.geteuid() == 0:
        os.symlink("/sys/kernel", d / "ro")
        return
    (d / "ro").mkdir()
    os.chmod(d / "ro", 0o500)


# --------------------------------------------------------------------------------------------
# the cases


def cases() -> list[Case]:  # noqa: PLR0915 - one long, flat list is the point
    c: list[Case] = []

    def add(id_: str, cat: str, argv, expect: str = "error", **kw) -> None:
        c.append(Case(id_, cat, argv, expect, **kw))

    run = ["run", "baseline_2024", *SHORT]

    # --- CLI arguments of every verb ---------------------------------------------------------
    A = "cli-args"
    add("noargs", A, [], "error")
    add("unknown-verb", A, ["fly"])
    add("run-noscenario", A, ["run"])
    add("run-unknown-flag", A, ["run", "baseline_2024", "--sede", "1"])
    add("run-missing-scenario", A, ["run", "no_such_scenario", *SHORT])
    add("run-scenario-dir", A, ["run", "{D}", *SHORT])
    add("run-scenario-empty-name", A, ["run", "", *SHORT])
    add("run-scenario-devnull", A, ["run", "/dev/null", *SHORT])
    add("run-scenario-devzero", A, ["run", "/dev/zero", *SHORT])
    add("run-scenario-etc-passwd", A, ["run", "/etc/passwd", *SHORT])
    add("run-help", A, ["run", "--help"], "ok")
    add("version-flag", A, ["--version"])
    add("batch-no-out", A, ["batch", "baseline_2024", "--replications", "2"])
    add("batch-no-reps", A, ["batch", "baseline_2024", "--out", "{D}/o"])
    add("batch-reps-zero", A, [*BATCH[:4], "--replications", "0", "--out", "{D}/o"])
    add("batch-reps-neg", A, [*BATCH[:4], "--replications", "-3", "--out", "{D}/o"])
    add("batch-reps-text", A, [*BATCH[:4], "--replications", "ten", "--out", "{D}/o"])
    add("batch-reps-float", A, [*BATCH[:4], "--replications", "2.5", "--out", "{D}/o"])
    add("batch-workers-zero", A, [*BATCH[:6], "--workers", "0", "--out", "{D}/o"])
    add("batch-workers-neg", A, [*BATCH[:6], "--workers", "-1", "--out", "{D}/o"])
    add("batch-workers-text", A, [*BATCH[:6], "--workers", "all", "--out", "{D}/o"])
    add("batch-workers-huge", A, [*BATCH[:6], "--workers", "100000", "--out", "{D}/o"])
    add("batch-workers-1000", A, [*BATCH[:6], "--workers", "1000", "--out", "{D}/o"])
    add("batch-posterior-missing", A, [*BATCH, "--posterior", "{D}/nope.csv", "--out", "{D}/o"])
    add("batch-posterior-garbage", A, [*BATCH, "--posterior", "{D}/p.csv", "--out", "{D}/o"],
        setup=lambda d, x: write(d / "p.csv", "this,is\nnot,a posterior\n"))  # fmt: skip
    add("batch-posterior-binary", A, [*BATCH, "--posterior", "{D}/p.csv", "--out", "{D}/o"],
        setup=lambda d, x: write(d / "p.csv", b"\x00\xff\xfe" * 100))  # fmt: skip
    add("batch-posterior-dir", A, [*BATCH, "--posterior", "{D}", "--out", "{D}/o"])
    add("sweep-no-design", A, ["sweep", "baseline_2024", "--param", "fires_elasticity=0.2:0.3",
        "--samples", "2", "--replications", "1", "--out", "{D}/o"])  # fmt: skip
    add("sweep-bad-design", A, ["sweep", "baseline_2024", "--design", "random", "--param",
        "fires_elasticity=0.2:0.3", "--samples", "2", "--replications", "1", "--out", "{D}/o"])  # fmt: skip
    sw = ["sweep", "baseline_2024", *SHORT, "--design", "grid", "--replications", "1",
          "--workers", "1", "--out", "{D}/o"]  # fmt: skip
    add("sweep-param-unknown", A, [*sw, "--param", "wibble=0:1", "--samples", "2"])
    add("sweep-param-noeq", A, [*sw, "--param", "fires_elasticity", "--samples", "2"])
    add("sweep-param-nocolon", A, [*sw, "--param", "fires_elasticity=0.3", "--samples", "2"])
    add("sweep-param-reversed", A, [*sw, "--param", "fires_elasticity=0.9:0.1", "--samples", "2"])
    add("sweep-param-outside", A, [*sw, "--param", "fires_elasticity=-5:500", "--samples", "2"])
    add("sweep-param-nan", A, [*sw, "--param", "fires_elasticity=nan:0.5", "--samples", "2"])
    add("sweep-param-inf", A, [*sw, "--param", "fires_elasticity=0.1:inf", "--samples", "2"])
    add("sweep-param-text", A, [*sw, "--param", "fires_elasticity=a:b", "--samples", "2"])
    add("sweep-param-twice", A, [*sw, "--param", "fires_elasticity=0.2:0.3", "--param", "fires_elasticity=0.3:0.4",
        "--samples", "2"])  # fmt: skip
    add("sweep-samples-zero", A, [*sw, "--param", "fires_elasticity=0.2:0.3", "--samples", "0"])
    add("sweep-samples-neg", A, [*sw, "--param", "fires_elasticity=0.2:0.3", "--samples", "-2"])
    add("sweep-grid-1e9", A, [*sw, "--param", "fires_elasticity=0.1:0.6", "--param",
        "depth_exponent=0:1", "--param", "surprise_exploitation=0:1", "--samples", "1000"])  # fmt: skip
    add("sweep-sobol-not-pow2", A, [*sw[:-9], "--design", "sobol", "--replications", "1",
        "--workers", "1", "--out", "{D}/o", "--param", "fires_elasticity=0.2:0.3", "--samples", "3"])  # fmt: skip
    add("sweep-sobol-bad-outcome", A, [*sw[:-9], "--design", "sobol", "--replications", "1",
        "--workers", "1", "--out", "{D}/o", "--param", "fires_elasticity=0.2:0.3", "--samples", "2",
        "--sobol", "happiness"])  # fmt: skip
    add("sweep-sobol-with-grid", A, [*sw, "--param", "fires_elasticity=0.2:0.3", "--samples", "2",
        "--sobol", "russia_gain_km2"])  # fmt: skip
    add("sweep-reps-1e9", A, [*sw[:-6], "--replications", "1000000000", "--workers", "1",
        "--out", "{D}/o", "--param", "fires_elasticity=0.2:0.3", "--samples", "2"])  # fmt: skip
    add("report-noargs", A, ["report"])
    add("report-three-dirs", A, ["report", "{D}", "{D}", "{D}"])
    add("calibrate-bad-workers", A, ["calibrate", "--quick", "--workers", "0", "--out", "{D}/o"])
    add("calibrate-targets-missing", A, ["calibrate", "--quick", "--targets", "{D}/t.toml",
        "--out", "{D}/o"])  # fmt: skip
    add("calibrate-search-scenario", A, ["calibrate", "--quick", "--search",
        "{TREE}/scenarios/baseline_2024.toml", "--out", "{D}/o"])  # fmt: skip
    add("calibrate-search-garbage", A, ["calibrate", "--quick", "--search", "{D}/s.toml",
        "--out", "{D}/o"], setup=lambda d, x: write(d / "s.toml", "[[[nope"))  # fmt: skip
    add("calibrate-targets-empty", A, ["calibrate", "--quick", "--targets", "{D}/t.toml",
        "--out", "{D}/o"], setup=lambda d, x: write(d / "t.toml", ""))  # fmt: skip
    add("calibrate-targets-devzero", A, ["calibrate", "--quick", "--targets", "/dev/zero",
        "--out", "{D}/o"])  # fmt: skip
    add("calibrate-record-targets-dir", A, ["calibrate", "--record", "--quick", "--search",
        "{D}", "--out", "{D}/o"])  # fmt: skip
    add("record-by-bad", A, ["record", "--by", "week"])
    add("record-sectors-missing", A, ["record", "--sectors", "atlantis"])
    add("record-sectors-garbage", A, ["record", "--sectors", "{D}/x.toml"],
        setup=lambda d, x: write(d / "x.toml", "name = [1, "))  # fmt: skip
    add("record-report-no-score", A, ["record", "--report", "{D}/r"])
    add("record-posterior-no-report", A, ["record", "--posterior", "{D}/p.csv"])
    add("theatre-noaction", A, ["theatre"])
    add("theatre-bad-action", A, ["theatre", "destroy"])
    add("params-bad-flag", A, ["params", "--html"])
    add("view-port-99999", A, ["view", "--port", "99999"])
    add("view-port-neg", A, ["view", "--port", "-1"])
    add("view-port-text", A, ["view", "--port", "http"])
    add(
        "view-port-zero",
        A,
        ["view", "--port", "0"],
        "either",
        timeout=8,
        note="port 0 may legitimately mean 'any free port'; a server that starts is killed",
    )
    add("view-bad-scenario", A, ["view", "no_such_scenario"])
    add("view-scenario-garbage", A, ["view", "{D}/x.toml", "--port", "1"],
        setup=lambda d, x: write(d / "x.toml", "= = ="))  # fmt: skip
    add("view-host-garbage", A, ["view", "--host", "not a host!", "--port", "8"])

    # --- seeds ----------------------------------------------------------------------------------
    S = "seed"
    for verb in ("run", "batch"):
        base = run if verb == "run" else [*BATCH[:-2], "--out", "{D}/o"]
        add(f"{verb}-seed-neg", S, [*base, "--seed", "-1"])
        add(f"{verb}-seed-2^64", S, [*base, "--seed", str(2**64)])
        add(f"{verb}-seed-text", S, [*base, "--seed", "abc"])
        add(f"{verb}-seed-float", S, [*base, "--seed", "1.5"])
        add(f"{verb}-seed-empty", S, [*base, "--seed", ""])
        add(f"{verb}-seed-hex", S, [*base, "--seed", "0x10"])
    add("run-seed-2^63-1", S, [*run, "--seed", str(2**63 - 1)], "ok")
    add("run-seed-2^63", S, [*run, "--seed", str(2**63)])
    add("run-seed-1e30", S, [*run, "--seed", "1" + "0" * 30])
    add("run-seed-underscore", S, [*run, "--seed", "1_000"], "either",
        note="Python int() accepts 1_000; acceptance is harmless")  # fmt: skip
    add(
        "sweep-seed-neg",
        S,
        [*sw, "--seed", "-7", "--param", "fires_elasticity=0.2:0.3", "--samples", "2"],
    )

    # --- dates ----------------------------------------------------------------------------------
    T = "dates"
    rb = ["run", "baseline_2024"]
    add("until-before-start", T, [*rb, "--until", "2023-06-01"])
    add("until-feb30", T, [*rb, "--until", "2024-02-30"])
    add("until-garbage", T, [*rb, "--until", "tomorrow"])
    add("until-empty", T, [*rb, "--until", ""])
    add("until-far-future", T, [*rb, "--until", "9999-12-31"], "either", timeout=TIMEOUT,
        note="past the scenario's end: refused, or clipped to the end (would take minutes)")  # fmt: skip
    add("until-after-end", T, [*rb, "--until", "2025-06-01"], "error",
        note="past end=2024-12-31; clipping silently would also do, but it runs a year")  # fmt: skip
    add("until-equal-start", T, [*rb, "--until", "2024-01-01"], "either")
    add("until-us-format", T, [*rb, "--until", "01/03/2024"])
    add("until-iso-time", T, [*rb, "--until", "2024-01-03T12:00"], "either")
    add("set-start-1900", T, [*rb, *SHORT, "--set", "start=1900-01-01"])
    add("set-start-after-end", T, [*rb, "--set", "start=2025-06-01", "--set", "end=2025-01-01"])
    add("set-end-before-start", T, [*rb, "--set", "end=2023-01-01"])
    add("set-start-feb30", T, [*rb, "--set", "start=2024-02-30"])
    add("set-start-garbage", T, [*rb, "--set", "start=soon"])
    add("set-initial-control-unknown", T, [*rb, *SHORT, "--set", "initial_control=1999-01-01"])
    add("set-initial-control-path", T, [*rb, *SHORT, "--set", "initial_control=/etc/passwd"])
    add("set-start-ok", T, [*rb, "--set", "start=2024-01-02", "--until", "2024-01-04"], "ok")
    add("batch-until-before-start", T, [*BATCH[:2], "--until", "2020-01-01",
        "--replications", "1", "--out", "{D}/o"])  # fmt: skip

    # --- --set ----------------------------------------------------------------------------------
    P = "set"
    for i, kv in enumerate([
        "wibble=1", "fires_elasticity", "=1", "fires_elasticity=", "fires_elasticity=abc", "fires_elasticity=nan", "fires_elasticity=inf",
        "fires_elasticity=-inf", "fires_elasticity=-1", "fires_elasticity=1e300", "fires_elasticity=true", "fires_elasticity=[1,2]",
        "fires_elasticity=0x10", "russia_recruits_per_day=-100", "russia_recruits_per_day=1e12",
        "ukraine_unit_personnel=0", "russia_shells_per_day=nan", "name=evil",
        "calibration=/etc/passwd", "extends=/dev/zero", "sector=1",
        "collapse_window_days=99999",
        "fires_elasticity=__import__('os').system('touch /tmp/pwned')",
    ]):  # fmt: skip
        add(f"set-{i:02d}-{kv.split('=')[0] or 'empty'}", P, [*run, "--set", kv],
            note=kv)  # fmt: skip
    add("set-construction-key", P, [*run, "--set", "training_delay_days=5"], "ok",
        note="read at the start: --set is fine (only [schedule] of it is refused)")  # fmt: skip
    add("set-ok", P, [*run, "--set", "fires_elasticity=0.5"], "either",
        note="in range (if the registry allows 0.5)")  # fmt: skip
    add("set-twice", P, [*run, "--set", "fires_elasticity=0.3", "--set", "fires_elasticity=0.4"], "either",
        note="last one wins, or refused")  # fmt: skip
    add("set-unicode-key", P, [*run, "--set", "ømega=1"])

    # --- scenario files -------------------------------------------------------------------------
    F = "scenario-file"
    r = ["run", "{D}/s.toml", *SHORT]
    bad_toml = {
        "toml-syntax": "name = \n",
        "toml-unclosed": 'name = "x\n',
        "toml-dup-key": 'name = "a"\nname = "b"\n',
        "toml-wrong-type-start": 'start = "yesterday"\n',
        "toml-start-int": "start = 5\n",
        "toml-params-list": "params = [1, 2]\n",
        "toml-params-unknown": "[params]\nwibble = 3\n",
        "toml-params-string": '[params]\nfires_elasticity = "high"\n',
        "toml-params-nan": "[params]\nfires_elasticity = nan\n",
        "toml-params-inf": "[params]\nfires_elasticity = inf\n",
        "toml-params-bool": "[params]\nfires_elasticity = true\n",
        "toml-params-neg": "[params]\nrussia_recruits_per_day = -5\n",
        "toml-params-table": "[params.fires_elasticity]\nx = 1\n",
        "toml-schedule-bad-date": '[schedule.russia_recruits_per_day]\n"2024-02-30" = 900\n',
        "toml-schedule-unknown-key": '[schedule.wibble]\n"2024-01-01" = 1\n',
        "toml-schedule-out-of-range": '[schedule.russia_recruits_per_day]\n"2024-01-01" = 1e9\n',
        "toml-schedule-construction": '[schedule.training_delay_days]\n"2024-01-02" = 5\n',
        "toml-schedule-not-table": "[params]\n[schedule]\nfires_elasticity = 3\n",
        "toml-unknown-top-key": "wibble = 1\n",
        "toml-event-unknown-kind": '[[event]]\ndate = 2024-01-02\nkind = "nuke"\n',
        "toml-event-before-start": '[[event]]\ndate = 2020-01-01\nkind = "redeploy"\n'
        'side = "ukraine"\nfrom_sector = "Pokrovsk"\nto_sector = "Kursk border"\nunits = 1\n',
        "toml-event-after-end": '[[event]]\ndate = 2030-01-01\nkind = "redeploy"\n'
        'side = "ukraine"\nfrom_sector = "Pokrovsk"\nto_sector = "Kursk border"\nunits = 1\n',
        "toml-event-unknown-sector": '[[event]]\ndate = 2024-01-02\nkind = "redeploy"\n'
        'side = "ukraine"\nfrom_sector = "Atlantis"\nto_sector = "Kursk border"\nunits = 1\n',
        "toml-event-bad-side": '[[event]]\ndate = 2024-01-02\nkind = "redeploy"\n'
        'side = "nato"\nfrom_sector = "Pokrovsk"\nto_sector = "Kursk border"\nunits = 1\n',
        "toml-event-neg-units": '[[event]]\ndate = 2024-01-02\nkind = "redeploy"\n'
        'side = "ukraine"\nfrom_sector = "Pokrovsk"\nto_sector = "Kursk border"\nunits = -4\n',
        "toml-redeploy-500": '[[event]]\ndate = 2024-01-02\nkind = "redeploy"\n'
        'side = "ukraine"\nfrom_sector = "Kursk border"\nto_sector = "Pokrovsk"\nunits = 500\n',
        "toml-event-self": '[[event]]\ndate = 2024-01-02\nkind = "redeploy"\n'
        'side = "ukraine"\nfrom_sector = "Pokrovsk"\nto_sector = "Pokrovsk"\nunits = 1\n',
        "toml-event-missing-fields": '[[event]]\ndate = 2024-01-02\nkind = "redeploy"\n',
        "toml-calibration-missing": 'calibration = "nope.toml"\n',
    }
    for k, body in bad_toml.items():
        add(k, F, r, setup=scen("s.toml", body))
    add("toml-empty", F, r, setup=scen("s.toml", "", extends=None))
    add("toml-only-comment", F, r, setup=scen("s.toml", "# nothing\n", extends=None))
    add("toml-plain-extends", F, r, "ok", setup=scen("s.toml", ""),
        note="a plain extension of baseline_2024: must run")  # fmt: skip
    add("non-utf8", F, r, setup=lambda d, x: write(d / "s.toml", b'name = "\xff\xfe\x80"\n'))
    add("non-utf8-comment", F, r,
        setup=lambda d, x: write(d / "s.toml", b"# caf\xe9\nname = 'x'\n"))  # fmt: skip
    add("utf16-bom", F, r, setup=lambda d, x: write(d / "s.toml", 'name = "x"\n'.encode("utf-16")))
    add("nul-bytes", F, r, setup=lambda d, x: write(d / "s.toml", b"name = \x00\x00\n"))
    add("huge-file", F, r, setup=lambda d, x: write(d / "s.toml", "# " + "x" * (8 * 2**20) + "\n"))
    add("deep-nesting", F, r, setup=lambda d, x: write(d / "s.toml", "a = " + "[" * 50000 + "]" * 50000 + "\n"))  # fmt: skip
    add("units-1e8", F, r, setup=sector_scen("s.toml", SECTORS_OK.replace("= 5", "= 100000000")))
    add("units-3000", F, r, setup=sector_scen("s.toml", SECTORS_OK.replace("= 5", "= 3000")))
    add("units-neg", F, r, setup=sector_scen("s.toml", SECTORS_OK.replace("= 5", "= -5")))
    add("units-float", F, r, setup=sector_scen("s.toml", SECTORS_OK.replace("= 5", "= 5.5")))
    add("units-string", F, r, setup=sector_scen("s.toml", SECTORS_OK.replace("= 5", '= "five"')))
    add("sectors-ok", F, r, "ok", setup=sector_scen("s.toml", SECTORS_OK))
    add("sector-dup-name", F, r,
        setup=sector_scen("s.toml", SECTORS_OK.replace('"South"', '"North"')))  # fmt: skip
    add("sector-dup-anchor", F, r,
        setup=sector_scen("s.toml", SECTORS_OK.replace('"Pokrovsk"', '"Kupiansk"')))  # fmt: skip
    add("sector-unknown-anchor", F, r,
        setup=sector_scen("s.toml", SECTORS_OK.replace('"Pokrovsk"', '"Atlantis"')))  # fmt: skip
    add("sector-no-anchors", F, r,
        setup=sector_scen("s.toml", SECTORS_OK.replace('["Pokrovsk"]', "[]")))  # fmt: skip
    add("sector-fort-99", F, r, setup=sector_scen(
        "s.toml", SECTORS_OK.replace("ukraine_units = 5", "ukraine_units = 5\nukraine_fortification = 99")))  # fmt: skip
    add("sector-unknown-key", F, r, setup=sector_scen(
        "s.toml", SECTORS_OK.replace("ukraine_units = 5", "ukraine_units = 5\nwibble = 1")))  # fmt: skip
    add("sector-no-name", F, r,
        setup=sector_scen("s.toml", SECTORS_OK.replace('name = "South"\n', "")))  # fmt: skip
    add("no-sectors", F, r, "either", setup=sector_scen("s.toml", ""),
        note="no order of battle: refused, or run with none")  # fmt: skip
    add("initial-control-unknown", F, r, setup=scen("s.toml", 'initial_control = "1066-10-14"\n'))
    add("start-1900-file", F, r, setup=scen("s.toml", "start = 1900-01-01\n"))
    add("end-before-start-file", F, r, setup=scen("s.toml", "end = 2023-01-01\n"))

    # --- paths: extends and calibration ----------------------------------------------------------
    X = "paths"
    add("extends-self", X, r, setup=scen("s.toml", 'extends = "s.toml"\n', extends=None))
    add("extends-cycle", X, r, setup=both(
        scen("s.toml", 'extends = "t.toml"\nname = "s"\n', extends=None),
        scen("t.toml", 'extends = "s.toml"\nname = "t"\n', extends=None)))  # fmt: skip
    add("extends-fifo", X, r, setup=both(make_fifo("f.toml"),
        scen("s.toml", 'extends = "f.toml"\n', extends=None)))  # fmt: skip
    add("extends-devzero", X, r, setup=scen("s.toml", 'extends = "/dev/zero"\n', extends=None))
    add("extends-devzero-allowed", X, [*r, "--allow-path", "/dev"],
        setup=scen("s.toml", 'extends = "/dev/zero"\n', extends=None))  # fmt: skip
    add("extends-devnull", X, r, setup=scen("s.toml", 'extends = "/dev/null"\n', extends=None))
    add("extends-dir", X, r, setup=both(lambda d, x: (d / "sub.toml").mkdir(),
        scen("s.toml", 'extends = "sub.toml"\n', extends=None)))  # fmt: skip
    add("extends-etc-passwd", X, r, setup=scen("s.toml", 'extends = "/etc/passwd"\n', extends=None))
    add("extends-outside-toml", X, r, setup=both(
        lambda d, x: write(d.parent / f"{d.name}-outside.toml", 'name = "o"\n'),
        lambda d, x: write(d / "s.toml", f'extends = "../{d.name}-outside.toml"\n')))  # fmt: skip
    add("extends-outside-allowed", X, [*r, "--allow-path", "{D}/.."], "ok", setup=both(
        lambda d, x: write(d.parent / f"{d.name}-o.toml", (x.tree / "scenarios" / "baseline_2024.toml").read_text().replace(
            'calibration = "../calibration/calibrated.toml"', "")),
        lambda d, x: write(d / "s.toml", f'extends = "../{d.name}-o.toml"\n')))  # fmt: skip
    add("extends-non-toml", X, r, setup=both(lambda d, x: write(d / "b.txt", 'name = "x"\n'),
        scen("s.toml", 'extends = "b.txt"\n', extends=None)))  # fmt: skip
    add("extends-missing", X, r, setup=scen("s.toml", 'extends = "nope.toml"\n', extends=None))
    add("extends-int", X, r, setup=scen("s.toml", "extends = 5\n", extends=None))
    add("extends-list", X, r, setup=scen("s.toml", 'extends = ["a.toml"]\n', extends=None))
    add("extends-symlink-out", X, r, setup=both(
        lambda d, x: os.symlink("/etc/passwd", d / "l.toml"),
        scen("s.toml", 'extends = "l.toml"\n', extends=None)))  # fmt: skip
    add("extends-deep-chain", X, r, "either", setup=lambda d, x: [
        write(d / f"c{i}.toml", f'extends = "c{i + 1}.toml"\n') for i in range(60)
    ] and write(d / "c60.toml", (x.tree / "scenarios/baseline_2024.toml").read_text().replace(
        "../calibration/calibrated.toml", str(x.tree / "calibration/calibrated.toml")))
        and write(d / "s.toml", 'extends = "c0.toml"\n'),
        note="a 60-deep chain: fine to run or to refuse as too deep")  # fmt: skip
    add("calibration-etc", X, r, setup=scen("s.toml", 'calibration = "/etc/passwd"\n'))
    add("calibration-devzero", X, r, setup=scen("s.toml", 'calibration = "/dev/zero"\n'))
    add("calibration-fifo", X, r, setup=both(make_fifo("c.toml"),
        scen("s.toml", 'calibration = "c.toml"\n')))  # fmt: skip
    add("calibration-elsewhere", X, r, setup=both(
        lambda d, x: write(d.parent / f"{d.name}-cal.toml", "[params]\nfires_elasticity = 0.3\n"),
        lambda d, x: scen("s.toml", f'calibration = "../{d.name}-cal.toml"\n')(d, x)))  # fmt: skip
    add("calibration-garbage", X, r, setup=both(lambda d, x: write(d / "c.toml", "@@@"),
        scen("s.toml", 'calibration = "c.toml"\n')))  # fmt: skip
    add("calibration-dir", X, r, setup=both(lambda d, x: (d / "c.toml").mkdir(),
        scen("s.toml", 'calibration = "c.toml"\n')))  # fmt: skip
    add("calibration-unknown-param", X, r, setup=both(
        lambda d, x: write(d / "c.toml", "[params]\nwibble = 1\n"),
        scen("s.toml", 'calibration = "c.toml"\n')))  # fmt: skip
    add("scenario-fifo-cli", X, ["run", "{D}/f.toml", *SHORT], setup=make_fifo("f.toml"))
    add("scenario-symlink-devzero", X, ["run", "{D}/z.toml", *SHORT],
        setup=lambda d, x: os.symlink("/dev/zero", d / "z.toml"))  # fmt: skip
    add("allow-path-missing", X, [*run, "--allow-path", "{D}/nowhere"], "either",
        note="an --allow-path that does not exist: harmless")  # fmt: skip
    add("scenario-name-traversal", X, ["run", "../../../../etc/passwd", *SHORT])

    # --- output directories ------------------------------------------------------------------------
    OUT = "output"
    add("out-is-file", OUT, [*run, "--out", "{D}/f"], setup=lambda d, x: write(d / "f", "x"))
    add(
        "out-nested-in-file",
        OUT,
        [*run, "--out", "{D}/f/sub"],
        setup=lambda d, x: write(d / "f", "x"),
    )
    add("out-readonly", OUT, [*run, "--out", "{D}/ro/o"], setup=readonly_dir)
    add("out-readonly-itself", OUT, [*run, "--out", "{D}/ro"], setup=readonly_dir)
    add("out-devnull", OUT, [*run, "--out", "/dev/null"])
    add("out-proc", OUT, [*run, "--out", "/proc/self/o"])
    add("out-empty", OUT, [*run, "--out", ""])
    add("out-existing-nonempty", OUT, [*run, "--out", "{D}/o"], "either",
        setup=lambda d, x: write(d / "o" / "mine.txt", "precious"),
        note="writes beside an unrelated file (kept) or refuses")  # fmt: skip
    add(
        "batch-out-is-file", OUT, [*BATCH, "--out", "{D}/f"], setup=lambda d, x: write(d / "f", "x")
    )
    add("batch-out-readonly", OUT, [*BATCH, "--out", "{D}/ro/o"], setup=readonly_dir)
    add("batch-out-other-batch", OUT, [*BATCH[:-1], "7", "--out", "{D}/b"], setup=copy_batch(),
        note="--out holds a batch of another seed: must not mix")  # fmt: skip
    add("batch-out-other-scenario", OUT, ["batch", "summer_2024", "--until", "2024-06-03",
        "--replications", "2", "--workers", "1", "--out", "{D}/b"], setup=copy_batch())  # fmt: skip
    add("sweep-out-is-file", OUT, [*sw[:-1], "{D}/f", "--param", "fires_elasticity=0.2:0.3", "--samples", "2"],
        setup=lambda d, x: write(d / "f", "x"))  # fmt: skip
    add("report-out-is-file", OUT, ["report", "{D}/b", "--out", "{D}/f"],
        setup=both(copy_batch(), lambda d, x: write(d / "f", "x")), timeout=SLOW)  # fmt: skip
    add("calibrate-out-is-file", OUT, ["calibrate", "--quick", "--out", "{D}/f"],
        setup=lambda d, x: write(d / "f", "x"))  # fmt: skip
    add("record-report-readonly", OUT, ["record", "--score", "{D}/b", "--report", "{D}/ro/r"],
        setup=both(copy_batch(), readonly_dir))  # fmt: skip

    # --- limits ---------------------------------------------------------------------------------
    L = "limits"
    add("reps-1e9", L, [*BATCH[:4], "--replications", "1000000000", "--out", "{D}/o"])
    add("reps-1e7", L, [*BATCH[:4], "--replications", "10000000", "--out", "{D}/o"])
    add("reps-2^63", L, [*BATCH[:4], "--replications", str(2**63), "--out", "{D}/o"])
    add("event-units-1e6", L, r, setup=scen("s.toml", '[[event]]\ndate = 2024-01-02\n'
        'kind = "redeploy"\nside = "ukraine"\nfrom_sector = "Pokrovsk"\n'
        'to_sector = "Kursk border"\nunits = 1000000\n'))  # fmt: skip
    add("grid-merged-levels", L, ["sweep", "baseline_2024", *SHORT, "--design", "grid",
        "--param", "surprise_days=2:2.4", "--samples", "3", "--replications", "1",
        "--workers", "1", "--out", "{D}/o"], "either", timeout=SLOW, warns="warning",
        note="levels that round together: merged with a warning is the documented choice")  # fmt: skip
    add("lhs-1e9", L, [*sw[:-9], "--design", "lhs", "--replications", "1", "--workers", "1",
        "--out", "{D}/o", "--param", "fires_elasticity=0.2:0.3", "--samples", "1000000000"])  # fmt: skip
    add("sobol-2^40", L, [*sw[:-9], "--design", "sobol", "--replications", "1", "--workers", "1",
        "--out", "{D}/o", "--param", "fires_elasticity=0.2:0.3", "--samples", str(2**40)])  # fmt: skip
    add("set-end-year-3000", L, [*rb, "--set", "end=3000-01-01", "--until", "2024-01-03"], "either",
        note="stopped early by --until: a far end is harmless, or refused")  # fmt: skip

    # --- corrupted batch directories -----------------------------------------------------------
    C = "corruption"

    def part0(b: Path) -> Path:
        return sorted((b / "parts").glob("rep_*.parquet"))[0]

    resume = [*BATCH, "--out", "{D}/b"]
    add("resume-untouched", C, resume, "ok", setup=copy_batch(), check=same_runs, timeout=SLOW)
    add("resume-bitflip-part", C, resume, "ok", setup=copy_batch(lambda b: flip_that_decodes(part0(b))),
        check=same_runs, timeout=SLOW, note="right only if the part is re-run: runs equal the original")  # fmt: skip
    add("resume-rewritten-part", C, resume, "ok", setup=copy_batch(lambda b: rewrite_table(part0(b))),
        check=same_runs, timeout=SLOW, note="valid parquet, one value changed")  # fmt: skip
    add("resume-truncated-part", C, resume, "ok", setup=copy_batch(lambda b: truncate(part0(b))),
        check=same_runs, timeout=SLOW)  # fmt: skip
    add("resume-empty-part", C, resume, "ok", setup=copy_batch(lambda b: part0(b).write_bytes(b"")),
        check=same_runs, timeout=SLOW)  # fmt: skip
    add(
        "resume-part-is-dir",
        C,
        resume,
        "either",
        setup=copy_batch(lambda b: (lambda p: (p.unlink(), p.mkdir()))(part0(b))),
        check=same_runs,
        timeout=SLOW,
    )
    add("resume-missing-part", C, resume, "ok", setup=copy_batch(lambda b: part0(b).unlink()),
        check=same_runs, timeout=SLOW)  # fmt: skip
    add("resume-batchjson-changed", C, resume, "either", setup=copy_batch(
        lambda b: write(b / "batch.json", (b / "batch.json").read_text().replace('"seed": 0', '"seed": 5'))),
        check=same_runs, timeout=SLOW, note="refused, or every part re-run")  # fmt: skip
    add("resume-batchjson-garbage", C, resume, "either", setup=copy_batch(
        lambda b: write(b / "batch.json", "{not json")), check=same_runs, timeout=SLOW)  # fmt: skip
    add("resume-more-reps", C, [*BATCH[:4], "--replications", "3", "--workers", "1", "--seed",
        "0", "--out", "{D}/b"], "either", setup=copy_batch(), timeout=SLOW,
        note="extending a batch: legitimate, or refused as another batch")  # fmt: skip
    rep = ["report", "{D}/b", "--out", "{D}/r"]
    add("report-ok", C, rep, "ok", setup=copy_batch(), timeout=SLOW)
    add("report-bitflip-part", C, rep, "either", setup=copy_batch(lambda b: flip_that_decodes(part0(b))),
        timeout=SLOW, note="report reads the tables, not the parts: either is right")  # fmt: skip
    for table in ("runs", "daily", "nodes", "events"):
        add(f"report-{table}-rewritten", C, rep,
            setup=copy_batch(lambda b, t=table: rewrite_table(b / f"{t}.parquet") if t != "events"
                             else flip_that_decodes(b / "daily.parquet")), timeout=SLOW)  # fmt: skip
        add(f"report-{table}-truncated", C, rep,
            setup=copy_batch(lambda b, t=table: truncate(b / f"{t}.parquet")), timeout=SLOW)  # fmt: skip
        add(f"report-{table}-missing", C, rep,
            setup=copy_batch(lambda b, t=table: (b / f"{t}.parquet").unlink()), timeout=SLOW)  # fmt: skip
    add("report-batchjson-missing", C, rep, setup=copy_batch(lambda b: (b / "batch.json").unlink()),
        timeout=SLOW)  # fmt: skip
    add("report-batchjson-changed", C, rep, setup=copy_batch(
        lambda b: write(b / "batch.json", (b / "batch.json").read_text().replace('"seed": 0', '"seed": 5'))),
        timeout=SLOW)  # fmt: skip
    add("report-summary-changed", C, rep, setup=copy_batch(
        lambda b: write(b / "summary.json", (b / "summary.json").read_text().replace("1", "9", 1))),
        timeout=SLOW)  # fmt: skip
    add("report-checksums-tampered", C, rep, setup=copy_batch(
        lambda b: write(b / "checksums.json", (b / "checksums.json").read_text().replace("a", "b", 3))
        if (b / "checksums.json").exists() else None), timeout=SLOW)  # fmt: skip
    add("report-checksums-garbage", C, rep, setup=copy_batch(
        lambda b: write(b / "checksums.json", "][")), timeout=SLOW)  # fmt: skip
    add("report-checksums-missing", C, rep, "either", setup=copy_batch(
        lambda b: (b / "checksums.json").unlink(missing_ok=True)), timeout=SLOW, warns="checksums",
        note="an old batch without checksums: refused or read with a warning")  # fmt: skip

    # --- report on wrong things ------------------------------------------------------------------
    R = "report"
    add("report-missing-dir", R, ["report", "{D}/nope"])
    add("report-empty-dir", R, ["report", "{D}/e"], setup=lambda d, x: (d / "e").mkdir())
    add("report-file", R, ["report", "{D}/f"], setup=lambda d, x: write(d / "f", "x"))
    add("report-scenarios-dir", R, ["report", "{TREE}/scenarios"])
    add("report-run-dir", R, ["report", "{D}/r"], timeout=SLOW, setup=lambda d, x: subprocess.run(
        [x.python, "-m", "sim", "run", "baseline_2024", *SHORT, "--out", str(d / "r")],
        env=child_env(x), cwd=x.tree, capture_output=True, timeout=SLOW))  # fmt: skip
    add("report-devnull", R, ["report", "/dev/null"])
    add(
        "report-places-atlantis",
        R,
        [*rep, "--places", "Atlantis"],
        setup=copy_batch(),
        timeout=SLOW,
    )
    add(
        "report-places-empty", R, [*rep, "--places", ""], "either", setup=copy_batch(), timeout=SLOW
    )
    add("report-places-mixed", R, [*rep, "--places", "Pokrovsk,Atlantis"], setup=copy_batch(),
        timeout=SLOW)  # fmt: skip
    add("report-places-ok", R, [*rep, "--places", "Pokrovsk,Kupiansk"], "ok", setup=copy_batch(),
        timeout=SLOW)  # fmt: skip
    add("report-dates-garbage", R, [*rep, "--dates", "soon"], setup=copy_batch(), timeout=SLOW)
    add("report-dates-feb30", R, [*rep, "--dates", "2024-02-30"], setup=copy_batch(), timeout=SLOW)
    add(
        "report-dates-outside", R, [*rep, "--dates", "1999-01-01"], setup=copy_batch(), timeout=SLOW
    )
    add("report-pair-self", R, ["report", "{D}/b", "{D}/b", "--out", "{D}/r"], "either",
        setup=copy_batch(), timeout=SLOW, note="a batch paired with itself: zero differences")  # fmt: skip
    add("report-pair-missing", R, ["report", "{D}/b", "{D}/nope"], setup=copy_batch())
    add("report-pair-other-seed", R, ["report", "{D}/b", "{D}/c", "--out", "{D}/r"],
        setup=both(copy_batch(), lambda d, x: (shutil.copytree(d / "b", d / "c"), write(
            d / "c" / "batch.json", (d / "c" / "batch.json").read_text().replace('"seed": 0', '"seed": 3')))),
        timeout=SLOW)  # fmt: skip

    # --- record ----------------------------------------------------------------------------------
    Q = "record"
    add("record-plain", Q, ["record"], "ok")
    add("record-json", Q, ["record", "--json"], "ok")
    add("record-score-short-batch", Q, ["record", "--score", "{D}/b"], setup=copy_batch())
    add(
        "record-score-nonbatch",
        Q,
        ["record", "--score", "{D}/e"],
        setup=lambda d, x: (d / "e").mkdir(),
    )
    add("record-score-file", Q, ["record", "--score", "{TREE}/scenarios/baseline_2024.toml"])
    add("record-score-missing", Q, ["record", "--score", "{D}/nope"])
    add("record-score-scenarios", Q, ["record", "--score", "{TREE}/scenarios"])
    add("record-sectors-ok", Q, ["record", "--sectors", "baseline_2024"], "ok")
    add("record-posterior-garbage", Q, ["record", "--score", "{D}/b", "--report", "{D}/r",
        "--posterior", "{D}/p.csv"], setup=both(copy_batch(), lambda d, x: write(d / "p.csv", "x\n")))  # fmt: skip

    # --- services: scheduler, view ----------------------------------------------------------------
    V = "services"
    SCHED = [*BATCH[:6], "--seed", "0"]  # no --workers: the cluster has its own
    add("scheduler-silent-port", V, [*SCHED, "--out", "{D}/o", "--scheduler",
        "tcp://127.0.0.1:{SILENT_PORT}"], setup=silent_port, timeout=60)  # fmt: skip
    add("scheduler-closed-port", V, [*SCHED, "--out", "{D}/o", "--scheduler", "tcp://127.0.0.1:1"],
        timeout=60)  # fmt: skip
    add(
        "scheduler-garbage",
        V,
        [*SCHED, "--out", "{D}/o", "--scheduler", "not an address"],
        timeout=60,
    )
    add("scheduler-unresolvable", V, [*SCHED, "--out", "{D}/o", "--scheduler",
        "tcp://no-such-host.invalid:8786"], timeout=60)  # fmt: skip
    add("view-port-in-use", V, ["view", "--port", "{SILENT_PORT}"], setup=silent_port, timeout=15)
    add("view-host-public-warns", V, ["view", "--host", "0.0.0.0", "--port", "{SILENT_PORT}"],
        "either", setup=free_port, timeout=15, warns="anyone who can reach",
        note="a legitimate choice; the first stderr line should be the warning of who can reach it")  # fmt: skip
    add("view-host-public", V, ["view", "--host", "0.0.0.0", "--port", "99999"])

    # --- signals and pipes ------------------------------------------------------------------------
    G = "signals"
    add("theatre-info-head", G, "{PY} -m sim theatre info | head -1", "pipe")
    add("params-head", G, "{PY} -m sim params | head -1", "pipe")
    add("record-head", G, "{PY} -m sim record | head -1", "pipe")
    add("run-head", G, f"{{PY}} -m sim run baseline_2024 {' '.join(SHORT)} | head -1", "pipe")
    add("params-markdown-head", G, "{PY} -m sim params --markdown | head -c 10", "pipe")
    add("sigint-run", G, ["run", "baseline_2024", "--set", "end=2043-12-31", "--out", "{D}/o"],
        "interrupt", sigint_after=4.0, timeout=90)  # fmt: skip
    add("sigint-batch", G, ["batch", "baseline_2024", "--replications", "4", "--workers", "1",
        "--set", "end=2043-12-31", "--out", "{D}/o"], "interrupt", sigint_after=4.0, timeout=90)  # fmt: skip
    add("stdout-closed", G, "{PY} -m sim params >&-", "either",
        note="stdout closed before start: a clear error or a quiet exit")  # fmt: skip
    add("stdout-full", G, "{PY} -m sim params > /dev/full", "error")

    # --- legitimate runs (the happy paths must still hold) -------------------------------------------
    H = "legit"
    add("run-short", H, run, "ok")
    add("run-out", H, [*run, "--out", "{D}/o"], "ok")
    add("run-scenario-path", H, ["run", "{TREE}/scenarios/baseline_2024.toml", *SHORT], "ok")
    add("run-kursk", H, ["run", "kursk_2024", "--until", "2024-08-09"], "ok")
    add("run-ceasefire", H, ["run", "ceasefire", "--until", "2025-01-03"], "ok")
    add("params", H, ["params"], "ok")
    add("params-markdown", H, ["params", "--markdown"], "ok")
    add("theatre-info", H, ["theatre", "info"], "ok")
    add("batch-ok", H, [*BATCH, "--out", "{D}/o"], "ok", timeout=SLOW)
    add(
        "sweep-ok",
        H,
        [*sw, "--param", "fires_elasticity=0.2:0.3", "--samples", "2"],
        "ok",
        timeout=SLOW,
    )
    add("record-places", H, ["record", "--places"], "ok")
    add("view-help", H, ["view", "--help"], "ok")
    return c


# --------------------------------------------------------------------------------------------
# running


def child_env(ctx: Context) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(ctx.tree)
    env["MPLBACKEND"] = "Agg"
    return env


def _limit_memory() -> None:
    os.setsid()
    # A sweep started in the background (`&`) inherits SIGINT ignored, and Python then never
    # raises KeyboardInterrupt: the Ctrl-C cases need the default back.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_case(case: Case, ctx: Context) -> dict:
    d = Path(tempfile.mkdtemp(prefix=f"{case.id[:30]}-", dir=ctx.work))
    ctx.env.clear()
    if case.setup:
        try:
            case.setup(d, ctx)
        except Exception as err:  # noqa: BLE001 - a broken case must not stop the sweep
            print(f"{case.id}: set-up failed: {err!r}", file=sys.stderr)
            return {"id": case.id, "category": case.category, "expect": case.expect,
                    "outcome": "setup-failed", "verdict": "wrong", "exit": "", "seconds": "0",
                    "stderr": repr(err)[:300], "command": str(case.argv), "note": case.note}  # fmt: skip
    subs = {
        "{D}": str(d),
        "{TREE}": str(ctx.tree),
        "{PY}": ctx.python,
        "{SILENT_PORT}": ctx.env.get("SILENT_PORT", "1"),
    }

    def sub(s: str) -> str:
        for k, v in subs.items():
            s = s.replace(k, v)
        return s

    if isinstance(case.argv, str):
        cmd: list[str] | str = sub(case.argv)
        shown = cmd
        shell = True
    else:
        cmd = [ctx.python, "-m", "sim", *(sub(a) for a in case.argv)]
        shown = "frontline " + " ".join(sub(a) if a else "''" for a in case.argv)
        shell = False
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, shell=shell, cwd=d, env=child_env(ctx), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if not shell else None, stderr=subprocess.PIPE,
        preexec_fn=_limit_memory,
    )  # fmt: skip
    hung = False
    try:
        if case.sigint_after is not None:
            deadline = time.monotonic() + case.timeout
            # The parent's CPU (imports, set-up done: simulating), or for a batch whose work
            # is in its workers, four times as long on the wall clock.
            wall = t0 + 4 * case.sigint_after
            while proc.poll() is None and _cpu_seconds(proc.pid) < case.sigint_after:
                if time.monotonic() > min(deadline, wall):
                    break
                time.sleep(0.05)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)  # as the terminal does on Ctrl-C
        _, err = proc.communicate(timeout=max(1.0, case.timeout - (time.monotonic() - t0)))
    except subprocess.TimeoutExpired:
        hung = True
        _kill_group(proc)
        _, err = proc.communicate()
    finally:
        _kill_group(proc)  # servers, workers: nothing outlives its case
        for s in _SOCKETS:
            s.close()
        _SOCKETS.clear()
    seconds = time.monotonic() - t0
    stderr = err.decode(errors="replace") if err else ""
    rc = proc.returncode
    outcome, verdict = classify(case, rc, stderr, hung, d, ctx)
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    first = next(
        (ln for ln in lines if "rror" in ln or "Traceback" in ln), lines[0] if lines else ""
    )
    if "Traceback" in stderr:
        first = (lines[-1] if lines else "") + "  [Traceback]"
    for p in d.rglob("*"):  # read-only dirs made by a case must not stop the clean-up
        if p.is_dir() and not p.is_symlink():
            os.chmod(p, 0o700)
    shutil.rmtree(d, ignore_errors=True)
    return {
        "id": case.id,
        "category": case.category,
        "expect": case.expect,
        "outcome": outcome,
        "verdict": verdict,
        "exit": "timeout" if hung else rc,
        "seconds": f"{seconds:.1f}",
        "stderr": first[:300],
        "command": shown,
        "note": case.note,
    }


def classify(
    case: Case, rc: int, stderr: str, hung: bool, d: Path, ctx: Context
) -> tuple[str, str]:
    """(outcome, verdict): verdict is ``ok``, or ``wrong`` when the program did not do the right
    thing (a traceback, a hang, nonsense accepted, a legitimate case refused)."""
    if hung and isinstance(case.argv, list) and case.argv[:1] == ["view"]:
        # A view still running at the timeout is a server that started: right only if the
        # input was acceptable.
        right = case.expect in ("ok", "either") and (case.warns or "") in stderr
        return ("ran", "ok") if right else ("silent", "wrong")
    if hung:
        return "hang", "wrong"
    if "Traceback" in stderr:
        return "traceback", "wrong"
    if case.expect == "interrupt":
        ok = rc == 130 and stderr.strip() != ""
        return ("ran", "ok") if ok else ("traceback" if rc not in (0, 2) else "silent", "wrong")
    if case.expect == "pipe" and rc in (0, 141):
        return "ran", "ok"
    if rc == 0:
        if case.expect == "error":
            return "silent", "wrong"
        if case.check is not None and not case.check(d, ctx):
            return "silent", "wrong"
        if case.warns is not None and case.warns not in stderr:
            return "silent", "wrong"
        return "ran", "ok"
    if rc == 2 and stderr.strip() and "internal error" not in stderr:
        return "clear-error", "wrong" if case.expect == "ok" else "ok"
    if shellish_ok(case, rc, stderr):
        return "clear-error", "ok"
    return "traceback", "wrong"


def shellish_ok(case: Case, rc: int, stderr: str) -> bool:
    # A shell redirection that the shell itself refuses is not the program's fault.
    # ("internal error" is frontline's own report of a bug: never a clear error.)
    return (
        isinstance(case.argv, str)
        and rc in (1, 2, 120)
        and "Traceback" not in stderr
        and "internal error" not in stderr
        and "rror" in stderr
    )


def prepare(ctx: Context) -> None:
    """One finished two-replication batch, copied by the corruption cases."""
    out = ctx.work / "_batch"
    cmd = [ctx.python, "-m", "sim", *BATCH, "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ctx.tree, env=child_env(ctx), capture_output=True, timeout=600)
    if proc.returncode != 0:
        sys.exit(f"could not make the reference batch:\n{proc.stderr.decode()}")
    ctx.batch = out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", type=Path, help="the source tree to test (PYTHONPATH)")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--out", type=Path, help="results CSV")
    ap.add_argument("--only", default="", help="comma-separated case ids (or category names)")
    ap.add_argument(
        "--update", action="store_true", help="replace only these cases' rows in an existing --out"
    )
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    ap.add_argument("--markdown", type=Path, help="with --compare: write this Markdown")
    args = ap.parse_args(argv)
    all_cases = cases()
    assert len({c.id for c in all_cases}) == len(all_cases), "duplicate case ids"
    if args.list:
        for c in all_cases:
            print(c.id, c.category, c.expect, sep="\t")
        print(len(all_cases), "cases", file=sys.stderr)
        return 0
    if args.compare:
        md = compare(*args.compare)
        if args.markdown:
            args.markdown.write_text(md)
        print(md)
        return 0
    tree = args.tree.resolve()
    only = {s for s in args.only.split(",") if s}
    chosen = [c for c in all_cases if not only or c.id in only or c.category in only]
    with tempfile.TemporaryDirectory(prefix="hostile-") as work:
        ctx = Context(tree=tree, python=args.python, work=Path(work))
        if any(c.setup and "copy_batch" in repr(c.setup) or "{D}/b" in str(c.argv) for c in chosen):
            prepare(ctx)
        rows = []
        for i, case in enumerate(chosen, 1):
            row = run_case(case, ctx)
            rows.append(row)
            print(f"[{i}/{len(chosen)}] {row['id']:32} {row['outcome']:12} {row['verdict']:5} "
                  f"exit={row['exit']} {row['seconds']}s {row['stderr'][:90]}", flush=True)  # fmt: skip
    if args.out and args.update and args.out.exists():
        with args.out.open() as f:
            old = list(csv.DictReader(f))
        fresh = {r["id"]: r for r in rows}
        rows = [fresh.pop(r["id"], r) for r in old] + list(fresh.values())
    if args.out:
        with args.out.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    counts = Counter(r["outcome"] for r in rows)
    print(json.dumps({k: counts.get(k, 0) for k in OUTCOMES}))
    print("wrong:", sum(r["verdict"] == "wrong" for r in rows), "of", len(rows))
    return 0


def compare(before: Path, after: Path) -> str:
    """Markdown: counts by outcome and by category, before and after, and every case that is
    still wrong after."""

    def load(p: Path) -> list[dict]:
        with p.open() as f:
            return list(csv.DictReader(f))

    b, a = load(before), load(after)
    out = [f"# Hostile sweep: {len(b)} cases before, {len(a)} after\n"]
    out.append("| outcome | before | after |\n|---|---:|---:|")
    cb, ca = Counter(r["outcome"] for r in b), Counter(r["outcome"] for r in a)
    for k in OUTCOMES:
        out.append(f"| {k} | {cb.get(k, 0)} | {ca.get(k, 0)} |")
    wb = sum(r["verdict"] == "wrong" for r in b)
    wa = sum(r["verdict"] == "wrong" for r in a)
    out.append(f"| **wrong** (any of the above not the right answer) | {wb} | {wa} |\n")
    out.append("## By category (before → after)\n")
    out.append("| category | cases | " + " | ".join(OUTCOMES) + " | wrong |")
    out.append("|---|---:|" + "---:|" * (len(OUTCOMES) + 1))
    for cat in dict.fromkeys(r["category"] for r in a):
        rb = [r for r in b if r["category"] == cat]
        ra = [r for r in a if r["category"] == cat]
        cells = []
        for k in OUTCOMES:
            x, y = sum(r["outcome"] == k for r in rb), sum(r["outcome"] == k for r in ra)
            cells.append(f"{x} → {y}" if x != y else str(y))
        x, y = sum(r["verdict"] == "wrong" for r in rb), sum(r["verdict"] == "wrong" for r in ra)
        cells.append(f"{x} → {y}" if x != y else str(y))
        out.append(f"| {cat} | {len(ra)} | " + " | ".join(cells) + " |")
    out.append("\n## Cases still wrong after\n")
    bad = [r for r in a if r["verdict"] == "wrong"]
    if not bad:
        out.append("None.\n")
    for r in bad:
        out.append(
            f"- `{r['id']}` ({r['outcome']}, exit {r['exit']}): `{r['command']}`: {r['stderr']}"
        )
    out.append("\n## Every case, before → after\n")
    out.append(
        "| id | category | expect | before | after | exit after | seconds after | stderr after (first line) |"
    )
    out.append("|---|---|---|---|---|---|---:|---|")
    bi = {r["id"]: r for r in b}
    for r in a:
        x = bi.get(r["id"], {})
        pb = f"{x.get('outcome', '-')}{' ✗' if x.get('verdict') == 'wrong' else ''}"
        pa = f"{r['outcome']}{' ✗' if r['verdict'] == 'wrong' else ''}"
        err = r["stderr"].replace("|", "\\|")[:160]
        out.append(f"| `{r['id']}` | {r['category']} | {r['expect']} | {pb} | {pa} | {r['exit']} "
                   f"| {r['seconds']} | {err} |")  # fmt: skip
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
