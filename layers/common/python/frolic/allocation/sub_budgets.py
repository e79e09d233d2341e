"""Splitting one game-brand budget over several counters, for games too hot for one.

A DynamoDB item takes about 1,000 write units a second, and every winner writes its
budget counter inside a transaction (2 units). So a game-brand with more than ~500
winners a second needs K counters, each with its own share of the budget, its own
schedule cap and its own coupon pool. These functions are the whole rule, shared by the
stores and the simulator:

- **Split**: shares are whole coupons and sum exactly to the budget.
- **Rebalance**: when the budget changes, each counter keeps what it has issued and the
  rest is split evenly on top, so no counter ends up below its own issued count and the
  sum is still exactly the budget.
- **Cap**: counter j may have `floor(budget_j * F(t) + slack_j)` out, where F is the
  release schedule and slack_j its share of the slack, but at least one coupon. So the
  counters together stay within `released(t) + slack + K` (a sum of floors never
  exceeds the floor of the sum), and near the end each can reach its whole share
  without waiting for a play in the window's last instant. K coupons is nothing next to
  a budget hot enough to need K counters.
- **Route**: a play prefers counter `hash(playId) mod K`, so load spreads evenly, and
  spills to the others in turn when its own is full, so no coupon is stranded in an
  idle counter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def split(total: int, parts: int) -> list[int]:
    """`total` in `parts` whole shares that differ by at most one and sum to `total`."""
    if parts < 1:
        raise ValueError("a budget is split into at least one part")
    if total < 0:
        raise ValueError("a budget cannot be negative")
    return [(total + index) // parts for index in range(parts)]


def rebalance(budget: int, issued: Sequence[int]) -> list[int]:
    """New shares for `budget`: each keeps its issued count, the rest is split evenly."""
    already = sum(issued)
    if budget < already:
        raise ValueError(f"{already} already issued: the budget cannot be {budget}")
    return [
        out + extra for out, extra in zip(issued, split(budget - already, len(issued)), strict=True)
    ]


def route(play_id: str, parts: int) -> list[int]:
    """The order in which a play tries the counters: its own first, then the next ones."""
    if parts == 1:
        return [0]
    digest = hashlib.blake2b(play_id.encode(), digest_size=8).digest()
    first = int.from_bytes(digest, "big") % parts
    return [(first + step) % parts for step in range(parts)]


def schedule_slack(slack: float, parts: int) -> float:
    """The slack the counters of a budget hold to, together: each has at least one
    coupon of slack (see Cap above)."""
    return max(slack, 1.0) if parts == 1 else slack + parts
