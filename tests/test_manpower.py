"""The share of each side's recruits that reaches its line units (issue #12's manpower balance)."""

from sim.model import FrontlineModel


def test_only_the_line_share_of_the_intake_enters_the_pipeline():
    full = FrontlineModel("baseline_2024", rng=3)
    part = FrontlineModel("baseline_2024", rng=3, ukraine_recruit_line_share=0.4)
    full.step()
    part.step()
    intake_ua = full.inputs["ukraine_recruits_per_day"]
    intake_ru = full.inputs["russia_recruits_per_day"]
    assert full.recruit_pipeline[:, -1].tolist() == [intake_ua, intake_ru]
    # Russia's share is untouched; Ukraine's is cut to 40% of its documented intake.
    assert part.recruit_pipeline[:, -1].tolist() == [0.4 * intake_ua, intake_ru]


def test_a_smaller_line_share_thins_the_line_after_the_training_delay():
    # Before the first recruits arrive the two runs are identical; 20 days after, the run with
    # 30% of the intake has lost about 0.7 x 700 x 20 = 9,800 Ukrainian recruits.
    days = int(FrontlineModel("baseline_2024", rng=3).p.training_delay_days) + 20
    runs = []
    for share in (1.0, 0.3):
        m = FrontlineModel("baseline_2024", rng=3, ukraine_recruit_line_share=share)
        m.run_for(days)
        runs.append(m.recorder.table())
    full, part = runs
    early = int(full["day"].iloc[0]) + 5
    assert full.loc[full.day == early, "ukraine_personnel"].item() == (
        part.loc[part.day == early, "ukraine_personnel"].item()
    )
    assert part["ukraine_personnel"].iloc[-1] < full["ukraine_personnel"].iloc[-1] - 5_000


def test_holders_cover_the_attacked_stretch_when_hold_axis_share_is_below_one():
    # Kupiansk: Russia attacks toward Kupiansk. With hold_axis_share 0.3 Ukraine's holders stand
    # on the 30% of the sector's front nearest Kupiansk; with the default 1 they spread wider.
    import numpy as np

    def spread(share: float) -> tuple[float, float]:
        m = FrontlineModel("baseline_2024", rng=3, hold_axis_share=share)
        k = m.sectors.index["Kupiansk"]
        u = m.units
        rows = m.line_rows(0)
        rows = rows[u.sector[rows] == k]
        goal = m.xy[m.sectors.objective[1, k]]
        d_units = np.hypot(*(m.xy[u.node[rows]] - goal).T)
        front = np.flatnonzero(m.front_node_mask() & (m.control == 0) & (m.sectors.of_node == k))
        d_front = np.sort(np.hypot(*(m.xy[front] - goal).T))
        return float(d_units.max()), float(d_front[int(np.ceil(0.3 * len(front))) - 1])

    narrow, cutoff = spread(0.3)
    wide, _ = spread(1.0)
    assert narrow <= cutoff + 1e-9
    assert wide > cutoff


def _stretch_cutoff(m, k, goal_node, share):
    # Distance from goal_node of the farthest node in the share of sector k's Ukrainian front
    # nearest it.
    import numpy as np

    front = np.flatnonzero(m.front_node_mask() & (m.control == 0) & (m.sectors.of_node == k))
    d_front = np.sort(np.hypot(*(m.xy[front] - m.xy[goal_node]).T))
    return float(d_front[int(np.ceil(share * len(front))) - 1])


def test_a_holder_landing_in_an_attacked_sector_reinforces_the_attacked_stretch():
    # Before: an arriving holder took the front node farthest from the other holders of the whole
    # sector, the quiet end of a long sector (Kharkiv's border in May 2024). With
    # hold_axis_share < 1 it lands on the stretch the holders cover; with 1 it may land anywhere.
    import numpy as np

    from sim import command
    from sim.units import ATTACK, HOLD

    def landing(share: float) -> tuple[float, float]:
        m = FrontlineModel("baseline_2024", rng=3, hold_axis_share=share)
        k = m.sectors.index["Kharkiv border"]
        m.state.sector_posture[1, k] = ATTACK  # as Russia's event of 2024-05-10 sets it
        goal = int(m.sectors.anchor_node[k])  # Russia's axis there: it names no objective
        # The holders already there stand at the attacked end, so the old rule's "farthest
        # from the others" is the quiet end.
        front = command.own_front_nodes(m, 0)
        ends = np.flatnonzero(front & (m.sectors.of_node == k))
        nearest = ends[np.argmin(np.hypot(*(m.xy[ends] - m.xy[goal]).T))]
        rows = m.line_rows(0)
        m.units.node[rows[m.units.sector[rows] == k]] = nearest
        node = command._least_covered(m, 0, k, HOLD, command.own_front_nodes(m, 0))
        d = float(np.hypot(*(m.xy[node] - m.xy[goal])))
        return d, _stretch_cutoff(m, k, goal, 0.3)

    narrow, cutoff = landing(0.3)
    wide, _ = landing(1.0)
    assert narrow <= cutoff + 1e-9
    assert wide > cutoff


def test_without_an_objective_the_attacked_stretch_lies_around_the_enemy_sector_anchor():
    # Russia's Kharkiv-border sector names no objective: once it attacks, Ukraine's holders there
    # cover the share of the front nearest the sector's anchor (where Russia's attack axis lies).
    import numpy as np

    from sim import command
    from sim.units import ATTACK, HOLD

    m = FrontlineModel("baseline_2024", rng=3, hold_axis_share=0.3)
    k = m.sectors.index["Kharkiv border"]
    assert m.sectors.objective[1, k] < 0
    m.state.sector_posture[1, k] = ATTACK
    anchor = int(m.sectors.anchor_node[k])
    front = command.own_front_nodes(m, 0)
    nodes = command.placement_nodes(m, 0, k, 4, HOLD, front)
    d = np.hypot(*(m.xy[nodes] - m.xy[anchor]).T)
    assert d.max() <= _stretch_cutoff(m, k, anchor, 0.3) + 1e-9
    m.state.sector_posture[1, k] = HOLD  # Russia holds: the holders spread over the sector
    spread = command.placement_nodes(m, 0, k, 4, HOLD, front)
    assert np.hypot(*(m.xy[spread] - m.xy[anchor]).T).max() > _stretch_cutoff(m, k, anchor, 0.3)


def test_the_recovered_share_of_todays_losses_rejoins_after_the_training_delay():
    # The pipeline's newest slot holds today's intake plus wounded_return_share of today's
    # losses; with the default 0 it holds the intake alone.
    m = FrontlineModel("baseline_2024", rng=3, wounded_return_share=0.4)
    for _ in range(5):
        m.step()
    losses = m.state.losses_today.copy()
    assert (losses > 0).all()
    intake = [m.inputs["ukraine_recruits_per_day"], m.inputs["russia_recruits_per_day"]]
    got = m.recruit_pipeline[:, -1]
    expected = [intake[0] + 0.4 * losses[0], intake[1] + 0.4 * losses[1]]
    assert got.tolist() == expected


def test_returning_wounded_keep_a_side_stronger_than_without_them():
    # Same seed, 60 days: identical until the first wounded return (training delay + 1 days),
    # then both sides hold more men with a return share of 0.4 than with none.
    delay = int(FrontlineModel("baseline_2024", rng=3).p.training_delay_days)
    tables = []
    for share in (0.0, 0.4):
        m = FrontlineModel("baseline_2024", rng=3, wounded_return_share=share)
        m.run_for(delay + 40)
        tables.append(m.recorder.table())
    none, some = tables
    first = int(none["day"].iloc[0])
    for side in ("ukraine_personnel", "russia_personnel"):
        before = none["day"] <= first + delay - 1
        assert (none.loc[before, side] == some.loc[before, side]).all()
        assert some[side].iloc[-1] > none[side].iloc[-1]
