"""A player's whole path, over the real wire: ticket, socket, plays, `queued`, exactly
one `result` per play, and the same result over REST."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.protocol import State

from frolic_tools.local import DemoGame, LocalClient, LocalStack
from frolic_tools.local.client import open_websocket
from tests.e2e.waiting import FINAL, final_result, receive_until, wait_for


def new_play_id(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}"


def play_message(play_id: str, game_id: str) -> str:
    return json.dumps({"action": "play", "playId": play_id, "gameId": game_id})


def test_socket_plays_are_queued_then_get_exactly_one_result_each(
    anonymous: LocalClient, game: DemoGame
) -> None:
    player = anonymous.as_user(new_play_id("spinner"))
    plays = [new_play_id("ws") for _ in range(4)]
    malformed = [
        "not json at all",
        json.dumps({"action": "play"}),
        json.dumps({"action": "play", "playId": "bad id!", "gameId": game.game_id}),
        json.dumps({"action": "dance"}),
        json.dumps([1, 2, 3]),
    ]
    with player.open_socket() as socket_client:
        for play_id in plays:
            socket_client.send(play_message(play_id, game.game_id))
        socket_client.send(play_message(plays[0], game.game_id))  # a client's resend
        for text in malformed:
            socket_client.send(text)
        socket_client.send(b"\xff\xfe binary")

        def all_in(messages: list[dict[str, Any]]) -> bool:
            results = {m["playId"] for m in messages if m.get("type") == "result"}
            errors = [m for m in messages if m.get("type") == "error"]
            return results == set(plays) and len(errors) == len(malformed) + 1

        messages = receive_until(socket_client, all_in)
        # Whatever was still on its way is in before the answer to a later ping.
        socket_client.send(json.dumps({"action": "ping"}))
        messages += receive_until(socket_client, lambda got: {"type": "pong"} in got)
        assert socket_client.state is State.OPEN  # bad messages never cost the socket

    for play_id in plays:
        about = [m for m in messages if m.get("playId") == play_id]
        assert about[0]["type"] == "queued"
        results = [m for m in about if m["type"] == "result"]
        assert len(results) == 1, about
        pushed = results[0]
        assert pushed["status"] in FINAL - {"expired"}
        stored = final_result(player, play_id)
        assert stored["status"] == pushed["status"]
        assert stored.get("coupon") == pushed.get("coupon")
        if pushed["status"] == "won":
            assert pushed["coupon"]["brandId"] in game.brand_ids
    assert Counter(m["type"] for m in messages if m.get("playId") == plays[0])["queued"] == 2
    errors = Counter(m["error"] for m in messages if m.get("type") == "error")
    assert errors == {
        "invalid_json": 2,
        "invalid_request": 2,
        "invalid_message": 1,
        "unknown_action": 1,
    }


def test_rest_plays_are_decided_and_only_their_owner_reads_them(
    anonymous: LocalClient, game: DemoGame
) -> None:
    owner = anonymous.as_user(new_play_id("rest-player"))
    play_id = new_play_id("rest")
    accepted = owner.play(play_id, game.game_id)
    assert accepted.status == 202
    assert accepted.json() == {"playId": play_id, "status": "queued"}
    assert final_result(owner, play_id)["status"] in FINAL - {"expired"}
    stranger = anonymous.as_user(new_play_id("stranger"))
    assert stranger.result(play_id).status == 404
    taken = stranger.play(play_id, game.game_id)
    assert (taken.status, taken.json()["error"]) == (409, "play_id_taken")
    assert owner.play(new_play_id("rest"), "no-such-game").status == 404


@pytest.mark.parametrize("query", ["", "?ticket=", "?ticket=not-a-ticket", "?other=1"])
def test_a_socket_without_a_valid_ticket_is_refused_at_the_handshake(
    stack: LocalStack, query: str
) -> None:
    before = set(stack.connection_ids())
    with pytest.raises(InvalidStatus) as refused:
        open_websocket(stack.ws_url + query)
    assert refused.value.response.status_code == 401
    assert set(stack.connection_ids()) <= before


def test_a_ticket_opens_one_socket_only(stack: LocalStack, anonymous: LocalClient) -> None:
    player = anonymous.as_user(new_play_id("ticket-holder"))
    ticket = player.ws_ticket()
    with open_websocket(f"{stack.ws_url}?ticket={ticket}"):
        with pytest.raises(InvalidStatus) as refused:
            open_websocket(f"{stack.ws_url}?ticket={ticket}")
        assert refused.value.response.status_code == 401


def test_a_result_for_a_closed_socket_is_still_read_over_rest(
    stack: LocalStack, anonymous: LocalClient, game: DemoGame
) -> None:
    player = anonymous.as_user(new_play_id("leaver"))
    play_id = new_play_id("left")
    before = set(stack.connection_ids())
    socket_client = player.open_socket()
    socket_client.send(play_message(play_id, game.game_id))
    assert json.loads(socket_client.recv(timeout=10))["type"] == "queued"
    socket_client.close()
    wait_for(
        lambda: set(stack.connection_ids()) <= before, timeout=5, what="the socket to be dropped"
    )
    assert final_result(player, play_id)["status"] in FINAL - {"expired"}
