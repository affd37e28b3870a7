"""Checks made before anything runs, and the size limits of a run.

Everything a command needs is checked here before it simulates, so that bad input fails in
a second with one line naming the flag or file, the key and what is allowed, rather than after
an hour of simulation (or never, in a hang).

Size limits are the smaller of a limit from the model (what a parameter can sensibly mean)
and one from the machine (memory the run would hold, against ``MemAvailable``). Each can be
raised with an environment variable, named in the message that refuses a size:

- ``FRONTLINE_MAX_UNITS_PER_SECTOR``: manoeuvre units of one side in one sector;
- ``FRONTLINE_MAX_REPLICATIONS``: replications of one batch (or of each point of a sweep);
- ``FRONTLINE_MAX_POINTS``: points of a sweep design.
"""

from __future__ import annotations

import contextlib
import difflib
import operator
import os
import shutil
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "InputError",
    "Limit",
    "SEED_MAX",
    "UNITS",
    "REPLICATIONS",
    "POINTS",
    "available_memory",
    "check_out_dir",
    "check_places",
    "check_seed",
]

# Seeds are stored in signed 64-bit columns and fed to numpy.random.SeedSequence (>= 0).
SEED_MAX = 2**63 - 1
# Free disk below which an output directory is refused (a batch's tables need some room).
MIN_FREE_BYTES = 16 * 2**20


class InputError(ValueError):
    """Bad input found before running: the message names the flag or file and what is allowed."""


def available_memory() -> int:
    """Bytes of memory the system can give a new process (``MemAvailable``), or 4 GiB if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


@dataclass(frozen=True)
class Limit:
    """A size limit: ``model`` from what the quantity means, ``per_item`` bytes from the machine.

    The limit is ``min(model, MemAvailable / 2 / per_item)``, or the value of ``env`` if set.
    """

    what: str
    env: str
    model: int
    why: str
    per_item: int

    def value(self, per_item: int | None = None) -> int:
        """The limit in force (``per_item`` overrides the bytes per item, e.g. for long runs)."""
        raw = os.environ.get(self.env, "").strip()
        if raw:
            try:
                return max(1, int(raw))
            except ValueError:
                raise InputError(f"{self.env}={raw!r}: must be a whole number") from None
        machine = available_memory() // 2 // max(1, per_item or self.per_item)
        return max(1, min(self.model, machine))

    def check(self, n: int, where: str, per_item: int | None = None) -> None:
        """Raise :class:`InputError` if ``n`` is above the limit; ``where`` names the input."""
        limit = self.value(per_item)
        if n > limit:
            raise InputError(
                f"{where} = {n:,}: more than the limit of {limit:,} {self.what} ({self.why}; "
                f"half the available memory allows {available_memory() // 2 // (per_item or self.per_item):,}); "
                f"set {self.env}=N to raise it"
            )


# A unit is a regiment/brigade equivalent of ~1,000-3,000 men: 2,000 in one sector is several
# million men, more than either army. Memory: ~400 B per unit measured (tracemalloc, one day of
# baseline_2024 with 4,000 extra units), times 10 for the per-day working arrays.
UNITS = Limit(
    "units per sector",
    "FRONTLINE_MAX_UNITS_PER_SECTOR",
    2_000,
    "a unit is a regiment/brigade equivalent; 2,000 is more than either army",
    4_000,
)
# A replication's daily table is ~250 B a day in memory (31 columns); a batch holds every
# replication's table, then their concatenation and its parquet encoding: 4 copies.
DAILY_BYTES_PER_DAY = 250 * 4
REPLICATIONS = Limit(
    "replications",
    "FRONTLINE_MAX_REPLICATIONS",
    1_000_000,
    "a batch keeps every replication's daily table in memory",
    DAILY_BYTES_PER_DAY * 366,
)
# A sweep keeps one resolved scenario (~5 kB pickled, ~20 kB live) and one runs table per point.
POINTS = Limit(
    "design points",
    "FRONTLINE_MAX_POINTS",
    1_000_000,
    "a sweep keeps every point's scenario and runs table in memory",
    32_000,
)


def replication_bytes(days: int) -> int:
    """Bytes a batch holds per replication of ``days`` days."""
    return DAILY_BYTES_PER_DAY * (max(0, days) + 1)


def check_seed(seed: object, where: str = "--seed") -> int:
    """``seed`` as an int in ``[0, 2**63 - 1]``; :class:`InputError` otherwise."""
    try:
        value = None if isinstance(seed, bool) else operator.index(seed)  # type: ignore[arg-type]  # int or numpy int; others raise
    except TypeError:
        value = None
    if value is None or not 0 <= value <= SEED_MAX:
        raise InputError(f"{where} = {seed!r}: a seed must be a whole number in [0, 2**63 - 1]")
    return value


def check_out_dir(out: Path, where: str = "--out") -> None:
    """Check that ``out`` can be written before anything runs.

    The only reliable test (ACLs, read-only mounts, root on a full disk) is to do it: make the
    directory, write a file there, and remove both (so a refused command leaves no trace).
    There must also be at least
    :data:`MIN_FREE_BYTES` free on its disk.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{where} {out}: exists and is not a directory; name a directory")
    made = [p for p in (out, *out.parents) if not p.exists()]  # removed again: no trace left
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
        free = shutil.disk_usage(out).free
    except OSError as err:
        raise InputError(f"{where} {out}: cannot write there ({err.strerror})") from None
    finally:
        for p in made:  # deepest first
            with contextlib.suppress(OSError):
                p.rmdir()
    if free < MIN_FREE_BYTES:
        raise InputError(
            f"{where} {out}: only {free // 2**20} MiB free on its disk; "
            f"at least {MIN_FREE_BYTES // 2**20} MiB needed"
        )


def check_places(places: Collection[str], known: Collection[str], where: str) -> None:
    """Every name in ``places`` is in ``known``; :class:`InputError` names the first that is not."""
    names = set(known)
    for place in places:
        if place not in names:
            close = difflib.get_close_matches(place, list(names), n=3, cutoff=0.6)
            alts = f"; close matches: {', '.join(close)}" if close else ""
            raise InputError(f"{where}: {place!r} is not a place of the theatre{alts}")


def check_bindable(host: str, port: int) -> None:
    """Refuse a ``--host``/``--port`` the server could not listen on (port in use, no such
    address) before the server starts: its own failure is a log line and exit 3.

    Raises
    ------
    InputError
        Naming the flags and the reason.
    """
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as e:
        raise InputError(f"--host {host}: not an address of this machine ({e})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        # As the server binds: a port left in TIME_WAIT by an earlier server is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as e:
            raise InputError(
                f"--host {host} --port {port}: cannot listen there ({e.strerror}); choose "
                "another --port (1-65535) or a --host of this machine"
            ) from None


def exposure_warning(host: str, port: int | None = None) -> str | None:
    """A warning saying who can reach a server bound to ``host``, or None for loopback only."""
    import ipaddress

    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return None
    at = f"port {port}" if port is not None else "its port"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:  # a host name: whoever can reach the address it resolves to
        return (
            f"--host {host}: the server listens on the address {host} resolves to; anyone who "
            f"can reach that address on {at} can use it (no password); use 127.0.0.1 to keep "
            "it on this machine"
        )
    if address.is_loopback:
        return None
    who = (
        "every network interface of this machine: anyone who can reach this machine"
        if address.is_unspecified
        else f"{address}: anyone who can reach {address}"
    )
    return (
        f"--host {host}: the server listens on {who} on {at} can use the simulator (no "
        "password); use 127.0.0.1 to keep it on this machine"
    )
