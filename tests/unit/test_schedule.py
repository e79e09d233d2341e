import pytest

from frolic.pacing.schedule import ReleaseSchedule


def test_a_straight_line_releases_in_proportion_to_time() -> None:
    schedule = ReleaseSchedule(3600.0)
    assert schedule.fraction(-5) == 0.0
    assert schedule.fraction(0) == 0.0
    assert schedule.fraction(900) == pytest.approx(0.25)
    assert schedule.fraction(3600) == 1.0
    assert schedule.fraction(4000) == 1.0


def test_curve_weights_shape_the_release_over_equal_parts() -> None:
    # Given a front-loaded curve: half the budget in the first third
    schedule = ReleaseSchedule(300.0, (3, 2, 1))
    # Then each third releases its weight's share, linearly within the part
    assert schedule.fraction(100) == pytest.approx(3 / 6)
    assert schedule.fraction(200) == pytest.approx(5 / 6)
    assert schedule.fraction(50) == pytest.approx(3 / 12)
    # And a front-loaded curve is ahead of the straight line everywhere inside
    line = ReleaseSchedule(300.0)
    assert all(schedule.fraction(t) > line.fraction(t) for t in range(1, 300))


def test_zero_weight_parts_release_nothing() -> None:
    schedule = ReleaseSchedule(90.0, (1, 0, 1))
    assert schedule.fraction(30) == pytest.approx(0.5)
    assert schedule.fraction(59) == pytest.approx(0.5)
    assert schedule.time_of_fraction(0.5) == pytest.approx(30.0)
    assert ReleaseSchedule(90.0, (1, 0)).time_of_fraction(1.0) == pytest.approx(45.0)


@pytest.mark.parametrize("weights", [None, (1, 5, 2, 0, 3)])
def test_time_of_fraction_inverts_fraction(weights: tuple[float, ...] | None) -> None:
    schedule = ReleaseSchedule(1000.0, weights)
    for share in (0.01, 0.2, 0.5, 0.77, 0.999):
        assert schedule.fraction(schedule.time_of_fraction(share)) == pytest.approx(share)


@pytest.mark.parametrize(
    ("duration", "weights"),
    [(0.0, None), (-1.0, None), (float("inf"), None), (10.0, (0, 0)), (10.0, (1, -1, 2))],
)
def test_impossible_schedules_are_refused(
    duration: float, weights: tuple[float, ...] | None
) -> None:
    with pytest.raises(ValueError, match=r"duration|weights"):
        ReleaseSchedule(duration, weights)
