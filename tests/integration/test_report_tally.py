"""The report's issued curve against the counters (moto): several allocators leasing in
a game that starts mid-minute, a replayed batch, and a stranded lease returned by the
sweeper's repair. At every instant the newest point is the counters' total, and every
minute that has ended keeps what the counters said at its end."""

from __future__ import annotations

import math

from frolic.allocation.ports import Play, Route, Wish
from frolic.dal.allocation_store import DynamoAllocationStore
from frolic.dal.reports import GameReport, GameReports
from frolic.dal.stranded import StrandedLeases
from frolic.models import Game
from tests.integration.world import GAME, START, World

BRAND = "brand-a"
BUDGET = 40


def _play(n: int, at: float) -> Play:
    return Play(f"play-{n}", f"user-{n}", GAME, at, fingerprint="0" * 32)


def _report(world: World, game: Game) -> GameReport:
    return GameReports(world.db, world.settings).report(game)


def _claim(world: World, store: DynamoAllocationStore, plays: list[Play]) -> int:
    """One batch's leases, decided now; the coupons it took."""
    store.budgets(GAME)
    wishes = [Wish(p, (Route(BRAND, ((0, BUDGET),)),), strength=0.1) for p in plays]
    claimed = store.claim(GAME, wishes, 1, decided_at=world.clock.now, game_start=START)
    return sum(len(grants) for grants in claimed.grants.values())


def test_the_curve_is_the_counters_at_every_minute_end_and_at_every_instant(
    world: World,
) -> None:
    # Given a ten-minute game whose window starts 40 s into a clock minute
    assert START % 60 == 40
    game = world.live_game(duration=600.0)
    world.budget(BRAND, BUDGET)
    # And two allocators leasing from the same counter
    allocators = [world.store(), world.store()]
    # When batches land at instants on both sides of the game's minute boundaries
    # (game second 59.9 is still minute 0; second 60.0, clock second :40, is minute 1)
    batches = [(1.0, 2), (30.0, 1), (59.9, 3), (60.0, 2), (61.5, 1), (125.0, 4), (250.0, 2)]
    counters_at: list[tuple[float, int]] = []
    taken = 0
    for n, (offset, size) in enumerate(batches):
        world.clock.now = START + offset
        plays = [_play(100 * n + k, START + offset) for k in range(size)]
        taken += _claim(world, allocators[n % 2], plays)
        report = _report(world, game)
        # Then at that instant the newest point is the counters, which hold every lease
        assert report.wins == taken == sum(b.issued for b in report.brands)
        assert report.curve[-1].issued == report.wins
        counters_at.append((offset, report.wins))
    # And every minute that has ended shows the counters as they stood at its end
    report = _report(world, game)
    for point in report.curve:
        end = 60.0 * (point.minute + 1)
        expected = max((wins for offset, wins in counters_at if offset < end), default=0)
        assert point.issued == expected, point
    assert [p.issued for p in report.curve[:5]] == [6, 9, 13, 13, 15]


def test_a_stranded_lease_returned_later_comes_off_the_minute_it_is_returned_in(
    world: World,
) -> None:
    # Given a game starting mid-minute and a batch that leased two coupons in its
    # first minute, then died before writing its results
    game = world.live_game(duration=3600.0)
    world.budget(BRAND, BUDGET)
    world.clock.now = START + 10.0
    assert _claim(world, world.store(), [_play(1, START + 10.0), _play(2, START + 10.0)]) == 2
    # When the sweeper's repair returns them once no result can still take them
    settings = world.settings
    world.clock.now = START + 10.0 + 60.0
    repair = StrandedLeases(world.db, settings, clock=world.clock)
    assert repair.repair(GAME, game_start=START, won_issued_through=world.clock.now) == 0
    world.clock.now += settings.stranded_after_seconds + 60.0
    assert repair.repair(GAME, game_start=START, won_issued_through=world.clock.now) == 2
    # Then the counters hold none, and neither does the newest point
    report = _report(world, game)
    assert report.wins == 0 == report.curve[-1].issued
    # And the first minute still shows the two that were out then
    returned_in = math.floor((world.clock.now - START) / 60)
    assert report.curve[0].issued == 2
    assert report.curve[returned_in - 1].issued == 2
    assert report.curve[returned_in].issued == 0


def test_a_replayed_batch_leases_nothing_and_counts_nothing(world: World) -> None:
    # Given a batch near the end of the game (the budget left must go out) that has been
    # decided and saved with wins
    game = world.live_game(duration=600.0)
    world.budget(BRAND, BUDGET)
    world.clock.now = START + 591.0
    allocator = world.stream_allocator()
    batch = {"Records": [world.record(world.play(n, at=590.0)) for n in range(1, 11)]}
    allocator.handle(batch, None)
    wins = _report(world, game).wins
    assert wins > 0
    # When the same records come again a minute later (Kinesis retries the batch)
    world.clock.now = START + 651.0
    allocator.handle(batch, None)
    # Then the curve and the counters have not moved
    report = _report(world, game)
    assert report.wins == wins == report.curve[-1].issued == report.curve[9].issued
    assert report.curve[8].issued == 0
