"""Events out of the local stack: what a CRM behind `frolic local --events-to` gets."""

from __future__ import annotations

import hmac
import json
import secrets
from pathlib import Path
from typing import Any

from frolic_tools.local import LocalClient
from frolic_tools.local.events_out import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)
from tests.e2e.conftest import EVENTS_SECRET
from tests.e2e.games import game_under_way
from tests.e2e.receiver import EventReceiver, Received
from tests.e2e.waiting import final_result, wait_for

WAIT_SECONDS = 30.0


def taken_event(receiver: EventReceiver, event_id: str) -> Received:
    def find() -> Received | None:
        return next((r for r in receiver.taken() if r.event["id"] == event_id), None)

    return wait_for(find, timeout=WAIT_SECONDS, what=f"the receiver to take {event_id}")


def test_a_win_reaches_the_crm_signed_and_without_its_code(
    anonymous: LocalClient, receiver: EventReceiver, events_copy: Path
) -> None:
    # Given a player who wins a coupon
    game = game_under_way(anonymous, "Events spin", "Events Eclairs")
    player = anonymous.as_user("Events-Player")
    play_id = f"events-{secrets.token_hex(4)}"
    assert player.play(play_id, game.game_id).status == 202
    result = final_result(player, play_id)
    assert result["status"] == "won", result
    code = result["coupon"]["code"]
    # When the receiver takes the win and its coupon
    won = taken_event(receiver, f"won:{play_id}")
    issued = taken_event(receiver, f"issued:{play_id}:0")
    # Then each is signed with the shared secret over its timestamp and body
    for request in (won, issued):
        timestamp = request.headers[TIMESTAMP_HEADER]
        expected = signature(EVENTS_SECRET, timestamp, request.body)
        assert hmac.compare_digest(request.headers[SIGNATURE_HEADER], expected)
        assert request.headers[EVENT_ID_HEADER] == request.event["id"]
    assert won.event["type"] == "Play won"
    assert won.event["detail"]["gameId"] == game.game_id
    assert issued.event["type"] == "Coupon issued"
    assert issued.event["detail"]["brandId"] == game.brand_ids[0]
    # ... the code stays home: this destination did not ask for codes
    assert "code" not in issued.event["detail"]
    assert code not in issued.body.decode()
    # ... and out/events.jsonl keeps a copy of each, as sent
    copied = [json.loads(line) for line in (events_copy / "events.jsonl").read_text().splitlines()]
    assert won.event in copied and issued.event in copied


def test_a_refused_event_is_sent_again_until_taken(
    admin: LocalClient, anonymous: LocalClient, receiver: EventReceiver
) -> None:
    # Given a receiver that answers 503 twice to a game's end
    game = game_under_way(anonymous, "Retried spin", "Retried Rolls")

    def the_end(event: dict[str, Any]) -> bool:
        detail = event["detail"]
        return bool(detail.get("gameId") == game.game_id and detail.get("status") == "ENDED")

    receiver.fail(2, the_end)
    # When the game ends
    admin.call("PATCH", f"/admin/games/{game.game_id}", {"status": "ENDED"})

    # Then the event arrives after the two refusals, under one id
    def taken() -> Received | None:
        return next((r for r in receiver.taken() if the_end(r.event)), None)

    event = wait_for(taken, timeout=WAIT_SECONDS, what="the status change to be taken")
    tries = [r for r in receiver.requests if r.event["id"] == event.event["id"]]
    assert [r.status for r in tries] == [503, 503, 200]
