"""Pacing policies for tests: they isolate budget, pool and cap mechanics from pacing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from frolic.pacing.policy import FrolicPacing
from frolic.pacing.schedule import ReleaseSchedule


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
        plays_to_come: float | None = None,
    ) -> GreedyPlan:
        return GreedyPlan(budget)

    def closing_chances(self, left: Sequence[int], plays_left: int, coupons_per_play: int) -> None:
        return None


@dataclass(frozen=True)
class GreedyPlan:
    budget: int

    def probability(self, elapsed: float, issued: int, decided: int = 0) -> float:
        return 1.0

    def cap(self, elapsed: float) -> int:
        return self.budget

    def share_cap(self, elapsed: float, share: int) -> int:
        return share


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
        plays_to_come: float | None = None,
    ) -> EagerPlan:
        frolic = FrolicPacing().plan(
            schedule=schedule, budget=budget, slack_pct=slack_pct, arrival_rate=arrival_rate
        )
        return EagerPlan(frolic.cap, frolic.share_cap)

    def closing_chances(self, left: Sequence[int], plays_left: int, coupons_per_play: int) -> None:
        return None


@dataclass(frozen=True)
class EagerPlan:
    cap: Callable[[float], int]
    share_cap: Callable[[float, int], int]

    def probability(self, elapsed: float, issued: int, decided: int = 0) -> float:
        return 1.0
