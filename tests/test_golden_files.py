"""Golden files: what the ``frontline`` command writes is byte-identical to what the code the
digests in ``tests/golden/files.json`` were made with wrote (issue 13: the restructuring must
not change a single output byte).

``tests/test_golden.py`` digests a run's state in memory; this test goes through the real
command line (``sim.cli.main``, in this process) and digests the bytes of every file the
verbs leave behind, at a 60-day horizon:

- ``frontline run`` of ``baseline_2024`` and ``baseline_2023`` with seeds 1, 2 and 5:
  ``summary.json``, ``daily.parquet``, ``events.csv``, ``checksums.json``;
- ``frontline batch`` of ``baseline_2024`` (seed 1), the same with one parameter changed, and
  ``baseline_2023`` (seed 5), three replications each: the manifest, ``summary.json``,
  ``runs.parquet``, ``daily.parquet``, ``events.parquet``, ``nodes.parquet``, the part files;
- a tiny Sobol' ``frontline sweep`` (two parameters, eight points): the design, the tables,
  the summary, ``sobol.json`` and every point's batch;
- ``frontline report`` of a batch, of a pair and of the sweep: the Markdown and the figures
  (the PNG bytes were checked to be the same from run to run on one platform).

What legitimately varies is held fixed rather than edited out afterwards:

- *Absolute paths*: the verbs run with the working directory in a fresh temporary directory
  and are given relative paths, so the reports' provenance tables name ``b24``, not
  ``/tmp/.../b24``.
- *The git commit* the outputs record (``git_commit`` in ``runs.parquet`` and the part files,
  ``git_commits`` in the summaries and the reports) changes with every commit, so ``GIT_DIR``
  points at a directory that is not a repository and every output records ``""``.
- Nothing else varies: the outputs hold no timestamps or durations.

The digests hold for the platform they were made on (numpy, scipy, pyarrow and matplotlib
versions and numpy's SIMD targets); elsewhere the test skips, as ``test_golden.py`` does.
``python tests/test_golden_files.py`` checks and prints which files differ;
``python tests/test_golden_files.py --write`` remakes the digests: only ever from unchanged code.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from contextlib import contextmanager, redirect_stdout
from io import StringIO
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.cli import main  # noqa: E402
from sim.experiments.store import git_commit  # noqa: E402

DIGESTS = Path(__file__).resolve().parent / "golden" / "files.json"
SEEDS = (1, 2, 5)
UNTIL = {"baseline_2024": "2024-03-01", "baseline_2023": "2023-03-01"}  # 60 days from the start
BATCH = ("--replications", "3", "--workers", "1")


def _verbs() -> list[list[str]]:
    """The command lines, in order (later ones read what earlier ones wrote)."""
    argvs = [
        ["run", sc, "--seed", str(seed), "--until", until, "--out", f"run_{sc}_{seed}"]
        for sc, until in UNTIL.items()
        for seed in SEEDS
    ]
    b24 = ["batch", "baseline_2024", "--seed", "1", "--until", UNTIL["baseline_2024"], *BATCH]
    argvs += [
        [*b24, "--out", "b24"],
        [*b24, "--set", "supply_efold_km=100", "--out", "b24x"],
        ["batch", "baseline_2023", "--seed", "5", "--until", UNTIL["baseline_2023"], *BATCH]
        + ["--out", "b23"],
        ["sweep", "baseline_2024", "--seed", "2", "--until", UNTIL["baseline_2024"]]
        + ["--design", "sobol", "--samples", "2", "--replications", "1", "--workers", "1"]
        + ["--param", "supply_efold_km=60:120", "--param", "surprise_days=2:10"]
        + ["--sobol", "russia_gain_km2", "--out", "sw"],
        ["report", "b24", "--out", "report_batch"],
        ["report", "b24", "b24x", "--out", "report_pair"],
        ["report", "sw", "--out", "report_sweep"],
    ]
    return argvs


@contextmanager
def _fixed_environment(where: Path):
    """Run in ``where`` with no git repository visible (see the module docstring).

    The commit is read once per process and cached, so the cache is emptied on the way in (an
    earlier test may have filled it) and on the way out (so later tests see the real one).
    """
    old_cwd, old_git = Path.cwd(), os.environ.get("GIT_DIR")
    os.chdir(where)
    os.environ["GIT_DIR"] = str(where / "no-repository")
    git_commit.cache_clear()
    try:
        yield
    finally:
        git_commit.cache_clear()
        os.chdir(old_cwd)
        if old_git is None:
            os.environ.pop("GIT_DIR", None)
        else:
            os.environ["GIT_DIR"] = old_git


def make_outputs(where: Path) -> None:
    """Run every verb of :func:`_verbs` in ``where``; fail on a non-zero exit."""
    with _fixed_environment(where), redirect_stdout(StringIO()):
        for argv in _verbs():
            code = main(argv)
            if code != 0:
                raise AssertionError(f"frontline {' '.join(argv)} exited {code}")


def digests(where: Path) -> dict[str, str]:
    """SHA-256 of every file under ``where``, keyed by its path relative to ``where``."""
    return {
        p.relative_to(where).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(where.rglob("*"))
        if p.is_file()
    }


def platform() -> str:
    """The golden runs' platform, plus the writers of the Parquet files and the figures."""
    import matplotlib
    import pyarrow
    from test_golden import platform as run_platform

    return f"{run_platform()}, pyarrow {pyarrow.__version__}, matplotlib {matplotlib.__version__}"


def _stored() -> dict[str, str]:
    stored = json.loads(DIGESTS.read_text())
    if stored.get("_platform") != platform():
        pytest.skip(
            f"golden file digests were made on {stored.get('_platform')}; this is {platform()}:"
            " remake them here from the code they stand for (python tests/test_golden_files.py"
            " --write)"
        )
    return {k: v for k, v in stored.items() if k != "_platform"}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("golden_files")
    make_outputs(where)
    return where


def test_golden_files(outputs):
    want = _stored()
    got = digests(outputs)
    assert sorted(got) == sorted(want), "the set of files written changed"
    assert [k for k in want if got[k] != want[k]] == []


def test_digests_see_a_flipped_byte(outputs, tmp_path):
    """A change of one byte in one output changes that file's digest and no other."""
    before = digests(outputs)
    copy = tmp_path / "copy"
    for rel in before:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes((outputs / rel).read_bytes())
    target = copy / "b24" / "daily.parquet"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    after = digests(copy)
    assert [k for k in before if before[k] != after[k]] == ["b24/daily.parquet"]


def test_outputs_name_no_absolute_path_or_commit(outputs):
    """The normalisation holds: nothing written names the temporary directory or a commit."""
    where = str(outputs).encode()
    for p in outputs.rglob("*"):
        if p.is_file():
            assert where not in p.read_bytes(), p
    summary = json.loads((outputs / "b24" / "summary.json").read_text())
    assert summary["git_commits"] == [""]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        make_outputs(Path(tmp))
        got = digests(Path(tmp))
    if "--write" in sys.argv:
        DIGESTS.parent.mkdir(exist_ok=True)
        DIGESTS.write_text(
            json.dumps({**got, "_platform": platform()}, indent=1, sort_keys=True) + "\n"
        )
        print(f"wrote {len(got)} digests to {DIGESTS}")
    else:
        want = _stored()
        bad = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
        for k in bad:
            print(
                f"DIFFERS: {k}"
                if k in want and k in got
                else f"{'NEW' if k in got else 'GONE'}: {k}"
            )
        print(f"{len(got) - len([k for k in bad if k in got])} of {len(want)} files identical")
        sys.exit(1 if bad else 0)
