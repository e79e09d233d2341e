"""How domain objects are laid out as items. One mapping per kind, used everywhere."""

from __future__ import annotations

from typing import Any, TypeVar

from frolic.allocation.ports import Grant, Outcome, Play
from frolic.dal import codec
from frolic.dal.tables import (
    SWEEP_PARTITION,
    SWEEP_SORT,
    WALLET_PARTITION,
    pending_partition,
    unissued_partition,
)
from frolic.models import BoundaryModel, PlayStatus

#: Decided results are kept for a season of disputes, then left to TTL.
RESULT_RETENTION_SECONDS = 90 * 24 * 3600
M = TypeVar("M", bound=BoundaryModel)
#: On a pending item: when a resend last put the play on the stream (frolic.ingest).
LAST_PUT = "lastPutAt"


def model_item(model: BoundaryModel, key: dict[str, str], kind: str) -> dict[str, Any]:
    return {**key, "kind": kind, **model.to_wire()}


def model_from_item(cls: type[M], item: dict[str, Any]) -> M:
    fields = {k: v for k, v in item.items() if k not in ("pk", "sk", "kind")}
    return cls.model_validate(fields)


def _play_fields(play: Play) -> dict[str, Any]:
    return {
        "playId": play.play_id,
        "userId": play.user_id,
        "gameId": play.game_id,
        "arrivalTs": play.arrival_ts,
        "fingerprint": play.fingerprint,
        "connectionId": play.connection_id,
    }


def pending_item(play: Play) -> dict[str, Any]:
    return {
        **_play_fields(play),
        "status": PlayStatus.PENDING.value,
        "expiresAt": int(play.arrival_ts) + RESULT_RETENTION_SECONDS,
        SWEEP_PARTITION: pending_partition(play.play_id),
        SWEEP_SORT: play.arrival_ts,
    }


def outcome_item(outcome: Outcome) -> dict[str, Any]:
    """The decided result. It replaces the pending item whole, so the play leaves the
    sweep index as pending; a won one enters it as a win whose coupons await issue."""
    won = outcome.status is PlayStatus.WON
    return {
        **_play_fields(outcome.play),
        "status": outcome.status.value,
        "reason": outcome.reason,
        "coupons": [{"brandId": g.brand_id, "code": g.code} for g in outcome.grants] or None,
        "decidedAt": outcome.decided_at,
        "expiresAt": int(outcome.play.arrival_ts) + RESULT_RETENTION_SECONDS,
        SWEEP_PARTITION: unissued_partition(outcome.play.play_id) if won else None,
        SWEEP_SORT: outcome.decided_at if won else None,
        WALLET_PARTITION: outcome.play.user_id if won else None,
    }


def play_from_item(item: dict[str, Any]) -> Play:
    return Play(
        play_id=item["playId"],
        user_id=item["userId"],
        game_id=item["gameId"],
        arrival_ts=float(item["arrivalTs"]),
        fingerprint=item.get("fingerprint", ""),
        connection_id=item.get("connectionId"),
    )


def outcome_from_item(item: dict[str, Any]) -> Outcome:
    return Outcome(
        play=play_from_item(item),
        status=PlayStatus(item["status"]),
        decided_at=float(item.get("decidedAt", 0.0)),
        grants=tuple(Grant(c["brandId"], c["code"]) for c in item.get("coupons", ())),
        reason=item.get("reason"),
    )


def put_new(table: str, item: dict[str, Any]) -> dict[str, Any]:
    """A transaction's Put of an item that must not exist yet (keyed by `pk`)."""
    return {
        "Put": {
            "TableName": table,
            "Item": codec.dump(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
