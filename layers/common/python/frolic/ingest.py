"""Taking a play in: check, stamp, record as pending, put on the stream. Never decide.

The pending result item is written first, conditionally on the playId being new. It
makes a repeated play harmless (same player, same payload: the same answer, and the
play is put on the stream again in case the first attempt died before it got there;
the allocator dedupes), refuses a playId reused by someone else or for another payload,
lets the owner read `pending` at once, and gives the expiry watcher something to expire
if the play never reaches the allocator.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import AwareDatetime, Field

from frolic.allocation.ports import GameDirectory, GameRules, Play
from frolic.auth import Principal
from frolic.dal import codec
from frolic.dal.catalog import with_brand_names
from frolic.dal.items import pending_item
from frolic.dal.tables import play_pace_key
from frolic.models import (
    MAX_META_ENTRIES,
    BoundaryModel,
    Identifier,
    Meta,
    PlayEvent,
    PlayStatus,
)
from frolic.partition import partition_key
from frolic.settings import Settings
from frolic.stream import play_from_event

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kinesis import KinesisClient


class PlayRequest(BoundaryModel):
    """What a player sends to spin the reel."""

    play_id: Identifier = Field(description="Chosen by the client; resending it is safe.")
    game_id: Identifier
    client_ts: AwareDatetime | None = None
    meta: Meta = Field(default_factory=dict, max_length=MAX_META_ENTRIES)


class IngestRefusedError(Exception):
    """A play that cannot be taken; `status` and `code` go to the client as they are."""

    status = 409
    code = "refused"


class UnknownGameError(IngestRefusedError):
    status = 404
    code = "unknown_game"


class GameNotLiveError(IngestRefusedError):
    code = "game_not_live"


class OutsideWindowError(IngestRefusedError):
    code = "outside_window"


class PlayIdTakenError(IngestRefusedError):
    code = "play_id_taken"


class TooManyPlaysError(IngestRefusedError):
    status = 429
    code = "too_many_plays"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"one play at a time: try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Accepted:
    play_id: str
    status: str


class PlayIntake:
    def __init__(
        self,
        *,
        db: DynamoDBClient,
        kinesis: KinesisClient,
        settings: Settings,
        games: GameDirectory,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._kinesis = kinesis
        self._results = settings.results_table
        self._state = settings.state_table
        self._stream = settings.play_stream
        self._games = games
        self._clock = clock

    def accept(
        self, principal: Principal, request: PlayRequest, connection_id: str | None = None
    ) -> Accepted:
        now = self._clock()
        rules = self._games.rules(request.game_id)
        if rules is None:
            raise UnknownGameError(f"there is no game {request.game_id}")
        if not rules.live:
            raise GameNotLiveError(f"game {request.game_id} is not live")
        if not rules.start_ts <= now < rules.end_ts:
            raise OutsideWindowError(f"game {request.game_id} is not open at this time")
        event = PlayEvent(
            play_id=request.play_id,
            user_id=principal.user_id,
            game_id=request.game_id,
            client_ts=request.client_ts,
            arrival_ts=now,
            connection_id=connection_id,
            meta=request.meta,
        )
        play = play_from_event(event)
        try:
            self._take_play_slot(rules, play, now)
        except TooManyPlaysError:
            earlier = self._earlier(play)  # a resend of an accepted play is not a new play
            if earlier is None:
                raise
        else:
            earlier = self._record_pending(play)
        if earlier is not None:
            if earlier["status"] != PlayStatus.PENDING.value:
                return Accepted(event.play_id, earlier["status"])
            event = event.model_copy(update={"arrival_ts": float(earlier["arrivalTs"])})
        self._kinesis.put_record(
            StreamName=self._stream,
            Data=json.dumps(event.to_wire()).encode(),
            PartitionKey=partition_key(event.play_id),
        )
        return Accepted(event.play_id, "queued")

    def _take_play_slot(self, rules: GameRules, play: Play, now: float) -> None:
        """One conditional write per play: of parallel plays from one player (on several
        devices, say) only one gets through per interval."""
        interval = rules.min_seconds_between_plays
        if interval <= 0:
            return
        try:
            self._db.update_item(
                TableName=self._state,
                Key=codec.dump(play_pace_key(play.game_id, play.user_id)),
                UpdateExpression="SET lastPlayAt = :now, expiresAt = :ttl",
                ConditionExpression="attribute_not_exists(lastPlayAt) OR lastPlayAt <= :cutoff",
                ExpressionAttributeValues=codec.dump(
                    {":now": now, ":cutoff": now - interval, ":ttl": int(now + interval) + 60}
                ),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            item: dict[str, Any] = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
            last = float(codec.load(item).get("lastPlayAt", now))
            raise TooManyPlaysError(max(1, math.ceil(last + interval - now))) from None

    def _record_pending(self, play: Play) -> dict[str, Any] | None:
        """Write the pending item; None if new, else the earlier item of the same play."""
        try:
            self._db.put_item(
                TableName=self._results,
                Item=codec.dump(pending_item(play)),
                ConditionExpression="attribute_not_exists(playId)",
            )
            return None
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        earlier = self._earlier(play)
        if earlier is None:
            raise PlayIdTakenError("this playId belongs to another play; send a new one")
        return earlier

    def _earlier(self, play: Play) -> dict[str, Any] | None:
        """The stored item of this very play (same player, same payload), if any."""
        existing = self._db.get_item(
            TableName=self._results, Key={"playId": {"S": play.play_id}}, ConsistentRead=True
        ).get("Item")
        if existing is None:
            return None
        earlier = codec.load(existing)
        if earlier.get("userId") != play.user_id or earlier.get("fingerprint") != play.fingerprint:
            raise PlayIdTakenError("this playId belongs to another play; send a new one")
        return earlier


class PlayNotFoundError(LookupError):
    """No such play for this player (another player's play is not found either)."""


def read_play(
    db: DynamoDBClient,
    settings: Settings,
    principal: Principal,
    play_id: str,
    brand_names: Callable[[str], str | None] = lambda _: None,
) -> dict[str, Any]:
    """The player's view of their own play."""
    raw = db.get_item(
        TableName=settings.results_table, Key={"playId": {"S": play_id}}, ConsistentRead=True
    ).get("Item")
    item = codec.load(raw) if raw else None
    if item is None or item.get("userId") != principal.user_id:
        raise PlayNotFoundError(play_id)
    view: dict[str, Any] = {
        "playId": item["playId"],
        "gameId": item["gameId"],
        "status": item["status"],
    }
    if item.get("reason"):
        view["reason"] = item["reason"]
    coupons = with_brand_names(item.get("coupons") or [], brand_names)
    if coupons:
        view["coupon"] = coupons[0]
        view["coupons"] = coupons
    return view
