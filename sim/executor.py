"""One executor for everything that runs replications: in this process, warm local processes,
or a Dask cluster.

Batches, sweeps and calibration hand it a top-level function and a list of argument tuples and
get the results back either as they finish (:meth:`Executor.imap_unordered`, with each task's
index) or in task order (:meth:`Executor.map`). Callers put the results in task order, and a
task's result depends only on its arguments (its seed among them), so the tables are the same
for any number of workers and any order of completion.

Local worker processes are started once and kept warm for the life of this process: a batch,
each point of a sweep and each wave of a calibration reuse the same pool, so loading mesa, scipy,
pandas, the theatre and the compiled kernels (and the construction caches a worker then fills)
is paid once, not per call. The pool is replaced only when a different number of workers is
asked for, or after a worker died. It is shut down at exit.

Workers are forked from a ``multiprocessing`` fork server where the platform has one (Linux,
macOS), and spawned elsewhere; never forked from this process (forking a parent that already runs
threads, such as pyarrow's pools or tqdm's monitor, can deadlock and is deprecated in Python
3.12). The fork server is a fresh interpreter that loads, once, what every worker needs (the
imports, the theatre, the compiled kernels: :mod:`sim._preload`), so a worker forked from it
starts in milliseconds instead of spending ~1.3 s of CPU on its own imports; a batch on two cold
workers pays that once instead of twice. The server and every worker run with
``PYTHONHASHSEED=0`` (this process's own value is restored afterwards), so nothing in a worker
can vary with string hashing. Runs do not depend on it anyway: the golden-run and worker-count
tests check that in-process and pooled results are identical.

Workers die with their parent, by any signal, ``kill -9`` included: on Linux each one asks the
kernel for SIGKILL when its own parent (the fork server, or this process for spawned workers)
dies (``prctl(PR_SET_PDEATHSIG)``); the fork server exits as soon as this process is gone (it
reads the end of a pipe only this process holds open); and on every platform a watchdog thread
ends a worker once this process or its own parent is gone. Multiprocessing's resource tracker
exits by itself when the last of them has gone.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

# The worker side: what a worker runs when it starts (die_with_parent and the watchdog are
# also used from here by the view's server and the tests).
from sim.worker_process import _WATCHDOG_PERIOD as _WATCHDOG_PERIOD
from sim.worker_process import _watchdog as _watchdog
from sim.worker_process import _worker_init
from sim.worker_process import die_with_parent as die_with_parent

__all__ = [
    "CONNECT_TIMEOUT",
    "Executor",
    "ExecutorError",
    "check_workers",
    "connect",
    "shutdown",
    "usable_cores",
]

# How long a client waits for a Dask scheduler to connect and answer, in seconds.
CONNECT_TIMEOUT = 10.0
# The longest shutdown() waits for a pool's processes to finish starting, in seconds.
_START_TIMEOUT = 120.0


class ExecutorError(ValueError):
    """A bad executor request: worker count, scheduler address, an unreachable cluster."""


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform reports it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def check_workers(workers: int | None, force: bool = False) -> int:
    """The number of local workers to use: all usable cores by default.

    Parameters
    ----------
    workers : int, optional
        Processes asked for; ``None`` means all usable cores.
    force : bool
        Allow more workers than cores (they then share the cores, and each replication runs
        slower; useful only to test the executor).

    Raises
    ------
    ExecutorError
        ``workers`` is not a whole number >= 1, or exceeds the usable cores without ``force``.
    """
    cores = usable_cores()
    if workers is None:
        return cores
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ExecutorError(f"workers must be a whole number >= 1, got {workers!r}")
    if workers > cores and not force:
        raise ExecutorError(
            f"workers must be at most the {cores} usable cores of this machine, got {workers}; "
            "more only share the same cores (force it with --force-workers, or "
            "force_workers=True)"
        )
    return workers


# --------------------------------------------------------------------------------------------
# The warm local pool


_pool: ProcessPoolExecutor | None = None
_pool_size = 0
# Set once the warm pool's processes have started (at once for a pool that is not forked from
# the fork server); with the error that stopped them, if any.
_pool_ready = threading.Event()
_pool_start_error: list[BaseException] = []
_pool_lock = threading.Lock()


# The fork server loads this module before its first fork (see sim/_preload.py).
_PRELOAD = ["sim._preload"]


def _context() -> multiprocessing.context.BaseContext:
    """The fork server's context where the platform has one, else "spawn"."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)  # applies when the server (re)starts
        return context
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _worker_environment() -> Generator[None]:
    """This process's environment as processes started now inherit it: ``PYTHONHASHSEED=0``,
    and ``PYTHONPATH`` led by this process's ``sys.path``, so that the fork server (whose
    ``sys.path`` multiprocessing does not set) imports the same package as this process."""
    saved = {key: os.environ.get(key) for key in ("PYTHONHASHSEED", "PYTHONPATH")}
    os.environ["PYTHONHASHSEED"] = "0"
    paths = [p for p in sys.path if p]
    if saved["PYTHONPATH"]:
        paths.append(saved["PYTHONPATH"])
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                del os.environ[key]
            else:
                os.environ[key] = value


def _warm() -> int:
    return os.getpid()


def _local_pool(workers: int) -> ProcessPoolExecutor:
    """The process-wide pool of ``workers`` warm workers, started if need be.

    A pool forked from the fork server is returned at once, while its processes start: the
    server first loads for ~1 s, on one core, and this process can use the other meanwhile
    (:meth:`Executor._on_pool`); ``_pool_ready`` is set once they have started.
    """
    global _pool, _pool_size
    with _pool_lock:
        if _pool is not None and (_pool_size != workers or _broken(_pool)):
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None
        if _pool is None:
            import sim

            context = _context()
            pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=_worker_init,
                initargs=(os.getpid(), sim.__file__),
            )
            forked = context.get_start_method() == "forkserver"
            _pool_ready.clear()
            _pool_start_error.clear()
            with _worker_environment():
                if forked:
                    # The server starts now (without waiting for it to load), with this
                    # environment, which the workers it forks inherit.
                    from multiprocessing import forkserver

                    forkserver.ensure_running()
                else:
                    # Spawned workers take this environment: they are started now, from this
                    # thread (not later, from whichever thread submits, with whatever
                    # environment).
                    _start_processes(pool, workers)
            if forked:
                # Asking the server for a process waits until it has loaded: from a thread.
                threading.Thread(
                    target=_start_processes, args=(pool, workers), name="worker start", daemon=True
                ).start()
            _pool, _pool_size = pool, workers
        return _pool


def _start_processes(pool: ProcessPoolExecutor, workers: int) -> None:
    # A pool starts a worker at each submit that finds none idle: one warm-up task per worker
    # starts them all.
    try:
        for _ in range(workers):
            pool.submit(_warm)
    except BaseException as err:  # handed to the thread that waits for the pool
        _pool_start_error.append(err)
    finally:
        _pool_ready.set()


def _wait_ready() -> None:
    """Wait until the warm pool's processes have started; raise what stopped them."""
    _pool_ready.wait()
    if _pool_start_error:
        raise _pool_start_error[0]


def _broken(pool: ProcessPoolExecutor) -> bool:
    return bool(getattr(pool, "_broken", False))


def _discard(pool: ProcessPoolExecutor, kill: bool = False) -> None:
    """Forget ``pool`` (if it is the warm one) and stop it; ``kill`` ends running tasks too."""
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    if kill:
        for process in list(getattr(pool, "_processes", {}).values()):
            with contextlib.suppress(Exception):
                process.kill()
    pool.shutdown(wait=not kill, cancel_futures=True)


def shutdown() -> None:
    """Stop the warm local workers and the fork server (they are started again when next
    needed, from scratch).

    Waits for tasks still running (none, after a finished batch, sweep or calibration). Once
    it returns, every worker and the server have been reaped, so the CPU time they used counts
    in this process's ``RUSAGE_CHILDREN`` (the workers are the server's children).
    """
    pool = _pool
    if pool is not None:
        _pool_ready.wait(_START_TIMEOUT)  # a pool still starting: let its processes start first
        _discard(pool)
    _stop_fork_server()


def _stop_fork_server() -> None:
    from multiprocessing import forkserver

    # multiprocessing's own way to stop the server (closes the pipe, waits for it to exit);
    # private, hence looked up with care.
    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        stop()


def _at_exit() -> None:
    # Tasks still running at exit (a loop left early, Ctrl-C between results) will never be
    # read: end them rather than wait, which could be a whole sweep point.
    pool = _pool
    if pool is not None:
        _discard(pool, kill=bool(getattr(pool, "_pending_work_items", None)))


atexit.register(_at_exit)


# --------------------------------------------------------------------------------------------
# Dask


def connect(address: str, timeout: float = CONNECT_TIMEOUT):
    """A ``distributed.Client`` connected to the scheduler at ``address`` (never a new cluster).

    The whole connection, the Dask handshake included, must finish within ``timeout`` seconds
    (plus a second's grace): a server that accepts the TCP connection but never answers as a
    Dask scheduler would otherwise keep the client waiting for ever.

    Raises
    ------
    ExecutorError
        ``distributed`` is not installed, the address is malformed, nobody answers, or what
        answers is not a Dask scheduler.
    """
    try:
        import distributed
    except ImportError:
        raise ExecutorError(
            "running on a Dask cluster needs the distributed package: "
            'pip install -e ".[cluster]" (or pip install distributed)'
        ) from None
    if not isinstance(address, str) or not address.strip():
        raise ExecutorError(f"scheduler must be an address like tcp://HOST:8786, got {address!r}")
    # Parsed here: a Client that fails on a malformed address is still collected at exit, and
    # its __del__ then waits 20 s and prints a TimeoutError traceback.
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except ValueError as err:
        raise ExecutorError(
            f"cannot connect to the Dask scheduler at {address!r}: {err} (an address is like "
            "tcp://HOST:8786)"
        ) from None
    box: dict[str, Any] = {}

    def attempt() -> None:
        try:
            # An address, so the client connects and starts nothing; not the default client,
            # so nothing else in this process picks it up.
            box["client"] = distributed.Client(address, timeout=timeout, set_as_default=False)
        except BaseException as err:  # handed to the caller's thread below
            box["error"] = err

    # Daemon: a client stuck in the handshake must not keep this process alive at exit.
    thread = threading.Thread(target=attempt, name="dask connect", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if thread.is_alive():
        raise ExecutorError(
            f"cannot connect to the Dask scheduler at {address!r}: no Dask handshake within "
            f"{timeout:g} s (is it a Dask scheduler?)"
        )
    if "error" in box:
        failure = box["error"]
        raise ExecutorError(
            f"cannot connect to the Dask scheduler at {address!r}: "
            f"{failure or type(failure).__name__}"
        ) from None
    return box["client"]


# --------------------------------------------------------------------------------------------
# The executor


class Executor:
    """Runs tasks in this process, on the warm local pool, or on a Dask cluster.

    Parameters
    ----------
    workers : int, optional
        Local processes (all usable cores by default); ``1`` runs every task in this process.
        More than the usable cores is refused unless ``force_workers``.
    scheduler : str, optional
        Address of a running Dask scheduler to run the tasks on instead (``workers`` is then
        ignored: the cluster has its own). The client connects here and is closed by
        :meth:`close`; the cluster is never started or stopped.
    force_workers : bool
        Allow more local workers than cores.
    connect_timeout : float
        Seconds to wait for the scheduler (see :func:`connect`).

    Examples
    --------
    >>> with Executor(workers=1) as ex:
    ...     ex.map(pow, [(2, 3), (3, 2)])
    [8, 9]
    """

    def __init__(
        self,
        workers: int | None = None,
        scheduler: str | None = None,
        *,
        force_workers: bool = False,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self.client = None
        if scheduler is not None:
            self.kind = "dask"
            self.workers = 0
            self.client = connect(scheduler, connect_timeout)
        else:
            self.workers = check_workers(workers, force_workers)
            self.kind = "serial" if self.workers == 1 else "processes"

    @property
    def local(self) -> bool:
        """Whether tasks run on this machine (and see its filesystem)."""
        return self.kind != "dask"

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the Dask client, if any (the local pool stays warm for the next caller)."""
        if self.client is not None:
            client, self.client = self.client, None
            with contextlib.suppress(Exception):  # the scheduler may be gone already
                client.close()

    def map(self, fn: Callable, tasks: Sequence[tuple]) -> list:
        """``[fn(*t) for t in tasks]``, in task order, wherever the tasks run."""
        results: list = [None] * len(tasks)
        for i, result in self.imap_unordered(fn, tasks):
            results[i] = result
        return results

    def imap_unordered(self, fn: Callable, tasks: Sequence[tuple]) -> Generator[tuple[int, Any]]:
        """Run ``fn(*task)`` for every task; yield ``(index, result)`` as each finishes.

        ``fn`` must be a module-level function (it is pickled by reference). Leaving the loop
        early, or an error, cancels the tasks not yet started; Ctrl-C also stops the workers
        (a fresh pool is started next time).
        """
        if self.kind == "dask":
            yield from self._on_cluster(fn, tasks)
        elif self.workers <= 1 or (len(tasks) <= 1 and _pool is None):
            for i, task in enumerate(tasks):  # nothing to gain from starting a pool
                yield i, fn(*task)
        else:
            yield from self._on_pool(fn, tasks)

    def _on_pool(self, fn: Callable, tasks: Sequence[tuple]) -> Generator[tuple[int, Any]]:
        pool = _local_pool(self.workers)
        futures: dict[Future, int] = {}
        todo = list(range(len(tasks)))
        try:
            # While a new pool's fork server loads (~1 s on one core) the other core would
            # idle: this process runs tasks meanwhile, from the end of the list, and hands
            # the rest to the workers once they are there. A task's result depends only on
            # its arguments, wherever it runs.
            while len(todo) > 1 and not _pool_ready.is_set():
                i = todo.pop()
                yield i, fn(*tasks[i])
            _wait_ready()
            for i in todo:
                futures[pool.submit(fn, *tasks[i])] = i
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BrokenProcessPool:
            _discard(pool)
            raise
        except (KeyboardInterrupt, SystemExit):
            _discard(pool, kill=True)
            raise
        finally:
            for future in futures:
                future.cancel()  # a no-op for finished and running tasks

    def _on_cluster(self, fn: Callable, tasks: Sequence[tuple]) -> Generator[tuple[int, Any]]:
        import distributed

        client = self.client
        assert client is not None  # only called with a cluster
        # pure=False: unique keys, so nothing is shared with another batch on the same
        # scheduler (and the arguments need not be tokenised).
        futures = {client.submit(fn, *task, pure=False): i for i, task in enumerate(tasks)}
        if tasks and not client.scheduler_info().get("workers"):
            print(
                f"frontline: the Dask scheduler at {client.scheduler.address} has no workers "
                "yet; the tasks wait for some",
                file=sys.stderr,
            )
        try:
            for future in distributed.as_completed(list(futures), loop=client.loop):
                try:
                    result = future.result()
                except CancelledError as err:  # the scheduler went away (or cancelled it)
                    raise ExecutorError(f"the Dask cluster dropped the tasks ({err})") from None
                except ModuleNotFoundError as err:
                    if err.name != "sim" and not str(err).startswith("No module named 'sim"):
                        raise
                    raise ExecutorError(
                        f"the Dask workers cannot import sim ({err}): install the frontline "
                        "package on every worker"
                    ) from None
                yield futures[future], result
        finally:
            # A no-op for finished tasks; stops the rest if we leave early. Best effort: the
            # scheduler may be gone, and the error that brought us here matters more.
            with contextlib.suppress(Exception):
                client.cancel(list(futures))
