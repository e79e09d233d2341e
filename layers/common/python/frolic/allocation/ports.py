"""What the allocator needs from storage, as plain data and one protocol.

The allocator Lambda implements `AllocationStore` over DynamoDB; the simulator and the
unit tests implement it in memory. Both run the same `Allocator`, so what the simulator
measures is what production decides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from frolic.models import Game, GameStatus, PlayStatus
from frolic.pacing.schedule import ReleaseSchedule
from frolic.pacing.spells import TrafficHistory

#: The shape of the DynamoDB store's calls, which the in-memory store stands in for call
#: for call: keys per BatchGetItem and items per BatchWriteItem (DynamoDB's limits), and
#: the minutes of arrival counts read back before the newest one.
BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
ARRIVAL_LOOKBACK_MINUTES = 2
#: Independent calls of one batch (win slots, result chunks) made at once: as many as
#: botocore's connection pool holds by default (`max_pool_connections`, 10).
CALL_FANOUT = 10


@dataclass(frozen=True, slots=True)
class Play:
    """A play as the allocator sees it (a `PlayEvent` without the parsing cost)."""

    play_id: str
    user_id: str
    game_id: str
    arrival_ts: float
    fingerprint: str = ""
    connection_id: str | None = None
    #: The game's status as ingest saw it when it took the play; None if not stamped.
    game_status: GameStatus | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    brand_id: str
    code: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The final result of one play."""

    play: Play
    status: PlayStatus
    decided_at: float
    grants: tuple[Grant, ...] = ()
    reason: str | None = None


class Reason(StrEnum):
    """Why a play did not get the ordinary won/lost decision."""

    UNKNOWN_GAME = "unknown_game"
    GAME_NOT_LIVE = "game_not_live"
    OUTSIDE_WINDOW = "outside_window"
    WIN_LIMIT = "win_limit_reached"
    PLAY_ID_CONFLICT = "play_id_reused_with_other_payload"


@dataclass(frozen=True, slots=True)
class GameRules:
    """Everything the allocator needs to know of a game, cheap to cache."""

    game_id: str
    start_ts: float
    end_ts: float
    live: bool
    schedule: ReleaseSchedule
    max_coupons_per_play: int = 1
    max_wins_per_user: int = 1
    slack_pct: float = 0.1
    min_seconds_between_plays: float = 0.0
    #: ENDED, the one status after LIVE (neither window nor config can change since).
    ended: bool = False

    @classmethod
    def from_game(cls, game: Game) -> GameRules:
        return cls(
            game_id=game.game_id,
            start_ts=game.start_time.timestamp(),
            end_ts=game.end_time.timestamp(),
            live=game.status is GameStatus.LIVE,
            schedule=ReleaseSchedule(game.duration_seconds, game.config.release_curve),
            max_coupons_per_play=game.config.max_coupons_per_play,
            max_wins_per_user=game.config.max_wins_per_user,
            slack_pct=game.config.pacing_slack_pct,
            min_seconds_between_plays=game.config.min_seconds_between_plays,
            ended=game.status is GameStatus.ENDED,
        )

    @property
    def before_live(self) -> bool:
        """DRAFT or SCHEDULED: the game has not been live yet."""
        return not (self.live or self.ended)

    @property
    def first_second(self) -> int:
        return math.floor(self.start_ts)


@dataclass(frozen=True, slots=True)
class Arrivals:
    """What the store knows of a game's traffic: plays per second over the last few
    minutes (seconds without plays may be absent) and the longer history of spells."""

    recent: Mapping[int, int]
    history: TrafficHistory


@dataclass(frozen=True, slots=True)
class SubBudget:
    """One counter of a game-brand's budget (see frolic.allocation.sub_budgets)."""

    budget: int
    issued: int


@dataclass(frozen=True, slots=True)
class BudgetState:
    brand_id: str
    budget: int
    issued: int
    #: The counters the budget is split over; one unless the game is hot.
    subs: tuple[SubBudget, ...] = ()

    @property
    def counters(self) -> tuple[SubBudget, ...]:
        return self.subs or (SubBudget(self.budget, self.issued),)


@dataclass(frozen=True, slots=True)
class Route:
    """The counters of one brand that a winner may take a coupon from, in order, each
    with its schedule cap at the play's instant: (counter, cap)."""

    brand_id: str
    counters: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Wish:
    """A play that drew wins: its brands, strongest draw first, and how strong its draw
    was (lower is stronger): when a counter has less room than winners, the strongest
    take it, which keeps the winners a uniform draw."""

    play: Play
    routes: tuple[Route, ...]
    strength: float


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a batch's claim gave: coupons by play, the plays whose players had won
    enough, and the plays that lost their draw to other allocators' leases."""

    grants: Mapping[str, tuple[Grant, ...]] = field(default_factory=dict)
    win_limited: frozenset[str] = frozenset()
    raced_out: frozenset[str] = frozenset()


class GameDirectory(Protocol):
    def rules(self, game_id: str) -> GameRules | None:
        """The game as last read; it may be a few seconds old."""
        ...

    def fresh_rules(self, game_id: str) -> GameRules | None:
        """The game as it is now, for a caller that knows its view is behind."""
        ...


class AllocationStore(Protocol):
    def stored_outcomes(self, play_ids: Sequence[str]) -> Mapping[str, Outcome]:
        """Results already decided for these plays (strongly consistent)."""
        ...

    def read_arrivals(self, game_id: str, *, through: int) -> Arrivals:
        """The game's counts per second of the last few minutes through second
        `through`, and its traffic history as last saved."""
        ...

    def add_arrivals(self, game_id: str, per_second: Mapping[int, int]) -> None:
        """Add these arrivals to the game's shared counts."""
        ...

    def save_traffic(
        self, game_id: str, history: TrafficHistory, replacing: TrafficHistory
    ) -> None:
        """Store `history` if the stored one is still `replacing` (same `through`);
        otherwise another allocator saved first, and its history stands."""
        ...

    def count_closing(self, game_id: str, batch: str, plays: int) -> int:
        """Count plays decided after the game's window closed; how many were counted
        before these. A batch (named by its first play) is counted once: one delivered
        again after a crash before its results were saved adds nothing."""
        ...

    def budgets(self, game_id: str) -> Sequence[BudgetState]: ...

    def claim(
        self,
        game_id: str,
        wishes: Sequence[Wish],
        max_wins_per_user: int,
        decided_at: float,
        *,
        game_start: float,
    ) -> Claimed:
        """Coupons for a batch's winners (frolic.allocation.claims): each within the
        player's win limit, its counter's cap, budget and pool, and none twice; each
        counter's move tallied in its minute of the game (from `game_start`)."""
        ...

    def save_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        """Record results, won ones included; never overwrites a result already there."""
        ...
