"""The allocator's store on DynamoDB.

Per batch and game: one consistent BatchGetItem for replays, one BatchGetItem of the
arrival counts of the last minutes and the game's spells of traffic (and, at most twice
a second, one UpdateItem per minute adding arrivals),
a conditional PutItem of those spells about once a minute, one Query for budgets, one
conditional UpdateItem (a lease) per counter the batch's winners drew, one BatchGetItem
of the leased codes, and BatchWriteItem for every result. Per winner: one conditional
UpdateItem of the player's won plays (frolic.allocation.claims).

Batched writes have no conditions, so they are kept away from the one other writer of
results, the expiry watcher: it only touches plays older than `expiry_seconds`, and a
result goes out in a batch only while its play is younger than that by a fence of a few
seconds; older ones get a conditional put, and such late plays win nothing. The fence is
checked as each attempt is sent, the SDK's own retries included, and covers how long one
attempt can take (the client's connect and read timeouts), so a batch held up by
throttling can never land after the watcher wrote `expired`. A replayed play is answered
from the consistent read, so a decided result is never overwritten.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from frolic.allocation.claims import BatchClaims, ClaimStats, CounterImage, Lease, Ordinal
from frolic.allocation.ports import (
    ARRIVAL_LOOKBACK_MINUTES,
    BATCH_WRITE_LIMIT,
    CALL_FANOUT,
    Arrivals,
    BudgetState,
    Claimed,
    GameRules,
    Outcome,
    Play,
    SubBudget,
    Wish,
)
from frolic.dal import codec
from frolic.dal.batches import backoff, batch_get, chunks
from frolic.dal.budgets import read_game_budgets
from frolic.dal.cache import ExpiringCache
from frolic.dal.errors import ClientError, refused_item, written
from frolic.dal.items import model_from_item, outcome_from_item, outcome_item
from frolic.dal.pending import end_pending
from frolic.dal.store import StateTableStore
from frolic.dal.tables import (
    TTL_ATTRIBUTE,
    arrivals_key,
    closing_key,
    counter_key,
    coupon_key,
    game_key,
    traffic_key,
    wins_key,
    won_minute_attribute,
)
from frolic.models import Game, PlayStatus
from frolic.observability import tracer
from frolic.pacing.spells import NO_TRAFFIC, TrafficHistory
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")

#: Arrival counts feed the game report's curve, so they live as long as results do.
ARRIVAL_RETENTION_SECONDS = 90 * 24 * 3600


class FenceCrossedError(Exception):
    """A batched result would be sent too close to its play's expiry."""


class DynamoAllocationStore(StateTableStore):
    def __init__(
        self,
        client: DynamoDBClient,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(client, settings, clock)
        self._results = settings.results_table
        self._batch_cutoff = settings.batch_write_cutoff_seconds
        self._claims = BatchClaims(self, late_after=self._batch_cutoff, clock=clock)
        #: Each counter's voided ordinals as last read: the claims speak in coupons, the
        #: counter in ordinals (`frolic.dal.budgets`), and the lease converts.
        self._voided: dict[tuple[str, str, int], int] = {}
        self._threads: ThreadPoolExecutor | None = None
        self._sending = threading.local()
        client.meta.events.register_first(
            "before-send.dynamodb.BatchWriteItem",
            self._refuse_an_attempt_past_the_fence,
            unique_id=f"frolic-batch-fence-{id(self)}",
        )

    @property
    def claim_stats(self) -> ClaimStats:
        """How this allocator's claims fared against the others (for metrics)."""
        return self._claims.stats

    # -- reads -----------------------------------------------------------------------
    def stored_outcomes(self, play_ids: Sequence[str]) -> Mapping[str, Outcome]:
        keys = [{"playId": {"S": pid}} for pid in play_ids]
        return {
            item["playId"]: outcome_from_item(item)
            for item in batch_get(self._db, self._results, keys)
            if item["status"] != PlayStatus.PENDING.value
        }

    def read_arrivals(self, game_id: str, *, through: int) -> Arrivals:
        newest = through // 60
        keys = [codec.dump(traffic_key(game_id))] + [
            codec.dump(arrivals_key(game_id, newest - back))
            for back in range(ARRIVAL_LOOKBACK_MINUTES + 1)
        ]
        counts: dict[int, int] = {}
        history = NO_TRAFFIC
        for item in batch_get(self._db, self._state, keys):
            if item["sk"] == TRAFFIC_SORT_KEY:
                history = _history_from_item(item)
            else:
                counts.update(_minute_counts(int(item["sk"][2:]), item))
        return Arrivals(counts, history)

    def add_arrivals(self, game_id: str, per_second: Mapping[int, int]) -> None:
        by_minute: dict[int, dict[int, int]] = defaultdict(dict)
        for second, plays in per_second.items():
            by_minute[second // 60][second] = plays
        for minute, seconds in by_minute.items():
            names = {f"#s{i}": f"s{s % 60}" for i, s in enumerate(seconds)}
            values = {f":s{i}": {"N": str(n)} for i, n in enumerate(seconds.values())}
            self._db.update_item(
                TableName=self._state,
                Key=codec.dump(arrivals_key(game_id, minute)),
                UpdateExpression="ADD "
                + ", ".join(f"#s{i} :s{i}" for i in range(len(seconds)))
                + " SET expiresAt = if_not_exists(expiresAt, :ttl)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    **values,
                    ":ttl": {"N": str(minute * 60 + ARRIVAL_RETENTION_SECONDS)},
                },
            )

    def save_traffic(
        self, game_id: str, history: TrafficHistory, replacing: TrafficHistory
    ) -> None:
        # Written only over the history this allocator read: a concurrent save wins.
        guard: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(through)"}
        if replacing.through is not None:
            guard = {
                "ConditionExpression": "through = :seen",
                "ExpressionAttributeValues": {":seen": {"N": str(replacing.through)}},
            }
        written(
            lambda: self._db.put_item(
                TableName=self._state,
                Item=codec.dump(traffic_key(game_id) | _history_item(history)),
                **guard,
            )
        )

    def count_closing(self, game_id: str, batch: str, plays: int) -> int:
        # The set of counted batches stays small: only batches decided after the close.
        try:
            counted = self._db.update_item(
                TableName=self._state,
                Key=codec.dump(closing_key(game_id)),
                UpdateExpression="ADD decided :plays, batches :batches",
                ConditionExpression="NOT contains(batches, :batch)",
                ExpressionAttributeValues=codec.dump(
                    {":plays": plays, ":batches": {batch}, ":batch": batch}
                ),
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if (old := refused_item(error)) is None:
                raise
            return int(old.get("decided", 0)) - plays
        return int(counted["Attributes"]["decided"]["N"]) - plays

    def budgets(self, game_id: str) -> Sequence[BudgetState]:
        states = []
        for stored in read_game_budgets(self._db, self._state, game_id):
            for counter in stored.counters:
                self._voided[(game_id, stored.brand_id, counter.sub)] = counter.voided
                self._claims.saw(
                    game_id, stored.brand_id, counter.sub, counter.issued, counter.usable
                )
            subs = tuple(SubBudget(c.usable, c.issued) for c in stored.counters)
            states.append(BudgetState(stored.brand_id, stored.usable, stored.issued, subs))
        return states

    # -- writes ----------------------------------------------------------------------
    @tracer.capture_method(capture_response=False)
    def claim(
        self,
        game_id: str,
        wishes: Sequence[Wish],
        max_wins_per_user: int,
        decided_at: float,
        *,
        game_start: float,
    ) -> Claimed:
        return self._claims.claim(
            game_id, wishes, max_wins_per_user, decided_at, game_start=game_start
        )

    def save_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        batched, conditional = self._split_by_fence(outcomes)

        def write(chunk: Sequence[Outcome]) -> list[Outcome]:
            requests = [{"PutRequest": {"Item": codec.dump(outcome_item(o))}} for o in chunk]
            pending_again = self._batch_write(requests)
            return [o for o in chunk if o.play.play_id in pending_again]

        for late in self._fan_out(write, list(chunks(batched, BATCH_WRITE_LIMIT))):
            conditional.extend(late)
        for outcome in conditional:
            self._put_if_undecided(outcome)

    def reject_pending(self, owners: Mapping[str, str], reason: str, decided_at: float) -> int:
        """Conditional updates, rare enough (malformed records) to go one by one; the
        pending item keeps its arrival and connection, so delivery pushes the answer."""
        return sum(
            end_pending(
                self._db,
                self._results,
                play_id,
                status=PlayStatus.REJECTED,
                reason=reason,
                decided_at=decided_at,
                user_id=user_id,
            )
            for play_id, user_id in owners.items()
        )

    def _fan_out(self, call: Callable[[_Item], _Result], items: Sequence[_Item]) -> list[_Result]:
        """Independent calls, `CALL_FANOUT` at a time on the client's connection pool
        (boto3 clients are thread-safe); one alone is made here, without a thread."""
        if len(items) <= 1:
            return [call(item) for item in items]
        if self._threads is None:
            self._threads = ThreadPoolExecutor(CALL_FANOUT, thread_name_prefix="dynamodb")
        return list(self._threads.map(call, items))

    # -- internals -------------------------------------------------------------------
    def _split_by_fence(self, outcomes: Sequence[Outcome]) -> tuple[list[Outcome], list[Outcome]]:
        now = self._clock()
        batched: list[Outcome] = []
        conditional: list[Outcome] = []
        for outcome in outcomes:
            young = now - outcome.play.arrival_ts < self._batch_cutoff
            (batched if young else conditional).append(outcome)
        return batched, conditional

    def _batch_write(self, requests: list[Any]) -> set[str]:
        """Write; returns the playIds left unwritten once one of them is too old to batch
        (they all go on to conditional puts)."""
        attempt = 0
        while requests:
            arrivals = [float(r["PutRequest"]["Item"]["arrivalTs"]["N"]) for r in requests]
            self._sending.oldest_arrival = min(arrivals)
            try:
                response = self._db.batch_write_item(RequestItems={self._results: requests})
            except FenceCrossedError:
                return {r["PutRequest"]["Item"]["playId"]["S"] for r in requests}
            finally:
                self._sending.oldest_arrival = None
            unprocessed: dict[str, list[Any]] = dict(response.get("UnprocessedItems") or {})
            requests = unprocessed.get(self._results, [])
            if not requests:
                break
            backoff(attempt)
            attempt += 1
        return set()

    def _refuse_an_attempt_past_the_fence(self, **_: Any) -> None:
        """Runs as each attempt of this store's batch write is sent (botocore's
        `before-send`, SDK retries included)."""
        oldest = getattr(self._sending, "oldest_arrival", None)
        if oldest is not None and self._clock() - oldest >= self._batch_cutoff:
            raise FenceCrossedError

    def _put_if_undecided(self, outcome: Outcome) -> None:
        written(
            lambda: self._db.put_item(
                TableName=self._results,
                Item=codec.dump(outcome_item(outcome)),
                ConditionExpression="attribute_not_exists(playId) OR #status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":pending": {"S": PlayStatus.PENDING.value}},
            )
        )

    # -- ClaimBackend -------------------------------------------------------------------
    def admit(self, game_id: str, plays: Sequence[Play], max_wins_per_user: int) -> set[str]:
        admitted = self._fan_out(lambda play: self._admit(game_id, play, max_wins_per_user), plays)
        return {play.play_id for play, ok in zip(plays, admitted, strict=True) if not ok}

    def _admit(self, game_id: str, play: Play, max_wins_per_user: int) -> bool:
        return written(
            lambda: self._db.update_item(
                TableName=self._state,
                Key=codec.dump(wins_key(game_id, play.user_id)),
                UpdateExpression="ADD wonPlays :play",
                ConditionExpression=(
                    "attribute_not_exists(wonPlays) OR size(wonPlays) < :most"
                    " OR contains(wonPlays, :id)"
                ),
                ExpressionAttributeValues={
                    ":play": {"SS": [play.play_id]},
                    ":id": {"S": play.play_id},
                    ":most": {"N": str(max_wins_per_user)},
                },
            )
        )

    def give_back(self, game_id: str, plays: Sequence[Play]) -> None:
        self._fan_out(
            lambda play: self._db.update_item(
                TableName=self._state,
                Key=codec.dump(wins_key(game_id, play.user_id)),
                UpdateExpression="DELETE wonPlays :play",
                ExpressionAttributeValues={":play": {"SS": [play.play_id]}},
            ),
            plays,
        )

    def lease(
        self,
        game_id: str,
        brand_id: str,
        sub: int,
        count: int,
        *,
        most: int,
        usable: int,
        game_start: float,
    ) -> Lease:
        """The same ADD tallies the lease in the counter's minute of the game
        (`won_minute_attribute`), so the report's curve and the counter never disagree.

        `most` and `usable` are in coupons (net of voided ordinals); the condition is
        in ordinals, so both move up by the `voided` last read. A void landing since
        then raises the stored `issued`, `allotment` and `poolSize` by d each: the first
        comparison gets d stricter, the other two d looser, and together they still
        give `issued + count <= most - d <= usable - d <= min(share, pool)` in coupons,
        and in ordinals `issued + count <= usable + voided <= min(allotment, poolSize)`:
        never past the share, the schedule cap or the last ordinal of the pool."""
        counter = (game_id, brand_id, sub)
        voided = self._voided.get(counter, 0)
        try:
            moved = self._db.update_item(
                TableName=self._state,
                Key=codec.dump(counter_key(game_id, brand_id, sub)),
                UpdateExpression="ADD issued :count, #won :count",
                # No arithmetic in conditions: the count before the ADD is bounded.
                ConditionExpression=(
                    "issued <= :before AND allotment >= :usable AND poolSize >= :usable"
                ),
                ExpressionAttributeNames={"#won": won_minute_attribute(game_start, self._clock())},
                ExpressionAttributeValues=codec.dump(
                    {
                        ":count": count,
                        ":before": most - count + voided,
                        ":usable": usable + voided,
                    }
                ),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if (old := refused_item(error)) is None:
                raise
            voided = self._voided[counter] = int(old.get("voided", 0))
            limit = min(int(old.get("allotment", 0)), int(old.get("poolSize", 0))) - voided
            return Lease(refused=CounterImage(int(old.get("issued", 0)) - voided, limit))
        new = codec.load(moved["Attributes"])
        voided = self._voided[counter] = int(new.get("voided", 0))
        return Lease(last=int(new["issued"]), voided=voided)

    def codes(self, game_id: str, ordinals: Sequence[Ordinal]) -> Mapping[Ordinal, str]:
        at = {_coupon_id(game_id, o): o for o in ordinals}
        keys = [codec.dump(coupon_key(game_id, o.brand_id, o.ordinal, o.sub)) for o in ordinals]
        return {
            at[item["pk"]]: item["code"]
            for item in batch_get(self._db, self._state, keys)
            if item["pk"] in at
        }


def _coupon_id(game_id: str, at: Ordinal) -> str:
    return coupon_key(game_id, at.brand_id, at.ordinal, at.sub)["pk"]


TRAFFIC_SORT_KEY = traffic_key("")["sk"]


def _history_item(history: TrafficHistory) -> dict[str, Any]:
    return {
        "through": history.through,
        "spellPlays": history.spell_plays,
        "lastActive": history.last_active,
        "rate": history.rate,
        "ended": list(history.ended),
        TTL_ATTRIBUTE: None
        if history.through is None
        else history.through + ARRIVAL_RETENTION_SECONDS,
    }


def _history_from_item(item: Mapping[str, Any]) -> TrafficHistory:
    return TrafficHistory(
        through=item.get("through"),
        spell_plays=item.get("spellPlays", 0),
        last_active=item.get("lastActive"),
        rate=float(item.get("rate", 0.0)),
        ended=tuple(item.get("ended", ())),
    )


def _minute_counts(minute: int, item: Mapping[str, Any]) -> dict[int, int]:
    return {
        minute * 60 + int(name[1:]): int(count)
        for name, count in item.items()
        if name.startswith("s") and name[1:].isdigit()
    }


class DynamoGameDirectory:
    """Game rules from the state table, cached briefly: a status change shows within
    `game_cache_seconds`, and a busy allocator reads each game a few times a minute.
    `fresh_rules` reads through the cache, for a play that shows the cache is behind."""

    def __init__(
        self,
        client: DynamoDBClient,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = client
        self._state = settings.state_table
        self._cache = ExpiringCache(self._read, settings.game_cache_seconds, clock)

    def rules(self, game_id: str) -> GameRules | None:
        return self._cache.get(game_id)

    def fresh_rules(self, game_id: str) -> GameRules | None:
        rules = self._read(game_id, consistent=True)
        self._cache.put(game_id, rules)
        return rules

    def _read(self, game_id: str, *, consistent: bool = False) -> GameRules | None:
        response = self._db.get_item(
            TableName=self._state, Key=codec.dump(game_key(game_id)), ConsistentRead=consistent
        )
        raw = response.get("Item")
        return GameRules.from_game(model_from_item(Game, codec.load(raw))) if raw else None
