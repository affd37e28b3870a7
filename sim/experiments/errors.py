"""Errors of sweeps and their designs."""

from __future__ import annotations


class SweepError(ValueError):
    """A sweep that cannot be run: bad design, bounds or arguments, or ``out`` holds another."""


class SweepWarning(UserWarning):
    """A design that runs, but not quite as asked (grid levels merged by rounding)."""
