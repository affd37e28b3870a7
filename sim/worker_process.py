"""The life of a local worker process of :mod:`sim.executor`: loading what tasks need, dying
with the process that asked for it, ignoring Ctrl-C (the parent handles it).

Split from :mod:`sim.executor`, which starts the workers (see its docstring for how they are
started and why).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import sys
import threading
import time
from typing import Any

# How often a worker's watchdog checks that its parent is alive, in seconds.
_WATCHDOG_PERIOD = 0.5
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# Days a new worker simulates to load the compiled kernels (by day 5 the front has moved and
# units have fought, moved and been supplied).
_WARM_UP_DAYS = 5


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send this process ``sig`` when its parent dies (Linux; elsewhere a
    no-op). Used by the executor's workers and, as ``preexec_fn``, by the view's server."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)


# Set in a process once _load_worker_state has run there (in the fork server, it is inherited
# by every worker forked from it).
_loaded = False


def _load_worker_state() -> None:
    """Load what every task needs: the model, its theatre, the pandas stack, the compiled
    kernels. Run once by the fork server (:mod:`sim._preload`), or by a spawned worker."""
    global _loaded
    # Loading creates a few million objects that live as long as the process (modules, the
    # theatre, the compiled kernels Numba loads from its cache): the cyclic garbage collector
    # would traverse them again and again while they are made (~0.2 s of CPU per worker) and
    # at every full collection after. So it is off while they are made, and the imports and
    # the theatre are then frozen out of its sight (gc.freeze, which forked workers inherit);
    # the warm-up run's model is not frozen (it is garbage once the warm-up ends), and the
    # collector, on again, frees it as usual.
    gc.disable()
    try:
        import sim.runner  # noqa: F401  (what a task imports to run and collect a model)
        from sim.model import default_theatre

        default_theatre()
        gc.freeze()
        _warm_kernels()
    finally:
        gc.enable()
    _loaded = True


def _worker_init(parent: int, package: str) -> None:
    """In each worker: die with the parent, then load what every task needs (nothing left to
    load in a worker forked from the preloaded fork server)."""
    die_with_parent()
    # The parent died before the request took effect (a spawned worker is then re-parented;
    # a forked one's server is still there, but this process is gone).
    if os.getppid() != parent and not _alive(parent):
        os._exit(1)
    _release_fork_server()
    import sim

    if sim.__file__ != package:  # the server loaded another copy of the package: refuse it
        raise RuntimeError(
            f"the executor's fork server loaded sim from {sim.__file__}, this process runs "
            f"{package}: run both from the same environment (or PYTHONPATH)"
        )
    # Ctrl-C reaches the whole process group: the parent alone handles it (and stops the
    # workers), instead of every worker printing its own KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_watchdog, args=(parent, os.getppid()), name="parent watchdog", daemon=True
    ).start()
    if not _loaded:  # a spawned worker, or a fork server that did not preload
        _load_worker_state()


def _release_fork_server() -> None:
    # multiprocessing hands every forked worker the write end of the pipe whose end-of-file
    # tells the fork server that the parent is gone: with the workers holding it, the server
    # would outlive the parent, and so would the workers (their death signal comes from the
    # server's). Our workers start no processes of their own, so they let it go.
    from multiprocessing import forkserver

    server: Any = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
        server._forkserver_alive_fd = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process now has that pid: ours is gone
        return False
    return True


def _warm_kernels() -> None:
    # A few days of the default scenario call most kernels once, so that Numba loads them now,
    # with the collector off, rather than in the first task. Only a warm-up: a scenario that
    # cannot be built here just leaves the loading to the first task.
    from sim.model import FrontlineModel
    from sim.runner import collect

    with contextlib.suppress(Exception):
        model = FrontlineModel(rng=0)
        model.run_for(_WARM_UP_DAYS)
        collect(model, 0)


def _watchdog(parent: int, server: int | None = None) -> None:
    # Where PR_SET_PDEATHSIG does not exist (or the thread that started us ended), a worker
    # whose own parent (``server``: the fork server, or ``parent`` itself) is gone is
    # re-parented, so its parent pid changes; a forked worker also checks that ``parent``, the
    # process that asked for it, is still there.
    server = parent if server is None else server
    while os.getppid() == server and (server == parent or _alive(parent)):
        time.sleep(_WATCHDOG_PERIOD)
    os._exit(1)
