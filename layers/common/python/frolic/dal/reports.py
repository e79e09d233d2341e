"""A game's report: budgets as the allocator keeps them, and the minute-by-minute curve.

Wins come from the budgets' `issued` counters (all of a split budget's counters), which
the allocator's leases move before any code goes into a result, so they count every
coupon out (and, after a crash between a lease and its results, the stranded ones that
reconcile names). The curve comes from the
arrivals items the allocator writes as it goes: plays per second, and each brand's issued
count as the allocator last saw it that minute. Those snapshots can lag, so the issued
curve is a running maximum; and arrivals items expire (see the allocator store), so the
curve of an old game may be thinner than its wins.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, Field

from frolic.dal.batches import query_partition
from frolic.dal.budgets import StoredBudget, read_game_budgets
from frolic.dal.tables import ISSUED_PREFIX, arrivals_key
from frolic.models import BoundaryModel, Game, GameStatus, Identifier
from frolic.pacing.schedule import ReleaseSchedule
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SECONDS_PER_MINUTE = 60


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

    def report(self, game: Game) -> GameReport:
        budgets = read_game_budgets(self._db, self._state, game.game_id)
        # One partition holds every minute of the game; the minute only picks the sort key.
        minutes = arrivals_key(game.game_id, 0)
        # The partition also holds the game's spells of traffic; the report reads minutes.
        arrivals = list(query_partition(self._db, self._state, minutes["pk"], sk_prefix="M#"))
        return build_report(game, budgets, arrivals)


def build_report(
    game: Game,
    budgets: Sequence[StoredBudget],
    arrival_items: Sequence[Mapping[str, Any]],
) -> GameReport:
    brands = sorted((_brand_line(budget) for budget in budgets), key=lambda b: b.brand_id)
    minutes = sorted((_minute_of(item), item) for item in arrival_items)
    curve = _curve(game, sum(b.budget for b in brands), minutes)
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
    game: Game, total_budget: int, minutes: Sequence[tuple[int, Mapping[str, Any]]]
) -> list[CurvePoint]:
    """One point per minute of the window, counted from the game's start.

    Plays are placed by their second, so a window that does not start on a whole minute
    is still cut exactly; the allocator only counts plays inside the window, and any
    stray second is clamped to the first or last point so the points add up to `plays`.
    A point's issued value is the running maximum of the snapshots taken in epoch
    minutes that ended by the point's end (the last point takes them all): a snapshot is
    written all through its minute, so counting it earlier would show coupons before
    they were issued. The curve may lag by up to a minute; it never runs ahead.
    """
    start = game.start_time.timestamp()
    duration = game.duration_seconds
    points = max(1, math.ceil(duration / SECONDS_PER_MINUTE))
    schedule = ReleaseSchedule(duration, game.config.release_curve)
    plays = [0] * points
    for minute, item in minutes:
        for name, count in item.items():
            if name.startswith("s") and name[1:].isdigit():
                second = minute * SECONDS_PER_MINUTE + int(name[1:])
                point = math.floor((second - start) / SECONDS_PER_MINUTE)
                plays[min(max(point, 0), points - 1)] += int(count)
    curve: list[CurvePoint] = []
    issued: dict[str, int] = {}
    next_snapshot = 0
    for point in range(points):
        elapsed = min((point + 1) * SECONDS_PER_MINUTE, duration)
        last_point = point == points - 1
        while next_snapshot < len(minutes) and (
            last_point or (minutes[next_snapshot][0] + 1) * SECONDS_PER_MINUTE <= start + elapsed
        ):
            for name, count in minutes[next_snapshot][1].items():
                if name.startswith(ISSUED_PREFIX):
                    brand = name[len(ISSUED_PREFIX) :]
                    issued[brand] = max(issued.get(brand, 0), int(count))
            next_snapshot += 1
        curve.append(
            CurvePoint(
                minute=point,
                plays=plays[point],
                issued=sum(issued.values()),
                scheduled=total_budget * schedule.fraction(elapsed),
            )
        )
    return curve
