"""The store of sweeps: the manifest, the design's hash and the table of every point's runs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.experiments.errors import (
    SweepError,
)
from sim.outputs import claim_directory

MANIFEST = "sweep.json"


STORED = (MANIFEST, "design.parquet", "sweep.parquet", "summary.json")  # in checksums.json


# Columns of a batch's runs table that identify or describe a run rather than measure it.
_PROVENANCE = ("content_hash", "version", "git_commit")


def sweep_table(design: pd.DataFrame, runs: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One row per point x replication from the points' batch ``runs`` tables."""
    frames = []
    for i, table in enumerate(runs):
        numeric = [
            c
            for c in table.columns
            if c not in ("replication", "seed")
            and not c.startswith("param_")
            and (pd.api.types.is_numeric_dtype(table[c]) or pd.api.types.is_bool_dtype(table[c]))
        ]
        frame = pd.DataFrame({"point": np.full(len(table), i, dtype=np.int64)})
        for column in design.columns:
            frame[column] = design.at[i, column]
        frame["replication"] = table["replication"].to_numpy()
        frame["seed"] = table["seed"].to_numpy()
        for column in _PROVENANCE:
            if column in table:
                frame[column] = table[column].to_numpy()
        for column in numeric:
            frame[column] = table[column].to_numpy()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def design_hash(design: pd.DataFrame) -> str:
    """SHA-256 of a design's columns and values (the manifest's ``design_hash``)."""
    content = {"columns": list(design.columns), "values": design.to_numpy().tolist()}
    text = json.dumps(content, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def jsonable(value):
    """``value`` made JSON-safe (numpy scalars as Python numbers, anything else as text)."""
    return json.loads(
        json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v))
    )


def claim_sweep_directory(out: Path, manifest: dict) -> None:
    """Check ``out`` holds no other sweep (nor other outputs), then write the manifest."""
    claim_directory(out, manifest, MANIFEST, "sweep", SweepError)


@dataclass
class SweepResult:
    """The outputs of a sweep.

    Attributes
    ----------
    design : pandas.DataFrame
        The design run (``design.parquet``); point ``i`` is row ``i``.
    runs : pandas.DataFrame
        One row per point x replication (``sweep.parquet``), sorted by point then replication.
    summary : dict
        The request and each point's spread of outcomes (``summary.json``).
    out : pathlib.Path or None
    computed : list of (int, int)
        ``(point, replication)`` pairs run by this call (the others were found on disk).
    """

    design: pd.DataFrame
    runs: pd.DataFrame
    summary: dict
    out: Path | None = None
    computed: list[tuple[int, int]] = field(default_factory=list)

    @property
    def outcomes(self) -> list[str]:
        """The numeric outcome columns of :attr:`runs`."""
        skip = {"point", "replication", "seed", *self.design.columns, *_PROVENANCE}
        return [c for c in self.runs.columns if c not in skip]

    def point_means(self) -> pd.DataFrame:
        """Each point's outcomes averaged over its (common-random-number) replications.

        One row per point, indexed by point, with the point's parameters then the mean of
        every outcome (booleans as shares).
        """
        outcomes = self.outcomes
        means = self.runs.groupby("point")[outcomes].mean(numeric_only=False)
        return pd.concat([self.design.rename_axis("point"), means.astype(float)], axis=1)
