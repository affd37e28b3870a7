"""What the executor's fork server loads before it forks any worker (imported there only).

:mod:`sim.executor` starts its local workers from a ``multiprocessing`` fork server: a fresh
interpreter (not a fork of the caller, which may run threads) that imports this module once.
Each worker is then a fork of it, and starts with the imports, the theatre and the compiled
kernels already loaded, instead of spending ~1.3 s of CPU loading them itself.
"""

from __future__ import annotations

import signal
import warnings

# Ctrl-C reaches the caller's whole process group: the caller handles it and stops the workers.
# multiprocessing makes the running server ignore SIGINT, but only after this import.
signal.signal(signal.SIGINT, signal.SIG_IGN)
# numpy's and scipy's OpenBLAS and pyarrow's jemalloc each run a thread in this process; all
# three have fork handlers, and the server forks from its one Python thread, so the warning
# that Python 3.12 gives for a fork in a multi-threaded process does not apply (and, under
# -W error, would stop every worker from starting).
warnings.filterwarnings(
    "ignore", message=r".*use of fork\(\) may lead to deadlocks", category=DeprecationWarning
)

from sim.worker_process import _load_worker_state  # noqa: E402  (after the signal and the filter)

_load_worker_state()
