"""A game's spells of traffic: where one ends, and how much of the current one is left."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frolic.pacing.spells import (
    NO_TRAFFIC,
    PLANNED_SHARE,
    QUIET_SECONDS,
    REMEMBERED_SPELLS,
    UNSEEN_SECONDS,
    UNSEEN_SHARE,
    TrafficHistory,
    quiet_threshold,
)


def _burst(start: int, seconds: int, per_second: int) -> dict[int, int]:
    return {start + s: per_second for s in range(seconds)}


def test_a_silence_longer_than_the_quiet_threshold_ends_a_spell() -> None:
    # Given a 30-second burst, a long silence, then a second burst
    counts = _burst(0, 30, 100) | _burst(900, 10, 100)
    # When the history folds them
    history = NO_TRAFFIC.fold(counts, through=909)
    # Then the first burst ended with its 3,000 plays and the second is under way
    assert history.ended == (3000,)
    assert history.spell_plays == 1000
    assert history.last_active == 909


def test_a_lull_shorter_than_the_threshold_keeps_the_spell() -> None:
    counts = _burst(0, 30, 100) | _burst(30 + QUIET_SECONDS - 1, 5, 100)
    history = NO_TRAFFIC.fold(counts, through=200)
    assert history.ended == ()
    assert history.spell_plays == 3500


def test_a_slow_spell_needs_a_longer_silence_to_end() -> None:
    # A spell at a play every ten seconds has Poisson gaps of minutes
    assert quiet_threshold(0.1) == pytest.approx(300.0)
    assert quiet_threshold(50.0) == QUIET_SECONDS
    slow = {s: 1 for s in range(0, 3600, 10)}
    history = NO_TRAFFIC.fold(slow, through=3600)
    # ... so a 100-second gap in it does not end it
    gap = NO_TRAFFIC.fold({s: 1 for s in range(0, 3600, 10) if not 1000 < s < 1100}, through=3600)
    assert history.ended == gap.ended == ()


def test_folding_in_steps_is_folding_at_once() -> None:
    counts = _burst(0, 30, 7) | _burst(500, 20, 3) | _burst(2000, 5, 40)
    whole = NO_TRAFFIC.fold(counts, through=2100)
    stepped = NO_TRAFFIC
    for through in range(0, 2101, 37):
        stepped = stepped.fold(counts, through=through)
    assert stepped.fold(counts, through=2100) == whole


def test_a_second_already_folded_is_not_counted_again() -> None:
    history = NO_TRAFFIC.fold({5: 10}, through=5)
    assert history.fold({5: 30, 6: 1}, through=6).spell_plays == 11
    assert history.fold({5: 30}, through=4) is history


def test_only_the_most_recent_spells_are_remembered() -> None:
    counts: dict[int, int] = {}
    for k in range(REMEMBERED_SPELLS + 5):
        counts |= _burst(k * 1000, 3, k + 1)
    history = NO_TRAFFIC.fold(counts, through=(REMEMBERED_SPELLS + 5) * 1000)
    assert len(history.ended) == REMEMBERED_SPELLS
    assert history.ended[-1] == 3 * (REMEMBERED_SPELLS + 4)


def test_the_spell_under_way_is_expected_to_end_like_those_before_it() -> None:
    # Given bursts of 24,000 plays, and 10,000 plays into another
    history = TrafficHistory(through=0, spell_plays=10_000, ended=(24_000, 24_000, 24_000))
    # Then the backlog is planned over the plays still to come, less a margin
    assert history.plays_to_come(rate=800) == pytest.approx(PLANNED_SHARE * 24_000 - 10_000)


def test_a_stray_play_at_night_does_not_make_a_day_look_short() -> None:
    # Given days of 500,000 plays and many nights' stray plays (spells of one or two)
    ended = (500_000, 1, 2, 1, 1, 2, 1, 500_000, 1, 1, 2, 1)
    history = TrafficHistory(through=0, spell_plays=1, ended=ended)
    # Then a new spell of one play is expected to be a day, weighted by plays
    assert history.plays_to_come(rate=3) == pytest.approx(PLANNED_SHARE * 500_000 - 1)


def test_of_unequal_spells_the_estimate_takes_the_shorter() -> None:
    # Bursts of 12,000 and 24,000 plays: a backlog is paid before the small one would end
    history = TrafficHistory(through=0, spell_plays=2000, ended=(12_000, 24_000) * 3)
    assert history.plays_to_come(rate=800) == pytest.approx(PLANNED_SHARE * 12_000 - 2000)
    # ... and once the spell has outgrown the small ones, the large ones say what is left
    longer = TrafficHistory(through=0, spell_plays=15_000, ended=(12_000, 24_000) * 3)
    assert longer.plays_to_come(rate=800) == pytest.approx(PLANNED_SHARE * 24_000 - 15_000)


def test_with_no_spell_as_big_the_guess_is_scale_free() -> None:
    # The first spell of a game: at least a few seconds of plays more
    fresh = TrafficHistory(through=0, spell_plays=40)
    assert fresh.plays_to_come(rate=10) == 10 * UNSEEN_SECONDS
    # ... and half as many again as it has had
    long_first = TrafficHistory(through=0, spell_plays=100_000)
    assert long_first.plays_to_come(rate=10) == UNSEEN_SHARE * 100_000
    # A spell past every one before is taken to be ending
    grown = TrafficHistory(through=0, spell_plays=3500, ended=(3000,))
    assert grown.plays_to_come(rate=1000) == 0


def test_a_spell_past_its_planned_end_pays_what_is_left_at_once() -> None:
    history = TrafficHistory(through=0, spell_plays=2950, ended=(3000,))
    assert history.plays_to_come(rate=1000) == 0


def test_saving_is_due_once_a_minute() -> None:
    assert NO_TRAFFIC.due(100)
    saved = NO_TRAFFIC.fold({}, through=100)
    assert not saved.due(159)
    assert saved.due(160)


@given(
    # At most as many active seconds as spells remembered, so none is forgotten
    counts=st.dictionaries(st.integers(0, 5000), st.integers(0, 500), max_size=REMEMBERED_SPELLS),
    cut=st.integers(0, 5000),
)
def test_every_play_is_in_one_spell(counts: dict[int, int], cut: int) -> None:
    history = NO_TRAFFIC.fold(counts, through=cut).fold(counts, through=5000)
    assert sum(history.ended) + history.spell_plays == sum(counts.values())
    assert history.plays_to_come(rate=1.0) >= 0
