"""Batches: many replications of one scenario, in parallel, resumable, with their spread.

A batch runs one :class:`~sim.scenario.ScenarioSpec` ``replications`` times through
:func:`sim.runner.run_scenario`, replication ``i`` with seed ``replication_seeds(seed, n)[i]``.
That seed depends only on ``(seed, i)`` and results are sorted by ``i``, so a batch gives the
same tables whatever the number of workers and whatever order the replications finish in.

With ``out``, the directory holds::

    batch.json              the manifest: what was asked (scenario hash, seed, replications,
                            until, version); a re-run that asks for something else is refused
    parts/rep_00000.parquet one file per finished replication, written atomically: its daily
                            table, with its seed, summary, changes of hands and git commit in
                            the file's metadata
    runs.parquet            one row per replication (seed, provenance, numeric outcomes, end,
                            collapse, falls and hubs as JSON, parameters as param_<name>)
    daily.parquet           every replication's daily table, ``replication`` and ``seed`` first
    events.parquet          every change of control: replication, seed, date, node, to_side
    nodes.parquet           the theatre's nodes at the start (name, lon, lat, country,
                            initial_side, sector, hub), to rebuild maps of control at any date
    summary.json            p05/p50/p95/mean of each numeric outcome, and for each named place
                            that fell in any replication the share that saw it fall and the
                            median date it fell

A re-run with the same arguments skips the replications already in ``parts/``, so a killed
batch loses only the replications that were still running. The final tables are always
assembled from the part files, so a resumed batch writes the same tables as an uninterrupted one.

Replications run through :class:`sim.executor.Executor`: in this process, on its warm local
worker pool, or, with ``scheduler``, on an existing Dask distributed cluster instead of a
local pool: the same :func:`_replicate` runs on the cluster's workers (which must be able to
import ``sim``: install the package there) and sends each record back, and this process writes
the part files, so the workers need not share its filesystem. The seeds, the part files and the
tables are the same as those of a local batch.
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from sim import __version__, validate
from sim.executor import Executor, ExecutorError, check_workers
from sim.experiments.batch_tables import (
    daily_table,
    events_table,
    node_table,
    runs_table,
    summarise_batch,
)
from sim.experiments.store import (
    BATCH_MANIFEST,
    PARTS,
    TABLES,
    BatchError,
    claim_batch_directory,
    finished_parts,
    git_commit,
    part_path,
    read_part,
    read_tables,
    write_part,
)
from sim.outputs import (
    atomic_write,
    write_checksums,
    write_json,
)
from sim.posterior import Posterior
from sim.scenario import ScenarioSpec

__all__ = [
    "BatchError",
    "BatchResult",
    "MAIN_OUTCOMES",
    "TABLES",
    "format_batch",
    "node_table",
    "read_tables",
    "replication_seeds",
    "run_batch",
    "summarise_batch",
]

# The outcomes `frontline batch` prints.
MAIN_OUTCOMES = ("russia_gain_km2", "ukraine_gain_km2", "russia_net_gain_km2", "front_length_km")


@dataclass
class BatchResult:
    """The outputs of a batch.

    Attributes
    ----------
    runs : pandas.DataFrame
        One row per replication, sorted by ``replication`` (the contents of ``runs.parquet``).
    daily : pandas.DataFrame
        Every replication's daily table, ``replication`` and ``seed`` first (``daily.parquet``).
    summary : dict
        Spread of the outcomes and of the falls (``summary.json``).
    out : pathlib.Path or None
        Where the batch was written, if anywhere.
    computed : list of int
        Replications run by this call (the others were found on disk).
    events : pandas.DataFrame
        Every change of control in every replication (``events.parquet``): ``replication``,
        ``seed``, ``date``, ``node``, ``to_side``.
    """

    runs: pd.DataFrame
    daily: pd.DataFrame
    summary: dict
    out: Path | None = None
    computed: list[int] | None = None
    events: pd.DataFrame | None = None


# --------------------------------------------------------------------------------------------
# Seeds


def replication_seeds(seed: int, n: int) -> list[int]:
    """Seeds of ``n`` replications, spawned from ``numpy.random.SeedSequence(seed)``.

    Replication ``i``'s seed depends only on ``(seed, i)``: the first ``k`` seeds of a batch of
    ``n`` are those of a batch of ``k``. Each is a plain ``int`` in ``[0, 2**63)``.

    Examples
    --------
    >>> replication_seeds(0, 5)[:3] == replication_seeds(0, 3)
    True
    """
    if n < 0:
        raise BatchError(f"number of seeds must be >= 0, got {n}")
    children = np.random.SeedSequence(seed).spawn(n)
    # 64 random bits, shifted to 63 so the seed fits a signed int64 column.
    return [int(child.generate_state(1, np.uint64)[0]) >> 1 for child in children]


# --------------------------------------------------------------------------------------------
# Running a batch


def run_batch(
    spec: ScenarioSpec,
    replications: int,
    seed: int = 0,
    workers: int | None = None,
    until: date | None = None,
    out: Path | None = None,
    progress: bool | None = None,
    *,
    scheduler: str | None = None,
    force_workers: bool = False,
    posterior: Posterior | None = None,
) -> BatchResult:
    """Run ``replications`` replications of a scenario and summarise them.

    Parameters
    ----------
    spec : ScenarioSpec
        The scenario (with any overrides already applied).
    replications : int
        Number of runs, >= 1.
    seed : int
        Batch seed; replication seeds are :func:`replication_seeds` ``(seed, replications)``.
    workers : int, optional
        Processes to use; all usable cores by default, and no more unless ``force_workers``.
        ``1`` runs in this process. More run on the warm worker pool of :mod:`sim.executor`
        (started once per process with the "spawn" method, so a script calling this with
        ``workers > 1`` needs the usual ``if __name__ == "__main__":`` guard).
    until : datetime.date, optional
        Stop every run at this date (the spec is cut with ``ScenarioSpec.with_end``).
    out : pathlib.Path, optional
        Directory to write into (see the module docstring). Finished replications found there
        are reused, if the directory's manifest matches this request.
    progress : bool, optional
        Show a progress bar on stderr; by default only when stderr is a terminal.
    scheduler : str, optional
        Address of a running Dask distributed scheduler (``"tcp://127.0.0.1:8786"``) to run the
        replications on, instead of local processes; ``workers`` is then ignored (the cluster
        has its own). Needs the ``distributed`` package (``pip install -e ".[cluster]"``), and
        workers that can import ``sim``. Nothing is started: the client only connects (waiting
        up to :data:`CONNECT_TIMEOUT` seconds for the scheduler's Dask handshake), and is closed
        before this returns. The results are the same as those of a local batch with the same
        seed.
    force_workers : bool
        Allow more ``workers`` than usable cores.
    posterior : sim.posterior.Posterior, optional
        A calibrated parameter sample: each replication runs with the set its own seed draws
        (:meth:`~sim.posterior.Posterior.draw`), so the batch carries parameter uncertainty as
        well as noise, identically for any worker count. Its parameters appear per run in the
        ``param_*`` columns.

    Returns
    -------
    BatchResult

    Raises
    ------
    BatchError
        ``replications`` or ``workers`` < 1, ``workers`` above the cores without
        ``force_workers``, ``out`` holds a different batch, or the ``scheduler`` cannot be
        reached or does not answer as a Dask scheduler (or ``distributed`` is not installed).
    sim.scenario.ScenarioError
        ``until`` outside the scenario's dates.
    """
    workers = _check_request(spec, replications, seed, workers, until, scheduler, force_workers)
    if until is not None:
        spec = spec.with_end(until)
    seeds = replication_seeds(seed, replications)
    manifest = _manifest(spec, seed, replications, until, posterior)
    commit = git_commit()
    executor = _connect(workers, scheduler, force_workers)
    out = Path(out) if out is not None else None
    records, todo, parts = _run_missing(
        executor, spec, seeds, commit, out, manifest, progress, posterior
    )
    runs, daily, events, summary = _tables(spec, manifest, seeds, records, parts)

    if out is not None:
        _write_tables(out, spec, runs, daily, events, summary)
    return BatchResult(runs, daily, summary, out, todo, events)


def _manifest(
    spec: ScenarioSpec,
    seed: int,
    replications: int,
    until: date | None,
    posterior: Posterior | None,
) -> dict:
    """The request a batch directory is claimed for (``batch.json``)."""
    manifest = {
        "scenario": spec.name,
        "content_hash": spec.content_hash,
        "seed": int(seed),
        "replications": replications,
        "until": until.isoformat() if until else None,
        "version": __version__,
    }
    if posterior is not None:  # a different sample is a different batch
        manifest["posterior"] = posterior.digest()
    return manifest


def _connect(workers: int | None, scheduler: str | None, force_workers: bool) -> Executor:
    """The executor of a batch: local workers, or a client of the Dask ``scheduler``.

    Connected before anything is written, so a wrong address leaves no trace in ``out``.
    """
    try:
        return Executor(
            workers, scheduler, force_workers=force_workers, connect_timeout=CONNECT_TIMEOUT
        )
    except ExecutorError as err:
        raise BatchError(str(err)) from None


def _tables(
    spec: ScenarioSpec,
    manifest: dict,
    seeds: list[int],
    records: dict[int, tuple[dict, pd.DataFrame]],
    parts: Path | None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """The runs, daily and events tables and the summary of a finished batch (read back from
    its part files when it has a directory)."""
    replications = len(seeds)
    if parts is not None:  # always read back, so fresh and resumed batches agree
        records = {i: read_part(part_path(parts, i)) for i in range(replications)}
    runs = runs_table([(i, *records[i]) for i in range(replications)], spec)
    daily = daily_table([(i, seeds[i], records[i][1]) for i in range(replications)])
    events = events_table([(i, records[i][0]) for i in range(replications)])
    summary = {**manifest, "start": spec.start.isoformat(), "end": spec.end.isoformat()}
    if spec.assumptions:  # a forecast's, stated by its report
        summary["assumptions"] = list(spec.assumptions)
    summary["git_commits"] = sorted(set(runs["git_commit"]))  # of the processes that ran them
    summary.update(summarise_batch(runs))
    return runs, daily, events, summary


def _check_request(
    spec: ScenarioSpec,
    replications: int,
    seed: int,
    workers: int | None,
    until: date | None,
    scheduler: str | None,
    force_workers: bool,
) -> int | None:
    """Check a batch request before anything runs; the number of local workers to use."""
    if not isinstance(replications, int) or replications < 1:
        raise BatchError(f"replications must be a whole number >= 1, got {replications!r}")
    try:  # before replication_seeds, which would spawn them all
        validate.check_seed(seed, "seed")
        days = ((until or spec.end) - spec.start).days
        validate.REPLICATIONS.check(replications, "replications", validate.replication_bytes(days))
    except validate.InputError as err:
        raise BatchError(str(err)) from None
    if scheduler is None:
        try:
            workers = check_workers(workers, force_workers)
        except ExecutorError as err:
            raise BatchError(str(err)) from None
    return workers


def _run_missing(
    executor: Executor,
    spec: ScenarioSpec,
    seeds: list[int],
    commit: str,
    out: Path | None,
    manifest: dict,
    progress: bool | None,
    posterior: Posterior | None,
) -> tuple[dict[int, tuple[dict, pd.DataFrame]], list[int], Path | None]:
    """Claim ``out``, run the replications not finished there, and close the executor.

    Returns the records run now (by replication), the replications run now and the parts
    directory (None without ``out``).
    """
    replications = len(seeds)
    finished = None
    try:
        parts = None
        done: set[int] = set()
        if out is not None:
            out = Path(out)
            parts = out / PARTS
            claim_batch_directory(out, manifest)
            done = finished_parts(parts, seeds)
        todo = [i for i in range(replications) if i not in done]

        records: dict[int, tuple[dict, pd.DataFrame]] = {}
        show = sys.stderr.isatty() if progress is None else progress
        finished = _execute(executor, spec, todo, seeds, commit, parts, posterior)
        with tqdm(
            total=replications,
            initial=len(done),
            desc=f"{spec.name} batch",
            unit="run",
            file=sys.stderr,
            disable=not show,
        ) as bar:
            for i, record in finished:
                if record is not None:
                    records[i] = record
                bar.update(1)
    except ExecutorError as err:  # a Dask cluster that went away or cannot import sim
        kept = f"; finished replications are kept in {parts}, re-run to resume" if parts else ""
        raise BatchError(f"{err}{kept}") from None
    finally:
        if finished is not None:
            finished.close()  # cancels the tasks not yet started if we leave early
        executor.close()  # the Dask client; local workers stay warm for the next batch

    return records, todo, parts


def _write_tables(
    out: Path,
    spec: ScenarioSpec,
    runs: pd.DataFrame,
    daily: pd.DataFrame,
    events: pd.DataFrame,
    summary: dict,
) -> None:
    """Write a finished batch's tables, summary and checksums into ``out``."""
    atomic_write(out / "runs.parquet", lambda p: runs.to_parquet(p, index=False))
    atomic_write(out / "daily.parquet", lambda p: daily.to_parquet(p, index=False))
    atomic_write(out / "events.parquet", lambda p: events.to_parquet(p, index=False))
    nodes = node_table(spec)
    atomic_write(out / "nodes.parquet", lambda p: nodes.to_parquet(p, index=False))
    write_json(out / "summary.json", summary)
    write_checksums(out, [BATCH_MANIFEST, *(f"{t}.parquet" for t in TABLES), "summary.json"])


def _execute(
    executor: Executor,
    spec: ScenarioSpec,
    todo: list[int],
    seeds: list[int],
    commit: str,
    parts: Path | None,
    posterior: Posterior | None = None,
) -> Generator[tuple[int, tuple[dict, pd.DataFrame] | None]]:
    """Run the replications in ``todo``; yield ``(i, record)`` as each finishes.

    With ``parts``, each replication's part file is written (by the local worker that ran it,
    or here for a Dask worker, which may not see this filesystem) and ``None`` is yielded as
    its record (the caller reads the parts back). With a ``posterior``, replication ``i`` runs
    with the parameter set its seed draws.
    """
    local = executor.local

    def spec_of(i: int) -> ScenarioSpec:
        return spec if posterior is None else spec.with_overrides(posterior.draw(seeds[i]))

    tasks = [
        (spec_of(i), i, seeds[i], commit, parts if local else None, posterior is not None)
        for i in todo
    ]
    for _, (i, record) in executor.imap_unordered(_replicate, tasks):
        if record is not None and parts is not None:
            write_part(parts, i, *record)
            record = None
        yield i, record


# How long a client waits for the scheduler to answer, the Dask handshake included, in seconds.
CONNECT_TIMEOUT = 10.0


def _replicate(
    spec: ScenarioSpec,
    index: int,
    seed: int,
    commit: str,
    parts: Path | None,
    own_params: bool = False,
) -> tuple[int, tuple[dict, pd.DataFrame] | None]:
    """Run one replication (in a worker or in-process); write its part file if asked. With
    ``own_params`` (parameters drawn per replication) its record keeps its parameter set."""
    from sim.runner import run_scenario  # imported here: loads the model

    result = run_scenario(spec, seed=seed)
    ev = result.events
    record = {
        "replication": index,
        "seed": seed,
        "git_commit": commit,
        "summary": result.summary,
        # Every change of hands, so maps of control at any date can be rebuilt from the tables.
        "events": {
            "date": ev["date"].tolist(),
            "node": ev["node"].tolist(),
            "to": ev["to_side"].tolist(),
        },
    }
    if own_params:
        record["params"] = {k: float(v) for k, v in spec.params.items()}
    if parts is None:
        return index, (record, result.daily)
    write_part(parts, index, record, result.daily)
    return index, None


# --------------------------------------------------------------------------------------------
# The output directory: manifest and finished parts


# --------------------------------------------------------------------------------------------
# Tables


# --------------------------------------------------------------------------------------------
# Aggregation


def format_batch(result: BatchResult, outcomes: Iterable[str] = MAIN_OUTCOMES) -> str:
    """A short table of p05/p50/p95 of the main outcomes of a batch."""
    s = result.summary
    lines = [
        f"{s['scenario']}: {s['replications']} replications (seed {s['seed']}), "
        f"{s['start']} -> {s['end']}",
        f"  {'outcome':<22}{'p05':>12}{'p50':>12}{'p95':>12}",
    ]
    for key in outcomes:
        stats = s["outcomes"].get(key)
        if stats is None or stats["p50"] is None:
            continue
        lines.append(f"  {key:<22}" + "".join(f"{stats[q]:>12,.0f}" for q in ("p05", "p50", "p95")))
    if s["falls"]:
        top = sorted(s["falls"].items(), key=lambda kv: (-kv[1]["share"], kv[0]))[:5]
        shown = ", ".join(f"{p} {v['share']:.0%} ({v['median_date']})" for p, v in top)
        lines.append(f"  falls (share, median date): {shown}")
    return "\n".join(lines)
