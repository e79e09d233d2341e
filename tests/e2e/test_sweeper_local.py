"""The sweeper's real handler on the local stack (moto's server, the patched index
Queries): a pending play whose stream record no expiry ever saw is expired by a
scheduled run, and its player reads it as expired."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

from frolic.allocation.ports import Play
from frolic.dal import codec
from frolic.dal.items import pending_item
from frolic.models import PlayStatus
from frolic_tools.local import DemoGame, LocalClient, LocalStack
from frolic_tools.local.schedules import SWEEP, scheduled_event

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def test_a_pending_play_the_expiry_mapping_never_saw_is_expired_by_the_sweeper(
    stack: LocalStack, anonymous: LocalClient, game: DemoGame
) -> None:
    # Given a pending play, long past its deadline, whose item arrived in a way the
    # expiry mapping's filter (INSERTs of pending plays) drops: as if its record was lost
    db: DynamoDBClient = stack.boto3_session().client("dynamodb", endpoint_url=stack.moto_url)
    player = anonymous.as_user("forgotten-player")
    arrived = time.time() - stack.settings.expiry_seconds - stack.settings.sweep_margin_seconds
    play = Play(
        play_id=f"stuck-{uuid.uuid4().hex[:12]}",
        user_id="forgotten-player",
        game_id=game.game_id,
        arrival_ts=arrived - 1.0,
        fingerprint="0" * 32,
    )
    item = pending_item(play)
    table = stack.settings.results_table
    db.put_item(TableName=table, Item=codec.dump({**item, "status": "arriving"}))
    db.put_item(TableName=table, Item=codec.dump(item))
    assert player.result(play.play_id).json()["status"] == PlayStatus.PENDING
    # When the scheduled sweep runs
    report = stack.functions.invoke("sweep", scheduled_event(SWEEP, time.time()))
    # Then it expired that play, and the player reads it as expired
    assert report["expired"] >= 1 and report["finished"]
    assert player.result(play.play_id).json()["status"] == PlayStatus.EXPIRED
