"""An in-memory `AllocationStore`: the simulator's store and the unit tests' store.

It keeps the same atomicity promises as the DynamoDB store, trivially, because it is
used from one thread: each call is one step that either happens whole or not at all.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from frolic.allocation.ports import (
    Arrivals,
    BudgetState,
    Claim,
    GameRules,
    Grant,
    Outcome,
    Play,
    Reservation,
    SubBudget,
)
from frolic.allocation.sub_budgets import next_step, rebalance, split
from frolic.models import PlayStatus
from frolic.pacing.spells import NO_TRAFFIC, TrafficHistory

#: Arrival counts kept per game: the two minutes DynamoDB's lookback reads, and more.
RECENT_ARRIVAL_SECONDS = 180

_Bucket = TypeVar("_Bucket")


@dataclass(slots=True)
class _Budget:
    budget: int
    issued: int = 0


def numbered_codes(brand_id: str) -> Callable[[int, int], str]:
    """A pool of `BRAND-0-000001`-style codes (counter, ordinal), made on demand."""
    return lambda sub, ordinal: f"{brand_id}-{sub}-{ordinal:07d}"


class _BySecond(Generic[_Bucket]):
    """Buckets keyed by an epoch second, handed back oldest first once a second is past:
    the write meter's open seconds and the store's results waiting to expire."""

    def __init__(self, new_bucket: Callable[[], _Bucket]) -> None:
        self._new_bucket = new_bucket
        self._buckets: dict[int, _Bucket] = {}
        self._seconds: list[int] = []

    def at(self, second: int) -> _Bucket:
        bucket = self._buckets.get(second)
        if bucket is None:
            bucket = self._buckets[second] = self._new_bucket()
            heapq.heappush(self._seconds, second)
        return bucket

    def pop_until(self, second: int) -> Iterator[_Bucket]:
        """Remove and yield the buckets of every second up to `second`, oldest first."""
        seconds = self._seconds
        while seconds and seconds[0] <= second:
            yield self._buckets.pop(heapq.heappop(seconds))

    def values(self) -> Iterable[_Bucket]:
        return self._buckets.values()


class WriteMeter:
    """Write units per item per second, for sizing hot items (`frolic capacity`).

    Only what sizing reads is kept, each item's busiest second and its total, so that a
    week-long simulation does not hold a count for every item in every second. A
    second's count stays open for `settle_seconds` after the newest second written
    (allocators stamp writes with arrival and decision times, a little out of order
    across shards) and then folds into its item's peak; a write to a folded second
    is refused rather than silently counted short.
    """

    def __init__(self, settle_seconds: int = 300) -> None:
        self._settle = settle_seconds
        self._newest: int | None = None
        self._open: _BySecond[defaultdict[str, int]] = _BySecond(lambda: defaultdict(int))
        self._peaks: dict[str, int] = {}
        self._totals: dict[str, int] = defaultdict(int)

    def write(self, item: str, at: float, units: int = 1) -> None:
        second = int(at)
        if self._newest is None or second > self._newest:
            self._newest = second
            self._fold(before=second - self._settle)
        elif second < self._newest - self._settle:
            raise ValueError(
                f"write to {item} at second {second} came after the meter folded it "
                f"(newest second {self._newest}, settle {self._settle} s)"
            )
        self._open.at(second)[item] += units
        self._totals[item] += units

    def peak(self, prefix: str = "") -> int:
        """Most units written to one item in one second, over items named `prefix`…"""
        folded = (n for item, n in self._peaks.items() if item.startswith(prefix))
        still_open = (
            n
            for counts in self._open.values()
            for item, n in counts.items()
            if item.startswith(prefix)
        )
        return max(itertools.chain(folded, still_open), default=0)

    def total(self, prefix: str = "") -> int:
        """All units written to the items named `prefix`…"""
        return sum(n for item, n in self._totals.items() if item.startswith(prefix))

    def _fold(self, *, before: int) -> None:
        peaks = self._peaks
        for counts in self._open.pop_until(before - 1):
            for item, n in counts.items():
                if n > peaks.get(item, 0):
                    peaks[item] = n


@dataclass
class InMemoryGames:
    games: dict[str, GameRules] = field(default_factory=dict)

    def rules(self, game_id: str) -> GameRules | None:
        return self.games.get(game_id)


class InMemoryStore:
    def __init__(
        self, meter: WriteMeter | None = None, *, outcome_retention_seconds: int | None = None
    ) -> None:
        """`outcome_retention_seconds`: forget a play's result that long after it arrived,
        as the results table's TTL does, so that a long simulation holds only recent
        ones; None keeps every result (tests read them back)."""
        self._budgets: dict[str, dict[str, list[_Budget]]] = defaultdict(dict)
        self._pools: dict[tuple[str, str], list[list[str]]] = {}
        self._code_makers: dict[tuple[str, str], Callable[[int, int], str]] = {}
        self._meter = meter
        self._arrivals: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self._traffic: dict[str, TrafficHistory] = {}
        self._outcomes: dict[str, Outcome] = {}
        self._outcome_retention = outcome_retention_seconds
        #: Play ids by the second their result expires.
        self._expiring: _BySecond[list[str]] = _BySecond(list)
        self._wins_by_user: dict[tuple[str, str], int] = defaultdict(int)
        self.bound_codes: dict[str, str] = {}

    # -- marketer side -------------------------------------------------------------
    def set_budget(
        self, game_id: str, brand_id: str, budget: int, counters: int | None = None
    ) -> None:
        """Set a budget; a change keeps each counter's issued count and the counters'
        alignment with their pools (see sub_budgets). As in DynamoDB, the split can
        change only while the budget has neither codes nor coupons out."""
        states = self._budgets[game_id].get(brand_id)
        if states is not None and counters is not None and counters != len(states):
            if self.issued(game_id, brand_id) or self._pools.get((game_id, brand_id)):
                raise ValueError("the split is fixed once codes are uploaded")
            states = None
        if states is None:
            parts = split(budget, counters or 1)
            self._budgets[game_id][brand_id] = [_Budget(b) for b in parts]
            return
        pools = None
        if (game_id, brand_id) not in self._code_makers:
            pools = [self._pool_size(game_id, brand_id, sub) for sub in range(len(states))]
        shares = rebalance(budget, [s.issued for s in states], pools)
        for state, share in zip(states, shares, strict=True):
            state.budget = share

    def add_coupons(self, game_id: str, brand_id: str, codes: Sequence[str]) -> None:
        """Deal uploaded codes over the brand's counters step by step, as the DynamoDB
        pools do (one step per transaction there)."""
        states = self._budgets[game_id][brand_id]
        pools = self._pools.setdefault((game_id, brand_id), [[] for _ in states])
        position = 0
        while position < len(codes):
            shares = [s.budget for s in states]
            sub, count = next_step(shares, [len(p) for p in pools], len(codes) - position)
            pools[sub].extend(codes[position : position + count])
            position += count

    def generate_coupons(
        self, game_id: str, brand_id: str, make: Callable[[int, int], str]
    ) -> None:
        self._code_makers[(game_id, brand_id)] = make

    def issued(self, game_id: str, brand_id: str) -> int:
        return sum(state.issued for state in self._budgets[game_id][brand_id])

    def outcome(self, play_id: str) -> Outcome | None:
        return self._outcomes.get(play_id)

    # -- AllocationStore ---------------------------------------------------------
    def stored_outcomes(self, play_ids: Sequence[str]) -> Mapping[str, Outcome]:
        known = self._outcomes
        return {pid: known[pid] for pid in play_ids if pid in known}

    def count_arrivals(self, game_id: str, per_second: Mapping[int, int]) -> Arrivals:
        """Like DynamoDB's minute items, only the last few minutes' counts come back;
        older seconds are dropped, so a week-long simulation keeps a few hundred."""
        counts = self._arrivals[game_id]
        for second, plays in per_second.items():
            counts[second] += plays
        if per_second:
            latest = max(per_second)
            if len(counts) > 2 * RECENT_ARRIVAL_SECONDS:
                for second in [s for s in counts if s < latest - RECENT_ARRIVAL_SECONDS]:
                    del counts[second]
            if self._meter is not None:
                for minute in {second // 60 for second in per_second}:
                    self._meter.write(f"arrivals#{game_id}#{minute}", latest)
        return Arrivals(counts, self._traffic.get(game_id, NO_TRAFFIC))

    def save_traffic(
        self, game_id: str, history: TrafficHistory, replacing: TrafficHistory
    ) -> None:
        if self._traffic.get(game_id, NO_TRAFFIC).through != replacing.through:
            return
        self._traffic[game_id] = history
        if self._meter is not None and history.through is not None:
            self._meter.write(f"traffic#{game_id}", history.through)

    def budgets(self, game_id: str) -> Sequence[BudgetState]:
        found = []
        for brand_id, states in sorted(self._budgets[game_id].items()):
            subs = tuple(
                SubBudget(min(state.budget, self._pool_size(game_id, brand_id, sub)), state.issued)
                for sub, state in enumerate(states)
            )
            found.append(
                BudgetState(
                    brand_id, sum(s.budget for s in subs), sum(s.issued for s in subs), subs
                )
            )
        return found

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
            claim.brand_id: budgets[claim.brand_id][claim.sub].issued
            for claim in claims
            if not self._can_take(play.game_id, claim, budgets[claim.brand_id][claim.sub])
        }
        if refused:
            return Reservation(refused=refused)
        grants = []
        for claim in claims:
            state = budgets[claim.brand_id][claim.sub]
            state.issued += 1
            code = self._code(play.game_id, claim.brand_id, claim.sub, state.issued)
            self.bound_codes[code] = play.play_id
            grants.append(Grant(claim.brand_id, code))
            if self._meter is not None:  # a counter in a transaction: 2 write units
                self._meter.write(
                    f"budget#{play.game_id}#{claim.brand_id}#{claim.sub}", decided_at, 2
                )
        self._wins_by_user[user_key] += 1
        won = Outcome(play, PlayStatus.WON, decided_at, grants=tuple(grants))
        self._outcomes[play.play_id] = won
        self._expire_later([won])
        return Reservation(grants=tuple(grants))

    def save_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        known = self._outcomes
        fresh = []
        for outcome in outcomes:
            play_id = outcome.play.play_id
            if play_id not in known:
                known[play_id] = outcome
                fresh.append(outcome)
        self._expire_later(fresh)

    # -- internals -----------------------------------------------------------------
    def _expire_later(self, kept: list[Outcome]) -> None:
        """Note when the results just kept expire, and forget those expired by now."""
        retention = self._outcome_retention
        if retention is None or not kept:
            return
        for outcome in kept:
            play = outcome.play
            self._expiring.at(int(play.arrival_ts) + retention).append(play.play_id)
        now = max(outcome.decided_at for outcome in kept)
        known = self._outcomes
        for play_ids in self._expiring.pop_until(math.floor(now)):
            for play_id in play_ids:
                known.pop(play_id, None)

    def _can_take(self, game_id: str, claim: Claim, state: _Budget) -> bool:
        within = state.issued < claim.cap and state.issued < state.budget
        return within and self._pool_size(game_id, claim.brand_id, claim.sub) > state.issued

    def _pool_size(self, game_id: str, brand_id: str, sub: int) -> int:
        if (game_id, brand_id) in self._code_makers:
            return self._budgets[game_id][brand_id][sub].budget
        pools = self._pools.get((game_id, brand_id))
        return len(pools[sub]) if pools else 0

    def _code(self, game_id: str, brand_id: str, sub: int, ordinal: int) -> str:
        make = self._code_makers.get((game_id, brand_id))
        if make is not None:
            return make(sub, ordinal)
        return self._pools[(game_id, brand_id)][sub][ordinal - 1]
