"""Taking a batch's coupons: one conditional write per counter and batch, not per winner.

The allocator draws a whole batch before it writes anything. Then:

1. **Win limits.** Each winner's play joins its player's set of won plays, unless the set
   is full (one conditional update per winner). Adding a play that is already in the
   set changes nothing, so a replayed batch is admitted again, never counted twice.
2. **Leases.** Each counter the batch's winners drew moves once, by the number of its
   winners: a conditional ADD that holds only while the counter stays within the
   schedule cap, its share of the budget and its pool. The ordinals it passed over are
   the batch's alone, so no coupon can go to two plays, and the cap holds however many
   allocators lease at once (docs/architecture.md § Invariants: 1, 2 and 5).
3. **Codes.** The leased ordinals' codes come in one batched read; the won results go
   out with the batch's other results, and delivery issues each coupon to its play.

An ADD does not race the way a compare-and-set does: it is refused only when the counter
has no room left for all k ordinals. The refusal returns the counter as it stands; the
lease then takes what room is left, and winners without room spill to the next counter
on their route or lose (a race lost: another allocator took the room this one saw).
Winners left without any coupon give their win slot back.

A crash between a lease and the results strands that lease's ordinals: the counter
counts them and no result holds them. Nothing is overspent or bound twice, and the
replay decides the plays afresh; reconcile reports the stranded ordinals until the
sweeper returns them to the budget (`frolic.dal.stranded`).

The protocol is the same whoever stores the data: the DynamoDB store makes the calls,
the in-memory store (the simulator's, the unit tests') answers them from dictionaries,
and the concurrent model makes each call take time. So what the model measures of
races is what the Lambda does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from frolic.allocation.ports import Claimed, Grant, Play, Route, Wish
from frolic.observability import logger

#: Refused leases retried against the counter as the refusal showed it, before the
#: winners still waiting give up on that counter.
LEASE_ATTEMPTS = 4


@dataclass(frozen=True, slots=True)
class CounterImage:
    """A counter as the store found it when it refused a lease."""

    issued: int
    #: The most it may reach: its share of the budget and its pool, whichever is less.
    limit: int


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease's answer: the last ordinal the counter has leased once it moved (the lease
    holds the `count` ordinals up to and including `last`), or the counter as it stands.

    Ordinals count coupons returned to the budget too (`frolic.dal.stranded`): the
    counter's issued count is `last - voided`."""

    last: int | None = None
    refused: CounterImage | None = None
    voided: int = 0


@dataclass(frozen=True, slots=True)
class Ordinal:
    brand_id: str
    sub: int
    ordinal: int


class ClaimBackend(Protocol):
    def admit(self, game_id: str, plays: Sequence[Play], max_wins_per_user: int) -> set[str]:
        """Add each play to its player's won plays, where the set has room or already
        holds it; the ids of the plays refused."""
        ...

    def give_back(self, game_id: str, plays: Sequence[Play]) -> None:
        """Take plays out of their players' won plays (they won no coupon after all)."""
        ...

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
        """Move the counter on by `count` if it ends at most at `most`, and its share and
        pool still hold `usable` coupons or more; tally the move in the minute of the
        game (from `game_start`) it lands in, for the report."""
        ...

    def codes(self, game_id: str, ordinals: Sequence[Ordinal]) -> Mapping[Ordinal, str]:
        """The codes at these ordinals of their counters' pools."""
        ...


CounterId = tuple[str, str, int]


@dataclass(slots=True)
class ClaimStats:
    """How leases fared against other allocators: leases tried, leases refused because
    other allocators had taken the room this one saw, and winners that lost their
    coupon that way."""

    commits: int = 0
    races: int = 0
    gave_up: int = 0


@dataclass(slots=True)
class _Seen:
    issued: int
    usable: int


class BatchClaims:
    """One allocator's claims: each counter as it last saw it, and the lease loop."""

    def __init__(
        self,
        backend: ClaimBackend,
        *,
        late_after: float | None = None,
        clock: Callable[[], float] | None = None,
        attempts: int = LEASE_ATTEMPTS,
        stats: ClaimStats | None = None,
    ) -> None:
        """`late_after`: a play decided this long after it arrived wins nothing. Its
        result may no longer go out in a batch (see the stores' `save_outcomes`) and
        could find the play expired: a coupon leased for it would be stranded. With a
        `clock`, age is also taken as the claim starts and again before the leases, so
        a batch held up on its way (throttling, a paused Lambda) leases nothing for
        plays that grew too old meanwhile."""
        self._backend = backend
        self._late_after = late_after
        self._clock = clock
        self.stats = stats or ClaimStats()
        self._attempts = attempts
        self._seen: dict[CounterId, _Seen] = {}

    def saw(self, game_id: str, brand_id: str, sub: int, issued: int, usable: int) -> None:
        """Note a counter as read (the budgets query): its issued count and limit."""
        self._seen[(game_id, brand_id, sub)] = _Seen(issued, usable)

    def claim(
        self,
        game_id: str,
        wishes: Sequence[Wish],
        max_wins_per_user: int,
        decided_at: float,
        *,
        game_start: float,
    ) -> Claimed:
        wishes = self._young(wishes, decided_at)
        if not wishes:
            return Claimed()
        backend = self._backend
        limited = backend.admit(game_id, [w.play for w in wishes], max_wins_per_user)
        admitted = [w for w in wishes if w.play.play_id not in limited]
        young = self._young(admitted, decided_at)
        if len(young) < len(admitted):
            kept = {w.play.play_id for w in young}
            backend.give_back(game_id, [w.play for w in admitted if w.play.play_id not in kept])
        admitted = sorted(young, key=lambda w: w.strength)
        # Every (wish, brand) waits at a position on its route; a counter that cannot
        # take it moves it on to the next one.
        waiting: dict[tuple[str, int], list[tuple[Wish, Route, int]]] = defaultdict(list)
        for wish in admitted:
            for route in wish.routes:
                waiting[(route.brand_id, route.counters[0][0])].append((wish, route, 0))
        leased: dict[str, list[Ordinal]] = defaultdict(list)
        raced: set[str] = set()
        while waiting:
            (brand_id, sub), queue = waiting.popitem()
            caps = [route.counters[position][1] for _, route, position in queue]
            taken, lost_race = self._lease(
                game_id, brand_id, sub, queue, caps, game_start=game_start
            )
            for index, (wish, route, position) in enumerate(queue):
                ordinal = taken.get(index)
                if ordinal is not None:
                    leased[wish.play.play_id].append(Ordinal(brand_id, sub, ordinal))
                elif position + 1 < len(route.counters):
                    following = route.counters[position + 1][0]
                    waiting[(brand_id, following)].append((wish, route, position + 1))
                elif lost_race:
                    raced.add(wish.play.play_id)
        codes = backend.codes(game_id, [o for held in leased.values() for o in held])
        grants: dict[str, tuple[Grant, ...]] = {}
        for play_id, held in leased.items():
            found = tuple(Grant(o.brand_id, codes[o]) for o in held if o in codes)
            if len(found) < len(held):
                logger.error("a leased coupon has no code; it stays stranded", play_id=play_id)
            if found:
                grants[play_id] = found
        empty = [w.play for w in admitted if w.play.play_id not in grants]
        if empty:
            backend.give_back(game_id, empty)
        raced_out = frozenset(raced - set(grants))
        self.stats.gave_up += len(raced_out)
        return Claimed(grants, frozenset(limited), raced_out)

    def _young(self, wishes: Sequence[Wish], decided_at: float) -> list[Wish]:
        """The wishes whose plays are young enough to win (see `late_after`)."""
        late = self._late_after
        if late is None:
            return list(wishes)
        now = decided_at if self._clock is None else max(decided_at, self._clock())
        return [w for w in wishes if now - w.play.arrival_ts < late]

    def _lease(
        self,
        game_id: str,
        brand_id: str,
        sub: int,
        queue: Sequence[tuple[Wish, Route, int]],
        caps: Sequence[int],
        *,
        game_start: float,
    ) -> tuple[dict[int, int], bool]:
        """Ordinals for the strongest winners of one counter that it has room for, by
        their place in `queue` (strongest first), and whether a refusal (another
        allocator taking the room this one saw) cut them short."""
        key = (game_id, brand_id, sub)
        seen = self._seen.setdefault(key, _Seen(0, 0))
        lost_race = False
        for _ in range(self._attempts):
            count, most = _room(seen, [w.play.arrival_ts for w, _, _ in queue], caps)
            if count <= 0:
                break
            self.stats.commits += 1
            answer = self._backend.lease(
                game_id, brand_id, sub, count, most=most, usable=seen.usable, game_start=game_start
            )
            if answer.last is not None:
                seen.issued = answer.last - answer.voided
                # Earlier arrivals take lower ordinals: each within its own cap.
                takers = sorted(range(count), key=lambda n: queue[n][0].play.arrival_ts)
                first = answer.last - count + 1
                return {taker: first + n for n, taker in enumerate(takers)}, lost_race
            image = answer.refused
            if image is None:
                raise ValueError("a lease is either granted or refused")
            if image.issued > seen.issued:
                self.stats.races += 1
                lost_race = True
            seen.issued, seen.usable = max(seen.issued, image.issued), image.limit
        return {}, lost_race


def _room(seen: _Seen, arrivals: Sequence[float], caps: Sequence[int]) -> tuple[int, int]:
    """How many of the strongest winners (the first ones) one lease can take, as the
    counter was last seen, and the most the counter may then reach.

    The taken winners get consecutive ordinals, earlier arrivals lower ones, and each
    ordinal must be within its play's cap: the j-th of n by arrival (from 1) gets
    issued + j <= cap_j, so the counter may reach min over j of cap_j + n - j."""
    for count in range(min(len(caps), seen.usable - seen.issued), 0, -1):
        by_arrival = sorted(range(count), key=lambda n: arrivals[n])
        most = seen.usable
        for j, taker in enumerate(by_arrival, start=1):
            most = min(most, caps[taker] + count - j)
        if seen.issued + count <= most:
            return count, most
    return 0, seen.usable
