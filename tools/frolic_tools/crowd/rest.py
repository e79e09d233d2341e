"""The players' REST calls, on the crowd's event loop: one `httpx.AsyncClient` whose
kept-alive connections every player shares, each request carrying its player's token.

httpx rather than aiohttp: pure Python over h11 with requests and errors shaped like the
blocking clients the tooling already uses, and the players' REST load (a play and a few
polls each) needs no more speed than it has. Like `frolic_tools.local.client.LocalClient` it never
goes through a proxy, never retries behind the caller's back (a play is not sent twice
unasked) and answers every HTTP status; a failed transport is an OSError
(TimeoutError for a timeout), so the players catch one kind of failure.
"""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import quote

import httpx

from frolic_tools.crowd.common import CrowdError, brief
from frolic_tools.local.client import Reply

_NO_BODY: Final = object()


class RestClient:
    """Many players' requests over one pool of connections to the API."""

    def __init__(
        self,
        api: str,
        *,
        timeout: float,
        keepalive: int,
    ) -> None:
        self.api = api
        self._http = httpx.AsyncClient(
            base_url=api,
            timeout=timeout,
            # No cap on connections: each player has at most one request in flight, and
            # a REST player keeps its connection alive between polls, as a phone would.
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=keepalive),
            trust_env=False,  # no proxy from the environment, as LocalClient
        )

    async def request(
        self, method: str, path: str, *, token: str | None = None, body: Any = _NO_BODY
    ) -> Reply:
        """One request; `body` is sent as JSON. Answers any status."""
        headers = {"Accept": "application/json"}
        content = None
        if body is not _NO_BODY:
            content = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = await self._http.request(method, path, content=content, headers=headers)
        except httpx.TimeoutException as error:
            raise TimeoutError(f"{method} {path}: {brief(error)}") from error
        except httpx.RequestError as error:
            raise ConnectionError(f"{method} {path}: {brief(error)}") from error
        return Reply(response.status_code, response.content, dict(response.headers.items()))

    async def setup_call(
        self, method: str, path: str, *, token: str | None = None, body: Any = _NO_BODY
    ) -> Reply:
        """A request whose transport failure is the crowd's one-line error."""
        try:
            return await self.request(method, path, token=token, body=body)
        except OSError as error:
            raise CrowdError(f"cannot reach {self.api}: {brief(error)}") from None

    async def play(self, token: str, play_id: str, game_id: str) -> Reply:
        return await self.request(
            "POST", "/plays", token=token, body={"playId": play_id, "gameId": game_id}
        )

    async def result(self, token: str, play_id: str) -> Reply:
        return await self.request("GET", f"/plays/{quote(play_id, safe='')}", token=token)

    async def aclose(self) -> None:
        await self._http.aclose()
