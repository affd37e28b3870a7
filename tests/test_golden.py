"""Golden runs: the daily step's outputs are bit-identical to those of the code the digests in
``tests/golden/digests.json`` were made with (issue 14: speed-ups must not change results).

Each digest is a SHA-256 over everything a run produces or leaves behind: the summary, the
daily table, the change-of-control events, the falls, the final node arrays (control,
penetration, fortification, loss memory, supply) and every column of the unit table, plus the
model's random generator state (a change in how many numbers were drawn shows there). Floats
are hashed as their bytes, so a difference in the last bit fails.

Two scenarios x three seeds over 120 days, and three scenarios x three seeds to each scenario's
end (about 12 s in all at the speed of the code the digests were made with).
``python tests/test_golden.py`` checks them all and prints which parts differ;
``python tests/test_golden.py --write`` remakes the digests: only ever from unchanged code.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.model import FrontlineModel  # noqa: E402
from sim.runner import collect  # noqa: E402

DIGESTS = Path(__file__).resolve().parent / "golden" / "digests.json"
SEEDS = (1, 2, 5)
SHORT = ("baseline_2024", "baseline_2023")  # SHORT_DAYS days
SHORT_DAYS = 120
FULL = ("baseline_2024", "baseline_2023", "kursk_2024")  # to the scenario's end

UNIT_FIELDS = (
    "side",
    "personnel",
    "establishment",
    "quality",
    "cohesion",
    "supply",
    "posture",
    "sector",
    "node",
    "breakpoint",
    "losses_since_refit",
    "losses_total",
    "captured_total",
    "arrival_day",
    "alive",
)


def _array(h, name: str, a) -> None:
    a = np.ascontiguousarray(np.asarray(a))
    h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
    h.update(a.tobytes())


def digest(model: FrontlineModel, seed: int) -> dict[str, str]:
    """SHA-256 digests of a finished model's outputs and final state, by part."""
    result = collect(model, seed)
    parts: dict[str, str] = {}

    h = hashlib.sha256()
    summary = {k: v for k, v in result.summary.items() if k != "version"}
    h.update(json.dumps(summary, sort_keys=True).encode())
    parts["summary"] = h.hexdigest()

    h = hashlib.sha256()
    daily = result.daily
    h.update(",".join(daily.columns).encode())
    for col in daily.columns:
        values = daily[col].to_numpy()
        if values.dtype.kind == "M":
            values = values.astype("datetime64[D]").astype(np.int64)
        elif values.dtype == object:
            values = np.asarray(values.tolist(), dtype=np.float64)
        _array(h, col, values)
    parts["daily"] = h.hexdigest()

    h = hashlib.sha256()
    h.update(repr([(d.isoformat(), n, a, b) for d, n, a, b in model.events]).encode())
    parts["events"] = h.hexdigest()
    h = hashlib.sha256()
    h.update(repr(sorted((k, v.isoformat()) for k, v in model.falls.items())).encode())
    parts["falls"] = h.hexdigest()

    h = hashlib.sha256()
    for name in ("control", "penetration", "fortification", "loss_memory"):
        _array(h, name, getattr(model, name))
    _array(h, "supply_level", model.supply_level)
    _array(h, "connected", model.connected)
    for name in ("recruit_pool", "recruit_pipeline", "threat", "attack_ratio"):
        _array(h, name, getattr(model, name))
    _array(h, "sector_posture", model.sector_posture)
    _array(h, "surprise_day", model.surprise_day)
    parts["state"] = h.hexdigest()

    h = hashlib.sha256()
    u = model.units
    h.update(str(u.n).encode())
    for name in UNIT_FIELDS:
        _array(h, name, u.view(name))
    parts["units"] = h.hexdigest()

    h = hashlib.sha256()
    h.update(json.dumps(model.rng.bit_generator.state, sort_keys=True).encode())
    parts["rng"] = h.hexdigest()
    return parts


def run(scenario: str, seed: int, days: int | None) -> dict[str, str]:
    m = FrontlineModel(scenario, rng=seed)
    m.run(None if days is None else m.start + timedelta(days=days))
    return digest(m, seed)


def cases(full: bool) -> list[tuple[str, int, int | None]]:
    if full:
        return [(s, seed, None) for s in FULL for seed in SEEDS]
    return [(s, seed, SHORT_DAYS) for s in SHORT for seed in SEEDS]


def key(scenario: str, seed: int, days: int | None) -> str:
    return f"{scenario}/seed{seed}/{'end' if days is None else f'{days}d'}"


def platform() -> str:
    """numpy and scipy versions and the SIMD targets numpy dispatches to here: numpy's
    vectorised exp, log and power may round differently on other CPUs or versions, so the
    digests hold for the platform they were made on."""
    import scipy
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    simd = "/".join(t for t in __cpu_dispatch__ if __cpu_features__.get(t))
    return f"numpy {np.__version__}, scipy {scipy.__version__}, simd {simd}"


def _stored() -> dict:
    stored = json.loads(DIGESTS.read_text())
    if stored.get("_platform") != platform():
        pytest.skip(
            f"golden digests were made on {stored.get('_platform')}; this is {platform()}: "
            "remake them here from the code they stand for (python tests/test_golden.py --write)"
        )
    return stored


@pytest.mark.parametrize(("scenario", "seed", "days"), cases(full=False))
def test_golden_short(scenario, seed, days):
    assert run(scenario, seed, days) == _stored()[key(scenario, seed, days)]


@pytest.mark.parametrize(("scenario", "seed", "days"), cases(full=True))
def test_golden_full(scenario, seed, days):
    assert run(scenario, seed, days) == _stored()[key(scenario, seed, days)]


def test_digest_sees_a_last_bit_change():
    m = FrontlineModel("baseline_2024", rng=1)
    m.run_for(3)
    before = digest(m, 1)
    m.penetration[int(np.argmax(m.penetration))] = np.nextafter(m.penetration.max(), 1.0)
    after = digest(m, 1)
    assert before["state"] != after["state"]
    assert {k: v for k, v in before.items() if k != "state"} == {
        k: v for k, v in after.items() if k != "state"
    }


if __name__ == "__main__":
    if "--write" in sys.argv:
        out = {key(*c): run(*c) for full in (False, True) for c in cases(full)}
        out["_platform"] = platform()
        DIGESTS.parent.mkdir(exist_ok=True)
        DIGESTS.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(out)} digests to {DIGESTS}")
    else:
        stored = _stored()
        bad = 0
        for full in (False, True):
            for c in cases(full):
                got = run(*c)
                want = stored[key(*c)]
                diff = [p for p in want if got.get(p) != want[p]]
                bad += bool(diff)
                print(f"{key(*c):36s} {'OK' if not diff else 'DIFFERS: ' + ', '.join(diff)}")
        sys.exit(1 if bad else 0)
