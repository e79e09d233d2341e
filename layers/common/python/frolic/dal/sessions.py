"""WebSocket tickets and connections in the sessions table.

A browser cannot set an Authorization header on a WebSocket handshake, and a long-lived
token in a URL ends up in access logs and browser history. So a signed-in player trades
their token over REST for a ticket that lives 30 s and works once, and `$connect`
redeems it. Redeeming is one conditional DeleteItem: of two racing handshakes with one
ticket, exactly one gets the item back.

A connection item records who opened the socket, so that `deliver` pushes a result only
to a socket of the player who owns it. Items carry `expiresAt` for TTL; because TTL
deletes late (up to days), every read checks the expiry itself.
"""

from __future__ import annotations

import math
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from frolic.dal import codec
from frolic.dal.errors import ClientError, condition_failed
from frolic.dal.tables import TTL_ATTRIBUTE, connection_key, ticket_key
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TICKET_SECONDS = 30
#: API Gateway closes a WebSocket after 2 h at most; the item need not outlive it.
CONNECTION_SECONDS = 2 * 3600
#: Connection owners an execution environment keeps (`KnownOwners`): ~100 bytes each.
KNOWN_OWNERS = 10_000
#: `secrets.token_urlsafe(24)` gives 32 characters; anything far off is not ours.
_TICKET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


class Sessions:
    def __init__(
        self, client: DynamoDBClient, settings: Settings, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = client
        self._table = settings.sessions_table
        self._clock = clock

    def issue_ticket(self, user_id: str) -> tuple[str, int]:
        """A fresh single-use ticket for `user_id` and the epoch second it stops working."""
        ticket = secrets.token_urlsafe(24)
        expires_at = math.ceil(self._clock()) + TICKET_SECONDS
        self._db.put_item(
            TableName=self._table,
            Item=codec.dump(
                {
                    **ticket_key(ticket),
                    "kind": "ticket",
                    "userId": user_id,
                    TTL_ATTRIBUTE: expires_at,
                }
            ),
            # 192 random bits never collide; the condition makes sure of it for free.
            ConditionExpression="attribute_not_exists(pk)",
        )
        return ticket, expires_at

    def redeem_ticket(self, ticket: str) -> str | None:
        """The ticket's user, once; None for an unknown, used or expired ticket."""
        if not _TICKET_SHAPE.fullmatch(ticket):
            return None
        try:
            response = self._db.delete_item(
                TableName=self._table,
                Key=codec.dump(ticket_key(ticket)),
                ConditionExpression="attribute_exists(pk)",
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if condition_failed(error):
                return None
            raise
        item = codec.load(response.get("Attributes", {}))
        if not item.get("userId") or self._expired(item):
            return None
        return str(item["userId"])

    def open(self, connection_id: str, user_id: str) -> None:
        now = self._clock()
        self._db.put_item(
            TableName=self._table,
            Item=codec.dump(
                {
                    **connection_key(connection_id),
                    "kind": "connection",
                    "userId": user_id,
                    "connectedAt": now,
                    TTL_ATTRIBUTE: math.ceil(now) + CONNECTION_SECONDS,
                }
            ),
        )

    def close(self, connection_id: str) -> None:
        """Forget a connection; closing one already gone is fine."""
        self._db.delete_item(TableName=self._table, Key=codec.dump(connection_key(connection_id)))

    def owner(self, connection_id: str) -> str | None:
        """Who opened this connection, or None if it is closed or past its 2 h life."""
        found = self.connection(connection_id)
        if found is None or self.expired(found[1]):
            return None
        return found[0]

    def connection(self, connection_id: str) -> tuple[str, float] | None:
        """Who opened this connection and when its item expires; None if it is closed."""
        response = self._db.get_item(
            TableName=self._table,
            Key=codec.dump(connection_key(connection_id)),
            ConsistentRead=True,
        )
        item = codec.load(response.get("Item", {}))
        expires_at = item.get(TTL_ATTRIBUTE)
        if not item.get("userId") or not isinstance(expires_at, int | float):
            return None
        return str(item["userId"]), float(expires_at)

    def expired(self, expires_at: float) -> bool:
        return expires_at < self._clock()

    def _expired(self, item: dict[str, object]) -> bool:
        expires_at = item.get(TTL_ATTRIBUTE)
        return not isinstance(expires_at, int | float) or self.expired(expires_at)


class KnownOwners:
    """The owners of the connections an execution environment has seen, so that a
    player's plays over one socket read its sessions item once, not once a play.

    Right for as long as a connection lives: its item is written once, at `$connect`,
    and only deleted after; API Gateway never reuses a connection id; and no message
    comes over a connection that has ended. The item's expiry is checked on every use,
    a connection not found is never remembered, and the oldest entries go first."""

    def __init__(self, sessions: Sessions, capacity: int = KNOWN_OWNERS) -> None:
        self._sessions = sessions
        self._capacity = capacity
        self._known: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def owner(self, connection_id: str) -> str | None:
        """As `Sessions.owner`, from memory when the connection is known."""
        known = self._known.get(connection_id)
        if known is None:
            known = self._sessions.connection(connection_id)
            if known is None:
                return None
            self._known[connection_id] = known
            if len(self._known) > self._capacity:
                self._known.popitem(last=False)
        else:
            self._known.move_to_end(connection_id)
        owner, expires_at = known
        if self._sessions.expired(expires_at):
            del self._known[connection_id]
            return None
        return owner

    def forget(self, connection_id: str) -> None:
        self._known.pop(connection_id, None)
