"""Budgets and coupon pools, written so that the allocator's assumptions always hold.

The allocator binds the coupon whose ordinal is the new issued count, so a pool's
ordinals must be dense: codes are added in transactions that write each coupon, its
code index entry (which keeps codes unique across Frolic and makes them redeemable by
code) and the pool size together, all or nothing. A budget change and its audit entry
are one transaction too; the allocator checks `issued < budget` against whatever budget
is in force when its own transaction lands, so a change mid-game is safe.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from frolic.dal import codec
from frolic.dal.tables import audit_key, budget_key, code_key, coupon_key
from frolic.models import CouponStatus
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: Two items per code plus the pool counter must fit DynamoDB's 100-item transaction.
CODES_PER_TRANSACTION = 49
GENERATED_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at tills
GENERATED_GROUPS = 3
GENERATED_GROUP_LENGTH = 4
MAX_CONFLICT_RETRIES = 20


class NoBudgetError(LookupError):
    """Codes were sent for a game-brand that has no budget yet."""


class UploadConflictError(RuntimeError):
    """Another upload to the same pool kept landing first; the client may retry."""


class BudgetBelowIssuedError(ValueError):
    """A budget may be lowered to what is already issued, not below."""

    def __init__(self, issued: int) -> None:
        super().__init__(f"{issued} coupons are already issued; the budget cannot go below that")
        self.issued = issued


@dataclass(frozen=True, slots=True)
class BudgetChange:
    previous: int | None
    budget: int
    issued: int


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


class CouponPools:
    def __init__(
        self, client: DynamoDBClient, settings: Settings, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = client
        self._state = settings.state_table
        self._clock = clock

    def set_budget(self, game_id: str, brand_id: str, budget: int, actor: str) -> BudgetChange:
        key = budget_key(game_id, brand_id)
        current = self._db.get_item(TableName=self._state, Key=codec.dump(key), ConsistentRead=True)
        before = codec.load(current.get("Item", {}))
        previous = before.get("budget")
        issued = int(before.get("issued", 0))
        if budget < issued:
            raise BudgetBelowIssuedError(issued)
        now = self._clock()
        try:
            self._transact_budget(
                key=key,
                game_id=game_id,
                brand_id=brand_id,
                budget=budget,
                previous=previous,
                before=before,
                actor=actor,
                now=now,
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            # Issued moved past the new budget, or another change landed: read again.
            return self.set_budget(game_id, brand_id, budget, actor)
        return BudgetChange(previous, budget, issued)

    def _transact_budget(
        self,
        *,
        key: dict[str, str],
        game_id: str,
        brand_id: str,
        budget: int,
        previous: Any,
        before: dict[str, Any],
        actor: str,
        now: float,
    ) -> None:
        self._db.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self._state,
                        "Key": codec.dump(key),
                        "UpdateExpression": (
                            "SET budget = :budget, updatedAt = :now, "
                            "issued = if_not_exists(issued, :zero), "
                            "poolSize = if_not_exists(poolSize, :zero), "
                            "gameId = :game, brandId = :brand"
                        ),
                        "ConditionExpression": (
                            "(attribute_not_exists(budget) OR budget = :previous)"
                            " AND (attribute_not_exists(issued) OR issued <= :budget)"
                        ),
                        "ExpressionAttributeValues": codec.dump(
                            {
                                ":budget": budget,
                                ":now": now,
                                ":zero": 0,
                                ":game": game_id,
                                ":brand": brand_id,
                                ":previous": previous if previous is not None else -1,
                            }
                        ),
                    }
                },
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
                                "issuedAtChange": before.get("issued", 0),
                                "actor": actor,
                                "at": now,
                            }
                        ),
                    }
                },
            ]
        )

    def add_codes(self, game_id: str, brand_id: str, codes: Iterable[str]) -> PoolAddition:
        """Append codes to the pool; codes already known anywhere in Frolic are skipped."""
        seen: set[str] = set()
        unique: list[str] = []
        duplicates = 0
        for code in codes:
            if code in seen:
                duplicates += 1
            else:
                seen.add(code)
                unique.append(code)
        added = 0
        pool_size = self._pool_size(game_id, brand_id)
        for start in range(0, len(unique), CODES_PER_TRANSACTION):
            chunk = unique[start : start + CODES_PER_TRANSACTION]
            written, skipped, pool_size = self._append(game_id, brand_id, chunk, pool_size)
            added += written
            duplicates += skipped
        return PoolAddition(added, duplicates, pool_size)

    def _pool_size(self, game_id: str, brand_id: str) -> int:
        response = self._db.get_item(
            TableName=self._state,
            Key=codec.dump(budget_key(game_id, brand_id)),
            ConsistentRead=True,
        )
        item = codec.load(response.get("Item", {}))
        if "budget" not in item:
            raise NoBudgetError(f"game {game_id} has no budget for brand {brand_id}")
        return int(item.get("poolSize", 0))

    def _append(
        self, game_id: str, brand_id: str, codes: list[str], pool_size: int
    ) -> tuple[int, int, int]:
        """One transaction: the codes as ordinals pool_size+1.., and the new pool size."""
        skipped = 0
        for _ in range(MAX_CONFLICT_RETRIES):
            if not codes:
                return 0, skipped, pool_size
            try:
                self._db.transact_write_items(
                    TransactItems=self._append_items(game_id, brand_id, codes, pool_size)
                )
                return len(codes), skipped, pool_size + len(codes)
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = error.response.get("CancellationReasons", [])
                taken = {
                    codes[i // 2]
                    for i, reason in enumerate(reasons[:-1])
                    if i % 2 == 0 and reason.get("Code") == "ConditionalCheckFailed"
                }
                if taken:
                    skipped += len(taken)
                    codes = [c for c in codes if c not in taken]
                else:
                    pool_size = self._pool_size(game_id, brand_id)
        raise UploadConflictError("another upload to this pool kept landing first; try again")

    def _append_items(self, game_id: str, brand_id: str, codes: list[str], pool_size: int) -> Any:
        items: list[dict[str, Any]] = []
        for offset, code in enumerate(codes, start=1):
            ordinal = pool_size + offset
            where = {"gameId": game_id, "brandId": brand_id, "ordinal": ordinal}
            items.append(_put_new(self._state, {**code_key(code), "kind": "code", **where}))
            items.append(
                _put_new(
                    self._state,
                    {
                        **coupon_key(game_id, brand_id, ordinal),
                        "kind": "coupon",
                        **where,
                        "code": code,
                        "status": CouponStatus.AVAILABLE.value,
                    },
                )
            )
        items.append(
            {
                "Update": {
                    "TableName": self._state,
                    "Key": codec.dump(budget_key(game_id, brand_id)),
                    "UpdateExpression": "SET poolSize = :new",
                    "ConditionExpression": "poolSize = :old",
                    "ExpressionAttributeValues": codec.dump(
                        {":old": pool_size, ":new": pool_size + len(codes)}
                    ),
                }
            }
        )
        return items


def _put_new(table: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table,
            "Item": codec.dump(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
