"""Returning stranded lease ordinals to their budget.

A batch leases ordinals with one ADD on a counter, reads their codes, then writes its won
results (frolic.allocation.claims). A Lambda that dies, or is held up past its plays'
deadline, in between leaves ordinals that the counter counts and no result holds: nothing
is overspent or bound twice, but those coupons are lost to the budget. The sweeper runs
`StrandedLeases.repair` about once a minute for each live or recently ended game to give
them back.

**Finding them without scanning results.** Per counter, a sweep item (`sweep_key`) keeps
`checkedThrough`, the last ordinal looked at, and `suspects`: ordinals whose coupon was
still AVAILABLE when looked at, each with when it was first seen so. A run reads, in
BatchGetItem calls, the coupons of the ordinals leased since `checkedThrough` and of the
suspects. A coupon ISSUED, RESERVED, REDEEMED or VOID is settled; one still AVAILABLE is,
or stays, a suspect. Nearly every suspect is a coupon whose result is on its way to
delivery, and the next run finds it settled.

**When a suspect may be voided.** A won result lands only while its play is pending, and
every play is final by its deadline, `expiry_seconds` after it arrived, give or take
`finality_margin_seconds` (the expiry watcher's lag, the sweeper as its backstop). The
lease came after its play arrived and before the ordinal was first seen, so
`stranded_after_seconds` after that no result can still take the code: only a result
already written may hold it, not yet delivered. Delivery, or the sweeper's issuing step,
moves such a coupon to ISSUED, and the caller says up to when that is done
(`won_issued_through`). A suspect is voided only once both instants are past, and the void
itself holds only while the coupon is still AVAILABLE, so a coupon that a won result
holds is never voided. (The results table has no index by code, so checking each code
against the game's results would cost a scan; the ordering is the cheap guarantee.)

**Voiding returns the coupon.** One transaction per ordinal: the coupon becomes VOID; its
code becomes a new coupon at the end of the counter's pool and the code index points
there; the counter's `poolSize`, `allotment` and `voided` each go up by one, only while
`poolSize` is still the one read (an upload or another void landed first: read it again
and retry; at worst the next run does it). Net of `voided` (frolic.dal.budgets) the
counter's issued count drops by one while its share and pool stay, so the allocator can
win the same code again, and the marketer's numbers do not move.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from frolic.dal import codec
from frolic.dal.batches import backoff, batch_get
from frolic.dal.budgets import StoredCounter, read_game_budgets
from frolic.dal.errors import ITEM_CONDITION_FAILED, ClientError, cancellation_reasons, written
from frolic.dal.store import StateTableStore
from frolic.dal.tables import (
    TTL_ATTRIBUTE,
    code_key,
    counter_key,
    coupon_key,
    sweep_key,
    won_minute_attribute,
)
from frolic.models import CouponStatus
from frolic.observability import logger, metrics

if TYPE_CHECKING:
    pass

#: Newly leased ordinals one run reads per counter at most; the next run goes on.
CHECKS_PER_RUN = 2_000
#: Suspects one sweep item keeps at most, so it stays far below DynamoDB's 400 KB. Past
#: that (delivery down for long on a busy game) the sweep waits for suspects to settle.
MAX_SUSPECTS = 5_000
#: Tries of one void while uploads or other voids keep moving the pool first.
VOID_ATTEMPTS = 3
#: Sweep items outlive their game for as long as its results do.
SWEEP_RETENTION_SECONDS = 90 * 24 * 3600

# The order of a void's transaction items, to read its cancellation reasons.
_COUPON, _RETURNED, _INDEX, _COUNTER = range(4)


@dataclass(frozen=True, slots=True)
class CounterSweep:
    """The sweeper's notes on one counter: ordinals up to `checked_through` were looked at,
    and `suspects` (ordinal → when first seen) were still AVAILABLE then."""

    checked_through: int = 0
    suspects: Mapping[int, float] = field(default_factory=dict)
    version: int = 0

    def to_check(self, leased: int) -> tuple[list[int], int]:
        """The ordinals a run reads (suspects first) and how far it gets with new ones."""
        room = max(0, min(CHECKS_PER_RUN, MAX_SUSPECTS - len(self.suspects)))
        through = max(self.checked_through, min(leased, self.checked_through + room))
        fresh = range(self.checked_through + 1, through + 1)
        return sorted(self.suspects) + list(fresh), through

    def seen(self, available: Sequence[int], through: int, now: float) -> CounterSweep:
        """After a run: the ordinals found AVAILABLE are the suspects, each keeping the
        time it was first seen so."""
        suspects = {n: self.suspects.get(n, now) for n in available}
        return CounterSweep(through, suspects, self.version)

    def due(self, void_before: float) -> list[int]:
        """Suspects first seen at or before `void_before`."""
        return sorted(n for n, first in self.suspects.items() if first <= void_before)


class _Void(Enum):
    RETURNED = "returned"
    SETTLED = "settled"  # no longer AVAILABLE: a result took it, or another run voided it
    KEPT = "kept"  # the pool kept moving, or the code index disagrees: next run


@dataclass(frozen=True, slots=True)
class _Coupon:
    ordinal: int
    code: str
    status: str


class StrandedLeases(StateTableStore):
    def repair(self, game_id: str, *, game_start: float, won_issued_through: float) -> int:
        """Return the game's stranded ordinals to their budgets; the coupons returned.
        Each void comes off the report's tally for the minute of the game (from
        `game_start`) it lands in, as the counter's issued count does.

        Precondition: every won result of the game that became final before
        `won_issued_through` has had its coupons issued (delivery did, or the sweeper's
        issuing step, run just before this one). A sweeper that issues every won result
        it finds undelivered and then calls this passes the instant its issuing step
        started. Passing a later instant could void a coupon a won result still holds.
        """
        now = self._clock()
        void_before = min(now, won_issued_through) - self._settings.stranded_after_seconds
        counters = [
            (budget.brand_id, counter)
            for budget in read_game_budgets(self._db, self._state, game_id)
            for counter in budget.counters
        ]
        sweeps = self._read_sweeps(game_id, [(b, c.sub) for b, c in counters])
        plans = {
            (brand_id, counter.sub): sweeps[(brand_id, counter.sub)].to_check(counter.leased)
            for brand_id, counter in counters
        }
        coupons = self._read_coupons(game_id, plans)
        returned = 0
        for brand_id, counter in counters:
            where = (brand_id, counter.sub)
            checked, through = plans[where]
            found = coupons.get(where, {})
            available = [n for n in checked if self._available(game_id, where, found.get(n))]
            before = sweeps[where]
            after = before.seen(available, through, now)
            voided = self._void_due(
                game_id,
                brand_id,
                counter,
                sweep=after,
                coupons=found,
                void_before=void_before,
                game_start=game_start,
            )
            suspects = {n: t for n, t in after.suspects.items() if n not in voided}
            after = CounterSweep(after.checked_through, suspects, after.version)
            returned += sum(1 for outcome in voided.values() if outcome is _Void.RETURNED)
            if after != before:
                self._save_sweep(game_id, where, after, now)
        if returned:
            metrics.add_metric(name="CouponsReturned", unit=MetricUnit.Count, value=returned)
        return returned

    # -- reads -----------------------------------------------------------------------
    def _read_sweeps(
        self, game_id: str, counters: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], CounterSweep]:
        keys = {sweep_key(game_id, brand, sub)["pk"]: (brand, sub) for brand, sub in counters}
        found = batch_get(
            self._db, self._state, [codec.dump(sweep_key(game_id, b, s)) for b, s in counters]
        )
        sweeps = {where: CounterSweep() for where in counters}
        for item in found:
            sweeps[keys[item["pk"]]] = CounterSweep(
                checked_through=int(item.get("checkedThrough", 0)),
                suspects={int(n): float(t) for n, t in (item.get("suspects") or {}).items()},
                version=int(item.get("version", 0)),
            )
        return sweeps

    def _read_coupons(
        self, game_id: str, plans: Mapping[tuple[str, int], tuple[list[int], int]]
    ) -> dict[tuple[str, int], dict[int, _Coupon]]:
        keys = [
            codec.dump(coupon_key(game_id, brand, ordinal, sub))
            for (brand, sub), (ordinals, _) in plans.items()
            for ordinal in ordinals
        ]
        coupons: dict[tuple[str, int], dict[int, _Coupon]] = {where: {} for where in plans}
        for item in batch_get(self._db, self._state, keys):
            where = (str(item["brandId"]), int(item.get("sub", 0)))
            ordinal = int(item["ordinal"])
            coupons[where][ordinal] = _Coupon(ordinal, str(item["code"]), str(item["status"]))
        return coupons

    @staticmethod
    def _available(game_id: str, where: tuple[str, int], coupon: _Coupon | None) -> bool:
        if coupon is None:
            # A counter leases only ordinals its pool has: the data was changed by hand.
            logger.error(
                "a leased ordinal has no coupon", game_id=game_id, brand_id=where[0], sub=where[1]
            )
            return False
        return coupon.status == CouponStatus.AVAILABLE.value

    # -- writes ----------------------------------------------------------------------
    def _void_due(
        self,
        game_id: str,
        brand_id: str,
        counter: StoredCounter,
        *,
        sweep: CounterSweep,
        coupons: Mapping[int, _Coupon],
        void_before: float,
        game_start: float,
    ) -> dict[int, _Void]:
        """Void the suspects due; what became of each (kept ones are not listed)."""
        outcomes: dict[int, _Void] = {}
        pool = counter.ordinals
        for ordinal in sweep.due(void_before):
            outcome, pool = self._void(
                game_id, brand_id, counter.sub, coupons[ordinal], pool, game_start=game_start
            )
            if outcome is not _Void.KEPT:
                outcomes[ordinal] = outcome
        returned = sum(1 for o in outcomes.values() if o is _Void.RETURNED)
        if returned:
            logger.info(
                "stranded coupons returned to the budget",
                game_id=game_id,
                brand_id=brand_id,
                sub=counter.sub,
                returned=returned,
            )
        return outcomes

    def _void(
        self,
        game_id: str,
        brand_id: str,
        sub: int,
        coupon: _Coupon,
        pool: int,
        *,
        game_start: float,
    ) -> tuple[_Void, int]:
        """One void; its outcome and the pool's last ordinal as it now stands."""
        for attempt in range(VOID_ATTEMPTS):
            try:
                self._db.transact_write_items(
                    TransactItems=self._void_items(
                        game_id, brand_id, sub, coupon, pool, game_start=game_start
                    )
                )
            except ClientError as error:
                reasons = cancellation_reasons(error)
                if reasons is None:
                    raise
                if _failed(reasons, _COUPON):
                    return _Void.SETTLED, pool
                if _failed(reasons, _INDEX):
                    logger.error(
                        "a stranded coupon's code index points elsewhere; not voided",
                        game_id=game_id,
                        brand_id=brand_id,
                        sub=sub,
                        ordinal=coupon.ordinal,
                    )
                    metrics.add_metric(name="CouponVoidAnomaly", unit=MetricUnit.Count, value=1)
                    return _Void.KEPT, pool
                # An upload or another void moved the pool first (or a transaction
                # conflict): read where the pool ends now and try again.
                backoff(attempt)
                pool = self._pool_end(game_id, brand_id, sub)
                continue
            return _Void.RETURNED, pool + 1
        return _Void.KEPT, pool

    def _void_items(
        self,
        game_id: str,
        brand_id: str,
        sub: int,
        coupon: _Coupon,
        pool: int,
        *,
        game_start: float,
    ) -> list[Any]:
        now = self._clock()
        again = pool + 1
        where = {"gameId": game_id, "brandId": brand_id, "sub": sub}
        stranded = {
            "Update": {
                "TableName": self._state,
                "Key": codec.dump(coupon_key(game_id, brand_id, coupon.ordinal, sub)),
                "UpdateExpression": "SET #status = :void, voidedAt = :now, returnedTo = :again",
                "ConditionExpression": "#status = :available AND code = :code",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": codec.dump(
                    {
                        ":void": CouponStatus.VOID.value,
                        ":available": CouponStatus.AVAILABLE.value,
                        ":code": coupon.code,
                        ":now": now,
                        ":again": again,
                    }
                ),
            }
        }
        returned = {
            "Put": {
                "TableName": self._state,
                "Item": codec.dump(
                    {
                        **coupon_key(game_id, brand_id, again, sub),
                        "kind": "coupon",
                        **where,
                        "ordinal": again,
                        "code": coupon.code,
                        "status": CouponStatus.AVAILABLE.value,
                        "returnedFrom": coupon.ordinal,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        index = {
            "Update": {
                "TableName": self._state,
                "Key": codec.dump(code_key(coupon.code)),
                "UpdateExpression": "SET ordinal = :again",
                "ConditionExpression": (
                    "gameId = :game AND brandId = :brand AND #sub = :sub AND ordinal = :stranded"
                ),
                "ExpressionAttributeNames": {"#sub": "sub"},
                "ExpressionAttributeValues": codec.dump(
                    {
                        ":again": again,
                        ":game": game_id,
                        ":brand": brand_id,
                        ":sub": sub,
                        ":stranded": coupon.ordinal,
                    }
                ),
            }
        }
        grown = {
            "Update": {
                "TableName": self._state,
                "Key": codec.dump(counter_key(game_id, brand_id, sub)),
                "UpdateExpression": (
                    "ADD poolSize :one, allotment :one, voided :one, #won :returned"
                ),
                "ConditionExpression": "poolSize = :pool",
                "ExpressionAttributeNames": {"#won": won_minute_attribute(game_start, now)},
                "ExpressionAttributeValues": codec.dump(
                    {":one": 1, ":returned": -1, ":pool": pool}
                ),
            }
        }
        return [stranded, returned, index, grown]  # in the order _COUPON.._COUNTER name

    def _pool_end(self, game_id: str, brand_id: str, sub: int) -> int:
        response = self._db.get_item(
            TableName=self._state,
            Key=codec.dump(counter_key(game_id, brand_id, sub)),
            ConsistentRead=True,
        )
        return int(codec.load(response.get("Item") or {}).get("poolSize", 0))

    def _save_sweep(
        self, game_id: str, where: tuple[str, int], sweep: CounterSweep, now: float
    ) -> None:
        """Written over the notes this run read; if another run saved first, its notes
        stand (anything it no longer suspects it saw settled)."""
        brand_id, sub = where
        item = {
            **sweep_key(game_id, brand_id, sub),
            "kind": "sweep",
            "checkedThrough": sweep.checked_through,
            "suspects": {str(n): first for n, first in sweep.suspects.items()},
            "version": sweep.version + 1,
            TTL_ATTRIBUTE: int(now) + SWEEP_RETENTION_SECONDS,
        }
        guard: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        if sweep.version:
            guard = {
                "ConditionExpression": "version = :read",
                "ExpressionAttributeValues": codec.dump({":read": sweep.version}),
            }
        written(lambda: self._db.put_item(TableName=self._state, Item=codec.dump(item), **guard))


def _failed(reasons: Sequence[str], index: int) -> bool:
    return index < len(reasons) and reasons[index] == ITEM_CONDITION_FAILED
