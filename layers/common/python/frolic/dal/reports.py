"""A game's report: budgets as the allocator keeps them, and the minute-by-minute curve.

Wins come from the budgets' `issued` counters (all of a split budget's counters), which
the allocator's leases move before any code goes into a result, so they count every
coupon out (and, after a crash between a lease and its results, the stranded ones that
reconcile names, until the sweeper returns them).

The issued curve comes from the same counter items: each lease also adds its coupons to
the counter's tally for the minute of the game it lands in, and each void takes its
coupon off the tally of the minute it lands in (`won_minute_attribute`), in the same
update. A counter's tallies therefore add up to its issued count in every state it is
ever read in, whatever allocators lease at once and however often a batch is replayed
(a replayed batch finds its plays decided and leases nothing). So the curve is exact at
each minute's end, counted from the game's start, and its newest point is the counters.

Plays come from the arrivals items (plays per second), which expire (see the allocator
store): the plays curve of an old game may be thinner than it was.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, Field

from frolic.dal.batches import query_partition
from frolic.dal.budgets import StoredBudget, read_game_budgets
from frolic.dal.tables import SECONDS_PER_MINUTE, arrivals_key, game_minute
from frolic.models import BoundaryModel, Game, GameStatus, Identifier
from frolic.pacing.schedule import ReleaseSchedule
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class BrandReport(BoundaryModel):
    brand_id: Identifier
    budget: int
    issued: int
    remaining: int
    pool_size: int
    counters: int = Field(description="Counters the budget is split over (1 unless hot).")


class CurvePoint(BoundaryModel):
    minute: int
    plays: int
    issued: int
    scheduled: float


class GameReport(BoundaryModel):
    game_id: Identifier
    status: GameStatus
    start_time: AwareDatetime
    end_time: AwareDatetime
    plays: int
    wins: int
    brands: list[BrandReport]
    curve: list[CurvePoint]


class GameReports:
    def __init__(self, client: DynamoDBClient, settings: Settings) -> None:
        self._db = client
        self._state = settings.state_table

    def report(self, game: Game, brands: Collection[str] | None = None) -> GameReport:
        """The whole game's report, or (`brands`) its lines, wins and curve for those."""
        budgets = read_game_budgets(self._db, self._state, game.game_id, brands)
        # One partition holds every minute of the game; the minute only picks the sort key.
        minutes = arrivals_key(game.game_id, 0)
        # The partition also holds the game's spells of traffic; the report reads minutes.
        arrivals = list(query_partition(self._db, self._state, minutes["pk"], sk_prefix="M#"))
        return build_report(game, budgets, arrivals)

    def budget_lines(
        self, game_id: str, brands: Collection[str] | None = None
    ) -> list[BrandReport]:
        """The game's budgets and pools by brand (`brands`: those alone), one Query."""
        return _brand_lines(read_game_budgets(self._db, self._state, game_id, brands))


def build_report(
    game: Game,
    budgets: Sequence[StoredBudget],
    arrival_items: Sequence[Mapping[str, Any]],
) -> GameReport:
    brands = _brand_lines(budgets)
    minutes = sorted((_minute_of(item), item) for item in arrival_items)
    won: dict[int, int] = defaultdict(int)
    for budget in budgets:
        for counter in budget.counters:
            for minute, count in counter.won_by_minute.items():
                won[minute] += count
    curve = _curve(game, sum(b.budget for b in brands), minutes, won)
    return GameReport(
        game_id=game.game_id,
        status=game.status,
        start_time=game.start_time,
        end_time=game.end_time,
        plays=sum(point.plays for point in curve),
        wins=sum(b.issued for b in brands),
        brands=brands,
        curve=curve,
    )


def _brand_lines(budgets: Sequence[StoredBudget]) -> list[BrandReport]:
    return sorted((_brand_line(budget) for budget in budgets), key=lambda b: b.brand_id)


def _brand_line(budget: StoredBudget) -> BrandReport:
    return BrandReport(
        brand_id=budget.brand_id,
        budget=budget.budget,
        issued=budget.issued,
        remaining=max(0, budget.budget - budget.issued),
        pool_size=budget.pool_size,
        counters=len(budget.counters),
    )


def _minute_of(item: Mapping[str, Any]) -> int:
    """The epoch minute in an arrivals sort key (`M#<minute>`)."""
    return int(str(item["sk"]).partition("#")[2])


def _curve(
    game: Game,
    total_budget: int,
    minutes: Sequence[tuple[int, Mapping[str, Any]]],
    won_by_minute: Mapping[int, int],
) -> list[CurvePoint]:
    """One point per minute of the window, counted from the game's start.

    Plays are placed by their second, so a window that does not start on a whole minute
    is still cut exactly; the allocator only counts plays inside the window, and any
    stray second is clamped to the first or last point so the points add up to `plays`.
    Issued is cumulative: the tallies of every minute up to the point's, where a tally
    outside the window (a void after the end, a lease a clock put a hair early) joins
    the nearest point, so the last point is always the counters' total.
    """
    start = game.start_time.timestamp()
    duration = game.duration_seconds
    points = max(1, math.ceil(duration / SECONDS_PER_MINUTE))
    schedule = ReleaseSchedule(duration, game.config.release_curve)

    def point_of(minute_of_game: int) -> int:
        return min(max(minute_of_game, 0), points - 1)

    plays = [0] * points
    for minute, item in minutes:
        for name, count in item.items():
            if name.startswith("s") and name[1:].isdigit():
                second = minute * SECONDS_PER_MINUTE + int(name[1:])
                plays[point_of(game_minute(start, second))] += int(count)
    won = [0] * points
    for minute, count in won_by_minute.items():
        won[point_of(minute)] += count
    issued = list(itertools.accumulate(won))
    return [
        CurvePoint(
            minute=point,
            plays=plays[point],
            issued=issued[point],
            scheduled=total_budget
            * schedule.fraction(min((point + 1) * SECONDS_PER_MINUTE, duration)),
        )
        for point in range(points)
    ]
