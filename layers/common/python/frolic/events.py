"""What Frolic tells the world: wins, coupons issued and redeemed, game status changes.

Each event goes to an EventBridge bus (`frolic.dal.events`) with source `frolic`, one of
the detail types below, and a detail that is one of these models (camelCase; the JSON
Schema of each is `docs/events.json`, checked against this module by a test). A
marketer connects a CRM through a rule on the bus (infra/constructs/events_out.py).

- **At least once, for wins.** A win's events are published before the win leaves the
  index of wins awaiting issue, so a crash or a retry may publish them again, each
  time with the same `eventId`: a consumer drops an id it has seen. A redemption or a
  status change is published once, after it is stored; a crash between the two loses
  its event (the change itself stands, and is in the audit trail and the exports).
- **Codes.** `Coupon issued` and `Coupon redeemed` carry the coupon's `code` on the
  bus, which only Frolic's own rules read. A rule passes it on only where it is asked
  to (the CRM destination's `withCodes`); every other target gets the event without it
  (`without_codes`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Protocol

from pydantic import AwareDatetime, Field

from frolic.models import BoundaryModel, CouponCode, GameStatus, Identifier

EVENT_SOURCE: Final = "frolic"
CODE_FIELD: Final = "code"


class EventType(StrEnum):
    """The detail types, as EventBridge rules match them."""

    PLAY_WON = "Play won"
    COUPON_ISSUED = "Coupon issued"
    COUPON_REDEEMED = "Coupon redeemed"
    GAME_STATUS_CHANGED = "Game status changed"


class OutEvent(BoundaryModel):
    event_id: str = Field(description="The same each time this event is published: dedupe on it.")


class PlayWon(OutEvent):
    play_id: Identifier
    game_id: Identifier
    user_id: str = Field(description="The player (the Cognito subject).")
    brand_ids: list[Identifier] = Field(description="The brand of each coupon won.")
    won_at: AwareDatetime


class CouponIssued(OutEvent):
    play_id: Identifier
    game_id: Identifier
    user_id: str
    brand_id: Identifier
    code: CouponCode | None = Field(
        default=None, description="Only on targets whose rule asks for codes."
    )
    issued_at: AwareDatetime


class CouponRedeemed(OutEvent):
    game_id: Identifier
    brand_id: Identifier
    code: CouponCode | None = Field(
        default=None, description="Only on targets whose rule asks for codes."
    )
    redeemed_at: AwareDatetime
    redeemed_by: str = Field(description="The till or admin who redeemed it.")


class GameStatusChanged(OutEvent):
    game_id: Identifier
    status: GameStatus
    changed_at: AwareDatetime
    changed_by: str


DETAILS: Final[dict[EventType, type[OutEvent]]] = {
    EventType.PLAY_WON: PlayWon,
    EventType.COUPON_ISSUED: CouponIssued,
    EventType.COUPON_REDEEMED: CouponRedeemed,
    EventType.GAME_STATUS_CHANGED: GameStatusChanged,
}
_TYPES: Final = {model: event_type for event_type, model in DETAILS.items()}


def event_type(event: OutEvent) -> EventType:
    return _TYPES[type(event)]


def detail(event: OutEvent) -> dict[str, Any]:
    """The event's detail as it goes on the bus: camelCase JSON values."""
    return event.model_dump(mode="json", by_alias=True, exclude_none=True)


def without_codes(event_detail: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in event_detail.items() if name != CODE_FIELD}


def moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class EventSink(Protocol):
    """Where events go: the bus in AWS and on the local stack."""

    def publish(self, events: list[OutEvent]) -> None: ...


def win_events(
    *,
    play_id: str,
    game_id: str,
    user_id: str,
    grants: list[tuple[str, str]],
    won_at: float,
    issued_at: float,
) -> list[OutEvent]:
    """A win and each coupon it issued (`grants`: brand id and code, in the result's
    order, so the n-th coupon keeps its id however often this runs)."""
    events: list[OutEvent] = [
        PlayWon(
            event_id=f"won:{play_id}",
            play_id=play_id,
            game_id=game_id,
            user_id=user_id,
            brand_ids=[brand for brand, _ in grants],
            won_at=moment(won_at),
        )
    ]
    events += [
        CouponIssued(
            event_id=f"issued:{play_id}:{n}",
            play_id=play_id,
            game_id=game_id,
            user_id=user_id,
            brand_id=brand,
            code=code,
            issued_at=moment(issued_at),
        )
        for n, (brand, code) in enumerate(grants)
    ]
    return events
