"""`frolic reconcile`: do the tables agree with each other about one game?

For each brand: the budget's issued counters and the won results must count the same
(a counter moves when a batch leases ordinals, and each leased code goes into one won
result); every coupon issued to a play must belong to a won play that lists it, every
won play's codes must be in the brand's pools within what their counter has leased and
issued to that play, no code may be in two results, and nothing may be issued past the
budget. A won code not yet ISSUED (AVAILABLE, or RESERVED for its play) is awaiting
delivery for `coupon_issue_bound_seconds` after the win, and drift after that: the
player holds a code the till refuses, and deliver and the sweeper have both failed.
A budget split over counters is checked counter by counter too: each within its share
and holding exactly as many won codes as it counts, and the shares summing to the
budget. Ordinals a counter counts but no result holds were stranded by a crash
between a lease and the batch's results. The results table has one item per play by
key, so a play cannot have two results; the check that matters is that each of them
tells the same story as the counters.

Stranded ordinals the sweeper returned to the budget (`frolic.dal.stranded`) are VOID
coupons whose codes are in the pool again at later ordinals: counters are compared net
of `voided`, a VOID coupon is neither bound nor awaiting, and each counter must hold
exactly `voided` of them, each within what it leased and with its code alive elsewhere
in the pool.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from frolic.dal import codec
from frolic.dal.batches import batch_get
from frolic.dal.budgets import StoredBudget, read_game_budgets
from frolic.dal.tables import coupon_key
from frolic.models import CouponStatus, PlayStatus
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass
class BrandTally:
    brand_id: str
    budget: int
    issued_counter: int
    coupons_bound: int
    won_results: int
    counters: int = 1
    #: Won codes not yet ISSUED, within the bound after their win.
    awaiting_issue: int = 0
    #: Stranded ordinals returned to the budget (VOID coupons, their codes in the pool).
    returned: int = 0


@dataclass
class ReconcileReport:
    game_id: str
    brands: list[BrandTally] = field(default_factory=list)
    plays: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems

    def render(self) -> str:
        lines = [
            f"reconcile game {self.game_id}: {self.plays} plays "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        ]
        for b in self.brands:
            split = f" over {b.counters} counters" if b.counters > 1 else ""
            lines.append(
                f"  {b.brand_id}: budget {b.budget}{split}, issued counter {b.issued_counter}, "
                f"coupons issued {b.coupons_bound}, won results {b.won_results}, "
                f"awaiting issue {b.awaiting_issue}"
                + (f", returned {b.returned}" if b.returned else "")
            )
        lines += [f"  DRIFT: {p}" for p in self.problems] or ["  clean: no drift"]
        return "\n".join(lines)


#: A coupon a till accepts: its play holds it for good.
_ISSUED = frozenset({CouponStatus.ISSUED.value, CouponStatus.REDEEMED.value})


def reconcile(
    client: DynamoDBClient, settings: Settings, game_id: str, *, now: float | None = None
) -> ReconcileReport:
    report = ReconcileReport(game_id)
    won_codes: dict[str, dict[str, str]] = defaultdict(dict)  # brand -> code -> play
    won_at: dict[str, float] = {}  # play -> when it was decided
    overdue_before = (time.time() if now is None else now) - settings.coupon_issue_bound_seconds
    for item in _results_of(client, settings, game_id):
        report.plays += 1
        report.statuses[item["status"]] += 1
        coupons = item.get("coupons") or []
        won_at[item["playId"]] = float(item.get("decidedAt", 0.0))
        if item["status"] == PlayStatus.WON.value and not coupons:
            report.problems.append(f"play {item['playId']} is won without a coupon")
        if item["status"] != PlayStatus.WON.value and coupons:
            report.problems.append(f"play {item['playId']} is {item['status']} with coupons")
        for grant in coupons:
            holder = won_codes[grant["brandId"]].setdefault(grant["code"], item["playId"])
            if holder != item["playId"]:
                report.problems.append(
                    f"one {grant['brandId']} coupon is in two results: {holder}, {item['playId']}"
                )
    for budget in read_game_budgets(client, settings.state_table, game_id):
        every_coupon = _pool(client, settings, budget)
        pool = {c.code: c for c in every_coupon if c.status != CouponStatus.VOID.value}
        codes = won_codes.get(budget.brand_id, {})
        unissued = _unissued(pool, codes)
        overdue = [play for play in unissued if won_at[play] < overdue_before]
        tally = BrandTally(
            brand_id=budget.brand_id,
            budget=budget.budget,
            issued_counter=budget.issued,
            coupons_bound=sum(1 for c in pool.values() if c.status in _ISSUED),
            won_results=len(codes),
            counters=len(budget.counters),
            awaiting_issue=len(unissued) - len(overdue),
            returned=sum(c.voided for c in budget.counters),
        )
        report.brands.append(tally)
        report.problems.extend(
            f"{budget.brand_id}: play {play} won a coupon still not issued "
            f"{settings.coupon_issue_bound_seconds:g} s after the win (deliver and the "
            "sweeper both failed to issue it)"
            for play in overdue
        )
        _compare(report, tally, budget, pool, codes)
        _compare_counters(report, budget, pool, codes)
        _compare_voided(report, budget, every_coupon, pool)
    return report


@dataclass(frozen=True, slots=True)
class _Coupon:
    code: str
    status: str
    play_id: str
    sub: int
    ordinal: int


def _unissued(pool: dict[str, _Coupon], won: dict[str, str]) -> list[str]:
    """Plays whose won code is still to be issued to them: AVAILABLE, or RESERVED for
    them (a code held for another play is a problem of its own, see `_compare`)."""
    plays = []
    for code, play_id in won.items():
        held = pool.get(code)
        if held is None or held.status in _ISSUED:
            continue
        if held.status == CouponStatus.AVAILABLE.value or held.play_id == play_id:
            plays.append(play_id)
    return plays


def _compare(
    report: ReconcileReport,
    tally: BrandTally,
    budget: StoredBudget,
    pool: dict[str, _Coupon],
    won: dict[str, str],
) -> None:
    brand = tally.brand_id
    if tally.issued_counter != tally.won_results:
        report.problems.append(
            f"{brand}: issued counter {tally.issued_counter} and won results "
            f"{tally.won_results} disagree"
        )
    if tally.issued_counter > tally.budget:
        report.problems.append(f"{brand}: issued {tally.issued_counter} over budget {tally.budget}")
    for code, coupon in pool.items():
        if coupon.status != CouponStatus.AVAILABLE.value and won.get(code) != coupon.play_id:
            report.problems.append(
                f"{brand}: a coupon issued to {coupon.play_id} is not in its result"
            )
    leased = {c.sub: c.leased for c in budget.counters}  # ordinals, voided ones included
    for code, play_id in won.items():
        held = pool.get(code)
        if held is None or held.ordinal > leased.get(held.sub, 0):
            report.problems.append(f"{brand}: play {play_id} holds a coupon never leased")
        elif held.status != CouponStatus.AVAILABLE.value and held.play_id != play_id:
            report.problems.append(f"{brand}: play {play_id} holds a coupon issued to another")


def _results_of(client: DynamoDBClient, settings: Settings, game_id: str) -> list[dict[str, Any]]:
    """Every result of the game; a scan, which is fine for an operator's check."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": settings.results_table,
        "FilterExpression": "gameId = :game",
        "ExpressionAttributeValues": {":game": {"S": game_id}},
        "ConsistentRead": True,
    }
    while True:
        page = client.scan(**kwargs)
        items.extend(codec.load(raw) for raw in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _compare_counters(
    report: ReconcileReport,
    budget: StoredBudget,
    pool: dict[str, _Coupon],
    won: dict[str, str],
) -> None:
    brand = budget.brand_id
    for sub in budget.missing:
        report.problems.append(f"{brand}: counter {sub} is missing")
    if sum(budget.shares) != budget.budget:
        report.problems.append(
            f"{brand}: the counters' shares sum to {sum(budget.shares)}, not {budget.budget}"
        )
    per_counter = Counter(pool[code].sub for code in won if code in pool)
    for counter in budget.counters:
        if counter.issued > counter.share:
            report.problems.append(
                f"{brand}: counter {counter.sub} issued {counter.issued} over its share "
                f"{counter.share}"
            )
        held = per_counter[counter.sub]
        if held < counter.issued:
            report.problems.append(
                f"{brand}: counter {counter.sub} leased {counter.issued - held} ordinals that "
                "no result holds (stranded by a crash between a lease and its results)"
            )
        elif held > counter.issued:
            report.problems.append(
                f"{brand}: counter {counter.sub} counts {counter.issued} but "
                f"{held} of its coupons are won"
            )


def _compare_voided(
    report: ReconcileReport,
    budget: StoredBudget,
    every_coupon: list[_Coupon],
    live: dict[str, _Coupon],
) -> None:
    """Each counter holds exactly `voided` VOID coupons, all among the ordinals it has
    leased, and each VOID code lives on at a later ordinal of the same counter."""
    brand = budget.brand_id
    voids = [c for c in every_coupon if c.status == CouponStatus.VOID.value]
    per_counter = Counter(c.sub for c in voids)
    for counter in budget.counters:
        if per_counter[counter.sub] != counter.voided:
            report.problems.append(
                f"{brand}: counter {counter.sub} counts {counter.voided} voided ordinals but "
                f"{per_counter[counter.sub]} of its coupons are VOID"
            )
    leased = {c.sub: c.leased for c in budget.counters}
    for void in voids:
        again = live.get(void.code)
        if void.ordinal > leased.get(void.sub, 0):
            report.problems.append(
                f"{brand}: counter {void.sub} voided ordinal {void.ordinal}, never leased"
            )
        if again is None or again.sub != void.sub or again.ordinal <= void.ordinal:
            report.problems.append(
                f"{brand}: the code of voided ordinal {void.ordinal} of counter {void.sub} "
                "is not back in its pool"
            )


def _pool(client: DynamoDBClient, settings: Settings, budget: StoredBudget) -> list[_Coupon]:
    """Every coupon of the brand's pools, VOID ones included (their codes are twice)."""
    keys = [
        codec.dump(coupon_key(budget.game_id, budget.brand_id, n, counter.sub))
        for counter in budget.counters
        for n in range(1, counter.ordinals + 1)
    ]
    return [
        _Coupon(
            str(item["code"]),
            str(item.get("status", "")),
            str(item.get("playId", "")),
            int(item.get("sub", 0)),
            int(item.get("ordinal", 0)),
        )
        for item in batch_get(client, settings.state_table, keys)
    ]
