"""Reading a game-brand budget and its counters as one thing.

A budget is stored as its head item (`budget_key`: the marketer's `budget`, how many
`counters` share it, a `revision` that every change of shares or pools moves, and
counter 0's own `allotment` (its share), `issued` and `poolSize`) plus, for a hot game,
counters 1..K-1 on partitions of their own (`counter_key`). Everyone who needs totals —
the allocator, the report, reconcile, the admin routes — reads them here, so nobody
mistakes counter 0 for the whole budget.

A counter's stored numbers count ordinals, and an ordinal returned to the budget after
a crash stranded it (`frolic.dal.stranded`) stays counted: its coupon is VOID and its
code comes back at a new ordinal, raising `allotment` and `poolSize` by one and
`voided` by one. So everyone reads the counter net of `voided` (`share`, `issued`,
`pool_size`: real coupons, the marketer's numbers), and only the DAL code that writes
ordinals uses the stored ones (`allotment`, `leased`, `ordinals`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from frolic.auth import in_scope
from frolic.dal import codec
from frolic.dal.batches import batch_get, query_partition
from frolic.dal.tables import (
    BUDGET_PREFIX,
    GAME_PREFIX,
    WON_MINUTE_PREFIX,
    budget_key,
    counter_key,
    game_key,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass(frozen=True, slots=True)
class StoredCounter:
    """A counter as stored (ordinals) and, in its properties, in real coupons."""

    sub: int
    #: The stored `allotment`: the share plus the ordinals voided.
    allotment: int
    #: The stored `issued`: ordinals leased, voided ones included.
    leased: int
    #: The stored `poolSize`: the last ordinal of the pool, voided ones included.
    ordinals: int
    #: Leased ordinals returned to the budget: their coupons are VOID, their codes are
    #: in the pool again at later ordinals.
    voided: int = 0
    #: Per minute of the game: what the leases took, net of what voids returned, written
    #: by the same updates as `leased` and `voided`, so they always add up to `issued`.
    won_by_minute: Mapping[int, int] = field(default_factory=dict)

    @property
    def share(self) -> int:
        """The marketer's share of the budget for this counter."""
        return self.allotment - self.voided

    @property
    def issued(self) -> int:
        """Coupons really given (or on their way to a won play, or stranded)."""
        return self.leased - self.voided

    @property
    def pool_size(self) -> int:
        """Codes in the pool: each voided ordinal's code is also at a later ordinal."""
        return self.ordinals - self.voided

    @property
    def usable(self) -> int:
        """What this counter can still hand out in all: its share, as far as codes go."""
        return min(self.share, self.pool_size)


@dataclass(frozen=True, slots=True)
class StoredBudget:
    game_id: str
    brand_id: str
    budget: int
    revision: int
    counters: tuple[StoredCounter, ...]
    #: Counters whose item is missing although the head counts them (reconcile says so).
    missing: tuple[int, ...] = ()

    @property
    def issued(self) -> int:
        return sum(c.issued for c in self.counters)

    @property
    def pool_size(self) -> int:
        return sum(c.pool_size for c in self.counters)

    @property
    def usable(self) -> int:
        return sum(c.usable for c in self.counters)

    @property
    def shares(self) -> list[int]:
        return [c.share for c in self.counters]

    @property
    def pools(self) -> list[int]:
        return [c.pool_size for c in self.counters]


def read_budget(
    client: DynamoDBClient, table: str, game_id: str, brand_id: str
) -> StoredBudget | None:
    """One budget, strongly consistent; None when the game-brand has none."""
    response = client.get_item(
        TableName=table, Key=codec.dump(budget_key(game_id, brand_id)), ConsistentRead=True
    )
    raw = response.get("Item")
    if raw is None:
        return None
    return _with_counters(client, table, [codec.load(raw)])[0]


def read_game_budgets(
    client: DynamoDBClient, table: str, game_id: str, brands: Collection[str] | None = None
) -> list[StoredBudget]:
    """Every budget of a game, by brand (`brands`: those alone, and only their counters
    read): one Query, plus one batch read for hot games."""
    heads = [
        head
        for head in query_partition(client, table, game_key(game_id)["pk"], BUDGET_PREFIX)
        if in_scope(brands, _brand_of(head))
    ]
    return sorted(_with_counters(client, table, heads), key=lambda b: b.brand_id)


def game_brand_ids(client: DynamoDBClient, table: str, game_id: str) -> list[str]:
    """The brands a game has a budget above zero for, for the public game list: only
    the heads' keys and budgets, eventually consistent (half the read units, and the
    heads, which every lease writes, are never read whole)."""
    heads = query_partition(
        client,
        table,
        game_key(game_id)["pk"],
        BUDGET_PREFIX,
        attributes=("sk", "budget"),
        consistent=False,
    )
    return sorted(_brand_of(head) for head in heads if int(head.get("budget", 0)) > 0)


def _with_counters(
    client: DynamoDBClient, table: str, heads: list[dict[str, Any]]
) -> list[StoredBudget]:
    wanted = [
        codec.dump(counter_key(_game_of(head), _brand_of(head), sub))
        for head in heads
        for sub in range(1, int(head.get("counters", 1)))
    ]
    others = {(item["pk"], item["sk"]): item for item in batch_get(client, table, wanted)}
    budgets = []
    for head in heads:
        game_id, brand_id = _game_of(head), _brand_of(head)
        counters = [_counter(0, head)]
        missing = []
        for sub in range(1, int(head.get("counters", 1))):
            key = counter_key(game_id, brand_id, sub)
            item = others.get((key["pk"], key["sk"]))
            if item is None:
                missing.append(sub)
            counters.append(_counter(sub, item or {}))
        budgets.append(
            StoredBudget(
                game_id=game_id,
                brand_id=brand_id,
                budget=int(head.get("budget", 0)),
                revision=int(head.get("revision", 0)),
                counters=tuple(counters),
                missing=tuple(missing),
            )
        )
    return budgets


def _game_of(head: dict[str, Any]) -> str:
    return str(head["pk"])[len(GAME_PREFIX) :]


def _brand_of(head: dict[str, Any]) -> str:
    return str(head["sk"])[len(BUDGET_PREFIX) :]


def _counter(sub: int, item: dict[str, Any]) -> StoredCounter:
    return StoredCounter(
        sub=sub,
        allotment=int(item.get("allotment", 0)),
        leased=int(item.get("issued", 0)),
        ordinals=int(item.get("poolSize", 0)),
        voided=int(item.get("voided", 0)),
        won_by_minute={
            int(name[len(WON_MINUTE_PREFIX) :]): int(count)
            for name, count in item.items()
            if name.startswith(WON_MINUTE_PREFIX)
        },
    )
