"""How AWS says no: the one reader of refused conditions, cancelled transactions and
closed sockets.

Frolic's invariants rest on conditional writes, so a refusal is an answer the caller
acts on (the play was taken, the coupon already issued, another writer landed first),
while any other error is a failure to retry. Keeping the reading of botocore's error
shapes here lets every other module ask a yes/no question of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, cast

from botocore.exceptions import ClientError

from frolic.dal import codec

CONDITION_FAILED: Final = "ConditionalCheckFailedException"
TRANSACTION_CANCELLED: Final = "TransactionCanceledException"
#: A cancelled transaction's reason for an item whose condition failed.
ITEM_CONDITION_FAILED: Final = "ConditionalCheckFailed"
#: API Gateway's answer for a socket that has closed; the local gateway may send a bare 410.
_GONE_CODES: Final = frozenset({"GoneException", "410"})
_GONE_STATUS: Final = 410

__all__ = [
    "ITEM_CONDITION_FAILED",
    "ClientError",
    "cancellation_reasons",
    "condition_failed",
    "is_gone",
    "refused_item",
    "written",
]


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def condition_failed(error: ClientError) -> bool:
    """Whether a write was refused by its condition (and nothing else went wrong)."""
    return _code(error) == CONDITION_FAILED


def refused_item(error: ClientError) -> dict[str, Any] | None:
    """The item as it stood when a write's condition refused it (asked for with
    ReturnValuesOnConditionCheckFailure=ALL_OLD; empty if there was none), or None when
    the error is anything other than a refusal."""
    if not condition_failed(error):
        return None
    return codec.load(cast("dict[str, Any]", error.response.get("Item") or {}))


def cancellation_reasons(error: ClientError) -> list[str] | None:
    """A cancelled transaction's reason per item, in order ("None" for an item that
    passed), or None when the error is not a cancellation."""
    if _code(error) != TRANSACTION_CANCELLED:
        return None
    reasons = cast("list[dict[str, Any]]", error.response.get("CancellationReasons", []))
    return [str(reason.get("Code", "None")) for reason in reasons]


def written(write: Callable[[], object]) -> bool:
    """Make a conditional write: True if it landed, False if its condition refused it.
    Any other error is raised."""
    try:
        write()
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


def is_gone(error: ClientError) -> bool:
    """A post to a WebSocket connection that no longer exists."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return _code(error) in _GONE_CODES or status == _GONE_STATUS
