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
from typing import Generic, Protocol, TypeVar

from frolic.allocation.claims import BatchClaims, ClaimStats, CounterImage, Lease, Ordinal
from frolic.allocation.ports import (
    ARRIVAL_LOOKBACK_MINUTES,
    BATCH_GET_LIMIT,
    BATCH_WRITE_LIMIT,
    CALL_FANOUT,
    Arrivals,
    BudgetState,
    Claimed,
    GameRules,
    Outcome,
    Play,
    SubBudget,
    Wish,
)
from frolic.allocation.sub_budgets import next_step, rebalance, split
from frolic.dal.tables import counter_write_units, game_minute
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


_Call = TypeVar("_Call")


def _waves(calls: Sequence[_Call]) -> Iterator[Sequence[_Call]]:
    """Independent calls as the DynamoDB store makes them: `CALL_FANOUT` at a time."""
    for first in range(0, len(calls), CALL_FANOUT):
        yield calls[first : first + CALL_FANOUT]


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

    def fresh_rules(self, game_id: str) -> GameRules | None:
        return self.games.get(game_id)


class StoreCalls(Protocol):
    """Hears of each DynamoDB call the store stands in for, before it takes effect: the
    concurrent model makes the call take time there and counts it. `items` is how many
    items it reads or writes, `write_units` what it consumes; `parallel` such calls
    made at once take as long as the slowest of them."""

    def __call__(
        self, operation: str, *, items: int = 1, write_units: int = 0, parallel: int = 1
    ) -> None: ...


def instant_calls(
    operation: str, *, items: int = 1, write_units: int = 0, parallel: int = 1
) -> None:
    """Calls that take no time: the sequential simulator and the unit tests."""


@dataclass
class _Tables:
    """What the DynamoDB tables hold, shared by every allocator's connection."""

    budgets: dict[str, dict[str, list[_Budget]]] = field(default_factory=lambda: defaultdict(dict))
    pools: dict[tuple[str, str], list[list[str]]] = field(default_factory=dict)
    code_makers: dict[tuple[str, str], Callable[[int, int], str]] = field(default_factory=dict)
    arrivals: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    traffic: dict[str, TrafficHistory] = field(default_factory=dict)
    closing: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    closing_batches: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    #: Play ids by the second their result expires.
    expiring: _BySecond[list[str]] = field(default_factory=lambda: _BySecond(list))
    won_plays: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    bound_codes: dict[str, str] = field(default_factory=dict)
    claim_stats: ClaimStats = field(default_factory=ClaimStats)
    raced_out: set[str] = field(default_factory=set)
    #: Per counter, the minutes of the game its leases have tallied: they grow the item,
    #: and with it what a lease costs.
    tallied: dict[tuple[str, str, int], set[int]] = field(default_factory=lambda: defaultdict(set))


class InMemoryStore:
    """One allocator's connection to in-memory tables; `connect` gives another
    allocator its own connection to the same tables, as each Lambda has its own
    client (and its own view of the counters) to the same DynamoDB."""

    def __init__(
        self,
        meter: WriteMeter | None = None,
        *,
        outcome_retention_seconds: int | None = None,
        batch_write_cutoff_seconds: float | None = None,
        calls: StoreCalls = instant_calls,
        results_written: Callable[[Sequence[Outcome]], None] | None = None,
        clock: Callable[[], float] | None = None,
        winners: WriteMeter | None = None,
        tables: _Tables | None = None,
    ) -> None:
        """`outcome_retention_seconds`: forget a play's result that long after it arrived,
        as the results table's TTL does, so that a long simulation holds only recent
        ones; None keeps every result (tests read them back). Results decided this long
        after their play (`batch_write_cutoff_seconds`) are written one by one with a
        condition, as the DynamoDB store does; `results_written` hears of each result
        as it lands. With a `clock`, the meter counts each write at the instant it
        lands; without one, at the play's time (arrival or decision). `winners` counts
        the coupons each counter hands out per second."""
        self._clock = clock
        self._winners = winners
        self._tables = tables or _Tables()
        self._meter = meter
        self._outcome_retention = outcome_retention_seconds
        self._batch_cutoff = batch_write_cutoff_seconds
        self._calls = calls
        self._results_written = results_written
        self._claims = BatchClaims(
            self,
            late_after=batch_write_cutoff_seconds,
            clock=clock,
            stats=self._tables.claim_stats,
        )
        self.bound_codes = self._tables.bound_codes
        self._claiming_at = 0.0

    def connect(self, *, calls: StoreCalls = instant_calls) -> InMemoryStore:
        """Another allocator's connection to these tables."""
        return InMemoryStore(
            self._meter,
            outcome_retention_seconds=self._outcome_retention,
            batch_write_cutoff_seconds=self._batch_cutoff,
            calls=calls,
            results_written=self._results_written,
            clock=self._clock,
            winners=self._winners,
            tables=self._tables,
        )

    # -- marketer side -------------------------------------------------------------
    def set_budget(
        self, game_id: str, brand_id: str, budget: int, counters: int | None = None
    ) -> None:
        """Set a budget; a change keeps each counter's issued count and the counters'
        alignment with their pools (see sub_budgets). As in DynamoDB, the split can
        change only while the budget has neither codes nor coupons out."""
        tables = self._tables
        states = tables.budgets[game_id].get(brand_id)
        if states is not None and counters is not None and counters != len(states):
            if self.issued(game_id, brand_id) or tables.pools.get((game_id, brand_id)):
                raise ValueError("the split is fixed once codes are uploaded")
            states = None
        if states is None:
            parts = split(budget, counters or 1)
            tables.budgets[game_id][brand_id] = [_Budget(b) for b in parts]
            return
        pools = None
        if (game_id, brand_id) not in tables.code_makers:
            pools = [self._pool_size(game_id, brand_id, sub) for sub in range(len(states))]
        shares = rebalance(budget, [s.issued for s in states], pools)
        for state, share in zip(states, shares, strict=True):
            state.budget = share

    def add_coupons(self, game_id: str, brand_id: str, codes: Sequence[str]) -> None:
        """Deal uploaded codes over the brand's counters step by step, as the DynamoDB
        pools do (one step per transaction there)."""
        states = self._tables.budgets[game_id][brand_id]
        pools = self._tables.pools.setdefault((game_id, brand_id), [[] for _ in states])
        position = 0
        while position < len(codes):
            shares = [s.budget for s in states]
            sub, count = next_step(shares, [len(p) for p in pools], len(codes) - position)
            pools[sub].extend(codes[position : position + count])
            position += count

    def generate_coupons(
        self, game_id: str, brand_id: str, make: Callable[[int, int], str]
    ) -> None:
        self._tables.code_makers[(game_id, brand_id)] = make

    def issued(self, game_id: str, brand_id: str) -> int:
        return sum(state.issued for state in self._tables.budgets[game_id][brand_id])

    def outcome(self, play_id: str) -> Outcome | None:
        return self._tables.outcomes.get(play_id)

    @property
    def claim_stats(self) -> ClaimStats:
        """Every connection's claims, added up."""
        return self._tables.claim_stats

    @property
    def raced_out(self) -> set[str]:
        """Plays whose claim lost every race, on any connection."""
        return self._tables.raced_out

    # -- AllocationStore ---------------------------------------------------------
    def stored_outcomes(self, play_ids: Sequence[str]) -> Mapping[str, Outcome]:
        for chunk in range(0, len(play_ids), BATCH_GET_LIMIT):
            self._calls("BatchGetItem", items=len(play_ids[chunk : chunk + BATCH_GET_LIMIT]))
        known = self._tables.outcomes
        return {pid: known[pid] for pid in play_ids if pid in known}

    def read_arrivals(self, game_id: str, *, through: int) -> Arrivals:
        """Like DynamoDB's minute items, only the last few minutes' counts come back;
        older seconds are dropped, so a week-long simulation keeps a few hundred."""
        self._calls("BatchGetItem", items=1 + ARRIVAL_LOOKBACK_MINUTES)
        counts = self._tables.arrivals[game_id]
        if len(counts) > 2 * RECENT_ARRIVAL_SECONDS:
            for second in [s for s in counts if s < through - RECENT_ARRIVAL_SECONDS]:
                del counts[second]
        return Arrivals(counts, self._tables.traffic.get(game_id, NO_TRAFFIC))

    def add_arrivals(self, game_id: str, per_second: Mapping[int, int]) -> None:
        minutes = {second // 60 for second in per_second}
        for _ in minutes:
            self._calls("UpdateItem", write_units=1)
        counts = self._tables.arrivals[game_id]
        for second, plays in per_second.items():
            counts[second] += plays
        latest = max(per_second, default=0)
        for minute in minutes:
            self._metered(f"arrivals#{game_id}#{minute}", latest)

    def save_traffic(
        self, game_id: str, history: TrafficHistory, replacing: TrafficHistory
    ) -> None:
        self._calls("PutItem", write_units=1)
        traffic = self._tables.traffic
        if traffic.get(game_id, NO_TRAFFIC).through != replacing.through:
            return
        traffic[game_id] = history
        if history.through is not None:
            self._metered(f"traffic#{game_id}", history.through)

    def count_closing(self, game_id: str, batch: str, plays: int) -> int:
        self._calls("UpdateItem", write_units=1)
        before = self._tables.closing[game_id]
        counted = self._tables.closing_batches[game_id]
        if batch in counted:
            return before - plays
        counted.add(batch)
        self._tables.closing[game_id] = before + plays
        return before

    def budgets(self, game_id: str) -> Sequence[BudgetState]:
        self._calls("Query", items=len(self._tables.budgets[game_id]))
        found = []
        for brand_id, states in sorted(self._tables.budgets[game_id].items()):
            subs = tuple(
                SubBudget(min(state.budget, self._pool_size(game_id, brand_id, sub)), state.issued)
                for sub, state in enumerate(states)
            )
            for sub, counter in enumerate(subs):
                self._claims.saw(game_id, brand_id, sub, counter.issued, counter.budget)
            found.append(
                BudgetState(
                    brand_id, sum(s.budget for s in subs), sum(s.issued for s in subs), subs
                )
            )
        return found

    def claim(
        self,
        game_id: str,
        wishes: Sequence[Wish],
        max_wins_per_user: int,
        decided_at: float,
        *,
        game_start: float,
    ) -> Claimed:
        self._claiming_at = decided_at
        claimed = self._claims.claim(
            game_id, wishes, max_wins_per_user, decided_at, game_start=game_start
        )
        self._tables.raced_out.update(claimed.raced_out)
        return claimed

    def save_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        cutoff = self._batch_cutoff
        batched = [
            o for o in outcomes if cutoff is None or o.decided_at - o.play.arrival_ts < cutoff
        ]
        chunks = [
            batched[first : first + BATCH_WRITE_LIMIT]
            for first in range(0, len(batched), BATCH_WRITE_LIMIT)
        ]
        for wave in _waves(chunks):
            written = sum(len(chunk) for chunk in wave)
            self._calls("BatchWriteItem", items=written, write_units=written, parallel=len(wave))
            for chunk in wave:
                self._keep(chunk)
        if len(batched) < len(outcomes):
            kept = {id(o) for o in batched}
            for outcome in outcomes:
                if id(outcome) not in kept:
                    self._calls("PutItem", write_units=1)
                    self._keep([outcome])

    # -- ClaimBackend ------------------------------------------------------------
    def admit(self, game_id: str, plays: Sequence[Play], max_wins_per_user: int) -> set[str]:
        refused: set[str] = set()
        for wave in _waves(plays):
            self._calls("UpdateItem", items=len(wave), write_units=len(wave), parallel=len(wave))
            for play in wave:
                won = self._tables.won_plays[(game_id, play.user_id)]
                if play.play_id in won or len(won) < max_wins_per_user:
                    won.add(play.play_id)
                else:
                    refused.add(play.play_id)
        return refused

    def give_back(self, game_id: str, plays: Sequence[Play]) -> None:
        for wave in _waves(plays):
            self._calls("UpdateItem", items=len(wave), write_units=len(wave), parallel=len(wave))
            for play in wave:
                self._tables.won_plays[(game_id, play.user_id)].discard(play.play_id)

    def lease(
        self,
        game_id: str,
        brand_id: str,
        sub: int,
        count: int,
        *,
        most: int,
        usable: int,
        game_start: float,
    ) -> Lease:
        """The DynamoDB store's conditional ADD, judged against the tables as they are
        when it lands; refused or not, it costs the write units of the counter's item,
        which grows by a tally for each minute of the game with a lease."""
        at = self._claiming_at if self._clock is None else self._clock()
        minute = game_minute(game_start, at)
        minutes = self._tables.tallied[(game_id, brand_id, sub)]
        units = counter_write_units(len(minutes) + (minute not in minutes))
        self._calls("UpdateItem", write_units=units)
        state = self._tables.budgets[game_id][brand_id][sub]
        limit = min(state.budget, self._pool_size(game_id, brand_id, sub))
        if state.issued + count > most or limit < usable:
            return Lease(refused=CounterImage(state.issued, limit))
        state.issued += count
        minutes.add(minute)
        counter = f"budget#{game_id}#{brand_id}#{sub}"
        self._metered(counter, self._claiming_at, units)
        if self._winners is not None:
            self._winners.write(counter, at, count)
        return Lease(last=state.issued)

    def codes(self, game_id: str, ordinals: Sequence[Ordinal]) -> Mapping[Ordinal, str]:
        for chunk in range(0, len(ordinals), BATCH_GET_LIMIT):
            self._calls("BatchGetItem", items=len(ordinals[chunk : chunk + BATCH_GET_LIMIT]))
        return {o: self._code(game_id, o) for o in ordinals}

    # -- internals -----------------------------------------------------------------
    def _metered(self, item: str, at: float, units: int = 1) -> None:
        if self._meter is not None:
            self._meter.write(item, at if self._clock is None else self._clock(), units)

    def _keep(self, outcomes: Sequence[Outcome]) -> None:
        """Store results that find no result of their play (a decided one stands)."""
        known = self._tables.outcomes
        fresh = []
        for outcome in outcomes:
            play_id = outcome.play.play_id
            if play_id not in known:
                known[play_id] = outcome
                fresh.append(outcome)
                for grant in outcome.grants:
                    self.bound_codes[grant.code] = play_id
        if fresh and self._results_written is not None:
            self._results_written(fresh)
        self._expire_later(fresh)

    def _expire_later(self, kept: list[Outcome]) -> None:
        """Note when the results just kept expire, and forget those expired by now."""
        retention = self._outcome_retention
        if retention is None or not kept:
            return
        expiring = self._tables.expiring
        for outcome in kept:
            play = outcome.play
            expiring.at(int(play.arrival_ts) + retention).append(play.play_id)
        now = max(outcome.decided_at for outcome in kept)
        known = self._tables.outcomes
        for play_ids in expiring.pop_until(math.floor(now)):
            for play_id in play_ids:
                known.pop(play_id, None)

    def _pool_size(self, game_id: str, brand_id: str, sub: int) -> int:
        if (game_id, brand_id) in self._tables.code_makers:
            return self._tables.budgets[game_id][brand_id][sub].budget
        pools = self._tables.pools.get((game_id, brand_id))
        return len(pools[sub]) if pools else 0

    def _code(self, game_id: str, at: Ordinal) -> str:
        make = self._tables.code_makers.get((game_id, at.brand_id))
        if make is not None:
            return make(at.sub, at.ordinal)
        return self._tables.pools[(game_id, at.brand_id)][at.sub][at.ordinal - 1]
