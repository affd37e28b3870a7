"""Scenario files on disk: where a scenario name points, which directories a file may name others
in, and reading one TOML file safely (size, type, encoding).
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any

import sim
from sim.scenario_fields import (
    ScenarioError,
    _At,
    _str,
)

# Files a scenario may name (extends, calibration) may lie under these, besides the scenario's
# own directory and any the user allows; and no file read as a scenario may be larger.
_REPO = Path(sim.__file__).resolve().parents[1]


TRUSTED_DIRS: tuple[Path, ...] = (_REPO / "calibration", _REPO / "scenarios")


MAX_FILE_BYTES = 1 << 20


def _read_chain(path: Path, roots: tuple[Path, ...]) -> list[tuple[Path, dict[str, Any]]]:
    """Read a file and the files it extends; return them root first."""
    chain: list[tuple[Path, dict[str, Any]]] = []
    seen: list[Path] = []
    at: _At | None = None  # where the current file was named, for a missing-file error
    while True:
        real = path.resolve()
        if real in seen:
            loop = " -> ".join(str(p) for p in [*seen, real])
            raise ScenarioError(f"{chain[-1][0]}: extends: cycle of extends: {loop}")
        seen.append(real)
        raw = _read_toml(path, at)
        chain.append((path, raw))
        if "extends" not in raw:
            return chain[::-1]
        at = _At(path, "extends")
        path = _named_file(path, raw["extends"], at, roots)


def _named_file(parent: Path, value: object, at: _At, roots: tuple[Path, ...]) -> Path:
    """The file a scenario names (``extends``, ``calibration``), relative to the naming file.

    Only ``.toml`` files under ``roots`` may be named: a scenario is data from anywhere, and
    must not make frontline read (and echo in errors) any file of the user's.
    """
    name = _str(value, at)
    if "\0" in name:
        raise at.error("a file name cannot contain a NUL character", name)
    path = parent.parent / name
    real = path.resolve()
    if real.suffix != ".toml":
        raise at.error("must name a .toml file", name)
    if not any(real.is_relative_to(r) for r in roots):
        shown = ", ".join(str(r) for r in roots)
        raise at.error(
            f"{real} is outside the directories a scenario may read ({shown}); "
            "to allow another directory, pass --allow-path DIR",
            name,
        )
    return path


def _read_toml(path: Path, named_at: _At | None) -> dict[str, Any]:
    """Parse a TOML file, refusing anything but a regular file of at most MAX_FILE_BYTES.

    Opened non-blocking and checked with ``fstat`` on the open descriptor, so a FIFO (which
    would block) or a device (``/dev/zero``, which never ends) is refused before any read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if named_at is not None:
            raise named_at.error(f"file not found: {path}", str(path.name)) from None
        raise ScenarioError(f"{path}: scenario file not found") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a directory, not a scenario file") from None
    except OSError as err:
        raise ScenarioError(f"{path}: cannot open ({err.strerror})") from None
    # Checked before fdopen, which refuses a directory (Linux opens one read-only) with an
    # IsADirectoryError of its own.
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ScenarioError(f"{path}: is a directory, not a scenario file")
        raise ScenarioError(f"{path}: not a regular file (a device, FIFO or socket)")
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB: not a scenario")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ScenarioError(
            f"{path}: not UTF-8 text (byte 0x{data[err.start]:02x} on line {line}); "
            "TOML files must be UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        # tomllib's message ends with "(at line L, column C)".
        raise ScenarioError(f"{path}: malformed TOML: {err}") from None
    except RecursionError:  # tomllib recurses once per level of [[[...]]] nesting
        raise ScenarioError(f"{path}: malformed TOML: arrays or tables nested too deeply") from None
