"""Per-process caches of model construction (issue 14) never leak between models.

Construction shares the theatre, the supply network's static parts and the sector assignment
between the models of a process. A second model must run exactly as a first one does (the
golden digests of ``tests/test_golden.py``), and building or running it must leave a finished
model's state untouched.
"""

from datetime import date

import numpy as np
from test_golden import _stored, key, run

from sim.model import FrontlineModel


def test_two_models_in_one_process_do_not_share_state() -> None:
    first = FrontlineModel("baseline_2024", rng=1)
    first.run(date(2024, 2, 1))
    control = first.control.copy()
    personnel = first.units.personnel[: first.units.n].copy()
    assert run("baseline_2024", 1, 120) == _stored()[key("baseline_2024", 1, 120)]
    assert np.array_equal(first.control, control)
    assert np.array_equal(first.units.personnel[: first.units.n], personnel)


def test_a_model_starts_from_fresh_copies_of_the_shared_first_day() -> None:
    """The first day's supply forests and fortification belts are kept per process: a model's
    in-place updates of its forests must not reach the next model's, and the next model's must
    equal forests computed from scratch."""
    first = FrontlineModel("baseline_2024", rng=1)
    first.run(date(2024, 3, 1))  # its forests are updated in place, day after day
    second = FrontlineModel("baseline_2024", rng=2)
    net, limit = second.supply_net, second.p.supply_tether_km
    for side, tree in enumerate(second.supply_trees):
        fresh = net.tree(second.initial_control, side, limit)
        for name in ("own", "dist", "pred", "source"):
            assert np.array_equal(getattr(tree, name), getattr(fresh, name)), name
            assert not np.shares_memory(
                getattr(tree, name), getattr(first.supply_trees[side], name)
            )
    assert np.array_equal(
        second.fortification, FrontlineModel("baseline_2024", rng=3).fortification
    )
