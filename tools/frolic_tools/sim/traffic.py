"""Arrival traces: one non-negative integer a line, the plays arriving in that second."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from pathlib import Path


class TraceError(ValueError):
    """A trace file that cannot be used, with a message fit for one line."""


MAX_TRACE_SECONDS = 7 * 24 * 3600
#: ASCII digits only (str.isdigit also takes '²' and other scripts' digits), and short
#: enough that int() cannot refuse it.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")
MAX_PLAYS_PER_SECOND = 10_000_000


def parse_trace(text: str, source: str = "trace") -> list[int]:
    counts: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            raise TraceError(f"{source} line {number}: empty line (write 0 for a quiet second)")
        if not _WHOLE_NUMBER.fullmatch(line):
            raise TraceError(f"{source} line {number}: {line[:20]!r} is not a non-negative integer")
        value = int(line)
        if value > MAX_PLAYS_PER_SECOND:
            raise TraceError(f"{source} line {number}: {value} plays in a second is over the limit")
        counts.append(value)
        if len(counts) > MAX_TRACE_SECONDS:
            raise TraceError(f"{source}: longer than {MAX_TRACE_SECONDS} seconds")
    if not counts:
        raise TraceError(f"{source}: no lines; a trace needs one line per second of the window")
    return counts


def read_trace(path: Path) -> list[int]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TraceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TraceError(f"{path}: is a directory, not a trace file") from None
    except UnicodeDecodeError:
        raise TraceError(f"{path}: not a text file") from None
    except OSError as error:
        raise TraceError(f"{path}: {error.strerror or error}") from None
    return parse_trace(text, source=str(path))


def poisson(rng: random.Random, mean: float) -> int:
    """Plays in one second of Poisson arrivals with the given mean."""
    if mean <= 0:
        return 0
    if mean > 500:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    threshold, count, product = math.exp(-mean), 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


SHAPES = ("flat", "ramp", "rush", "sparse", "idle_gap", "waves")


def generate_trace(shape: str, *, seconds: int, rate: float, seed: int = 0) -> list[int]:
    """A synthetic trace of Poisson arrivals whose mean follows `shape`.

    `rate` is the typical plays/s: flat keeps it; ramp climbs from a tenth of it to
    twice it; rush opens with a tenth of the window at 50x then settles at a
    third; sparse is rate/100; idle_gap has nobody for the middle fifth; waves swings
    between a fifth and twice the rate three times.
    """

    def mean_at(second: int) -> float:
        x = second / seconds
        match shape:
            case "flat":
                return rate
            case "ramp":
                return rate * (0.1 + 1.9 * x)
            case "rush":
                return rate * 50 if x < 0.1 else rate / 3
            case "sparse":
                return rate / 100
            case "idle_gap":
                return 0.0 if 0.4 <= x < 0.6 else rate
            case "waves":
                return rate * (1.1 + 0.9 * math.sin(6 * math.pi * x))
        raise TraceError(f"unknown trace shape {shape!r}; one of {', '.join(SHAPES)}")

    return _poisson_trace(mean_at, seconds, seed)


def burst_trace(
    *,
    seconds: int,
    period: int,
    burst: int,
    rate: float,
    offset: int = 0,
    tail: bool = False,
    seed: int = 0,
) -> list[int]:
    """Pushes: every `period` seconds from `offset`, a crowd of `rate` plays/s for
    `burst` seconds, and silence between. With `tail` the crowd fades exponentially
    (over about `burst` seconds) instead of stopping at once."""

    def mean_at(second: int) -> float:
        if second < offset:
            return 0.0
        age = (second - offset) % period
        if tail:
            mean = rate * math.exp(-age / burst)
            return mean if mean >= 0.05 else 0.0
        return rate if age < burst else 0.0

    return _poisson_trace(mean_at, seconds, seed)


def night_trace(
    *,
    days: int,
    night_hours: float,
    rate: float,
    wake_hour: float = 8.0,
    night_rate: float = 0.0,
    seed: int = 0,
) -> list[int]:
    """Days of play from midnight: for `night_hours` before `wake_hour` only a trickle of
    `night_rate` plays/s (none by default); by day the mean climbs from a sixth of
    `rate` to `rate` at two daily peaks."""
    awake = 24.0 - night_hours

    def mean_at(second: int) -> float:
        since_wake = (second / 3600.0 - wake_hour) % 24.0
        if since_wake >= awake:
            return night_rate
        x = since_wake / awake
        return rate * (1 + 5 * math.sin(2 * math.pi * x) ** 2) / 6

    return _poisson_trace(mean_at, days * 24 * 3600, seed)


def _poisson_trace(mean_at: Callable[[int], float], seconds: int, seed: int) -> list[int]:
    """Poisson arrivals whose mean at each second `mean_at` gives, reproducible by seed."""
    rng = random.Random(seed)
    return [poisson(rng, mean_at(second)) for second in range(seconds)]
