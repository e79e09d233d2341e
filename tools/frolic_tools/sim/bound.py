"""The bound to beat (docs/architecture.md § Measures): the most coupons any allocator held to the
schedule cap can have out by each second of a trace.

A greedy allocator gives a coupon to every play while `issued < cap(t)`. No allocator
under the cap can have more out by any second, so greedy's leftover and its largest
shortfall below the schedule are the least possible on that trace, and what Frolic
leaves or lags beyond them is the cost of its pacing, not of the traffic.

Two simplifications keep this an upper bound on every allocator, and so a lower bound
on leftover and shortfall:

- A second's plays arrive at instants within it, where the cap may be lower than at
  its end. The bound lets them all meet the cap of the second's end, `cap(s + 1)`, as
  if they came at its last instant: issued(s) = min(issued(s - 1) + plays(s),
  cap(s + 1)). Greedy with plays spread over the second can only have fewer out.
- With several brands each play may take one coupon of each (neither
  `max_coupons_per_play` nor `max_wins_per_user` is applied), and each brand's bound
  is summed: that is the most any allocator could hand out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from frolic.allocation.sub_budgets import schedule_slack
from frolic.pacing.policy import FrolicPacing
from frolic.pacing.schedule import ReleaseSchedule


def schedule_cap(
    schedule: ReleaseSchedule, budget: int, *, slack_pct: float, counters: int = 1
) -> Callable[[float], int]:
    """Most coupons of one brand's budget that may be out at `elapsed` seconds.

    A split budget's counters each hold to their own share's cap, which together is
    at most the cap of the whole budget with the slack of `schedule_slack`.
    """
    slack = schedule_slack(budget * slack_pct / 100, counters)
    plan = FrolicPacing().plan(
        schedule=schedule, budget=budget, slack_pct=100 * slack / budget, arrival_rate=None
    )
    return plan.cap


def greedy_curve(
    plays_per_second: Sequence[int],
    schedule: ReleaseSchedule,
    budgets: Iterable[int],
    *,
    slack_pct: float,
    counters: int = 1,
) -> list[int]:
    """Coupons greedy has out by the end of each second, over all brands' budgets."""
    curve = [0] * len(plays_per_second)
    # Brands of equal budget have equal curves: a thousand brands cost two passes.
    for budget, brands in Counter(b for b in budgets if b > 0).items():
        cap = schedule_cap(schedule, budget, slack_pct=slack_pct, counters=counters)
        issued = 0
        for second, plays in enumerate(plays_per_second):
            if plays and issued < budget:
                issued = min(issued + plays, cap(second + 1))
            curve[second] += issued * brands
    return curve
