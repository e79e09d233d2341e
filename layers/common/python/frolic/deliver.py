"""What happens when a play's result becomes final: its coupons are issued and the
player is told over their WebSocket.

Driven by the results table's change stream, which is at-least-once: only the
transition to a final status (from nothing or from `pending`) acts, so a replayed
identical write, whose old image is already final, pushes nothing. Coupons are issued
before the push, so a retried record never tells a player about a coupon that is not
yet theirs, and issuing is a conditional write that a replay finds already done. Once
a win's coupons are issued, the result leaves the index of wins awaiting issue; what
stays there past a bound, the sweeper (frolic.sweep) issues with the same code.

A push is a hint (the result is readable over REST): a closed socket is not a failure,
an unexpected AWS error is, so the record is retried. A result goes only to a socket
that its own player opened (invariant 6), and coupon codes never reach logs or metrics.
That is settled when the play is taken, not here: a play's `connectionId` is only ever
the socket it arrived on (API Gateway's id, never the client's word), and `ws_play`
takes the play for that socket's owner alone. So the push reads nothing first; API
Gateway never reuses a connection id, so a push to a socket closed since reaches no one
(its 410 is the ordinary "gone").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from frolic.dal import codec
from frolic.dal.coupon_issue import CouponBinding
from frolic.dal.offers import NO_FACTS, CouponFacts
from frolic.dal.push import Push
from frolic.dal.result_indexes import ResultIndexes
from frolic.dal.sessions import Sessions
from frolic.events import EventSink, win_events
from frolic.models import CouponStatus, PlayStatus
from frolic.observability import logger, metrics
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_ACTING_EVENTS = frozenset({DynamoDBRecordEventName.INSERT, DynamoDBRecordEventName.MODIFY})


class _Image(BaseModel):
    """Stream images carry the whole item; only what delivery needs is read."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class GrantImage(_Image):
    brand_id: str
    code: str


class ResultImage(_Image):
    play_id: str
    user_id: str
    game_id: str
    status: PlayStatus
    reason: str | None = None
    coupons: tuple[GrantImage, ...] = ()
    connection_id: str | None = None
    decided_at: float | None = None


class Delivery(StrEnum):
    SKIPPED = "skipped"  # not a transition to a final result
    PUSHED = "pushed"
    GONE = "gone"  # the socket had closed; the connection was forgotten
    NO_SOCKET = "no_socket"  # the play came over REST


def images(record: DynamoDBRecord) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (old, new) images as plain values; empty when the record has none."""
    stream = record.dynamodb
    if stream is None:
        return {}, {}
    return codec.load(stream.get("OldImage") or {}), codec.load(stream.get("NewImage") or {})


def final_transition(record: DynamoDBRecord) -> ResultImage | None:
    """The result, if this record is the moment its play became final."""
    if record.event_name not in _ACTING_EVENTS:
        return None
    old, new = images(record)
    if new.get("status") == PlayStatus.PENDING.value or "status" not in new:
        return None
    if old and old.get("status") != PlayStatus.PENDING.value:
        return None  # already final before: a replayed or repeated write
    try:
        return ResultImage.model_validate(new)
    except ValidationError as error:
        # The error text would quote the image, codes included: log field names only.
        logger.error(
            "result image unreadable; not delivered",
            play_id=str(new.get("playId", "?")),
            fields=sorted({".".join(map(str, e["loc"])) for e in error.errors()}),
        )
        metrics.add_metric(name="ResultUnreadable", unit=MetricUnit.Count, value=1)
        return None


def result_message(result: ResultImage, facts: CouponFacts = NO_FACTS) -> dict[str, Any]:
    """What the player's client gets: their result, and their coupon when they won."""
    message: dict[str, Any] = {
        "type": "result",
        "playId": result.play_id,
        "status": result.status.value,
    }
    if result.reason:
        message["reason"] = result.reason
    grants = facts.views(
        result.game_id, ({"brandId": g.brand_id, "code": g.code} for g in result.coupons)
    )
    if grants:
        message["coupon"] = grants[0]
    if len(grants) > 1:
        message["coupons"] = grants  # games with maxCouponsPerPlay > 1
    return message


class Deliverer:
    def __init__(
        self,
        client: DynamoDBClient,
        sessions: Sessions,
        push: Push,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        *,
        events: EventSink,
        facts: CouponFacts | None = None,
    ) -> None:
        self._issuer = CouponIssuer(client, settings, clock, events=events)
        self._sessions = sessions
        self._push = push
        self._facts = facts or CouponFacts.reading(client, settings)

    def handle(self, record: DynamoDBRecord) -> Delivery:
        result = final_transition(record)
        if result is None:
            return Delivery.SKIPPED
        if result.status is PlayStatus.WON:
            self._issuer.issue(result)
        delivery = self._tell(result)
        logger.info(
            "result delivered",
            play_id=result.play_id,
            status=result.status.value,
            delivery=delivery,
        )
        return delivery

    def _tell(self, result: ResultImage) -> Delivery:
        connection_id = result.connection_id
        if not connection_id:
            return Delivery.NO_SOCKET
        if self._push.send(connection_id, result_message(result, self._facts)):
            metrics.add_metric(name="ResultPushed", unit=MetricUnit.Count, value=1)
            return Delivery.PUSHED
        self._sessions.close(connection_id)
        metrics.add_metric(name="ResultPushGone", unit=MetricUnit.Count, value=1)
        return Delivery.GONE


class Issue(StrEnum):
    NOW = "now"  # moved to ISSUED by this call
    ALREADY = "already"  # issued to this play before (a replay, or the other path)
    ANOMALY = "anomaly"  # the code is not this play's to have


class CouponIssuer:
    """A won result's coupons → ISSUED to its play, then the result out of the index of
    wins awaiting issue. Deliver runs it on each win as the stream brings it; the sweeper
    on wins deliver gave up on. Both go through this one conditional binding, so
    whichever comes second finds the work done and writes nothing."""

    def __init__(
        self,
        client: DynamoDBClient,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        *,
        events: EventSink,
    ) -> None:
        self._coupons = CouponBinding(client, settings)
        self._indexes = ResultIndexes(client, settings)
        self._clock = clock
        self._events = events

    def issue(self, result: ResultImage) -> int:
        """How many coupons this call issued (0 when they already were). The result stays
        in the index while a code is anomalous, so the anomaly is raised again until
        someone mends the data. The win's events go out before the result leaves the
        index, so a crash between the two publishes them again rather than never."""
        issues = [self._issue(result, grant) for grant in result.coupons]
        if Issue.ANOMALY not in issues:
            now = self._clock()
            self._events.publish(
                win_events(
                    play_id=result.play_id,
                    game_id=result.game_id,
                    user_id=result.user_id,
                    grants=[(grant.brand_id, grant.code) for grant in result.coupons],
                    won_at=result.decided_at if result.decided_at is not None else now,
                    issued_at=now,
                )
            )
            self._indexes.mark_issued(result.play_id)
        return issues.count(Issue.NOW)

    def _issue(self, result: ResultImage, grant: GrantImage) -> Issue:
        """The leased coupon → ISSUED to this play, once; a replay finds it done and moves
        on. (RESERVED for this play: a coupon bound by the transactions of releases
        before batch leases.)"""
        where = self._coupons.code_entry(grant.code)
        if (
            where.get("gameId") != result.game_id
            or where.get("brandId") != grant.brand_id
            or not isinstance(where.get("ordinal"), int)
        ):
            return self._anomaly(result, "won code is not in the game's pool")
        refused = self._coupons.bind(
            where,
            code=grant.code,
            play_id=result.play_id,
            user_id=result.user_id,
            now=self._clock(),
        )
        if refused is not None:
            already = {CouponStatus.ISSUED.value, CouponStatus.REDEEMED.value}
            if refused.get("playId") != result.play_id or refused.get("status") not in already:
                return self._anomaly(result, "won code is issued to another play")
            return Issue.ALREADY
        metrics.add_metric(name="CouponsIssued", unit=MetricUnit.Count, value=1)
        return Issue.NOW

    def _anomaly(self, result: ResultImage, what: str) -> Issue:
        """Each ordinal is leased to one batch and its code written into one result, so
        this means the data was changed by hand; a retry cannot mend it, an alarm on
        the metric can."""
        logger.error(what, play_id=result.play_id)
        metrics.add_metric(name="CouponIssueAnomaly", unit=MetricUnit.Count, value=1)
        return Issue.ANOMALY
