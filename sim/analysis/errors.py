"""Errors of analysis and reports."""

from __future__ import annotations


class ReportError(ValueError):
    """Input a report cannot be made from: a missing or unknown directory, or an unpaired pair."""
