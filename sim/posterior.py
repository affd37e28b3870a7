"""A calibrated posterior sample, and each replication's draw from it.

Scenario answers should carry parameter uncertainty as well as run-to-run noise (issue #12). The
calibration writes a sample of parameter sets (``calibration/posterior.csv``: one column per
registry parameter, one row per set, ``#`` lines for provenance). A batch gives replication
``i`` the row picked by a stream of its own seed, so

- the draw depends only on the replication seed (identical for any worker count or order), and
- it is independent of the model's own random numbers, which the same seed also keys.

Examples
--------
>>> post = Posterior(("advance_slowdown",), np.array([[0.01], [0.02], [0.03]]), "demo")
>>> post.draw(12345) == post.draw(12345)
True
>>> sorted(post.draw(12345))
['advance_slowdown']
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.params import PARAMS, suggest

# Spawn key of the posterior stream under a replication's seed: any fixed value other than the
# keys the model uses; it only has to stay the same so draws stay reproducible across versions.
POSTERIOR_STREAM = 0x5057


class PosteriorError(ValueError):
    """A posterior file that cannot be used: the message names the file, row and column."""


@dataclass(frozen=True)
class Posterior:
    """Parameter sets, one row each, over the registry parameters ``names``."""

    names: tuple[str, ...]
    values: np.ndarray  # (n_sets, n_names)
    source: str
    header: str = ""  # the file's ``#`` lines: how the sample was made (method, run budget)

    def __len__(self) -> int:
        return len(self.values)

    def index(self, seed: int) -> int:
        """Row drawn for the replication with this seed."""
        if seed < 0:
            raise ValueError(f"replication seed must be >= 0, got {seed}")
        stream = np.random.SeedSequence(entropy=seed, spawn_key=(POSTERIOR_STREAM,))
        return int(np.random.default_rng(stream).integers(len(self.values)))

    def draw(self, seed: int) -> dict[str, float]:
        """The parameter set of the replication with this seed, by registry name."""
        row = self.values[self.index(seed)]
        return {name: float(v) for name, v in zip(self.names, row, strict=True)}

    def without(self, names: Iterable[str]) -> Posterior:
        """The same sample without the columns ``names`` (values a user fixed with ``--set``).

        >>> p = Posterior(("a", "b"), np.array([[1.0, 2.0], [3.0, 4.0]]), "x.csv")
        >>> p.without(["a"]).names, p.without(["a"]).values[:, 0].tolist()
        (('b',), [2.0, 4.0])
        """
        drop = set(names)
        keep = [i for i, n in enumerate(self.names) if n not in drop]
        return Posterior(
            tuple(self.names[i] for i in keep), self.values[:, keep], self.source, self.header
        )

    def digest(self) -> str:
        """SHA-256 of the names and values (what a batch's manifest records)."""
        h = hashlib.sha256(",".join(self.names).encode())
        h.update(np.ascontiguousarray(self.values, dtype=np.float64).tobytes())
        return h.hexdigest()

    def to_csv(self, header: str = "") -> str:
        """The file text: ``#`` header lines, then a CSV table (round-trips exactly)."""
        out = io.StringIO()
        for line in header.splitlines():
            out.write(f"# {line}\n" if line else "#\n")
        w = csv.writer(out, lineterminator="\n")
        w.writerow(self.names)
        for row in self.values:
            w.writerow([repr(float(v)) for v in row])
        return out.getvalue()


def load_posterior(path: str | Path) -> Posterior:
    """Read and check a posterior file.

    Raises
    ------
    PosteriorError
        Missing or empty file, an unknown parameter (with the nearest name), a non-number, or a
        value outside the registry's range; the message names the file, row and column.
    """
    path = Path(path)
    if not path.is_file():
        raise PosteriorError(f"{path}: no such posterior file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PosteriorError(f"{path}: cannot read it as UTF-8 text ({exc})") from None
    lines = text.splitlines()
    # The header lines as to_csv was given them (it writes "# line", or "#" for an empty one).
    header = "\n".join(line[2:] if line.startswith("# ") else line[1:] for line in lines
                       if line.startswith("#"))  # fmt: skip
    rows = [r for r in csv.reader(line for line in lines if not line.startswith("#"))]
    rows = [r for r in rows if r]
    if len(rows) < 2:
        raise PosteriorError(f"{path}: needs a header of parameter names and at least one row")
    names = tuple(h.strip() for h in rows[0])
    for col, name in enumerate(names, start=1):
        if name not in PARAMS:
            raise PosteriorError(
                f"{path}: column {col} {name!r} is not a registry parameter{suggest(name)}"
            )
    if len(set(names)) != len(names):
        raise PosteriorError(f"{path}: a parameter is named twice in the header")
    values = np.empty((len(rows) - 1, len(names)))
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(names):
            raise PosteriorError(f"{path}: row {i} has {len(row)} values, expected {len(names)}")
        for j, (name, cell) in enumerate(zip(names, row, strict=True)):
            try:
                values[i - 2, j] = PARAMS[name].check(float(cell))
            except ValueError as exc:
                raise PosteriorError(
                    f"{path}: row {i}, column {name!r} = {cell!r}: {exc}"
                ) from None
    return Posterior(names, values, str(path), header)


__all__ = ["POSTERIOR_STREAM", "Posterior", "PosteriorError", "load_posterior"]
