"""The per-player play rate: one play per interval, decided by a conditional write."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from frolic.auth import Principal
from frolic.dal.sessions import Sessions
from frolic.http import resolve
from frolic.ingest import PlayIntake, PlayRequest, TooManyPlaysError
from frolic.models import GameConfig
from frolic.player_api import build_player_app
from frolic_tools.schema import LOCAL_STREAM
from tests.integration.apigw import json_body, rest_event
from tests.integration.world import GAME, World


def _intake(world: World, db: Any = None) -> PlayIntake:
    return world.intake(boto3.client("kinesis", region_name="us-east-1"), db)


@pytest.fixture
def stream(world: World) -> None:
    boto3.client("kinesis", region_name="us-east-1").create_stream(
        StreamName=LOCAL_STREAM, ShardCount=1
    )


def test_a_second_play_within_the_interval_gets_429_with_retry_after(
    world: World, stream: None
) -> None:
    world.live_game(config=GameConfig(min_seconds_between_plays=10))
    sessions = Sessions(world.db, world.settings, clock=world.clock)
    app = build_player_app(
        intake=_intake(world), db=world.db, settings=world.settings, sessions=sessions
    )
    first = resolve(app, rest_event("POST", "/plays", body={"playId": "p-1", "gameId": GAME}), {})
    world.clock.now += 3.5
    second = resolve(app, rest_event("POST", "/plays", body={"playId": "p-2", "gameId": GAME}), {})
    assert first["statusCode"] == 202
    assert second["statusCode"] == 429
    assert second["multiValueHeaders"]["Retry-After"] == ["7"]
    assert json_body(second)["error"] == "too_many_plays"
    # A resend of the accepted play is still answered as accepted, not refused
    again = resolve(app, rest_event("POST", "/plays", body={"playId": "p-1", "gameId": GAME}), {})
    assert again["statusCode"] == 202
    # And once the interval has passed, the player may play again
    world.clock.now += 6.5
    third = resolve(app, rest_event("POST", "/plays", body={"playId": "p-3", "gameId": GAME}), {})
    assert third["statusCode"] == 202


def test_two_devices_playing_at_once_get_one_play_through(world: World, stream: None) -> None:
    # Given one player on two devices, each served by its own Lambda
    world.live_game(config=GameConfig(min_seconds_between_plays=10))
    phone_db = boto3.client("dynamodb", region_name="us-east-1")
    phone, laptop = _intake(world, phone_db), _intake(world)
    player = Principal("player-1", frozenset())
    laptop_result: dict[str, Any] = {}

    def laptop_plays_meanwhile(**_: Any) -> None:
        if not laptop_result:
            laptop_result["accepted"] = laptop.accept(
                player, PlayRequest(play_id="from-laptop", game_id=GAME)
            )

    # When the laptop's play lands between the phone's request and its write
    phone_db.meta.events.register("before-call.dynamodb.UpdateItem", laptop_plays_meanwhile)
    with pytest.raises(TooManyPlaysError):
        phone.accept(player, PlayRequest(play_id="from-phone", game_id=GAME))
    # Then only the laptop's play was taken
    assert laptop_result["accepted"].status == "queued"
    assert world.result("from-laptop")["status"] == "pending"
    assert "Item" not in world.db.get_item(
        TableName=world.settings.results_table, Key={"playId": {"S": "from-phone"}}
    )


def test_a_game_without_a_play_interval_takes_every_play(world: World, stream: None) -> None:
    world.live_game(config=GameConfig(min_seconds_between_plays=0))
    intake = _intake(world)
    player = Principal("player-1", frozenset())
    for n in range(5):
        assert intake.accept(player, PlayRequest(play_id=f"p-{n}", game_id=GAME)).status == "queued"
