"""Deciding a batch of plays: the one place where coupons are won.

Per batch and game the allocator touches the store a fixed number of times (stored
results, arrival counts, budgets, one lease per counter won, one read of the codes, one
batched save) plus one win-limit update per winner (frolic.allocation.claims);
everything between is arithmetic, so it is as cheap in Lambda as in the simulator that
runs it on millions of plays.

Whether a game is live is decided once per play, by ingest, and the allocator keeps to
it. Ingest and the allocator read games through caches of their own
(`game_cache_seconds`), so they can disagree for a few seconds after a status change;
ingest stamps the status it saw on the play (`PlayEvent.game_status`, always LIVE since
it takes plays of live games only), and a play answered 202 is not then refused as
`game_not_live`:

- the allocator's view says DRAFT or SCHEDULED (or no game): it is behind ingest's,
  since a game never goes back from LIVE, so it re-reads the game (consistently) and
  judges the play by that;
- it says ENDED: the play was taken before ingest saw the end, and is played. Neither
  window nor config can change once a game is live, so the rules the allocator holds
  are the ones ingest checked.

So a play ingest took is refused only for what ingest could not know: outside the
window by the allocator's clock, the player's win limit, another payload. Records
without the stamp (put by an ingest from before it, during a deploy) are judged by the
allocator's view alone, as they were when taken.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from frolic.allocation.ports import (
    AllocationStore,
    BudgetState,
    Claimed,
    GameDirectory,
    GameRules,
    Outcome,
    Play,
    Reason,
    Route,
    Wish,
)
from frolic.allocation.sub_budgets import route
from frolic.models import GameStatus, PlayStatus
from frolic.pacing.draw import KeyedDraw
from frolic.pacing.policy import BrandPlan, PacingPolicy
from frolic.pacing.rate import arrival_rate


@dataclass(frozen=True, slots=True)
class AllocatorSettings:
    #: Arrivals older than this are assumed counted by every shard's allocator.
    arrival_settle_seconds: float = 1.0
    #: An allocator adds its decided plays to the game's shared arrival counts at most
    #: this often (one write per flush, not per batch); in between it reads the counts
    #: and adds its own. Counts then reach the store within this plus a batch, well
    #: before they settle (`arrival_settle_seconds` after their second has ended).
    arrival_flush_seconds: float = 0.5
    #: A batch holding plays this close to the window's end, polled before the end,
    #: waits for it: then no play can join the window, and what is left is drawn
    #: among the last plays instead of being left to chance (well inside the reel).
    closing_hold_seconds: float = 1.0


def virtual_wait(instant: float) -> float:
    """Waiting in virtual time (the simulator, unit tests): the clock reads `instant`."""
    return instant


class Allocator:
    def __init__(
        self,
        *,
        store: AllocationStore,
        games: GameDirectory,
        policy: PacingPolicy,
        draw_key: bytes,
        wait_until: Callable[[float], float],
        settings: AllocatorSettings | None = None,
    ) -> None:
        """`wait_until(instant)` pauses until then and returns the clock's time."""
        self._wait_until = wait_until
        self._store = store
        self._games = games
        self._policy = policy
        self._draw = KeyedDraw(draw_key)
        self._settings = settings or AllocatorSettings()
        self._unflushed: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self._flushed_at: dict[str, float] = {}

    def allocate(self, plays: Sequence[Play], now: float) -> list[Outcome]:
        """One outcome per play, in the order given; replays get the stored outcome."""
        stored = self._store.stored_outcomes(list({play.play_id for play in plays}))
        decided: dict[str, Outcome] = dict(stored)
        fresh_by_game: dict[str, list[Play]] = defaultdict(list)
        fresh_ids: set[str] = set()
        for play in plays:
            if play.play_id not in decided and play.play_id not in fresh_ids:
                fresh_ids.add(play.play_id)
                fresh_by_game[play.game_id].append(play)
        for game_id, game_plays in fresh_by_game.items():
            for outcome in self._decide_game(game_id, game_plays, now):
                decided[outcome.play.play_id] = outcome
        return [self._answer(play, decided[play.play_id], now) for play in plays]

    @staticmethod
    def _answer(play: Play, outcome: Outcome, now: float) -> Outcome:
        """A copy of a play gets its original's result; a different payload does not."""
        if outcome.play is play or outcome.play.fingerprint == play.fingerprint:
            return outcome
        return Outcome(play, PlayStatus.REJECTED, now, reason=Reason.PLAY_ID_CONFLICT)

    def _decide_game(self, game_id: str, plays: list[Play], now: float) -> list[Outcome]:
        rules = self._games.rules(game_id)
        if (rules is None or rules.before_live) and any(_taken_live(p) for p in plays):
            rules = self._games.fresh_rules(game_id)  # ingest saw it live: ours is behind
        if rules is None:
            return self._settle_without_draw(plays, now, Reason.UNKNOWN_GAME)
        playable = plays
        outcomes: list[Outcome] = []
        if not rules.live:
            # An end ingest had not seen yet does not undo its 202 (module docstring).
            playable = [p for p in plays if rules.ended and _taken_live(p)]
            refused = [p for p in plays if not (rules.ended and _taken_live(p))]
            outcomes = self._settle_without_draw(refused, now, Reason.GAME_NOT_LIVE)
        inside = [p for p in playable if rules.start_ts <= p.arrival_ts < rules.end_ts]
        outside = [p for p in playable if not rules.start_ts <= p.arrival_ts < rules.end_ts]
        outcomes += self._settle_without_draw(outside, now, Reason.OUTSIDE_WINDOW)
        if inside:
            inside.sort(key=lambda p: p.arrival_ts)
            hold = self._settings.closing_hold_seconds
            if now < rules.end_ts <= inside[-1].arrival_ts + hold:
                now = self._wait_until(rules.end_ts)
            outcomes.extend(self._draw_and_claim(rules, inside, now))
        return outcomes

    def _settle_without_draw(self, plays: list[Play], now: float, reason: Reason) -> list[Outcome]:
        outcomes = [Outcome(p, PlayStatus.REJECTED, now, reason=reason) for p in plays]
        if outcomes:
            self._store.save_outcomes(outcomes)
        return outcomes

    def _traffic(self, rules: GameRules, plays: list[Play], now: float) -> _Traffic:
        """The rate to pace by and the current spell's plays still to come: the shared
        counts, plus this allocator's unwritten ones and the batch's own. The spell
        history is saved about once a minute, from settled seconds only, so that
        concurrent allocators fold each second once."""
        arrivals = self._store.read_arrivals(rules.game_id, through=math.floor(now))
        recent = dict(arrivals.recent)
        for second, count in self._unflushed[rules.game_id].items():
            recent[second] = recent.get(second, 0) + count
        for play in plays:
            second = math.floor(play.arrival_ts)
            recent[second] = recent.get(second, 0) + 1
        settle = self._settings.arrival_settle_seconds
        rate = arrival_rate(recent, now=now, settle_seconds=settle, first_second=rules.first_second)
        history = arrivals.history
        settled = math.floor(now - settle) - 1
        if history.due(settled):
            saved = history.fold(recent, through=settled)
            self._store.save_traffic(rules.game_id, saved, replacing=history)
            history = saved
        live = history.fold(recent, through=math.floor(now))
        # The live history has counted this batch; its plays are still to be decided.
        return _Traffic(rate, live.plays_to_come(rate or 0.0) + len(plays))

    def _count_arrivals(self, game_id: str, plays: list[Play], now: float) -> None:
        """Count a batch's plays once their results are saved, into the shared counts
        at most every `arrival_flush_seconds`. A batch delivered again finds its plays
        decided and is not counted twice, and one that failed before its results were
        saved was never counted; a crash loses at most the unwritten counts."""
        unflushed = self._unflushed[game_id]
        for play in plays:
            unflushed[math.floor(play.arrival_ts)] += 1
        if now - self._flushed_at.get(game_id, -math.inf) >= self._settings.arrival_flush_seconds:
            self._store.add_arrivals(game_id, unflushed)
            unflushed.clear()
            self._flushed_at[game_id] = now

    def _draw_and_claim(self, rules: GameRules, plays: list[Play], now: float) -> list[Outcome]:
        traffic = self._traffic(rules, plays, now)
        budgets: list[BudgetState] = list(self._store.budgets(rules.game_id))
        plans: list[BrandPlan] = [
            self._policy.plan(
                schedule=rules.schedule,
                budget=b.budget,
                slack_pct=rules.slack_pct,
                arrival_rate=traffic.rate,
                plays_to_come=traffic.plays_to_come,
            )
            for b in budgets
        ]
        brand_ids = [b.brand_id for b in budgets]
        issued = [b.issued for b in budgets]
        counters = [[_Counter(c.budget, c.issued) for c in b.counters] for b in budgets]
        brands = range(len(budgets))
        draw = self._draw
        start = rules.start_ts
        wishes: list[Wish] = []
        # Plays that drew no win are decided at once; the others once claimed.
        outcomes: list[Outcome | None] = [None] * len(plays)
        # Once the window has closed no play can join it, and what is left of each
        # budget is drawn among the plays still to decide, game-wide: every play of the
        # window's last `closing_hold_seconds` (or of this batch's span, if longer) is
        # decided after the close, as many as the game's rate brought, less those the
        # allocators have decided since. The batch that completes that estimate draws
        # among its own plays alone, so nothing is left behind; the leases still carry
        # the cap at their instant.
        closed = now >= rules.end_ts
        closing_plays = 0.0
        if closed:
            decided = self._store.count_closing(rules.game_id, plays[0].play_id, len(plays))
            span = max(self._settings.closing_hold_seconds, rules.end_ts - plays[0].arrival_ts)
            closing_plays = (traffic.rate or 0.0) * span - decided
        for index, play in enumerate(plays):
            elapsed = play.arrival_ts - start
            chances = (
                self._policy.closing_chances(
                    [max(0, b.budget - issued[i]) for i, b in enumerate(budgets)],
                    max(len(plays), math.ceil(closing_plays)) - index,
                    rules.max_coupons_per_play,
                )
                if closed
                else None
            )
            hits: list[tuple[float, int]] = []
            for i in brands:
                chance = (
                    plans[i].probability(elapsed, issued[i], index)
                    if chances is None
                    else chances[i]
                )
                if chance > 0:
                    roll = draw(play.play_id, brand_ids[i])
                    if roll < chance:
                        hits.append((roll / chance, i))
            if hits:
                wish = _wish(
                    rules,
                    play,
                    hits=hits,
                    plans=plans,
                    brand_ids=brand_ids,
                    counters=counters,
                    issued=issued,
                    decided=now - start,
                )
                if wish is not None:
                    wishes.append(wish)
                    continue
            outcomes[index] = Outcome(play, PlayStatus.LOST, now)
        claimed = self._store.claim(
            rules.game_id, wishes, rules.max_wins_per_user, now, game_start=rules.start_ts
        )
        results = [
            _decided(play, claimed, now) if outcome is None else outcome
            for play, outcome in zip(plays, outcomes, strict=True)
        ]
        self._store.save_outcomes(results)
        self._count_arrivals(rules.game_id, plays, now)
        return results


def _taken_live(play: Play) -> bool:
    """Ingest took the play seeing its game live (False for records without the stamp)."""
    return play.game_status is GameStatus.LIVE


def _decided(play: Play, claimed: Claimed, now: float) -> Outcome:
    grants = claimed.grants.get(play.play_id)
    if grants:
        return Outcome(play, PlayStatus.WON, now, grants=grants)
    if play.play_id in claimed.win_limited:
        return Outcome(play, PlayStatus.LOST, now, reason=Reason.WIN_LIMIT)
    return Outcome(play, PlayStatus.LOST, now)


def _wish(
    rules: GameRules,
    play: Play,
    *,
    hits: list[tuple[float, int]],
    plans: list[BrandPlan],
    brand_ids: list[str],
    counters: list[list[_Counter]],
    issued: list[int],
    decided: float,
) -> Wish | None:
    """The play's strongest wins, as many as a play may have, each on the counters of
    its route from the first one still under its cap (as this batch sees them).

    Ranking hits by roll/chance picks uniformly among the brands a play won, so no
    brand is favoured when `maxCouponsPerPlay` cuts the list. The counter a route starts
    on counts the win at once, so the rest of the batch is drawn as if it held.

    A win is drawn under the cap at the play's arrival, as this batch sees the counters.
    The lease is then bounded by the caps of the moment the batch is decided (`decided`
    seconds into the window), when its coupons go out: bounding it at the arrival would
    refuse a batch whose plays waited on the stream while other shards' fresher plays
    moved the counter, although the schedule had released the coupons."""
    hits.sort()
    elapsed = play.arrival_ts - rules.start_ts
    routes: list[Route] = []
    for _, i in hits:
        if len(routes) == rules.max_coupons_per_play:
            break
        subs = route(play.play_id, len(counters[i]))
        order = [(sub, plans[i].share_cap(decided, counters[i][sub].budget)) for sub in subs]
        open_at = next(
            (
                n
                for n, sub in enumerate(subs)
                if counters[i][sub].issued < plans[i].share_cap(elapsed, counters[i][sub].budget)
            ),
            None,
        )
        if open_at is None:
            continue
        counters[i][order[open_at][0]].issued += 1
        issued[i] += 1
        routes.append(Route(brand_ids[i], tuple(order[open_at:])))
    return Wish(play, tuple(routes), hits[0][0]) if routes else None


@dataclass(frozen=True, slots=True)
class _Traffic:
    rate: float | None
    plays_to_come: float


class _Counter:
    """The allocator's running view of one budget counter during a batch."""

    __slots__ = ("budget", "issued")

    def __init__(self, budget: int, issued: int) -> None:
        self.budget = budget
        self.issued = issued
