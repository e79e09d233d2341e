"""Splitting one game-brand budget over several counters, for games too hot for one.

A DynamoDB item takes about 1,000 write units a second, and every batch with winners
writes its budget counter once (a lease: 1 unit, more once the counter's minute tallies
for the report pass 1 KB, `frolic.dal.tables.counter_write_units`). So a game-brand
whose allocators lease more than ~1,000 units a second needs K counters, each with its
own share of the budget, its own schedule cap and its own coupon pool. These functions
are the whole rule, shared by the stores and the simulator:

- **Split**: shares are whole coupons and sum exactly to the budget.
- **Rebalance**: when the budget changes, each counter keeps what it has issued and the
  rest is split evenly on top, so no counter ends up below its own issued count and the
  sum is still exactly the budget. Where the counters' coupon pools are known, the rest
  goes first where there are codes to back it (see Pools).
- **Pools**: each counter binds codes from a pool of its own. A counter can hand out
  `min(share, pool)`, so a share without codes, or codes without a share, would be
  stranded while another counter runs dry. Shares and pools are therefore kept *aligned*:
  either every share is within its pool or every pool is within its share, never a mix.
  Then the counters together can hand out `min(budget, total pool)`, as one counter
  would. Rebalance keeps that by giving the rest first where codes are spare; new codes
  are dealt to the counters whose share lacks codes first, then to the emptiest pools.
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

#: Codes dealt to one counter per step. The DynamoDB pools write a step in one
#: transaction: two items per code, the counter and the budget item, at most 100.
DEAL_STEP = 49


def split(total: int, parts: int) -> list[int]:
    """`total` in `parts` whole shares that differ by at most one and sum to `total`."""
    if parts < 1:
        raise ValueError("a budget is split into at least one part")
    if total < 0:
        raise ValueError("a budget cannot be negative")
    return [(total + index) // parts for index in range(parts)]


def fill(amount: int, levels: Sequence[int], room: Sequence[int | None]) -> list[int]:
    """Water-filling: `amount` units added to the lowest levels first, counter j taking
    at most `room[j]` (None: no limit); returns what each one gets. When every counter is
    full, what is left of `amount` is not handed out (the sum says how much went)."""
    if amount < 0:
        raise ValueError("cannot hand out a negative amount")
    added = [0] * len(levels)
    order = sorted(range(len(levels)), key=lambda j: (levels[j], j))
    left = amount

    def has_room(j: int) -> bool:
        limit = room[j]
        return limit is None or added[j] < limit

    while left > 0:
        open_ = [j for j in order if has_room(j)]
        if not open_:
            break
        lowest = min(levels[j] + added[j] for j in open_)
        tied = [j for j in open_ if levels[j] + added[j] == lowest]
        above = [levels[j] + added[j] for j in open_ if levels[j] + added[j] > lowest]
        # Raise the tied counters together to the next level, their room, or the amount.
        step = min(above) - lowest if above else None
        for j in tied:
            limit = room[j]
            if limit is not None:
                step = limit - added[j] if step is None else min(step, limit - added[j])
        per = left // len(tied) if step is None else min(step, left // len(tied))
        if per == 0:
            for j in tied[:left]:
                added[j] += 1
            break
        for j in tied:
            added[j] += per
        left -= per * len(tied)
    return added


def rebalance(budget: int, issued: Sequence[int], pools: Sequence[int] | None = None) -> list[int]:
    """New shares for `budget`: each keeps its issued count and the rest is split evenly,
    first within the codes each counter has spare (`pools`), then evenly beyond them."""
    already = sum(issued)
    if budget < already:
        raise ValueError(f"{already} already issued: the budget cannot be {budget}")
    rest = budget - already
    if pools is None:
        extra = split(rest, len(issued))
    else:
        spare = [max(0, pool - out) for pool, out in zip(pools, issued, strict=True)]
        extra = fill(rest, [0] * len(issued), spare)
        beyond = split(rest - sum(extra), len(issued))
        extra = [e + b for e, b in zip(extra, beyond, strict=True)]
    return [out + e for out, e in zip(issued, extra, strict=True)]


def deal(count: int, shares: Sequence[int], pools: Sequence[int]) -> list[int]:
    """How many of `count` new codes each counter's pool gets: first the codes a share
    lacks (the largest lack first), then the rest to the emptiest pools."""
    lacking = [max(0, share - pool) for share, pool in zip(shares, pools, strict=True)]
    first = fill(min(count, sum(lacking)), [-n for n in lacking], lacking)
    grown = [pool + n for pool, n in zip(pools, first, strict=True)]
    then = fill(count - sum(first), grown, [None] * len(pools))
    return [a + b for a, b in zip(first, then, strict=True)]


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


def next_step(
    shares: Sequence[int], pools: Sequence[int], remaining: int, step: int = DEAL_STEP
) -> tuple[int, int]:
    """Where the next codes of an upload go, dealt one step at a time: the counter and
    how many. While some share lacks codes a step only fills lack, so shares and pools
    stay aligned after every step, even if an upload stops halfway."""
    lacking = sum(max(0, share - pool) for share, pool in zip(shares, pools, strict=True))
    count = min(remaining, lacking) if lacking else remaining
    dealt = deal(count, shares, pools)
    sub = max(range(len(dealt)), key=lambda j: (dealt[j], -j))
    return sub, min(dealt[sub], step)
