"""Loading a batch or sweep directory for analysis: the tables, verified against their checksums."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from sim import validate
from sim.analysis.errors import (
    ReportError,
)
from sim.analysis.tables import (
    falls_column,
    russia_holds,
)
from sim.outputs import CHECKSUMS, ChecksumError, verify_checksums


@dataclass
class Batch:
    """A finished batch directory, loaded: its runs, daily table, summary and, if written, its nodes and events (the maps)."""

    path: Path
    runs: pd.DataFrame
    daily: pd.DataFrame
    summary: dict
    nodes: pd.DataFrame | None = None  # nodes.parquet: the start map, sectors, hubs
    events: pd.DataFrame | None = None  # events.parquet: every change of hands
    _held: dict = field(default_factory=dict, repr=False)  # russia_holds by date, made once

    @property
    def has_maps(self) -> bool:
        """Whether the batch has the nodes and events tables that maps are rebuilt from."""
        return self.nodes is not None and self.events is not None

    def held(self, when) -> np.ndarray:
        """:func:`russia_holds` on ``when`` for this batch, computed once per date (several
        sections of a report ask for the same dates)."""
        key = pd.Timestamp(when)
        if key not in self._held:
            self._held[key] = russia_holds(self.nodes, self.events, len(self.runs), key)
        return self._held[key]

    @property
    def name(self) -> str:
        """The scenario's name."""
        return str(self.summary.get("scenario") or self.runs["scenario"].iloc[0])

    @property
    def end(self) -> str:
        """The last date of the runs (ISO)."""
        return str(self.summary.get("end") or self.runs["end"].iloc[0])

    @property
    def start(self) -> str:
        """The first date of the runs (ISO)."""
        return str(self.summary.get("start") or self.runs["start"].iloc[0])


def detect(path: Path) -> str:
    """``"batch"`` or ``"sweep"``, by the files in ``path``; :class:`ReportError` otherwise."""
    path = Path(path)
    if not path.is_dir():
        raise ReportError(f"{path}: no such directory")
    if (path / "sweep.parquet").is_file() and (path / "design.parquet").is_file():
        return "sweep"
    if (path / "runs.parquet").is_file() and (path / "daily.parquet").is_file():
        return "batch"
    raise ReportError(
        f"{path}: not a finished batch (runs.parquet, daily.parquet) or sweep "
        "(sweep.parquet, design.parquet) directory"
    )


def read_summary(path: Path) -> dict:
    """The directory's ``summary.json`` (``{}`` if absent; ReportError if unreadable)."""
    file = path / "summary.json"
    if not file.is_file():
        return {}
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise ReportError(f"{file}: unreadable ({err})") from None


def verify_directory(path: Path) -> None:
    """Check the directory's files against its ``checksums.json``; a batch or sweep written
    before checksums existed is read with a warning."""
    try:
        if not verify_checksums(path):
            print(
                f"frontline: warning: {path / CHECKSUMS} missing: the results cannot be verified "
                "(written by an older frontline, or not finished)",
                file=sys.stderr,
            )
    except ChecksumError as err:
        raise ReportError(str(err)) from None


def read_table(file: Path) -> pd.DataFrame:
    """A parquet table; :class:`ReportError` naming the file if it is missing or unreadable."""
    if not file.is_file():
        raise ReportError(f"{file}: missing; re-run the batch or sweep command to rebuild it")
    try:
        return pd.read_parquet(file)
    except (OSError, ValueError, pa.ArrowException) as err:
        raise ReportError(f"{file}: unreadable ({err})") from None


def load_batch(path: Path) -> Batch:
    """Load a finished batch directory, verified against its checksums (ReportError otherwise)."""
    verify_directory(path)
    runs = read_table(path / "runs.parquet")
    daily = read_table(path / "daily.parquet")
    daily["date"] = pd.to_datetime(daily["date"])
    # Maps need both tables. A batch writes both, so one without the other is damage (an
    # error); neither is a batch without maps, which the report says rather than quietly
    # leaving the maps out.
    nodes = events = None
    have = [(path / f"{n}.parquet").is_file() for n in ("nodes", "events")]
    if any(have):
        nodes = read_table(path / "nodes.parquet")
        events = read_table(path / "events.parquet")
        events["date"] = pd.to_datetime(events["date"])
    else:
        print(
            f"frontline: warning: {path} has no nodes.parquet and events.parquet: the report "
            "has no maps, holdings or distances (re-run the batch to write them)",
            file=sys.stderr,
        )
    runs = runs.sort_values("replication", ignore_index=True)
    if not runs["replication"].equals(pd.Series(range(len(runs)), name="replication")):
        raise ReportError(
            f"{path / 'runs.parquet'}: replications are not numbered 0..{len(runs) - 1}"
        )
    return Batch(path, runs, daily, read_summary(path), nodes, events)


def report_dates(b: Batch, dates: list[date] | None) -> list[pd.Timestamp]:
    """The chosen dates (checked against the batch's dates), or four spread through the run."""
    have = pd.DatetimeIndex(sorted(b.daily["date"].unique()))
    if not dates:
        return sorted({have[round(i * (len(have) - 1) / 4)] for i in range(1, 5)})
    out = []
    for d in dates:
        t = pd.Timestamp(d)
        if t not in have:
            raise ReportError(
                f"{b.path}: date {t.date()} is outside the batch's dates "
                f"({have[0].date()} to {have[-1].date()})"
            )
        out.append(t)
    return sorted(set(out))


def check_pair(a: Batch, b: Batch) -> None:
    """Refuse two batches that are not a pair (ReportError): other seeds or replication counts."""
    for key in ("seed", "replications"):
        va, vb = a.summary.get(key), b.summary.get(key)
        if va is not None and vb is not None and va != vb:
            raise ReportError(
                f"{a.path} and {b.path} differ in {key} ({va} vs {vb}): a paired report needs "
                "batches run with the same seed and number of replications"
            )
    if len(a.runs) != len(b.runs):
        raise ReportError(
            f"{a.path} has {len(a.runs)} replications, {b.path} {len(b.runs)}: a paired report "
            "needs the same number"
        )
    if a.runs["seed"].tolist() != b.runs["seed"].tolist():
        raise ReportError(
            f"{a.path} and {b.path} were run with different seeds: a paired report needs "
            "batches run with the same --seed"
        )


def check_places(batches: list[Batch], places: list[str] | None) -> None:
    """Every place asked for is a named node of every batch's theatre (not a typo reported as
    "changes hands in 0%")."""
    for b in batches:
        if b.nodes is None:
            # No nodes table: the packaged theatre's places, and any the runs name.
            from sim.theatre.theatre import Theatre

            known = {n for n in Theatre.load().name if n}
            known |= {p for falls in falls_column(b.runs) for p in falls}
            known |= {h for text in b.runs.get("hubs", []) for h in json.loads(text)}
        else:
            known = set(b.nodes["name"].dropna())
        try:
            validate.check_places(places or [], known, "--places")
        except validate.InputError as err:
            raise ReportError(f"{err} ({b.path / 'nodes.parquet'})") from None
