"""Privacy over a whole run: coupon codes never reach logs, and results reach only
their owner. Everything every handler logs while plays are won is captured and read."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from frolic_tools.local import LocalClient, create_demo_game
from tests.e2e.waiting import final_result, receive_until


def test_no_coupon_code_appears_in_any_log_of_a_run_with_winners(
    anonymous: LocalClient,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Frolic's own logger down to DEBUG; the AWS SDK at its production level (its DEBUG
    # wire dumps hold whole responses and are never switched on outside a laptop).
    caplog.set_level(logging.DEBUG, logger="frolic")
    # A game of its own, five minutes into a six-minute window with no plays yet: the
    # schedule owes most of its 90 coupons and a lone player is all the traffic there
    # is, so the first plays take a coupon each. (The package's shared game has been
    # played by other tests and owes too few for a handful of plays to be sure to win.)
    game = create_demo_game(
        anonymous,
        minutes=6,
        budgets=(60, 30),
        config={"minSecondsBetweenPlays": 0, "maxWinsPerUser": 1000},
        start=datetime.now(UTC) - timedelta(minutes=5),
        name="Privacy run",
    )
    # Given players spinning over sockets and REST until some of them win
    codes: set[str] = set()
    outsiders: list[tuple[str, str]] = []
    for round_number in range(40):
        player = anonymous.as_user(f"privacy-{uuid.uuid4().hex[:10]}")
        play_id = f"privacy-{round_number}-{uuid.uuid4().hex[:8]}"
        if round_number % 2:
            with player.open_socket() as socket_client:
                socket_client.send(
                    json.dumps({"action": "play", "playId": play_id, "gameId": game.game_id})
                )
                receive_until(
                    socket_client, lambda frames: any(f.get("type") == "queued" for f in frames)
                )
                result = final_result(player, play_id)
        else:
            player.play(play_id, game.game_id)
            result = final_result(player, play_id)
        for coupon in result.get("coupons", []):
            codes.add(coupon["code"])
            outsiders.append((play_id, coupon["code"]))
        if len(codes) >= 3:
            break
    assert codes, "no play won: the run proves nothing about codes"
    # Then no log line, from any function, the gateway or moto, holds a code
    out, err = capfd.readouterr()
    logged = out + err + "\n".join(record.getMessage() for record in caplog.records)
    assert logged, "nothing was captured: the check would pass vacuously"
    leaks = [line[:300] for line in logged.splitlines() if any(code in line for code in codes)]
    assert not leaks
    # And another player asking for a winning play learns nothing
    stranger = anonymous.as_user("privacy-stranger")
    for play_id, _ in outsiders:
        assert stranger.result(play_id).status == 404
