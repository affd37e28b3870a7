"""Helpers shared by the scenario-loading tests."""

from pathlib import Path

import pytest

from sim.scenario import ScenarioError, load_scenario


def load_error(path: Path, **kw) -> str:
    """The message of the ScenarioError that loading ``path`` raises (fails if none)."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, **kw)
    return str(info.value)
