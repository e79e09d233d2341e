"""The WebSocket `play` action: the player is the socket's owner, the answer a frame,
returned as the route's response (API Gateway sends it to the socket)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent

from frolic.dal.sessions import CONNECTION_SECONDS, Sessions
from frolic.ws_play import WebSocketPlays
from frolic_tools.schema import LOCAL_STREAM
from tests.integration.push_fixtures import message_event
from tests.integration.world import GAME, World


@pytest.fixture
def sockets(world: World) -> Iterator[tuple[WebSocketPlays, Any]]:
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName=LOCAL_STREAM, ShardCount=1)
    world.live_game()
    world.budget("brand-a", 5)
    sessions = Sessions(world.db, world.settings, clock=world.clock)
    sessions.open("conn-1", "player-1")
    yield WebSocketPlays(intake=world.intake(kinesis), sessions=sessions), kinesis


def _send(plays: WebSocketPlays, connection: str, body: Any) -> dict[str, Any]:
    """The frame the route response carries to the socket."""
    text = body if isinstance(body, str) else json.dumps(body)
    response = plays.handle(APIGatewayWebSocketEvent(message_event(connection, text)))
    assert response["statusCode"] == 200
    frame: dict[str, Any] = json.loads(response["body"])
    return frame


def test_a_play_on_the_socket_is_queued_for_the_sockets_player(
    world: World, sockets: tuple[WebSocketPlays, Any]
) -> None:
    plays, _ = sockets
    frame = _send(plays, "conn-1", {"action": "play", "playId": "p-1", "gameId": GAME})
    assert frame == {"type": "queued", "playId": "p-1", "status": "queued"}
    pending = world.result("p-1")
    assert (pending["userId"], pending["connectionId"]) == ("player-1", "conn-1")


@pytest.mark.parametrize(
    ("body", "error", "field"),
    [
        ("{broken", "invalid_json", None),
        ({"action": "play", "playId": "p-1"}, "invalid_request", "gameId"),
        ({"action": "play", "playId": "p-1", "gameId": "no-such-game"}, "unknown_game", None),
        # The socket and the player come from the connection, never from the message.
        (
            {"action": "play", "playId": "p-1", "gameId": GAME, "connectionId": "conn-2"},
            "invalid_request",
            "connectionId",
        ),
        (
            {"action": "play", "playId": "p-1", "gameId": GAME, "userId": "p-2"},
            "invalid_request",
            "userId",
        ),
    ],
)
def test_a_bad_play_gets_an_error_frame_and_nothing_is_recorded(
    world: World, sockets: tuple[WebSocketPlays, Any], body: Any, error: str, field: str | None
) -> None:
    plays, _ = sockets
    frame = _send(plays, "conn-1", body)
    assert (frame["type"], frame["error"]) == ("error", error)
    assert [f["field"] for f in frame.get("fields", [])] == ([field] if field else [])
    assert "Item" not in world.db.get_item(
        TableName=world.settings.results_table, Key={"playId": {"S": "p-1"}}
    )


def test_a_socket_nobody_opened_with_a_ticket_cannot_play(
    sockets: tuple[WebSocketPlays, Any],
) -> None:
    plays, _ = sockets
    frame = _send(plays, "conn-stranger", {"action": "play", "playId": "p-9", "gameId": GAME})
    assert frame["error"] == "unauthenticated"


def test_a_flood_of_resends_on_the_socket_puts_the_play_once_more(
    sockets: tuple[WebSocketPlays, Any],
) -> None:
    plays, kinesis = sockets
    puts: list[str] = []
    kinesis.meta.events.register(
        "before-parameter-build.kinesis.PutRecord",
        lambda params, **_: puts.append(params["PartitionKey"]),
    )
    message = {"action": "play", "playId": "p-1", "gameId": GAME}
    frames = [_send(plays, "conn-1", message) for _ in range(50)]
    assert {frame["status"] for frame in frames} == {"queued"}
    assert len(puts) == 2  # the play, and the first resend's copy


def _sessions_reads(world: World) -> list[str]:
    """The connection ids whose sessions items are read from now on."""
    reads: list[str] = []

    def note(params: dict[str, Any], **_: Any) -> None:
        if params["TableName"] == world.settings.sessions_table:
            reads.append(params["Key"]["pk"]["S"])

    world.db.meta.events.register("before-parameter-build.dynamodb.GetItem", note)
    return reads


def test_a_sockets_owner_is_read_once_for_all_its_plays(
    world: World, sockets: tuple[WebSocketPlays, Any]
) -> None:
    plays, _ = sockets
    reads = _sessions_reads(world)
    frames = [
        _send(plays, "conn-1", {"action": "play", "playId": f"p-{n}", "gameId": GAME})
        for n in range(3)
    ]
    assert len(reads) == 1
    assert frames[0] == {"type": "queued", "playId": "p-0", "status": "queued"}
    # The later plays are the same player's: refused by that player's play slot.
    assert [frame["error"] for frame in frames[1:]] == ["too_many_plays"] * 2


def test_a_known_socket_past_its_life_cannot_play(
    world: World, sockets: tuple[WebSocketPlays, Any]
) -> None:
    plays, _ = sockets
    _send(plays, "conn-1", {"action": "play", "playId": "p-1", "gameId": GAME})
    world.clock.now += CONNECTION_SECONDS + 1  # the item outlived its 2 h (TTL is late)
    reads = _sessions_reads(world)
    frame = _send(plays, "conn-1", {"action": "play", "playId": "p-2", "gameId": GAME})
    assert frame["error"] == "unauthenticated"
    assert reads == []  # the item's expiry was known: it never changes
