"""Builders shared by the allocation tests: a game, a store and an allocator in memory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from frolic.allocation.allocator import Allocator
from frolic.allocation.memory import InMemoryGames, InMemoryStore, numbered_codes
from frolic.allocation.ports import GameRules, Play
from frolic.pacing.policy import FrolicPacing, PacingPolicy
from frolic.pacing.schedule import ReleaseSchedule

START = 1_900_000_000.0
GAME = "game-1"


@dataclass
class Arena:
    store: InMemoryStore
    games: InMemoryGames

    def allocator(self, policy: PacingPolicy | None = None) -> Allocator:
        return Allocator(
            store=self.store,
            games=self.games,
            policy=policy or FrolicPacing(),
            draw_key=b"test-draw-key-0123456789abcdef",
        )

    def game(self, duration: float = 3600.0, **overrides: object) -> GameRules:
        rules = GameRules(
            game_id=GAME,
            start_ts=START,
            end_ts=START + duration,
            live=True,
            schedule=ReleaseSchedule(duration),
        )
        rules = replace(rules, **overrides)  # type: ignore[arg-type]
        self.games.games[rules.game_id] = rules
        return rules

    def budget(self, brand: str, budget: int, game: str = GAME) -> None:
        self.store.set_budget(game, brand, budget)
        self.store.generate_coupons(game, brand, numbered_codes(brand))


@dataclass(frozen=True)
class GreedyPacing:
    """A policy that wants every play to win: isolates budget and pool mechanics from pacing."""

    name: str = "greedy"

    def plan(
        self,
        *,
        schedule: ReleaseSchedule,
        budget: int,
        slack_pct: float,
        arrival_rate: float | None,
    ) -> GreedyPlan:
        return GreedyPlan(budget)


@dataclass(frozen=True)
class GreedyPlan:
    budget: int

    def probability(self, elapsed: float, issued: int) -> float:
        return 1.0

    def cap(self, elapsed: float) -> int:
        return self.budget


@dataclass(frozen=True)
class EagerPacing:
    """Frolic's schedule cap with a chance of 1 for every play: the cap alone must hold."""

    name: str = "eager"

    def plan(
        self,
        *,
        schedule: ReleaseSchedule,
        budget: int,
        slack_pct: float,
        arrival_rate: float | None,
    ) -> EagerPlan:
        frolic = FrolicPacing().plan(
            schedule=schedule, budget=budget, slack_pct=slack_pct, arrival_rate=arrival_rate
        )
        return EagerPlan(frolic.cap)


@dataclass(frozen=True)
class EagerPlan:
    cap: Callable[[float], int]

    def probability(self, elapsed: float, issued: int) -> float:
        return 1.0


def play(n: int, at: float, user: str | None = None, game: str = GAME, fp: str = "") -> Play:
    """Play number n, `at` seconds into the game."""
    return Play(f"play-{n}", user or f"user-{n}", game, START + at, fingerprint=fp)


@pytest.fixture
def arena() -> Arena:
    return Arena(InMemoryStore(), InMemoryGames())
