"""Per-play win probability and the hard schedule cap.

The allocator asks a policy for a `BrandPlan` once per batch and game-brand (budget,
issued count and arrival rate as the store holds them then), and then asks the plan,
for each play in arrival order, how likely that play is to win and how many coupons may
be out at that play's instant. The cap is a plain integer so that the store can make
it part of its atomic write's condition (`issued + k <= cap`): however many allocators
run at once, none can take the issued count past it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from frolic.pacing.schedule import ReleaseSchedule

#: Guard against float error turning an exact release into one coupon too few.
_EPSILON = 1e-9


class BrandPlan(Protocol):
    def probability(self, elapsed: float, issued: int, decided: int = 0) -> float:
        """Chance that a play at `elapsed` seconds wins this brand, `issued` being out
        and `decided` plays having been decided since the plan was made."""
        ...

    def cap(self, elapsed: float) -> int:
        """Most coupons that may be issued in total at `elapsed` seconds."""
        ...

    def share_cap(self, elapsed: float, share: int) -> int:
        """The cap of one counter holding `share` of the budget (see sub_budgets)."""
        ...


class PacingPolicy(Protocol):
    @property
    def name(self) -> str: ...

    def plan(
        self,
        *,
        schedule: ReleaseSchedule,
        budget: int,
        slack_pct: float,
        arrival_rate: float | None,
        plays_to_come: float | None = None,
    ) -> BrandPlan:
        """`plays_to_come`: plays the current spell of traffic is expected still to
        bring (see pacing.spells); None when nothing is known of spells."""
        ...

    def closing_chances(
        self, left: Sequence[int], plays_left: int, coupons_per_play: int
    ) -> Sequence[float] | None:
        """Once the window has closed, the chance of each brand for a play that knows
        `plays_left` plays (itself included) are all that can still win, `left[i]` being
        what brand i may still issue; None to decide as before the close."""
        ...


@dataclass(frozen=True, slots=True)
class FrolicPacing:
    """Probabilistic throttling that follows the release schedule.

    Each play wins with p = (coupons we want out over the next `horizon` seconds) /
    (plays expected in them). What we want out is what the schedule releases in that
    horizon plus the gap between the schedule and the issued count now, so the issued
    curve is pulled back onto the schedule within about a horizon whichever way it
    drifts, and an arrival-rate estimate that is off by a factor k costs only about
    (k - 1) x horizon's release in lag, never a run on the budget.

    A gap of up to `quick_catchup` seconds of release (a lull, noise) is closed within
    the horizon. A larger one (nobody played for a while: a night, the silence between
    two pushes) is a backlog, and it follows plays, not seconds: it is spread over the
    plays the current spell of traffic is expected still to bring (`plays_to_come`,
    from pacing.spells), or to the end of the window if that comes first. So each
    burst pays what was released before it, evenly over its plays. The quick share
    fades as (quick / gap)^4 so that a backlog is never paid out at a rush. Near the
    end the horizon reaches the end of the window, and once it has closed, what is
    left goes to the last plays as a uniform draw among them (`closing_chances`).
    """

    horizon: float = 2.0
    quick_catchup: float = 60.0
    name: str = "frolic"

    def plan(
        self,
        *,
        schedule: ReleaseSchedule,
        budget: int,
        slack_pct: float,
        arrival_rate: float | None,
        plays_to_come: float | None = None,
    ) -> FrolicBrandPlan:
        return FrolicBrandPlan(
            schedule=schedule,
            budget=budget,
            slack=budget * slack_pct / 100.0,
            arrival_rate=arrival_rate if arrival_rate and arrival_rate > 0 else 0.0,
            horizon=self.horizon,
            quick_catchup=self.quick_catchup,
            plays_to_come=plays_to_come,
        )

    def closing_chances(
        self, left: Sequence[int], plays_left: int, coupons_per_play: int
    ) -> list[float]:
        """Selection sampling: brand i wins with left[i] / plays_left, which hands out
        exactly what is left, uniformly among the last plays. When the plays left can
        only just hold every brand's coupons (a play takes at most `coupons_per_play`),
        each of them must take all it can."""
        if plays_left <= 0:
            return [0.0 for _ in left]
        if plays_left * coupons_per_play <= sum(n for n in left if n > 0):
            return [1.0 if n > 0 else 0.0 for n in left]
        return [min(1.0, max(0, n) / plays_left) for n in left]


@dataclass(frozen=True, slots=True)
class FrolicBrandPlan:
    schedule: ReleaseSchedule
    budget: int
    slack: float
    arrival_rate: float
    horizon: float
    quick_catchup: float
    plays_to_come: float | None = None

    def cap(self, elapsed: float) -> int:
        return self.share_cap(elapsed, self.budget)

    def share_cap(self, elapsed: float, share: int) -> int:
        """The cap of a counter holding `share` of the budget (all of it, unless split).

        The slack is at least one coupon: coupon k may go out once coupon k-1 is due.
        Without it the last coupon would be released only as the window closes, when
        nobody can play. A split budget's counters each get that coupon, so together
        they hold to released(t) + slack + counters (see sub_budgets).
        """
        released = share * self.schedule.fraction(elapsed)
        slack = max(1.0, self.slack * share / self.budget) if self.budget else 0.0
        return min(share, math.floor(released + slack + _EPSILON))

    def probability(self, elapsed: float, issued: int, decided: int = 0) -> float:
        budget = self.budget
        remaining = budget - issued
        duration = self.schedule.duration
        if remaining <= 0 or elapsed >= duration:
            return 0.0
        fraction = self.schedule.fraction
        horizon = min(self.horizon, duration - elapsed)
        now_share = fraction(elapsed)
        coming_share = fraction(elapsed + horizon) - now_share
        released = budget * now_share
        deficit = released - issued
        expected_plays = self.arrival_rate * horizon
        if expected_plays <= 0:
            return 1.0 if budget * coming_share + deficit > 0 else 0.0
        chance = budget * coming_share / expected_plays
        if deficit <= 0:
            return max(0.0, chance + deficit / expected_plays)
        backlog_plays = self._backlog_plays(elapsed, decided)
        quick = max(1.0, released - budget * fraction(elapsed - self.quick_catchup))
        if deficit <= quick:
            chance += deficit / min(expected_plays, backlog_plays)
        else:
            faded = quick * (quick / deficit) ** 4 / expected_plays
            chance += max(faded, deficit / backlog_plays)
        return min(1.0, chance)

    def _backlog_plays(self, elapsed: float, decided: int) -> float:
        """The plays a deficit is spread over: those the spell still brings (less those
        decided since the plan was made: each play takes its turn), and none after the
        window closes."""
        to_window_end = self.arrival_rate * (self.schedule.duration - elapsed)
        to_come = self.plays_to_come
        plays = to_window_end if to_come is None else min(to_come - decided, to_window_end)
        return max(plays, 1e-9)


@dataclass(frozen=True, slots=True)
class SeedPacing:
    """The seed design's rule, kept to show what it gets wrong.

    P = remaining budget / remaining one-second slots, per play: the expected winners
    per *slot*, applied to every play. It has no schedule cap; only the budget stops it.
    """

    name: str = "seed"

    def plan(
        self,
        *,
        schedule: ReleaseSchedule,
        budget: int,
        slack_pct: float,
        arrival_rate: float | None,
        plays_to_come: float | None = None,
    ) -> SeedBrandPlan:
        return SeedBrandPlan(duration=schedule.duration, budget=budget)

    def closing_chances(
        self, left: Sequence[int], plays_left: int, coupons_per_play: int
    ) -> list[float] | None:
        """The seed rule has no end game: it decides the last plays like any other."""
        return None


@dataclass(frozen=True, slots=True)
class SeedBrandPlan:
    duration: float
    budget: int

    def cap(self, elapsed: float) -> int:
        return self.budget

    def share_cap(self, elapsed: float, share: int) -> int:
        return share

    def probability(self, elapsed: float, issued: int, decided: int = 0) -> float:
        remaining = self.budget - issued
        if remaining <= 0 or elapsed >= self.duration:
            return 0.0
        slots = max(1.0, self.duration - elapsed)
        return min(1.0, remaining / slots)


POLICIES: dict[str, PacingPolicy] = {"frolic": FrolicPacing(), "seed": SeedPacing()}
