"""Counter-based random streams for common random numbers (CRN).

Combat draws one uniform per front edge per day and purpose. Drawing them from a sequential
generator would tie each edge's draw to how many edges happen to be on the front, so two runs
with slightly different parameters would drift apart after the first differing flip. Instead a
draw is a hash of (key, day, stream, edge id): the same edge on the same day always gets the same
number, whatever else changed. The key itself is drawn from the model's seeded generator, so every
random number still derives from the run's seed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    # Standard SplitMix64 finaliser (Steele, Lea & Flood 2014): full-period, well mixed.
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


# --- counter-based uniforms ------------------------------------------------------------------
@njit(cache=True, nogil=True)
def splitmix_uniforms(heads, ids, out):
    """``out[s, i]`` = :func:`sim.rng.uniforms` of ``ids[i]`` for the stream whose head (the
    hash of key, day and stream) is ``heads[s]``: the same wrapping uint64 arithmetic."""
    golden = np.uint64(0x9E3779B97F4A7C15)
    m1 = np.uint64(0xBF58476D1CE4E5B9)
    m2 = np.uint64(0x94D049BB133111EB)
    scale = 1.0 / 9007199254740992.0
    for s in range(len(heads)):
        h = heads[s]
        for i in range(len(ids)):
            x = (np.uint64(ids[i]) ^ h) + golden
            x = (x ^ (x >> np.uint64(30))) * m1
            x = (x ^ (x >> np.uint64(27))) * m2
            x = x ^ (x >> np.uint64(31))
            out[s, i] = (np.float64(x >> np.uint64(11)) + 0.5) * scale


_MASK = (1 << 64) - 1


def _splitmix64_int(x: int) -> int:
    """:func:`_splitmix64` of one non-negative integer below 2**64, in Python integers: the same
    wrapping uint64 arithmetic, without numpy's per-call cost on one-element arrays."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def uniforms(key: int, day: int, stream: int, ids: np.ndarray) -> np.ndarray:
    """Uniform(0, 1) draws addressed by (key, day, stream, id).

    Parameters
    ----------
    key : int
        Run key, drawn once from the model's generator.
    day : int
        Simulation day (0-based).
    stream : int
        Purpose of the draw (see ``STREAM_*`` in :mod:`sim.combat`), so purposes never share numbers.
    ids : ndarray of int
        Edge or node ids.

    Returns
    -------
    ndarray of float64
        One number in the open interval (0, 1) per id.

    Examples
    --------
    >>> u = uniforms(7, 3, 0, np.arange(5))
    >>> bool(((u > 0) & (u < 1)).all())
    True
    >>> bool((uniforms(7, 3, 0, np.array([2])) == u[2]).all())
    True
    """
    head = _splitmix64_int(_splitmix64_int(_splitmix64_int(key) ^ day) ^ stream)
    with np.errstate(over="ignore"):
        bits = _splitmix64(np.asarray(ids, dtype=np.uint64) ^ np.uint64(head))
    # Top 53 bits -> (0, 1), offset by half a step so 0 and 1 never occur.
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def uniforms_streams(key: int, day: int, streams: tuple[int, ...], ids: np.ndarray) -> np.ndarray:
    """:func:`uniforms` for several streams at once, one row per stream (compiled; equal to the
    bit to calling :func:`uniforms` stream by stream).

    Examples
    --------
    >>> ids = np.arange(4)
    >>> both = uniforms_streams(7, 3, (0, 2), ids)
    >>> bool((both[1] == uniforms(7, 3, 2, ids)).all())
    True
    """
    day_head = _splitmix64_int(_splitmix64_int(key) ^ day)
    heads = np.array([_splitmix64_int(day_head ^ s) for s in streams], dtype=np.uint64)
    out = np.empty((len(streams), len(ids)))
    splitmix_uniforms(heads, np.asarray(ids, dtype=np.int64), out)
    return out
