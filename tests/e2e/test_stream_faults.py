"""The Kinesis → allocate mapping under failure, end to end: failed invocations are
retried until the plays are decided; a game the allocator cannot handle is retried,
then given up on (coordinates on the on-failure list), and its plays still get a
result, by expiry. Afterwards the tables reconcile."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from frolic.dal.tables import budget_key
from frolic_tools.local import DemoGame, LocalClient, LocalStack, create_demo_game
from frolic_tools.reconcile import reconcile
from tests.e2e.conftest import GRACE_SECONDS, REEL_SECONDS
from tests.e2e.waiting import FINAL, final_result

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: Long enough for a retried play to be decided, or for an abandoned one to expire.
RESULT_SECONDS = REEL_SECONDS + GRACE_SECONDS + 15


def dynamodb(stack: LocalStack) -> DynamoDBClient:
    client: DynamoDBClient = stack.boto3_session().client("dynamodb", endpoint_url=stack.moto_url)
    return client


def allocate_stats(stack: LocalStack) -> dict[str, Any]:
    stats: dict[str, Any] = stack.status()["mappings"]["allocate"]
    return stats


def spin(player: LocalClient, game_id: str, count: int) -> list[str]:
    plays = [f"fault-{uuid.uuid4().hex[:12]}" for _ in range(count)]
    for play_id in plays:
        assert player.play(play_id, game_id).status == 202
    return plays


def test_failed_invocations_are_retried_until_every_play_is_decided(
    stack: LocalStack, anonymous: LocalClient, game: DemoGame
) -> None:
    before = allocate_stats(stack)
    failures_before = stack.failures.total
    stack.functions.fail_next("allocate", 3)  # one record can take 3 retries
    player = anonymous.as_user("unlucky-spinner")
    plays = spin(player, game.game_id, 5)

    statuses = {final_result(player, p, timeout=RESULT_SECONDS)["status"] for p in plays}

    assert statuses <= FINAL - {"expired", "rejected"}
    after = allocate_stats(stack)
    assert after["function_errors"] - before["function_errors"] == 3
    assert after["retries"] + after["bisections"] > before["retries"] + before["bisections"]
    assert stack.failures.total == failures_before


def test_a_game_the_allocator_cannot_handle_is_given_up_on_and_its_plays_expire(
    stack: LocalStack, anonymous: LocalClient, game: DemoGame
) -> None:
    poison = create_demo_game(
        anonymous, minutes=10, budgets=(5,), config={"minSecondsBetweenPlays": 0}
    )
    db = dynamodb(stack)
    key = {k: {"S": v} for k, v in budget_key(poison.game_id, poison.brand_ids[0]).items()}
    table = stack.settings.state_table
    db.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET issued = :broken",
        ExpressionAttributeValues={":broken": {"S": "not a number"}},
    )
    failures_before = stack.failures.total
    player = anonymous.as_user("poisoned-spinner")
    poisoned = spin(player, poison.game_id, 3)
    healthy = spin(player, game.game_id, 3)

    for play_id in poisoned:
        result = final_result(player, play_id, timeout=RESULT_SECONDS)
        assert (result["status"], result["reason"]) == ("expired", "no_result_before_reel_stopped")
    for play_id in healthy:
        assert final_result(player, play_id)["status"] in {"won", "lost"}

    new_entries = stack.failures.total - failures_before
    assert new_entries > 0
    given_up = stack.failures.entries()[-new_entries:]
    assert sum(e["KinesisBatchInfo"]["batchSize"] for e in given_up) >= len(poisoned)
    for entry in given_up:
        assert entry["mapping"] == "allocate"
        assert entry["requestContext"]["condition"] == "RetryAttemptsExhausted"
        info = entry["KinesisBatchInfo"]
        assert info["shardId"].startswith("shardId-")
        assert int(info["startSequenceNumber"]) <= int(info["endSequenceNumber"])
    # Coordinates only: never a play, a player or a code.
    flattened = json.dumps(given_up)
    assert not any(play_id in flattened for play_id in poisoned + healthy)

    db.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET issued = :zero",
        ExpressionAttributeValues={":zero": {"N": "0"}},
    )
    assert reconcile(db, stack.settings, poison.game_id).clean


def test_the_tables_reconcile_after_the_runs(stack: LocalStack, game: DemoGame) -> None:
    report = reconcile(dynamodb(stack), stack.settings, game.game_id)
    assert report.clean, report.render()
    assert report.plays > 0
