"""Arrival-rate estimate for a game, from plays counted per second of arrival.

A fixed window is either slow (it keeps a finished rush in its average for a minute,
starving the schedule) or noisy (a few plays a second). So the window adapts: the
longest of 1, 2, 4, … 64 seconds whose recent part still looks like the same Poisson
process as the whole. A rush that starts or stops is seen within a second or two, and
steady traffic gets a minute of averaging.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import accumulate

WINDOWS = (1, 2, 4, 8, 16, 32, 64)
#: How many standard deviations a recent count may stray before we call it a change.
CHANGE_Z = 3.0
#: Counts are whole plays: allow a couple of plays of slack at very low rates.
CHANGE_FLOOR = 2.0


def estimate_rate(
    counts: Mapping[int, int], *, last_complete_second: int, first_second: int
) -> float | None:
    """Plays per second, or None while no complete second has been counted.

    `counts` maps a second (any integer clock) to plays arriving in it; seconds absent
    had none. Seconds before `first_second` (the game's start) are not looked at.
    """
    available = last_complete_second - first_second + 1
    if available <= 0:
        return None
    count_in = counts.get
    longest = min(WINDOWS[-1], available)
    newest_first = [
        count_in(s, 0) for s in range(last_complete_second, last_complete_second - longest, -1)
    ]
    running = list(accumulate(newest_first))
    best_span = 1
    checked: list[int] = []
    for window in WINDOWS[1:]:
        span = min(window, available)
        if span == best_span:
            break
        rate = running[span - 1] / span
        for recent_span in (1, *checked):
            expected = rate * recent_span
            if (
                abs(running[recent_span - 1] - expected)
                > CHANGE_Z * math.sqrt(expected) + CHANGE_FLOOR
            ):
                return running[best_span - 1] / best_span
        checked.append(span)
        best_span = span
    return running[best_span - 1] / best_span


def arrival_rate(
    counts: Mapping[int, int], *, now: float, settle_seconds: float, first_second: int
) -> float | None:
    """The rate to pace by at `now`: the settled estimate, or more if recent plays say so.

    Seconds younger than `settle_seconds` may still be missing plays that other shards
    have not counted yet, so they are left out of `estimate_rate`. But what they do
    hold is a floor on the rate: after an idle stretch (settled rate 0) or at the first
    batch of a game it is all we know, and without it every play of a crowd's first
    second would look like the only one and win. The play that brought this batch
    about says nothing of the rate (there is always one), so the floor counts the
    others: a lone play at night is paced as the lone play it is.
    """
    last_complete = math.floor(now - settle_seconds) - 1
    settled = estimate_rate(counts, last_complete_second=last_complete, first_second=first_second)
    since = max(last_complete + 1, first_second)
    span = now - since
    if span <= 0:
        return settled
    recent = sum(counts.get(second, 0) for second in range(since, math.floor(now) + 1))
    floor_rate = max(0, recent - 1) / span
    return floor_rate if settled is None else max(settled, floor_rate)
