"""Taking a play in: check, stamp, record as pending, put on the stream. Never decide.

The pending result item is written first, conditionally on the playId being new. It
makes a repeated play harmless (same player, same payload: the same answer), refuses a
playId reused by someone else or for another payload, lets the owner read `pending` at
once, and gives the expiry watcher something to expire if the play never reaches the
allocator.

A resend costs what a play costs and no more. It passes the player's play slot first,
like a play (`min_seconds_between_plays`), then one conditional write on the pending
item: the play goes on the stream again, in case the first attempt died before it got
there (the allocator dedupes), only if its `lastPutAt` stamp is `play_reput_seconds`
old. So however fast a client resends, over REST or a WebSocket (where no WAF counts
requests), each pending play is put at most once per that interval. The pending item
is written unstamped: ingest may die between it and the first put, so the first resend
always puts the play again (the allocator dedupes the copy), and later ones only once
the interval has passed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, Field

from frolic.allocate import play_from_event
from frolic.allocation.ports import GameDirectory, GameRules, Play
from frolic.auth import Principal
from frolic.dal.items import LAST_PUT
from frolic.dal.offers import NO_FACTS, CouponFacts
from frolic.dal.plays import put_on_stream, read_result, record_pending
from frolic.dal.stamps import stamp_if_due
from frolic.dal.tables import play_pace_key
from frolic.models import (
    MAX_META_ENTRIES,
    BoundaryModel,
    GameStatus,
    Identifier,
    Meta,
    PlayEvent,
    PlayStatus,
)
from frolic.settings import Settings, SettingsError

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


#: What a taken play that is still pending is answered.
QUEUED = "queued"


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
        if settings.play_stream is None:
            raise SettingsError("ingest puts plays on the stream: set PLAY_STREAM")
        self._stream = settings.play_stream
        self._reput_seconds = settings.play_reput_seconds
        self._games = games
        self._clock = clock

    def accept(
        self, principal: Principal, request: PlayRequest, connection_id: str | None = None
    ) -> Accepted:
        now = self._clock()
        event = PlayEvent(
            play_id=request.play_id,
            user_id=principal.user_id,
            game_id=request.game_id,
            client_ts=request.client_ts,
            arrival_ts=now,
            connection_id=connection_id,
            meta=request.meta,
            game_status=GameStatus.LIVE,  # as this Lambda saw it: the allocator honours it
        )
        rules = self._games.rules(request.game_id)
        try:
            rules = _open(rules, request.game_id, now)
        except IngestRefusedError:
            # A resend of a play taken while the game was open gets that play's answer.
            resent = self._resend(event, play_from_event(event), now)
            if resent is None:
                raise
            return resent
        play = play_from_event(event)
        try:
            self._take_play_slot(rules, play, now)
        except TooManyPlaysError:
            resent = self._resend(event, play, now)  # a resend is paced, but not refused
            if resent is None:
                raise
            return resent
        if not record_pending(self._db, self._results, play):
            resent = self._resend(event, play, now)
            if resent is None:  # gone between the two writes: only its TTL deletes it
                raise PlayIdTakenError("this playId is too old to be played; send a new one")
            return resent
        self._put(event)
        return Accepted(event.play_id, QUEUED)

    def _put(self, event: PlayEvent) -> None:
        put_on_stream(self._kinesis, self._stream, event)

    def _take_play_slot(self, rules: GameRules, play: Play, now: float) -> None:
        """One conditional write per request: of parallel plays from one player (on
        several devices, say) only one gets through per interval. Resends pass here too,
        so a resend after the interval takes the slot as a play would."""
        interval = rules.min_seconds_between_plays
        if interval <= 0:
            return
        slot = stamp_if_due(
            self._db,
            table=self._state,
            key=play_pace_key(play.game_id, play.user_id),
            attribute="lastPlayAt",
            now=now,
            interval=interval,
            also={"expiresAt": int(now + interval) + 60},
        )
        if not slot.written:
            last = float(slot.item.get("lastPlayAt", now))
            raise TooManyPlaysError(max(1, math.ceil(last + interval - now)))

    def _resend(self, event: PlayEvent, play: Play, now: float) -> Accepted | None:
        """The answer to a resend of a play already taken, or None if there is no such
        play. A pending play goes on the stream again, with its original arrival, on its
        first resend and then if its last put is `play_reput_seconds` old (the stamp is
        the guard, so a flood of resends puts it once per interval); a decided one
        answers its status."""
        stamp = stamp_if_due(
            self._db,
            table=self._results,
            key={"playId": play.play_id},
            attribute=LAST_PUT,
            now=now,
            interval=self._reput_seconds,
            only_if="userId = :user AND fingerprint = :fingerprint AND #status = :pending",
            names={"#status": "status"},
            values={
                ":user": play.user_id,
                ":fingerprint": play.fingerprint,
                ":pending": PlayStatus.PENDING.value,
            },
        )
        earlier = stamp.item
        if not earlier:
            return None
        if earlier.get("userId") != play.user_id or earlier.get("fingerprint") != play.fingerprint:
            raise PlayIdTakenError("this playId belongs to another play; send a new one")
        if earlier["status"] != PlayStatus.PENDING.value:
            return Accepted(play.play_id, earlier["status"])
        if stamp.written:
            self._put(event.model_copy(update={"arrival_ts": float(earlier["arrivalTs"])}))
        return Accepted(play.play_id, QUEUED)


def _open(rules: GameRules | None, game_id: str, now: float) -> GameRules:
    """The game's rules if it takes plays now; else why not."""
    if rules is None:
        raise UnknownGameError(f"there is no game {game_id}")
    if not rules.live:
        raise GameNotLiveError(f"game {game_id} is not live")
    if not rules.start_ts <= now < rules.end_ts:
        raise OutsideWindowError(f"game {game_id} is not open at this time")
    return rules


class PlayNotFoundError(LookupError):
    """No such play for this player (another player's play is not found either)."""


def read_play(
    db: DynamoDBClient,
    settings: Settings,
    principal: Principal,
    play_id: str,
    facts: CouponFacts = NO_FACTS,
) -> dict[str, Any]:
    """The player's view of their own play."""
    item = read_result(db, settings.results_table, play_id)
    if item is None or item.get("userId") != principal.user_id:
        raise PlayNotFoundError(play_id)
    view: dict[str, Any] = {
        "playId": item["playId"],
        "gameId": item["gameId"],
        "status": item["status"],
    }
    if item.get("reason"):
        view["reason"] = item["reason"]
    coupons = facts.views(str(item["gameId"]), item.get("coupons") or [])
    if coupons:
        view["coupon"] = coupons[0]
        view["coupons"] = coupons
    return view
