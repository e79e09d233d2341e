"""The release schedule: how many of a budget's coupons may be out by a given moment."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ReleaseSchedule:
    """Cumulative share of the budget released after `elapsed` seconds of the window.

    The marketer's curve gives relative weights of equal parts of the window; within a
    part coupons are released at a constant rate. No curve means a straight line.
    """

    duration: float
    weights: Sequence[float] | None = None
    _cumulative: tuple[float, ...] = field(init=False, repr=False)
    _rates: tuple[float, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.duration > 0 or math.isinf(self.duration):
            raise ValueError("a schedule needs a positive, finite duration")
        parts = tuple(float(w) for w in self.weights) if self.weights else (1.0,)
        total = math.fsum(parts)
        if not total > 0 or any(w < 0 for w in parts):
            raise ValueError("curve weights must be non-negative with a positive sum")
        shares = [w / total for w in parts]
        cumulative = [0.0]
        for share in shares:
            cumulative.append(cumulative[-1] + share)
        cumulative[-1] = 1.0
        object.__setattr__(self, "_cumulative", tuple(cumulative))
        object.__setattr__(self, "_rates", tuple(s * len(parts) for s in shares))

    @property
    def parts(self) -> int:
        return len(self._rates)

    def fraction(self, elapsed: float) -> float:
        """Share of the budget released by `elapsed` seconds (0 before start, 1 after end)."""
        if elapsed <= 0:
            return 0.0
        if elapsed >= self.duration:
            return 1.0
        if len(self._rates) == 1:
            return elapsed / self.duration
        position = elapsed / self.duration * len(self._rates)
        part = int(position)
        return self._cumulative[part] + self._rates[part] * (position - part) / len(self._rates)

    def time_of_fraction(self, share: float) -> float:
        """The first moment at which `share` of the budget is released."""
        if share <= 0:
            return 0.0
        if share >= 1:
            return self.duration * self._first_full_position()
        part = bisect_left(self._cumulative, share) - 1
        within = (share - self._cumulative[part]) * len(self._rates) / self._rates[part]
        return (part + within) / len(self._rates) * self.duration

    def _first_full_position(self) -> float:
        """Where the curve reaches 1 (earlier than the end when the last parts weigh 0)."""
        last = max(i for i, rate in enumerate(self._rates) if rate > 0)
        return (last + 1) / len(self._rates)
