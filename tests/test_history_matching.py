"""History matching with GP emulators (sim.history_matching) on a toy simulator with a known
answer: three noisy outputs of two parameters, one of them on a log scale."""

import numpy as np
import pytest

from sim.history_matching import (
    Emulator,
    Prior,
    Target,
    history_match,
    implausibility,
    latin_hypercube,
    max_implausibility,
    posterior_sample,
    to_unit,
)

PRIORS = [Prior("a", 0.0, 1.0), Prior("b", 1e-3, 1e-1, log=True)]
TRUTH = np.array([0.3, 0.02])
NOISE = 0.02  # s.d. of one replication's outputs
REPS = 4


def outputs(values: np.ndarray) -> np.ndarray:
    a, logb = values[:, 0], np.log10(values[:, 1])
    return np.column_stack([a + 0.5 * logb, a * a - 0.2 * logb, np.sin(3 * a) + logb])


def simulator(seed: int):
    def simulate(values: np.ndarray, wave: int):
        rng = np.random.default_rng([seed, wave])
        reps = outputs(values)[None] + rng.normal(0, NOISE, size=(REPS, len(values), 3))
        return reps.mean(axis=0), reps.var(axis=0, ddof=1) / REPS

    return simulate


def targets() -> list[Target]:
    z = outputs(TRUTH[None])[0]
    return [Target(f"y{j}", float(z[j]), sd_obs=0.03, sd_disc=0.02) for j in range(3)]


def run(seed: int, waves: int = 3):
    return history_match(
        simulator(seed),
        PRIORS,
        targets(),
        waves=waves,
        points=24,
        candidates=2000,
        rng=np.random.default_rng(seed),
    )


@pytest.fixture(scope="module")
def matched():
    return run(1)


def test_the_truth_survives_and_the_region_shrinks(matched):
    waves = matched
    assert len(waves) == 3
    shares = [w.kept_share for w in waves]
    # The first wave rules out most of the box: three outputs pin two parameters down.
    assert shares[0] < 0.3
    truth_unit = to_unit(TRUTH[None], PRIORS)
    for w in waves:
        m, v = w.emulator.predict(truth_unit)
        assert max_implausibility(implausibility(m, v, targets())).item() <= 3.0
    kept = waves[-1].kept
    # What is left is a small neighbourhood of the truth, in both parameters.
    assert np.all(np.abs(np.median(kept, axis=0) - truth_unit[0]) < 0.08)
    assert np.all(kept.std(axis=0) < 0.1)


def test_posterior_sample_centres_on_the_truth_and_is_deterministic(matched):
    last = matched[-1]
    draws, ess = posterior_sample(
        last.emulator, last.kept, PRIORS, targets(), 200, np.random.default_rng(5)
    )
    again, _ = posterior_sample(
        last.emulator, last.kept, PRIORS, targets(), 200, np.random.default_rng(5)
    )
    assert draws.shape == (200, 2)
    np.testing.assert_array_equal(draws, again)
    assert ess > 20
    assert abs(np.median(draws[:, 0]) - TRUTH[0]) < 0.05
    assert abs(np.log10(np.median(draws[:, 1])) - np.log10(TRUTH[1])) < 0.15


def test_same_seed_same_waves_other_seed_differs(matched):
    again = run(1)
    for a, b in zip(matched, again, strict=True):
        np.testing.assert_array_equal(a.means, b.means)
        np.testing.assert_array_equal(a.kept, b.kept)
    assert not np.array_equal(matched[0].unit, run(4, waves=1)[0].unit)


def test_emulator_interpolates_a_smooth_function():
    rng = np.random.default_rng(0)
    x = latin_hypercube(40, 2, rng)
    y = np.column_stack([np.sin(3 * x[:, 0]) + x[:, 1] ** 2])
    em = Emulator(x, y, np.full_like(y, 1e-6))
    test = latin_hypercube(200, 2, rng)
    m, v = em.predict(test)
    err = m[:, 0] - (np.sin(3 * test[:, 0]) + test[:, 1] ** 2)
    assert np.sqrt(np.mean(err**2)) < 0.02
    # The emulator knows where it is unsure: its s.d. covers the error nearly everywhere.
    assert np.mean(np.abs(err) <= 3 * np.sqrt(v[:, 0]) + 1e-3) > 0.95


def test_bad_priors_are_refused():
    with pytest.raises(ValueError, match="below"):
        Prior("x", 1.0, 1.0)
    with pytest.raises(ValueError, match="log prior"):
        Prior("x", 0.0, 1.0, log=True)


def test_must_fit_rules_out_candidates_whose_own_output_is_implausible():
    # With k = 3 of three outputs, the k-th largest is the smallest implausibility: a candidate
    # survives if any one output fits, so one wave keeps much of the box. Naming output 0 in
    # must_fit rules out every kept candidate whose own output-0 implausibility passes the cutoff,
    # and keeps a subset of what k alone kept (same seed, same design and emulator).
    def one(must_fit):
        return history_match(
            simulator(4),
            PRIORS,
            targets(),
            waves=1,
            points=24,
            candidates=2000,
            rng=np.random.default_rng(4),
            k=3,
            must_fit=must_fit,
        )[0]

    loose, strict = one(()), one((0,))
    assert np.array_equal(loose.candidates, strict.candidates)
    assert len(strict.kept) < len(loose.kept)
    m, v = strict.emulator.predict(strict.kept)
    assert (implausibility(m, v, targets())[:, 0] <= 3.0).all()
    kept_loose = {tuple(x) for x in loose.kept}
    assert all(tuple(x) in kept_loose for x in strict.kept)
    m, v = loose.emulator.predict(loose.kept)
    assert (implausibility(m, v, targets())[:, 0] > 3.0).any()  # what must_fit removes
