"""Writing results safely: atomic files and output directories that know what they hold.

Shared by single runs, batches and sweeps, so a killed process never leaves a half-written file
and a directory is never filled by two different requests.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` through ``write(tmp)`` then rename: readers see the old file or the new one.

    The temporary name carries the process id, so a stray second writer cannot clobber it.
    """
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, data: object) -> None:
    """Atomically write ``data`` as indented JSON."""
    atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=2) + "\n"))


def claim_directory(
    out: Path,
    manifest: dict,
    manifest_name: str,
    what: str,
    error: type[Exception],
    outputs: Iterable[str] | None = None,
) -> None:
    """Check that ``out`` holds nothing but an earlier run of the same request, then record it.

    Parameters
    ----------
    out : Path
        The output directory (created if needed).
    manifest : dict
        The request; a manifest already in ``out`` must equal it key for key.
    manifest_name : str
        File name of the manifest in ``out``.
    what : str
        What the directory holds ("batch", "sweep"), for messages.
    error : exception class
        Raised, with a message naming the differing key, when ``out`` holds something else.
    outputs : iterable of str, optional
        Names whose presence without a manifest means foreign results; by default any entry.
    """
    path = out / manifest_name
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise error(f"{path}: unreadable {what} manifest ({err})") from None
        for key, value in manifest.items():
            if old.get(key) != value:
                raise error(
                    f"{out} holds a different {what}: {key} was {old.get(key)!r} there, "
                    f"{value!r} now; use another --out or delete {out}"
                )
        return
    if outputs is None:
        if out.is_dir() and any(out.iterdir()):
            raise error(f"{out} is not empty and has no {manifest_name}; use another --out")
    else:
        found = [n for n in outputs if (out / n).exists()]
        if found:
            raise error(
                f"{out} has {', '.join(found)} but no {manifest_name}: not a {what} directory, or "
                "one of unknown provenance; use another --out"
            )
    out.mkdir(parents=True, exist_ok=True)
    write_json(path, manifest)


# --------------------------------------------------------------------------------------------
# Checksums of stored results

CHECKSUMS = "checksums.json"


class ChecksumError(ValueError):
    """A stored result that is missing or not what was written; the message names the file."""


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_checksums(out: Path, names: Iterable[str]) -> None:
    """Record the SHA-256 of each named file of ``out`` in ``out/checksums.json`` (atomically)."""
    sums = {name: sha256_file(out / name) for name in names}
    write_json(out / CHECKSUMS, {"algorithm": "sha256", "files": sums})


def verify_checksums(out: Path, required: bool = False) -> list[str]:
    """Check every file listed in ``out/checksums.json`` against its recorded SHA-256.

    Returns the names checked (``[]`` with no ``checksums.json``, which is an error if
    ``required``). Raises :class:`ChecksumError` naming the first file that is missing or differs.
    """
    path = Path(out) / CHECKSUMS
    if not path.is_file():
        if required:
            raise ChecksumError(f"{path}: missing, so the results cannot be verified")
        return []
    try:
        sums = json.loads(path.read_text())["files"]
        if not isinstance(sums, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise ChecksumError(f"{path}: unreadable ({err or type(err).__name__})") from None
    for name, want in sums.items():
        file = Path(out) / name
        if not file.is_file():
            raise ChecksumError(f"{file}: missing (listed in {CHECKSUMS}); re-run to rebuild it")
        got = sha256_file(file)
        if got != want:
            raise ChecksumError(
                f"{file}: checksum mismatch (SHA-256 {got[:12]}..., written {str(want)[:12]}...): "
                "the file changed after it was written; re-run the command to rebuild it"
            )
    return list(sums)
