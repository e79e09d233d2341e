"""Taking a winner's coupons with optimistic checks: the claim protocol of every store.

A winner's claim is one all-or-nothing commit that moves each claimed counter from the
issued count the allocator last saw to the next one, binds the coupon at that ordinal
and records the play as won. When another allocator moved the counter first, the commit
is cancelled; the cancellation says where the counter stands now, and the claim tries
again from there after a backoff, or gives up when the counter is at its cap.

The protocol is the same whoever stores the data: the DynamoDB store commits with
TransactWriteItems, the in-memory store (the simulator's, the unit tests') against its
dictionaries, and the concurrent model makes each step take time. So what the model
measures of races and backoff is what the Lambda does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from frolic.allocation.ports import Claim, Grant, Play, Reservation
from frolic.observability import logger

#: Optimistic retries of a winner's commit when another allocator moved first.
RESERVE_ATTEMPTS = 6


def retry_delay(attempt: int) -> float:
    """Backoff before retry `attempt` (0-based): 50 ms doubling, at most a second."""
    return min(0.05 * 2.0**attempt, 1.0)


@dataclass(frozen=True, slots=True)
class CounterImage:
    """A counter as the store found it when it refused a commit."""

    issued: int
    #: The most it may reach: its share of the budget and its pool, whichever is less.
    limit: int


@dataclass(frozen=True, slots=True)
class Cancellation:
    """Why a commit did not happen. `counters` holds the claimed counters whose
    condition failed (by brand); none of the flags and no counter means the commit
    lost a race on some other item and is worth another attempt."""

    superseded: bool = False
    win_limit: bool = False
    counters: Mapping[str, CounterImage] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Commit:
    """One attempt at a winner's claim: what the store commits all or nothing."""

    play: Play
    claims: Sequence[Claim]
    #: Each claimed counter's issued count as last seen, by brand.
    expected: Mapping[str, int]
    grants: Sequence[Grant]
    max_wins_per_user: int
    decided_at: float


class ClaimBackend(Protocol):
    def next_codes(
        self, game_id: str, claims: Sequence[Claim], ordinals: Mapping[str, int]
    ) -> list[Grant] | None:
        """The code at `ordinals[brand]` of each claim's counter; None if one is missing."""
        ...

    def commit(self, attempt: Commit) -> Cancellation | None:
        """All or nothing: each claimed counter from `expected[brand]` to one more (within
        its cap, share and pool), its coupon bound, the play won and the player's wins
        counted; None when it happened."""
        ...


CounterId = tuple[str, str, int]


@dataclass(slots=True)
class ClaimStats:
    """How claims fared against other allocators: commits tried, commits cancelled
    because another allocator moved a counter (or another item) first, and claims
    given up after every attempt lost such a race."""

    commits: int = 0
    races: int = 0
    gave_up: int = 0


class OptimisticClaims:
    """One allocator's claims: the issued counts it last saw, and the retry loop."""

    def __init__(
        self,
        backend: ClaimBackend,
        sleep: Callable[[float], None],
        attempts: int = RESERVE_ATTEMPTS,
        stats: ClaimStats | None = None,
    ) -> None:
        self._backend = backend
        self.stats = stats or ClaimStats()
        self._sleep = sleep
        self._attempts = attempts
        self._seen: dict[CounterId, int] = {}

    def saw(self, game_id: str, brand_id: str, sub: int, issued: int) -> None:
        """Note a counter's issued count as read (the budgets query)."""
        self._seen[(game_id, brand_id, sub)] = issued

    def issued_seen(self, game_id: str) -> dict[str, int]:
        """Issued per brand of a game, as last seen: the report's issued curve."""
        issued: dict[str, int] = defaultdict(int)
        for (game, brand, _), seen in self._seen.items():
            if game == game_id:
                issued[brand] += seen
        return issued

    def reserve(
        self, play: Play, claims: Sequence[Claim], max_wins_per_user: int, decided_at: float
    ) -> Reservation:
        seen = self._seen
        for attempt in range(self._attempts):
            expected = {c.brand_id: seen.get(_counter(play, c), 0) for c in claims}
            refused = {
                c.brand_id: expected[c.brand_id] for c in claims if expected[c.brand_id] >= c.cap
            }
            if refused:
                return Reservation(refused=refused)
            ordinals = {brand: issued + 1 for brand, issued in expected.items()}
            grants = self._backend.next_codes(play.game_id, claims, ordinals)
            if grants is None:
                return Reservation(refused=expected)
            self.stats.commits += 1
            cancelled = self._backend.commit(
                Commit(play, claims, expected, grants, max_wins_per_user, decided_at)
            )
            if cancelled is None:
                for claim in claims:
                    seen[_counter(play, claim)] = expected[claim.brand_id] + 1
                return Reservation(grants=tuple(grants))
            if _raced(cancelled, expected):
                self.stats.races += 1
            verdict = self._read(cancelled, play, claims, expected)
            if verdict is not None:
                return verdict
            if attempt + 1 < self._attempts:
                self._sleep(retry_delay(attempt))
        self.stats.gave_up += 1
        logger.warning(
            "reservation kept conflicting; the play loses", extra={"playId": play.play_id}
        )
        return Reservation(
            refused={c.brand_id: seen.get(_counter(play, c), 0) for c in claims},
            raced_out=True,
        )

    def _read(
        self,
        cancelled: Cancellation,
        play: Play,
        claims: Sequence[Claim],
        expected: Mapping[str, int],
    ) -> Reservation | None:
        """What a cancellation means for the play; None when it is worth another try."""
        if cancelled.superseded:
            return Reservation(superseded=True)
        if cancelled.win_limit:
            return Reservation(win_limit=True)
        refused: dict[str, int] = {}
        for claim in claims:
            image = cancelled.counters.get(claim.brand_id)
            if image is None:
                continue
            self._seen[_counter(play, claim)] = image.issued
            if image.issued == expected[claim.brand_id] or image.issued >= min(
                image.limit, claim.cap
            ):
                refused[claim.brand_id] = image.issued
        return Reservation(refused=refused) if refused else None


def _raced(cancelled: Cancellation, expected: Mapping[str, int]) -> bool:
    """Whether another allocator's write cancelled the commit (not the play's own state)."""
    if cancelled.superseded or cancelled.win_limit:
        return False
    counters = cancelled.counters
    return not counters or any(image.issued != expected[b] for b, image in counters.items())


def _counter(play: Play, claim: Claim) -> CounterId:
    return (play.game_id, claim.brand_id, claim.sub)
