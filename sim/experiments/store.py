"""The store of batches and sweeps: manifests, part files (one per replication, checksummed), the
finished-parts scan, the tables of a finished batch, the git commit recorded with each run, the
sweep table, and the one codec of the ``falls`` column.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.experiments.errors import SweepError
from sim.outputs import (
    ChecksumError,
    atomic_write,
    claim_directory,
    verify_checksums,
)

PARTS = "parts"


_PART_KEY = b"frontline.batch"  # parquet metadata key of a part file's JSON record


# Parquet metadata key of a part's SHA-256 over its record and decoded daily table: a part that
# decodes to anything but what was written (a flipped bit in a value) fails the check.
_DIGEST_KEY = b"frontline.sha256"


class BatchError(ValueError):
    """A batch that cannot be run: bad arguments, or an output directory holding another batch."""


def write_part(parts: Path, index: int, record: dict, daily: pd.DataFrame) -> None:
    """Write one replication's part file atomically: its daily table, its record and the
    SHA-256 of both (:func:`_part_digest`) as metadata."""
    table = pa.Table.from_pandas(daily, preserve_index=False)
    text = json.dumps(record).encode()
    # Digest of the table as a reader will decode it, so the check is exact on read-back.
    digest = _part_digest(text, table.to_pandas())
    meta = {**(table.schema.metadata or {}), _PART_KEY: text, _DIGEST_KEY: digest.encode()}
    table = table.replace_schema_metadata(meta)
    parts.mkdir(parents=True, exist_ok=True)
    atomic_write(part_path(parts, index), lambda p: pq.write_table(table, p))


def part_path(parts: Path, index: int) -> Path:
    """The part file of replication ``index`` in ``parts``."""
    return parts / f"rep_{index:05d}.parquet"


class CorruptPart(BatchError):
    """A part file that cannot be read back as written (bad checksum, truncated, unreadable)."""


def _part_digest(record: bytes, daily: pd.DataFrame) -> str:
    """SHA-256 of a part's record (JSON bytes) and its daily table's columns, names and values."""
    h = hashlib.sha256(record)
    for column in daily.columns:
        values = daily[column].to_numpy()
        h.update(f"\0{column}\0{values.dtype.str}\0".encode())
        if values.dtype.kind in "biufcmM":
            h.update(np.ascontiguousarray(values).tobytes())
        else:
            h.update(json.dumps([None if v is None else str(v) for v in values]).encode())
    return h.hexdigest()


def read_part(path: Path) -> tuple[dict, pd.DataFrame]:
    """A part's record and daily table, checked against its SHA-256; :class:`CorruptPart` if
    the file does not read back exactly as written (the message names the file)."""
    try:
        table = pq.read_table(path)
        meta = table.schema.metadata or {}
        text = meta[_PART_KEY]
        want = meta.get(_DIGEST_KEY, b"").decode()
        daily = table.to_pandas()
    except (OSError, pa.ArrowException, KeyError, ValueError) as err:
        raise CorruptPart(f"{path}: unreadable part file ({err or type(err).__name__})") from None
    if not want:
        raise CorruptPart(f"{path}: part file without a checksum (written by an older frontline)")
    got = _part_digest(text, daily)
    if got != want:
        raise CorruptPart(
            f"{path}: checksum mismatch (SHA-256 {got[:12]}..., written {want[:12]}...): the "
            "file changed after it was written"
        )
    try:
        return json.loads(text), daily
    except ValueError as err:
        raise CorruptPart(f"{path}: unreadable record ({err})") from None


def finished_parts(parts: Path, seeds: list[int]) -> set[int]:
    """Replications whose part file exists, passes its checksum and carries the expected seed.

    A part that fails its checksum (or cannot be read) is never used: it is deleted, with a
    message naming it, and its replication runs again.
    """
    done = set()
    for i, seed in enumerate(seeds):
        path = part_path(parts, i)
        if not path.is_file():
            if path.exists():  # a directory or device in its place: not ours to remove
                raise BatchError(f"{path}: not a part file (not a regular file); remove it")
            continue
        try:
            record, _ = read_part(path)
        except CorruptPart as err:
            print(f"frontline: {err}; running replication {i} again", file=sys.stderr)
            path.unlink()
            continue
        if record.get("replication") != i or record.get("seed") != seed:
            raise BatchError(f"{path}: not replication {i} with seed {seed} of this batch")
        done.add(i)
    for stale in parts.glob("*.tmp") if parts.is_dir() else ():  # left by a killed batch
        stale.unlink(missing_ok=True)
    return done


@functools.cache
def git_commit() -> str:
    """The commit checked out where ``sim`` lives (``git rev-parse HEAD``), or ``""``.

    Read once per process: the code a process runs is the code it imported.
    """
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


TABLES = ("runs", "daily", "events", "nodes")  # the parquet tables a finished batch holds


def read_tables(out: Path) -> dict[str, pd.DataFrame]:
    """The tables of a finished batch directory, by name (:data:`TABLES`).

    Raises
    ------
    BatchError
        A table is missing: the batch did not finish (re-run it to resume).
    """
    out = Path(out)
    missing = [name for name in TABLES if not (out / f"{name}.parquet").is_file()]
    if missing:
        raise BatchError(
            f"{out}: no {', '.join(f'{m}.parquet' for m in missing)}: not a finished batch "
            "(re-run the same command to resume it)"
        )
    try:
        verify_checksums(out)
    except ChecksumError as err:
        raise BatchError(str(err)) from None
    return {name: pd.read_parquet(out / f"{name}.parquet") for name in TABLES}


# --------------------------------------------------------------------------------------------
# The falls column: one JSON object per run, place name -> ISO date of its last change of hands


def encode_falls(falls: Mapping[str, str]) -> str:
    """The ``falls`` cell of a run: JSON of ``{place: "YYYY-MM-DD"}``, keys sorted.

    Examples
    --------
    >>> encode_falls({"Vuhledar": "2024-02-23", "Avdiivka": "2024-01-31"})
    '{"Avdiivka": "2024-01-31", "Vuhledar": "2024-02-23"}'
    """
    return json.dumps(dict(falls), sort_keys=True)


def decode_falls(text: str) -> dict[str, date]:
    """A ``falls`` cell back as ``{place: date}`` (the inverse of :func:`encode_falls`).

    Examples
    --------
    >>> decode_falls('{"Avdiivka": "2024-01-31"}')
    {'Avdiivka': datetime.date(2024, 1, 31)}
    """
    return {place: date.fromisoformat(when) for place, when in json.loads(text).items()}


def falls_column(runs: pd.DataFrame) -> list[dict[str, date]]:
    """Every run's falls, decoded, in the order of ``runs``."""
    return [decode_falls(text) for text in runs["falls"]]


# --------------------------------------------------------------------------------------------
# Manifests: the request a batch or sweep directory holds, checked before anything is written

BATCH_MANIFEST = "batch.json"


def claim_batch_directory(out: Path, manifest: dict) -> None:
    """Check ``out`` holds no other batch (nor other outputs), then write the manifest."""
    outputs = ("runs.parquet", "daily.parquet", "events.parquet", "summary.json", PARTS)
    claim_directory(out, manifest, BATCH_MANIFEST, "batch", BatchError, outputs)


# --------------------------------------------------------------------------------------------
# Sweeps: the manifest, the design's hash and the table of every point's runs

SWEEP_MANIFEST = "sweep.json"
# The files of a finished sweep that checksums.json covers.
SWEEP_STORED = (SWEEP_MANIFEST, "design.parquet", "sweep.parquet", "summary.json")


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
    claim_directory(out, manifest, SWEEP_MANIFEST, "sweep", SweepError)


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
