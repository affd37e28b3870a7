"""Step cost at four theatre sizes: synthetic grids of about 1x, 2x, 4x and 8x the real
theatre's nodes with units in proportion (see ``conftest.grid_case``).

Each round builds a fresh model, runs 10 days untimed, then times 5 steps. The session summary
prints the milliseconds per step and the fitted exponent of cost against node count.
"""

import pytest
from conftest import SCALES, SIZE_STEPS, SIZE_WARMUP_DAYS, grid_model


@pytest.mark.parametrize("scale", SCALES, ids=[f"{s}x" for s in SCALES])
def test_step_at_size(benchmark, record, scale):
    benchmark.group = "step at theatre size (5 steps)"

    def setup():
        m = grid_model(scale)
        m.run_for(SIZE_WARMUP_DAYS)
        return (m,), {}

    m = benchmark.pedantic(
        lambda m: m.run_for(SIZE_STEPS) or m, setup=setup, rounds=5 if scale < 8 else 3
    )
    benchmark.extra_info["nodes"] = m.theatre.n_nodes
    benchmark.extra_info["units"] = m.units.n
    assert m.day == SIZE_WARMUP_DAYS + SIZE_STEPS
    assert m.events, "the front should move on the grid"
    record(f"size_{scale}x", benchmark)
