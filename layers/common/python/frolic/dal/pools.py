"""Budgets and coupon pools, written so that the allocator's assumptions always hold.

The allocator binds the coupon whose ordinal is a counter's new issued count, so each
counter's pool must have dense ordinals: codes are added in transactions that write each
coupon, its code index entry (which keeps codes unique across Frolic and makes them
redeemable by code) and the pool size together, all or nothing. A budget change and its
audit entry are one transaction too; the allocator checks `issued < share` against
whatever share is in force when its own transaction lands, so a change mid-game is safe.

A hot game's budget is split over several counters, each with its own share and its own
pool (`frolic.allocation.sub_budgets`). Shares and pools must stay aligned or coupons
would be stranded, so every change of either is planned from one consistent read and
lands only if the budget's `revision` is still the one read: budget changes and uploads
are serialized on the budget item, while the allocator, which only moves `issued`, is
never in their way.

An upload has an id, the client's or one derived from its game, brand and codes, and
each code's index entry keeps the id of the upload that brought it. A code found taken
by the same upload went in on an earlier attempt of that upload (one whose answer was
lost, or whose Lambda died between transactions): it counts as added, not as a
duplicate. So a retried upload gets the answer the upload would have had, and no code
goes in twice.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from frolic.allocation.sub_budgets import DEAL_STEP, next_step, rebalance, split
from frolic.dal import codec
from frolic.dal.batches import backoff, batch_get
from frolic.dal.budgets import StoredBudget, StoredCounter, read_budget
from frolic.dal.catalog import ConflictError
from frolic.dal.errors import ITEM_CONDITION_FAILED, ClientError, cancellation_reasons
from frolic.dal.items import put_new
from frolic.dal.store import StateTableStore
from frolic.dal.tables import audit_key, code_key, counter_key, coupon_key
from frolic.models import CouponStatus

#: Two items per code, the counter and the budget item fit DynamoDB's 100-item transaction.
CODES_PER_TRANSACTION = DEAL_STEP
GENERATED_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at tills
GENERATED_GROUPS = 3
GENERATED_GROUP_LENGTH = 4
#: Optimistic retries when another change landed first (about 4 s of backoff in all).
MAX_CONFLICT_RETRIES = 8
#: Counters per budget: each is one item of a budget change's transaction (≤ 100 items).
MAX_COUNTERS = 64


class NoBudgetError(LookupError):
    """Codes were sent for a game-brand that has no budget yet."""


class UploadConflictError(ConflictError):
    """Another upload to the same pool kept landing first; the client may retry."""


class BudgetConflictError(ConflictError):
    """Other changes to the budget kept landing first; the client may retry."""


class CountersFixedError(ConflictError):
    """A budget's counters can change only while it has neither codes nor coupons out."""

    def __init__(self, counters: int) -> None:
        super().__init__(
            f"this budget is split over {counters} counter(s); that can change only "
            "before any code is uploaded"
        )
        self.counters = counters


class BudgetBelowIssuedError(ConflictError):
    """A budget may be lowered to what is already issued, not below."""

    def __init__(self, issued: int) -> None:
        super().__init__(f"{issued} coupons are already issued; the budget cannot go below that")
        self.issued = issued


@dataclass(frozen=True, slots=True)
class BudgetChange:
    previous: int | None
    budget: int
    issued: int
    counters: int


@dataclass(frozen=True, slots=True)
class PoolAddition:
    added: int
    duplicates: int
    pool_size: int


def generate_codes(count: int) -> list[str]:
    """Unguessable codes (60 bits from `secrets`), grouped for reading: ABCD-EFGH-JKLM."""
    return [
        "-".join(
            "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(GENERATED_GROUP_LENGTH))
            for _ in range(GENERATED_GROUPS)
        )
        for _ in range(count)
    ]


class CouponPools(StateTableStore):
    # -- budgets -------------------------------------------------------------------
    def set_budget(
        self,
        game_id: str,
        brand_id: str,
        budget: int,
        actor: str,
        counters: int | None = None,
    ) -> BudgetChange:
        """Set the budget in force; `counters` splits it for a hot game (default: as it
        is, or one for a new budget)."""
        for attempt in range(MAX_CONFLICT_RETRIES):
            found = read_budget(self._db, self._state, game_id, brand_id)
            shares = _new_shares(found, budget, counters)
            # A new budget: no counters yet, nothing issued, revision 0.
            stored = found or StoredBudget(game_id, brand_id, budget=0, revision=0, counters=())
            previous = found.budget if found is not None else None
            try:
                self._db.transact_write_items(
                    TransactItems=self._budget_items(  # type: ignore[arg-type]
                        game_id=game_id,
                        brand_id=brand_id,
                        budget=budget,
                        shares=shares,
                        stored=stored,
                        previous=previous,
                        actor=actor,
                    )
                )
            except ClientError as error:
                if cancellation_reasons(error) is None:
                    raise
                backoff(attempt)  # issued moved past a new share, or another change landed
                continue
            return BudgetChange(previous, budget, stored.issued, len(shares))
        raise BudgetConflictError("the budget kept changing during this request; try again")

    def _budget_items(
        self,
        *,
        game_id: str,
        brand_id: str,
        budget: int,
        shares: Sequence[int],
        stored: StoredBudget,
        previous: int | None,
        actor: str,
    ) -> list[dict[str, Any]]:
        now = self._clock()
        before = stored.counters
        items = [
            self._counter_update(
                game_id, brand_id, sub, share, before[sub] if sub < len(before) else None
            )
            for sub, share in enumerate(shares)
        ]
        head = items[0]["Update"]
        head["UpdateExpression"] += (
            ", budget = :budget, #counters = :counters, updatedAt = :now, revision = :next"
        )
        head["ConditionExpression"] += f" AND {_REVISION_UNCHANGED}"
        head["ExpressionAttributeNames"] |= {"#counters": "counters"}
        head["ExpressionAttributeValues"] |= codec.dump(
            {
                ":budget": budget,
                ":counters": len(shares),
                ":now": now,
                ":revision": stored.revision,
                ":next": stored.revision + 1,
            }
        )
        # Counters a smaller split no longer uses; only ever empty ones (see _new_shares).
        for sub in range(len(shares), len(before)):
            items.append(
                {
                    "Delete": {
                        "TableName": self._state,
                        "Key": codec.dump(counter_key(game_id, brand_id, sub)),
                        "ConditionExpression": "attribute_not_exists(pk) OR "
                        "(issued = :zero AND poolSize = :zero)",
                        "ExpressionAttributeValues": codec.dump({":zero": 0}),
                    }
                }
            )
        items.append(
            {
                "Put": {
                    "TableName": self._state,
                    "Item": codec.dump(
                        {
                            **audit_key(
                                game_id,
                                int(now * 1000),
                                f"budget:{brand_id}:{secrets.token_hex(4)}",
                            ),
                            "kind": "audit",
                            "action": "set_budget",
                            "brandId": brand_id,
                            "previous": previous,
                            "budget": budget,
                            "counters": len(shares),
                            "issuedAtChange": stored.issued,
                            "actor": actor,
                            "at": now,
                        }
                    ),
                }
            }
        )
        return items

    def _counter_update(
        self, game_id: str, brand_id: str, sub: int, share: int, before: StoredCounter | None
    ) -> dict[str, Any]:
        """A counter's new share, landing only while its issued count is within it and
        its pool is still the size the split was planned for.

        The stored `allotment` is the share plus the counter's voided ordinals (see
        `frolic.dal.budgets`), as is its `issued`, so the comparison holds in coupons.
        Every void also moves `poolSize`, so the pool's condition refuses a change
        planned before a void landed, whose `voided` would be stale."""
        voided = before.voided if before is not None else 0
        return {
            "Update": {
                "TableName": self._state,
                "Key": codec.dump(counter_key(game_id, brand_id, sub)),
                "UpdateExpression": (
                    "SET allotment = :allotment, issued = if_not_exists(issued, :zero), "
                    "poolSize = if_not_exists(poolSize, :zero), "
                    "gameId = :game, brandId = :brand, #sub = :sub"
                ),
                "ConditionExpression": (
                    "(attribute_not_exists(issued) OR issued <= :allotment)"
                    " AND (attribute_not_exists(poolSize) OR poolSize = :pool)"
                ),
                "ExpressionAttributeNames": {"#sub": "sub"},
                "ExpressionAttributeValues": codec.dump(
                    {
                        ":allotment": share + voided,
                        ":zero": 0,
                        ":pool": before.ordinals if before is not None else 0,
                        ":game": game_id,
                        ":brand": brand_id,
                        ":sub": sub,
                    }
                ),
            }
        }

    # -- pools ---------------------------------------------------------------------
    def add_codes(
        self, game_id: str, brand_id: str, codes: Iterable[str], upload_id: str | None = None
    ) -> PoolAddition:
        """Append codes to the pools; codes already known anywhere in Frolic are skipped,
        except those an earlier attempt of this upload (`upload_id`, or one derived from
        the request) put in, which count as added.

        Codes go in transactions of up to `CODES_PER_TRANSACTION`, each to the counter
        that `deal` picks from a fresh read, so concurrent uploads and budget changes
        keep shares and pools aligned.
        """
        seen: set[str] = set()
        unique: list[str] = []
        duplicates = 0
        for code in codes:
            if code in seen:
                duplicates += 1
            else:
                seen.add(code)
                unique.append(code)
        upload = upload_id or derived_upload_id(game_id, brand_id, unique)
        stored = self._budget(game_id, brand_id)
        added = 0
        position = 0  # unique[:position] are written
        while position < len(unique):
            sub, count = next_step(stored.shares, stored.pools, len(unique) - position)
            chunk = unique[position : position + count]
            written, taken, stored = self._append(stored, sub, chunk, upload)
            added += written
            position += written
            if taken:
                ours = self._brought_by(upload, game_id, brand_id, taken)
                added += len(ours)
                duplicates += len(taken) - len(ours)
                unique = unique[:position] + [c for c in unique[position:] if c not in taken]
        return PoolAddition(added, duplicates, stored.pool_size)

    def _brought_by(
        self, upload: str, game_id: str, brand_id: str, codes: Iterable[str]
    ) -> set[str]:
        """Those of these taken codes that this upload put in this pool itself."""
        by_key = {code_key(code)["pk"]: code for code in codes}
        keys = [codec.dump(code_key(code)) for code in by_key.values()]
        return {
            by_key[item["pk"]]
            for item in batch_get(self._db, self._state, keys)
            if (item.get("uploadId"), item.get("gameId"), item.get("brandId"))
            == (upload, game_id, brand_id)
        }

    def _budget(self, game_id: str, brand_id: str) -> StoredBudget:
        stored = read_budget(self._db, self._state, game_id, brand_id)
        if stored is None:
            raise NoBudgetError(f"game {game_id} has no budget for brand {brand_id}")
        if stored.missing:
            # Damage, not a race: retrying cannot help. Setting the budget again repairs it.
            raise RuntimeError(
                f"budget {game_id}/{brand_id} is missing counters {list(stored.missing)}"
            )
        return stored

    def _append(
        self, stored: StoredBudget, sub: int, codes: list[str], upload: str
    ) -> tuple[int, set[str], StoredBudget]:
        """Try one transaction: the codes as counter `sub`'s next ordinals.

        Returns how many went in, the codes found taken elsewhere in Frolic (to skip),
        and the budget as it now is.
        """
        for attempt in range(MAX_CONFLICT_RETRIES):
            try:
                self._db.transact_write_items(
                    TransactItems=self._append_items(stored, sub, codes, upload)
                )
            except ClientError as error:
                reasons = cancellation_reasons(error)
                if reasons is None:
                    raise
                taken = {
                    codes[i // 2]
                    for i, reason in enumerate(reasons[: 2 * len(codes)])
                    if i % 2 == 0 and reason == ITEM_CONDITION_FAILED
                }
                if taken:
                    return 0, taken, stored
                backoff(attempt)  # another upload or budget change landed first
                stored = self._budget(stored.game_id, stored.brand_id)
                sub, count = next_step(stored.shares, stored.pools, len(codes))
                codes = codes[:count]
                continue
            counters = list(stored.counters)
            counters[sub] = replace(counters[sub], ordinals=counters[sub].ordinals + len(codes))
            grown = replace(stored, revision=stored.revision + 1, counters=tuple(counters))
            return len(codes), set(), grown
        raise UploadConflictError("another upload to this pool kept landing first; try again")

    def _append_items(
        self, stored: StoredBudget, sub: int, codes: list[str], upload: str
    ) -> list[Any]:
        game_id, brand_id = stored.game_id, stored.brand_id
        pool_size = stored.counters[sub].ordinals  # voided ordinals stay in the pool
        items: list[dict[str, Any]] = []
        for offset, code in enumerate(codes, start=1):
            ordinal = pool_size + offset
            where = {"gameId": game_id, "brandId": brand_id, "sub": sub, "ordinal": ordinal}
            index = {**code_key(code), "kind": "code", **where, "uploadId": upload}
            items.append(put_new(self._state, index))
            items.append(
                put_new(
                    self._state,
                    {
                        **coupon_key(game_id, brand_id, ordinal, sub),
                        "kind": "coupon",
                        **where,
                        "code": code,
                        "status": CouponStatus.AVAILABLE.value,
                    },
                )
            )
        grow = {
            "UpdateExpression": "SET poolSize = :new",
            "ConditionExpression": "poolSize = :old",
            "ExpressionAttributeValues": {":old": pool_size, ":new": pool_size + len(codes)},
        }
        revision = stored.revision
        revise = {
            "UpdateExpression": "SET revision = :next",
            "ConditionExpression": _REVISION_UNCHANGED,
            "ExpressionAttributeValues": {":revision": revision, ":next": revision + 1},
        }
        # The budget item is counter 0: then one update does both.
        updates = [_merge(grow, revise)] if sub == 0 else [grow, revise]
        for sub_of, update in zip((sub, 0), updates, strict=False):
            values = codec.dump(update.pop("ExpressionAttributeValues"))
            key = codec.dump(counter_key(game_id, brand_id, sub_of))
            items.append(
                {
                    "Update": {
                        "TableName": self._state,
                        "Key": key,
                        "ExpressionAttributeValues": values,
                        **update,
                    }
                }
            )
        return items


def derived_upload_id(game_id: str, brand_id: str, codes: Iterable[str]) -> str:
    """The id of an upload whose client gave none: the same request, the same id."""
    request = "\n".join([game_id, brand_id, *codes])
    return "sha256:" + hashlib.sha256(request.encode()).hexdigest()[:40]


def _new_shares(stored: StoredBudget | None, budget: int, counters: int | None) -> list[int]:
    """The counters' shares of `budget`: an even split for a new or still empty budget,
    else a rebalance that keeps issued counts and the alignment with the pools."""
    if counters is not None and not 1 <= counters <= MAX_COUNTERS:
        raise ValueError(f"a budget has 1 to {MAX_COUNTERS} counters")
    if stored is None:
        return split(budget, counters or 1)
    if budget < stored.issued:
        raise BudgetBelowIssuedError(stored.issued)
    if counters is not None and counters != len(stored.counters):
        if stored.issued or stored.pool_size:
            raise CountersFixedError(len(stored.counters))
        return split(budget, counters)
    return rebalance(budget, [c.issued for c in stored.counters], stored.pools)


#: The budget item's revision is the one the change was planned from (0: none yet).
_REVISION_UNCHANGED = "(attribute_not_exists(revision) OR revision = :revision)"


def _merge(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    return {
        "UpdateExpression": first["UpdateExpression"]
        + ", "
        + second["UpdateExpression"].removeprefix("SET "),
        "ConditionExpression": f"{first['ConditionExpression']} AND "
        f"{second['ConditionExpression']}",
        "ExpressionAttributeValues": first["ExpressionAttributeValues"]
        | second["ExpressionAttributeValues"],
    }
