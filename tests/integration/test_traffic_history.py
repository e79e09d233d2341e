"""A game's spells of traffic in DynamoDB: read with the arrival counts, saved about once
a minute, never over a newer save, and never mistaken for a minute by the report."""

from __future__ import annotations

import itertools

from frolic.dal.reports import GameReports
from frolic.pacing.spells import NO_TRAFFIC, TrafficHistory
from tests.integration.world import GAME, START, World

SECOND = int(START)


def test_the_history_comes_back_with_the_arrival_counts(world: World) -> None:
    store = world.store()
    # Given no history yet
    store.add_arrivals(GAME, {SECOND: 3})
    first = store.read_arrivals(GAME, through=SECOND)
    assert first.history == NO_TRAFFIC
    assert first.recent[SECOND] == 3
    # When an allocator saves one
    saved = NO_TRAFFIC.fold(first.recent, through=SECOND)
    store.save_traffic(GAME, saved, replacing=first.history)
    # Then the next batch reads it back whole, with the counts
    store.add_arrivals(GAME, {SECOND + 61: 2})
    later = store.read_arrivals(GAME, through=SECOND + 61)
    assert later.history == saved
    assert later.recent == {SECOND: 3, SECOND + 61: 2}


def test_a_save_over_a_history_another_allocator_replaced_is_dropped(world: World) -> None:
    store = world.store()
    ended = TrafficHistory(through=SECOND, spell_plays=5, last_active=SECOND, ended=(40,))
    store.save_traffic(GAME, ended, replacing=NO_TRAFFIC)
    # Given a second allocator that read no history before the first saved
    stale = TrafficHistory(through=SECOND, spell_plays=1, last_active=SECOND)
    store.save_traffic(GAME, stale, replacing=NO_TRAFFIC)
    # And a third that read an older one
    store.save_traffic(GAME, stale, replacing=TrafficHistory(through=SECOND - 60))
    # Then the first save stands
    assert store.read_arrivals(GAME, through=SECOND).history == ended
    # And a save over the one stored is taken
    newer = ended.fold({SECOND + 70: 4}, through=SECOND + 70)
    store.save_traffic(GAME, newer, replacing=ended)
    assert store.read_arrivals(GAME, through=SECOND + 71).history == newer


def test_the_allocator_saves_the_history_about_once_a_minute(world: World) -> None:
    # Given a live game played a little every ten seconds for three minutes
    world.live_game()
    world.budget("brand-a", 50)
    allocator = world.stream_allocator()
    store = world.store()
    saves: list[int | None] = []
    for n in range(18):
        at = 10.0 * n + 1
        world.clock.now = START + at + 0.5
        allocator.handle({"Records": [world.record(world.play(n, at=at))]}, None)
        history = store.read_arrivals(GAME, through=SECOND).history
        if not saves or history.through != saves[-1]:
            saves.append(history.through)
    # Then the history was saved at the first batch and then once a minute, from
    # settled seconds, and it holds every play before its last save
    assert len(saves) == 3
    assert all(b - a >= 60 for a, b in itertools.pairwise(s for s in saves if s is not None))
    final = store.read_arrivals(GAME, through=SECOND).history
    assert final.through is not None
    assert final.spell_plays == sum(1 for n in range(18) if SECOND + 10 * n + 1 <= final.through)


def test_the_report_reads_minutes_not_the_history(world: World) -> None:
    game = world.live_game()
    world.budget("brand-a", 10)
    allocator = world.stream_allocator()
    world.clock.now = START + 2.5
    allocator.handle({"Records": [world.record(world.play(1, at=1.0))]}, None)
    assert world.store().read_arrivals(GAME, through=SECOND).history.through is not None
    report = GameReports(world.db, world.settings).report(game)
    assert sum(point.plays for point in report.curve) == 1
