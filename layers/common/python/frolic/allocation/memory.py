"""An in-memory `AllocationStore`: the simulator's store and the unit tests' store.

It keeps the same atomicity promises as the DynamoDB store, trivially, because it is
used from one thread: each call is one step that either happens whole or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from frolic.allocation.ports import (
    BudgetState,
    Claim,
    GameRules,
    Grant,
    Outcome,
    Play,
    Reservation,
)
from frolic.models import PlayStatus


@dataclass(slots=True)
class _Budget:
    budget: int
    issued: int = 0


def numbered_codes(brand_id: str) -> Callable[[int], str]:
    """A pool of `BRAND-000001`-style codes, made on demand."""
    return lambda ordinal: f"{brand_id}-{ordinal:07d}"


@dataclass
class InMemoryGames:
    games: dict[str, GameRules] = field(default_factory=dict)

    def rules(self, game_id: str) -> GameRules | None:
        return self.games.get(game_id)


class InMemoryStore:
    def __init__(self) -> None:
        self._budgets: dict[str, dict[str, _Budget]] = defaultdict(dict)
        self._pools: dict[tuple[str, str], list[str]] = {}
        self._code_makers: dict[tuple[str, str], Callable[[int], str]] = {}
        self._arrivals: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self._outcomes: dict[str, Outcome] = {}
        self._wins_by_user: dict[tuple[str, str], int] = defaultdict(int)
        self.bound_codes: dict[str, str] = {}

    # -- marketer side -------------------------------------------------------------
    def set_budget(self, game_id: str, brand_id: str, budget: int) -> None:
        state = self._budgets[game_id].setdefault(brand_id, _Budget(budget))
        state.budget = budget

    def add_coupons(self, game_id: str, brand_id: str, codes: Sequence[str]) -> None:
        self._pools.setdefault((game_id, brand_id), []).extend(codes)

    def generate_coupons(self, game_id: str, brand_id: str, make: Callable[[int], str]) -> None:
        self._code_makers[(game_id, brand_id)] = make

    def issued(self, game_id: str, brand_id: str) -> int:
        return self._budgets[game_id][brand_id].issued

    def outcome(self, play_id: str) -> Outcome | None:
        return self._outcomes.get(play_id)

    # -- AllocationStore ---------------------------------------------------------
    def stored_outcomes(self, play_ids: Sequence[str]) -> Mapping[str, Outcome]:
        known = self._outcomes
        return {pid: known[pid] for pid in play_ids if pid in known}

    def count_arrivals(self, game_id: str, per_second: Mapping[int, int]) -> Mapping[int, int]:
        counts = self._arrivals[game_id]
        for second, plays in per_second.items():
            counts[second] += plays
        return counts

    def budgets(self, game_id: str) -> Sequence[BudgetState]:
        return [
            BudgetState(brand_id, state.budget, state.issued)
            for brand_id, state in sorted(self._budgets[game_id].items())
        ]

    def reserve(
        self, play: Play, claims: Sequence[Claim], max_wins_per_user: int, decided_at: float
    ) -> Reservation:
        if play.play_id in self._outcomes:
            return Reservation(
                refused={c.brand_id: self.issued(play.game_id, c.brand_id) for c in claims}
            )
        user_key = (play.game_id, play.user_id)
        if self._wins_by_user[user_key] >= max_wins_per_user:
            return Reservation(win_limit=True)
        budgets = self._budgets[play.game_id]
        refused = {
            claim.brand_id: budgets[claim.brand_id].issued
            for claim in claims
            if not self._can_take(play.game_id, claim, budgets[claim.brand_id])
        }
        if refused:
            return Reservation(refused=refused)
        grants = []
        for claim in claims:
            state = budgets[claim.brand_id]
            state.issued += 1
            code = self._code(play.game_id, claim.brand_id, state.issued)
            self.bound_codes[code] = play.play_id
            grants.append(Grant(claim.brand_id, code))
        self._wins_by_user[user_key] += 1
        self._outcomes[play.play_id] = Outcome(
            play, PlayStatus.WON, decided_at, grants=tuple(grants)
        )
        return Reservation(grants=tuple(grants))

    def save_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        known = self._outcomes
        for outcome in outcomes:
            known.setdefault(outcome.play.play_id, outcome)

    # -- internals -----------------------------------------------------------------
    def _can_take(self, game_id: str, claim: Claim, state: _Budget) -> bool:
        within = state.issued < claim.cap and state.issued < state.budget
        return within and self._pool_size(game_id, claim.brand_id) > state.issued

    def _pool_size(self, game_id: str, brand_id: str) -> int:
        if (game_id, brand_id) in self._code_makers:
            return self._budgets[game_id][brand_id].budget
        return len(self._pools.get((game_id, brand_id), ()))

    def _code(self, game_id: str, brand_id: str, ordinal: int) -> str:
        make = self._code_makers.get((game_id, brand_id))
        if make is not None:
            return make(ordinal)
        return self._pools[(game_id, brand_id)][ordinal - 1]
