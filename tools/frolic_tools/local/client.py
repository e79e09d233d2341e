"""A small HTTP and WebSocket client for a Frolic stack: what the demo, the e2e tests and
the crowd's admin calls use to act as a player or a marketer over the real API (the
crowd's players have asyncio clients of their own, `frolic_tools.crowd.rest`).

Requests go through a urllib3 pool that a client shares with every client derived from
it (`with_token`, `as_user`), so a player's plays reuse kept-alive connections instead of
paying a TCP (and, on a deployed stack, TLS) handshake each; urllib3 rather than httpx
because it is already installed (botocore's transport) and does all this needs.

It never goes through a proxy and never raises for an HTTP status: `request` answers
every status (a failed transport is an OSError); `call` raises ApiError for 4xx/5xx when
the caller only wants the happy path. Sockets are websockets' blocking client, over
`ws://` or `wss://`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, urlsplit

import urllib3
from websockets.sync.client import ClientConnection, connect

from frolic_tools.local.devauth import Staff
from frolic_tools.local.websocket_server import MAX_MESSAGE_BYTES

_UNSET: Final = object()
#: Kept-alive connections per host: one per thread that calls at once; beyond it a
#: connection is opened for the call and dropped after it.
DEFAULT_POOL_SIZE: Final = 16
#: Failed connections and reads are not retried (a play is not sent twice behind the
#: caller's back); redirects are followed, as a browser would.
_RETRIES: Final = urllib3.Retry(
    total=None, connect=0, read=0, status=0, other=0, redirect=5, raise_on_redirect=False
)
#: How long a closing handshake waits for the server's close frame.
CLOSE_TIMEOUT_SECONDS: Final = 2.0


def open_websocket(url: str, *, timeout: float = 5.0) -> ClientConnection:
    """A player's socket: `ws://` on the local stack, `wss://` on a deployed one. A
    refused handshake is websockets' InvalidStatus (its `response.status_code`)."""
    return connect(
        url,
        open_timeout=timeout,
        close_timeout=CLOSE_TIMEOUT_SECONDS,
        max_size=MAX_MESSAGE_BYTES,
        compression=None,  # the local gateway takes no extensions: skip the offer
        proxy=None,
        ping_interval=None,  # a browser's app does not ping either; no keepalive thread
        legacy=True,  # a plain connection: callers close it (or use it in `with`)
    )


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class ApiError(Exception):
    """An HTTP error answer to `call`: its status and decoded JSON body."""

    def __init__(self, method: str, path: str, reply: Reply) -> None:
        try:
            body = reply.json()
        except ValueError:
            body = reply.body[:200].decode("utf-8", "replace")
        code = body.get("error") if isinstance(body, dict) else None
        super().__init__(f"{method} {path}: {reply.status} {code or body}")
        self.status = reply.status
        self.body = body


class LocalClient:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        pool_size: int = DEFAULT_POOL_SIZE,
        pool: urllib3.PoolManager | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._pool = pool or urllib3.PoolManager(
            maxsize=pool_size,
            retries=_RETRIES,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
        )

    @property
    def ws_url(self) -> str:
        parts = urlsplit(self.base_url)
        return f"ws://{parts.netloc}/ws"

    def with_token(self, token: str | None) -> LocalClient:
        """The same API as another user, over the same connection pool."""
        return LocalClient(self.base_url, token=token, timeout=self.timeout, pool=self._pool)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = _UNSET,
        raw: bytes | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """One request; `body` is sent as JSON, `raw` as is. Answers any status."""
        sent_headers = {"Accept": "application/json", **(headers or {})}
        data = raw
        if body is not _UNSET:
            data = json.dumps(body).encode()
            sent_headers["Content-Type"] = "application/json"
        if content_type is not None:
            sent_headers["Content-Type"] = content_type
        if self.token is not None:
            sent_headers.setdefault("Authorization", f"Bearer {self.token}")
        try:
            response = self._pool.request(
                method, self.base_url + path, body=data, headers=sent_headers
            )
        except urllib3.exceptions.HTTPError as error:
            raise _transport_error(f"{method} {path}", error) from error
        return Reply(
            response.status, response.data, {k.lower(): v for k, v in response.headers.items()}
        )

    def call(self, method: str, path: str, body: Any = _UNSET) -> Any:
        """The decoded JSON answer of a successful request, else ApiError."""
        reply = self.request(method, path, body=body)
        if reply.status >= 400:
            raise ApiError(method, path, reply)
        return reply.json()

    # -- the flows every caller needs ---------------------------------------------------

    def issue_token(self, user_id: str, *, admin: bool = False, staff: Staff | None = None) -> str:
        """A dev token from the local issuer (POST /dev/token), for a brand's `staff`
        if given."""
        request: dict[str, Any] = {"userId": user_id, "admin": admin}
        if staff is not None:
            request.update(role=staff.role, brands=list(staff.brands))
        answer = self.call("POST", "/dev/token", request)
        token: str = answer["token"]
        return token

    def as_user(
        self, user_id: str, *, admin: bool = False, staff: Staff | None = None
    ) -> LocalClient:
        return self.with_token(self.issue_token(user_id, admin=admin, staff=staff))

    def ws_ticket(self) -> str:
        ticket: str = self.call("POST", "/ws-ticket")["ticket"]
        return ticket

    def open_socket(self, *, timeout: float = 5.0) -> ClientConnection:
        """The player's results socket, opened with a fresh ticket."""
        return open_websocket(f"{self.ws_url}?ticket={quote(self.ws_ticket())}", timeout=timeout)

    def play(self, play_id: str, game_id: str) -> Reply:
        return self.request("POST", "/plays", body={"playId": play_id, "gameId": game_id})

    def result(self, play_id: str) -> Reply:
        return self.request("GET", f"/plays/{quote(play_id, safe='')}")


def _transport_error(what: str, error: urllib3.exceptions.HTTPError) -> OSError:
    """urllib3's failure as the OSError callers catch (TimeoutError for a timeout),
    naming what lies under its retry wrapper (a refused connection, say)."""
    cause: Exception = error
    if isinstance(error, urllib3.exceptions.MaxRetryError) and error.reason is not None:
        cause = error.reason
    # A refused connection is a ConnectTimeoutError too, for urllib3 1.x's sake.
    timed_out = isinstance(cause, urllib3.exceptions.TimeoutError) and not isinstance(
        cause, urllib3.exceptions.NewConnectionError
    )
    if timed_out:
        return TimeoutError(f"{what}: {cause}")
    return ConnectionError(f"{what}: {cause}")
