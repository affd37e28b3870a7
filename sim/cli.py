"""The ``frontline`` command line.

Argument parsing only: each verb hands its arguments to one function elsewhere in ``sim``.
Heavy or optional modules (the theatre builder, the runner) are imported inside the verb that
needs them, so ``frontline params`` stays instant and works without the build extras.

Verbs::

    frontline params [--markdown]
    frontline theatre build [--frontlines DIR] [--out PATH] [--record DIR]
    frontline theatre info [--json]
    frontline run SCENARIO [--seed N] [--until DATE] [--set KEY=VALUE ...] [--out DIR]
    frontline batch SCENARIO --replications R [--workers W | --scheduler ADDRESS] [--seed N]
                    [--until DATE] [--set KEY=VALUE ...] --out DIR
    frontline sweep SCENARIO --design grid|lhs|sobol --param KEY=LOW:HIGH [--param ...]
                    --samples N --replications R [--seed N] [--workers W] [--until DATE]
                    [--set KEY=VALUE ...] --out DIR [--sobol OUTCOME ...]
    frontline report DIR [DIR2] [--out OUT] [--places A,B,...] [--dates D1,D2,...]
    frontline record [--by month|half-month] [--sectors SCENARIO] [--places] [--json]
                     [--score BATCH_DIR ...]
    frontline view [SCENARIO] [--host HOST] [--port PORT]

Each verb has an ``_add_<verb>`` parser function in :mod:`sim.cli_parsers` and a
``_<verb>`` handler in :mod:`sim.cli_verbs`; this module builds the parser, dispatches and turns
errors into one-line messages and exit codes.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
import tempfile
import traceback
import warnings
from typing import NoReturn

from sim.cli_parsers import (
    _add_batch,
    _add_calibrate,
    _add_params,
    _add_record,
    _add_report,
    _add_run,
    _add_sweep,
    _add_theatre,
    _add_view,
)
from sim.cli_verbs import (
    PROG,
    UsageError,
    render_parameters_doc,
)
from sim.scenario import ScenarioError
from sim.validate import InputError

__all__ = ["main", "render_parameters_doc"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``frontline`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        Exit code (README, "Errors and limits"): 0 success; 2 a usage or input error (one line on
        stderr naming the file or flag, the key and what is allowed; never a traceback); 1 an
        unexpected error (a short message and the path of a saved traceback); 130 interrupted
        (Ctrl-C); 141 the reader of stdout went away (``frontline theatre info | head``).
    """
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            code = _dispatch(argv)
        if sys.stdout is not None:  # None when started with stdout closed (`>&-`)
            sys.stdout.flush()  # a closed pipe shows up here, not at exit, where it cannot be caught
        return code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Nobody reads stdout any more: point it at /dev/null so the flush at exit is quiet.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 141
    except (ScenarioError, UsageError, InputError, FileNotFoundError) as err:
        print(f"{PROG}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:
        if err.errno not in _ENVIRONMENT_ERRNOS:
            return _internal_error(err)
        # The machine, not frontline: a full disk, a read-only or forbidden place.
        where = f"{err.filename}: " if err.filename else ""
        print(f"{PROG}: error: {where}{err.strerror}", file=sys.stderr)
        return 2
    except Exception as err:  # a bug: keep the traceback, but in a file, not on the screen
        if _caused_by_ctrl_c(err):
            print(f"{PROG}: interrupted", file=sys.stderr)
            return 130
        return _internal_error(err)


def _caused_by_ctrl_c(err: BaseException) -> bool:
    """Whether ``err`` wraps a KeyboardInterrupt: Ctrl-C inside a Numba-compiled function
    reaches Python as a SystemError whose cause is the KeyboardInterrupt."""
    seen: set[int] = set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _internal_error(err: BaseException) -> int:
    saved = _save_traceback()
    print(
        f"{PROG}: internal error ({type(err).__name__}: {_one_line(err)}); "
        f"traceback saved to {saved}; please report it",
        file=sys.stderr,
    )
    return 1


_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


def _dispatch(argv: list[str] | None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # argparse has printed usage or help already
        return done.code if isinstance(done.code, int) else 2
    for name, value in vars(args).items():  # no file name or value can hold a NUL
        for item in value if isinstance(value, list) else [value]:
            if "\0" in str(item):
                raise UsageError(f"--{name.replace('_', '-')}: contains a NUL character")
    return args.handler(args)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr, like errors (no source file and line of ``sim``)."""
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) if "\n" in str(err) else str(err)
    return text or type(err).__name__


def _save_traceback() -> str:
    """Write the current exception's traceback to a new file; return its path (or why not)."""
    text = traceback.format_exc()
    try:
        fd, path = tempfile.mkstemp(prefix="frontline-traceback-", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write(f"frontline {' '.join(sys.argv[1:])}\n\n{text}")
        return path
    except OSError as err:
        return f"(not saved: {err.strerror})"


# --------------------------------------------------------------------------------------------
# Parsers


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (with where to find help), like all others."""

    def error(self, message: str) -> NoReturn:
        """Exit with status 2 and a one-line message naming where to find help."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Agent-based simulation of the Russia-Ukraine front.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for add in (
        _add_params,
        _add_theatre,
        _add_run,
        _add_batch,
        _add_sweep,
        _add_calibrate,
        _add_report,
        _add_record,
        _add_view,
    ):
        add(verbs)
    return parser


# --------------------------------------------------------------------------------------------
# Handlers: one call each into the library
