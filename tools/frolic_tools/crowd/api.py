"""The API calls a crowd makes besides its plays: dev tokens, the game as the admin API
has it, WebSocket tickets and sockets, and the admin report sampled while a schedule
runs.

The admin's calls (its token, the game) are blocking, through `LocalClient`, made before
the crowd opens; the players' (their tokens, tickets and sockets) and the report's
samples are made on the crowd's event loop. Both read the answers with the same
readers. Each failure to start is a one-line CrowdError naming the API, so `frolic
crowd` can print it and exit; a failed sample is only a gap in the chart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from frolic_tools.crowd.common import (
    DEFAULT_PLAY_INTERVAL,
    CrowdError,
    GameInfo,
    brief,
    error_code,
)
from frolic_tools.crowd.rest import RestClient
from frolic_tools.local.client import CLOSE_TIMEOUT_SECONDS, LocalClient, Reply
from frolic_tools.local.websocket_server import MAX_MESSAGE_BYTES

SOCKET_OPEN_SECONDS = 5.0


def call(client: LocalClient, api: str, method: str, path: str, body: Any = None) -> Reply:
    """A blocking request whose transport failure is the crowd's one-line error."""
    try:
        if body is None:
            return client.request(method, path)
        return client.request(method, path, body=body)
    except OSError as error:
        raise CrowdError(f"cannot reach {api}: {brief(error)}") from None


def _token_body(user_id: str, admin: bool) -> dict[str, Any]:
    return {"userId": user_id, "admin": admin}


def token_from(api: str, reply: Reply) -> str:
    """The token in the dev issuer's answer (`POST /dev/token`)."""
    if reply.status == 404:
        raise CrowdError(
            f"{api} has no dev token route (POST /dev/token): "
            "for a deployed stack pass --tokens FILE"
        )
    if reply.status != 200:
        raise CrowdError(f"POST /dev/token: {reply.status} {error_code(reply)}")
    try:
        token = reply.json()["token"]
    except (ValueError, KeyError, TypeError):
        raise CrowdError(f"{api} does not look like a Frolic API") from None
    return str(token)


def dev_token(base: LocalClient, api: str, user_id: str, admin: bool = False) -> str:
    """A token from the local stack's dev issuer, blocking (the admin's)."""
    return token_from(api, call(base, api, "POST", "/dev/token", _token_body(user_id, admin)))


async def player_token(rest: RestClient, user_id: str) -> str:
    """A player's token from the local stack's dev issuer."""
    reply = await rest.setup_call("POST", "/dev/token", body=_token_body(user_id, False))
    return token_from(rest.api, reply)


def read_game(admin: LocalClient, api: str, game_id: str) -> GameInfo:
    """The game's window and rules, and its total budget from the report's brands.
    CrowdError when there is no such game."""
    path = f"/admin/games/{quote(game_id, safe='')}"
    reply = call(admin, api, "GET", path)
    if reply.status == 404:
        raise CrowdError(f"there is no game {game_id!r} at {api}")
    if reply.status != 200:
        raise CrowdError(f"GET {path}: {reply.status} {error_code(reply)}")
    report = call(admin, api, "GET", f"{path}/report")
    try:
        game = reply.json()
        config = game.get("config") or {}
        brands = report.json()["brands"] if report.status == 200 else []
        curve = config.get("releaseCurve")
        return GameInfo(
            game_id=game_id,
            status=str(game["status"]),
            start=datetime.fromisoformat(game["startTime"]).timestamp(),
            end=datetime.fromisoformat(game["endTime"]).timestamp(),
            min_seconds_between_plays=float(
                config.get("minSecondsBetweenPlays", DEFAULT_PLAY_INTERVAL)
            ),
            release_curve=tuple(float(w) for w in curve) if curve else None,
            budget_total=sum(int(b["budget"]) for b in brands),
        )
    except (ValueError, KeyError, TypeError):
        raise CrowdError(f"{api} answered GET {path} with an unexpected body") from None


async def open_player_socket(rest: RestClient, token: str, ws_url: str) -> ClientConnection:
    """A ticket for the player (`POST /ws-ticket`), then its socket. Settings as
    `frolic_tools.local.client.open_websocket`'s: a phone's app neither pings nor
    compresses, and API Gateway's message limit holds."""
    reply = await rest.setup_call("POST", "/ws-ticket", token=token)
    if reply.status != 200:
        raise CrowdError(f"POST /ws-ticket: {reply.status} {error_code(reply)}")
    try:
        ticket = str(reply.json()["ticket"])
    except (ValueError, KeyError, TypeError):
        raise CrowdError("POST /ws-ticket answered without a ticket") from None
    url = f"{ws_url}?ticket={quote(ticket, safe='')}"
    try:
        return await connect(
            url,
            open_timeout=SOCKET_OPEN_SECONDS,
            close_timeout=CLOSE_TIMEOUT_SECONDS,
            max_size=MAX_MESSAGE_BYTES,
            compression=None,
            proxy=None,
            ping_interval=None,
        )
    except InvalidStatus as error:
        raise CrowdError(f"{ws_url} refused the socket: {error.response.status_code}") from None
    except (OSError, WebSocketException, ValueError) as error:
        raise CrowdError(f"cannot open a socket at {ws_url}: {brief(error)}") from None


async def read_game_report(
    rest: RestClient, admin_token: str, game_id: str
) -> tuple[int, list[dict[str, Any]]] | None:
    """Coupons issued so far (the budget counters) and the per-minute curve; None when
    the report cannot be read."""
    path = f"/admin/games/{quote(game_id, safe='')}/report"
    try:
        reply = await rest.request("GET", path, token=admin_token)
        if reply.status != 200:
            return None
        body = reply.json()
        curve = [
            {k: point[k] for k in ("minute", "plays", "issued", "scheduled")}
            for point in body["curve"]
        ]
        return int(body["wins"]), curve
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a missed sample is a gap in the chart, not a failure
