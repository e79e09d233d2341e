"""Frolic's domain model.

Boundary models (anything parsed from a client, a marketer or a stream record) forbid
unknown fields so that a typo is reported instead of silently ignored, and speak
camelCase on the wire while the code speaks snake_case.

A play takes five shapes on its way, each for one boundary:
- `PlayRequest` (frolic.ingest): what a player sends; the server adds who and when.
- `PlayEvent` (here): the Kinesis record ingest writes, stamped with arrival time and
  the game status it saw; strict, because a producer bug must not pass unseen.
- `Play` (frolic.allocation.ports): the allocator's plain dataclass of the same play,
  parsed once per record and cheap to pass around a batch.
- `Outcome` (frolic.allocation.ports): a decided play, with its grants or reason.
- `ResultImage` (frolic.deliver): a result item as the DynamoDB stream shows it to
  deliver, which pushes it; lenient, because it reads what the DAL wrote.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    UrlConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

#: Identifiers come from clients and end up in keys and logs: keep them short and plain.
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CouponCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=4, max_length=64, pattern=r"^[!-~]+$")
]

#: The longest a game may last, well short of how long a play's result is kept (90 days
#: from its arrival, frolic.dal.items): so while a game takes plays, every playId played
#: in it still has its result item, and ingest refuses the id (as a resend, or as taken).
#: A playId can only come back, after its result has expired, in another game, where
#: nothing keyed by it is left: win slots and coupons are per game.
MAX_GAME_SECONDS = 30 * 24 * 3600
MAX_RELEASE_CURVE_PARTS = 1000
#: Weights are relative; a bound keeps their sum finite (no float overflow).
MAX_CURVE_WEIGHT = 1e9
MAX_META_ENTRIES = 20
#: Free-form client context on a play (app version, campaign source): small and flat.
Meta = dict[
    Annotated[str, StringConstraints(max_length=64)],
    Annotated[str, StringConstraints(max_length=256)] | int | float | bool,
]


def iso_utc(moment: datetime) -> str:
    """An aware instant as the APIs write one: ISO 8601, `Z` for UTC."""
    return moment.isoformat().replace("+00:00", "Z")


class BoundaryModel(BaseModel):
    """Strict, immutable, camelCase on the wire."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        str_strip_whitespace=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The camelCase JSON-ready form, without unset optional fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class GameStatus(StrEnum):
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    LIVE = "LIVE"
    ENDED = "ENDED"


#: Status changes a marketer may make; ENDED is final.
GAME_STATUS_TRANSITIONS: dict[GameStatus, frozenset[GameStatus]] = {
    GameStatus.DRAFT: frozenset({GameStatus.SCHEDULED, GameStatus.LIVE, GameStatus.ENDED}),
    GameStatus.SCHEDULED: frozenset({GameStatus.DRAFT, GameStatus.LIVE, GameStatus.ENDED}),
    GameStatus.LIVE: frozenset({GameStatus.ENDED}),
    GameStatus.ENDED: frozenset(),
}


class CouponStatus(StrEnum):
    """A coupon only moves forward: reserved for a winning play, issued once the
    player's result is final, redeemed at the brand's till; or, leased but taken by no
    result, voided. The DAL's conditional writes enforce each step (frolic.dal)."""

    AVAILABLE = "AVAILABLE"
    RESERVED = "RESERVED"
    ISSUED = "ISSUED"
    REDEEMED = "REDEEMED"
    #: A leased coupon no result took (a crash stranded it): its code went back to the
    #: pool at a new ordinal (frolic.dal.stranded), so this item binds nothing.
    VOID = "VOID"


class PlayStatus(StrEnum):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self is not PlayStatus.PENDING


class InvalidTransitionError(ValueError):
    """A status change the state machine does not allow."""


class TimeWindow(BoundaryModel):
    start_time: AwareDatetime
    end_time: AwareDatetime

    @model_validator(mode="after")
    def _end_after_start(self) -> Self:
        if self.end_time <= self.start_time:
            raise ValueError("endTime must be after startTime")
        return self

    @property
    def duration_seconds(self) -> float:
        return (self.end_time - self.start_time).total_seconds()

    def contains(self, other: TimeWindow) -> bool:
        return self.start_time <= other.start_time and other.end_time <= self.end_time


class Campaign(TimeWindow):
    campaign_id: Identifier
    name: Name


class GameConfig(BoundaryModel):
    """How a game hands out its coupons."""

    release_curve: tuple[Annotated[float, Field(ge=0, le=MAX_CURVE_WEIGHT)], ...] | None = Field(
        default=None,
        description=(
            "Relative weights of equal parts of the window; coupons are released in "
            "proportion (e.g. [3, 2, 1] front-loads). Omitted: a straight line."
        ),
    )
    max_coupons_per_play: int = Field(default=1, ge=1, le=10)
    max_wins_per_user: int = Field(default=1, ge=1, le=1_000_000)
    min_seconds_between_plays: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description=(
            "A player's plays of this game must be at least this far apart (one reel "
            "spin); enforced at ingest by a conditional write. 0 turns it off."
        ),
    )
    pacing_slack_pct: float = Field(
        default=0.1,
        ge=0,
        le=100,
        description=(
            "How far issued coupons may run ahead of the release schedule, as % of the "
            "budget; enforced inside the allocator's atomic write."
        ),
    )

    @field_validator("release_curve")
    @classmethod
    def _curve_has_weight(cls, curve: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if curve is None:
            return None
        if not 1 <= len(curve) <= MAX_RELEASE_CURVE_PARTS:
            raise ValueError(f"releaseCurve needs 1 to {MAX_RELEASE_CURVE_PARTS} weights")
        if not math.fsum(curve) > 0:
            raise ValueError("releaseCurve needs at least one positive weight")
        return curve


class Game(TimeWindow):
    game_id: Identifier
    campaign_id: Identifier
    name: Name
    status: GameStatus = GameStatus.DRAFT
    config: GameConfig = GameConfig()

    def with_status(self, status: GameStatus) -> Game:
        if status is not self.status and status not in GAME_STATUS_TRANSITIONS[self.status]:
            raise InvalidTransitionError(f"a {self.status} game cannot become {status}")
        return self.model_copy(update={"status": status})

    def accepts_play_at(self, moment: datetime) -> bool:
        return self.status is GameStatus.LIVE and self.start_time <= moment < self.end_time


class Brand(BoundaryModel):
    brand_id: Identifier
    name: Name


class Offer(BoundaryModel):
    """What a coupon of one game-brand is worth, as its winner is told."""

    title: Name = Field(description="e.g. 'A free coffee'.")
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    value: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="As the winner should read it, e.g. '€5 off'."
    )
    terms_url: Annotated[HttpUrl, UrlConstraints(allowed_schemes=["https"])] | None = Field(
        default=None, description="The terms, on an https page."
    )
    valid_until: AwareDatetime | None = Field(
        default=None, description="After this instant a till refuses the coupon (409)."
    )


class PlayEvent(BoundaryModel):
    """One spin of the reel, as ingest stamps it and puts it on the stream."""

    play_id: Identifier
    user_id: Identifier
    game_id: Identifier
    client_ts: AwareDatetime | None = None
    arrival_ts: float = Field(gt=0, allow_inf_nan=False, description="Epoch seconds at ingest.")
    connection_id: Annotated[str, StringConstraints(max_length=128)] | None = None
    meta: Meta = Field(default_factory=dict, max_length=MAX_META_ENTRIES)
    game_status: GameStatus | None = Field(
        default=None,
        description=(
            "The game's status as ingest saw it when it took the play (LIVE: ingest takes "
            "no other); the allocator honours it (frolic.allocation.allocator). Absent on "
            "records put before ingest stamped it."
        ),
    )

    def payload_fingerprint(self) -> str:
        """What makes two submissions of one playId the same play.

        Transport details (arrival time, connection) differ between a client's
        retries and do not count.
        """
        body = {
            "userId": self.user_id,
            "gameId": self.game_id,
            "clientTs": self.client_ts.astimezone(UTC).isoformat() if self.client_ts else None,
            "meta": self.meta,
        }
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class FieldError(BaseModel):
    field: str
    message: str


#: Pydantic names the member of a union (or a dict key) it tried in an error's location;
#: the client never wrote those, so they are left out of the field path.
_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "constrained-str", "[key]"})
#: Where a web framework says a value came from; the client names the field, not this.
_PARAMETER_SOURCES = frozenset({"body", "path", "query", "header", "cookie"})


def describe_errors(errors: Sequence[Mapping[str, Any]]) -> list[FieldError]:
    """Validation errors as the client wrote the request: camelCase fields (the models'
    aliases), no location prefix, one entry per field, and no input echoed back."""
    problems: dict[str, FieldError] = {}
    for detail in errors:
        location = [str(part) for part in detail.get("loc", ())]
        kind = detail.get("type")
        source = location[0] if location and location[0] in _PARAMETER_SOURCES else None
        parts = location[1:] if source else location
        if kind == "json_invalid":
            parts = []  # the location is a character offset, not a field
        parts = [part for part in parts if part not in _TYPE_TAGS]
        field = ".".join(parts) or source or "body"
        problems.setdefault(field, FieldError(field=field, message=_message(detail)))
    return list(problems.values())


def _message(detail: Mapping[str, Any]) -> str:
    kind = detail.get("type")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required"
    if kind == "json_invalid":
        return "the body is not valid JSON"
    reason = (detail.get("ctx") or {}).get("error")
    if kind == "value_error" and reason is not None:
        return str(reason)  # the validator's own words, without pydantic's prefix
    return str(detail.get("msg", "invalid value"))


def field_errors(error: ValidationError) -> list[FieldError]:
    """What is wrong with a model the code validated itself (not a web request)."""
    return describe_errors(error.errors(include_url=False, include_input=False))
