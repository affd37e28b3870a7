"""Golden runs: model construction and execution changes must leave every output bit-identical.

The digests below were computed from the code before construction was made lazy and cached
(base commit 5bf39d0). Each one hashes, for one scenario and seed run over a shortish horizon,
the daily table, the changes of hands, the fall dates, the summary and the model's final state
arrays (control, penetration, fortification, supply, the unit table). A change to how the model
is built (shared theatre caches, a lazy Mesa space) or to where replications run (the executor)
must not move any of them: a random draw taken or skipped, or a cache shared by mistake between
models, shows up here.

If a deliberate change to the mechanics moves them, recompute with
``python tests/test_golden_exec.py`` and say why in the commit.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import date

import numpy as np
import pandas as pd
import pytest

from sim.model import FrontlineModel
from sim.runner import collect

UNTIL = {"baseline_2024": date(2024, 4, 1), "baseline_2023": date(2023, 4, 1)}
SEEDS = (1, 2, 5)

GOLDEN = {
    "baseline_2023/1": "d93fca674da99e188183cd1e2e6cd9e0d11483d10a6c0156df341f190739eb4c",
    "baseline_2023/2": "3ddd6d0dcb16b213a4501cb4f71b72bba9c7d22f2c8cc8c9a0472e961cc5dd0f",
    "baseline_2023/5": "4d8d06d1bf970f6bfa940c89b5b44a66f84295bf4bd743f874225027ac3e49f8",
    "baseline_2024/1": "b100c3cbbe1a508fd412009bc7493cbfcb7f1b0b18faa005fd30870c4007a866",
    "baseline_2024/2": "1275e1be0fcc3dd7a827641ad8d9c4a08a47d9d4d7625423f8698c0999578bbc",
    "baseline_2024/5": "c09efb5c4ecd84e829d8a9ff245d378dedbc0acb9c3312c79e0a51c54e2d5a94",
}


def _update(h, name: str, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array)
    h.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
    h.update(array.tobytes())


def _frame_digest(h, name: str, frame: pd.DataFrame) -> None:
    h.update(f"{name}:{list(frame.columns)}".encode())
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind not in "biufcmM":  # strings, objects: by value, not by pointer
            h.update(json.dumps(values.tolist(), default=str).encode())
        else:
            _update(h, f"{name}.{column}", values.to_numpy())


def run_digest(scenario: str, seed: int) -> str:
    """SHA-256 of everything a run produces, and of the model's final state."""
    model = FrontlineModel(scenario, rng=seed)
    model.run(UNTIL[scenario])
    result = collect(model, seed)
    h = hashlib.sha256()
    _frame_digest(h, "daily", result.daily)
    _frame_digest(h, "events", result.events)
    h.update(json.dumps(result.summary, sort_keys=True).encode())
    h.update(json.dumps({k: v.isoformat() for k, v in sorted(model.falls.items())}).encode())
    for name in ("control", "penetration", "fortification", "supply_level", "connected"):
        _update(h, name, getattr(model, name))
    units = model.units
    for name in sorted(vars(units)):
        value = getattr(units, name)
        if isinstance(value, np.ndarray):
            _update(h, f"units.{name}", value[: units.n])
    return h.hexdigest()


@pytest.mark.parametrize("scenario", sorted(UNTIL))
@pytest.mark.parametrize("seed", SEEDS)
def test_golden_run_is_bit_identical(scenario: str, seed: int) -> None:
    assert run_digest(scenario, seed) == GOLDEN[f"{scenario}/{seed}"]


def test_two_models_in_one_process_do_not_share_state() -> None:
    """A second model built in the same process (sharing the per-process caches) runs exactly
    as a first one does, and building it leaves a finished model's state untouched."""
    first = FrontlineModel("baseline_2024", rng=1)
    first.run(date(2024, 2, 1))
    before = first.control.copy(), first.units.personnel[: first.units.n].copy()
    again = run_digest("baseline_2024", 1)
    assert again == GOLDEN["baseline_2024/1"]
    assert np.array_equal(first.control, before[0])
    assert np.array_equal(first.units.personnel[: first.units.n], before[1])


if __name__ == "__main__":  # print the table of digests for GOLDEN
    for scenario in sorted(UNTIL):
        for seed in SEEDS:
            print(f'    "{scenario}/{seed}": "{run_digest(scenario, seed)}",', file=sys.stdout)
