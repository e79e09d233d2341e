"""GET /me/coupons on moto: a player's won coupons across games, paged, newest first."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest

from frolic.dal import codec
from frolic.dal.offers import OfferStore
from frolic.http import resolve
from frolic.models import CouponStatus, GameConfig, Offer
from frolic_tools.schema import LOCAL_STREAM
from frolic_tools.wallet_backfill import backfill_wallet
from tests.doubles import GreedyPacing
from tests.integration.apigw import json_body, rest_event
from tests.integration.world import GAME, World

OTHER_GAME = "game-2"
MANY_WINS = GameConfig(max_wins_per_user=10, min_seconds_between_plays=0)


@pytest.fixture
def app(world: World) -> Any:
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName=LOCAL_STREAM, ShardCount=1)
    return world.player_app(kinesis), kinesis


def play(world: World, app: Any, user: str, play_ids: list[str], game_id: str = GAME) -> None:
    """The plays, in, then allocated (each wins: the pacing is greedy)."""
    player_app, kinesis = app
    for play_id in play_ids:
        body = {"playId": play_id, "gameId": game_id}
        assert (
            resolve(player_app, rest_event("POST", "/plays", body=body, user=user), {})[
                "statusCode"
            ]
            == 202
        )
    records = []
    for shard in kinesis.list_shards(StreamName=LOCAL_STREAM)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=LOCAL_STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += [
            json.loads(r["Data"]) for r in kinesis.get_records(ShardIterator=iterator)["Records"]
        ]
    fresh = [r for r in records if r["playId"] in play_ids]
    world.stream_allocator(GreedyPacing()).handle(
        {"Records": [world.record(r) for r in fresh]}, None
    )


def wallet(app: Any, user: str, **query: str) -> dict[str, Any]:
    response = resolve(app[0], rest_event("GET", "/me/coupons", user=user, query=query), {})
    assert response["statusCode"] == 200, response
    body: dict[str, Any] = json_body(response)
    return body


def set_status(world: World, code: str, status: CouponStatus) -> None:
    """What deliver (ISSUED) and a till (REDEEMED) do to a coupon."""
    for item in world.db.scan(TableName=world.settings.state_table)["Items"]:
        found = codec.load(item)
        if found.get("code") == code and str(found["pk"]).startswith("COUPON#"):
            world.db.update_item(
                TableName=world.settings.state_table,
                Key=codec.dump({"pk": found["pk"], "sk": found["sk"]}),
                UpdateExpression="SET #s = :s",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=codec.dump({":s": status.value}),
            )
            return
    raise AssertionError("no coupon has this code")


def test_a_players_wins_across_games_come_back_newest_first_with_offer_and_status(
    world: World, app: Any
) -> None:
    # Given a player who won twice in one game and once in another, whose first game's
    # brand has an offer, and another player who won once
    world.live_game(config=MANY_WINS)
    world.live_game(config=MANY_WINS, game_id=OTHER_GAME)
    world.budget("brand-a", 5)
    world.budget("brand-b", 5, game_id=OTHER_GAME)
    world.brand("brand-a", "Acme Coffee")
    offer = Offer(title="A free coffee", value="1 cup")
    OfferStore(world.db, world.settings).put(GAME, "brand-a", offer, actor="marketer")
    play(world, app, "alice", ["a-1", "a-2"])
    world.clock.now += 60.0
    play(world, app, "alice", ["a-3"], game_id=OTHER_GAME)
    play(world, app, "bob", ["b-1"])
    first_code = world.result("a-1")["coupons"][0]["code"]
    set_status(world, first_code, CouponStatus.REDEEMED)
    set_status(world, world.result("a-3")["coupons"][0]["code"], CouponStatus.ISSUED)

    # When alice opens her wallet
    coupons = wallet(app, "alice")["coupons"]

    # Then her three coupons show, the newest first, each with its game, brand and
    # status, and the offer where its game-brand has one; bob's is not among them
    by_play = {c["playId"]: c for c in coupons}
    assert set(by_play) == {"a-1", "a-2", "a-3"}
    assert coupons[0]["playId"] == "a-3"
    assert by_play["a-3"]["gameId"] == OTHER_GAME
    assert by_play["a-3"]["status"] == "issued"
    assert by_play["a-1"]["status"] == "redeemed"
    assert by_play["a-2"]["status"] == "pending"
    assert by_play["a-1"]["code"] == first_code
    assert by_play["a-1"]["brandName"] == "Acme Coffee"
    assert by_play["a-1"]["offer"] == {"title": "A free coffee", "value": "1 cup"}
    assert "offer" not in by_play["a-3"]
    assert by_play["a-3"]["wonAt"].endswith("Z")
    assert [c["playId"] for c in wallet(app, "bob")["coupons"]] == ["b-1"]
    assert wallet(app, "carol") == {"coupons": []}


def test_the_wallet_pages_with_a_cursor_only_its_owner_can_use(world: World, app: Any) -> None:
    # Given five wins for one player
    world.live_game(config=MANY_WINS)
    world.budget("brand-a", 10)
    for n in range(5):
        play(world, app, "alice", [f"a-{n}"])
        world.clock.now += 1.0
    # When she reads her wallet two at a time
    pages = [wallet(app, "alice", limit="2")]
    while "cursor" in pages[-1]:
        pages.append(wallet(app, "alice", limit="2", cursor=pages[-1]["cursor"]))
    # Then three pages hold every win once, newest first
    assert [[c["playId"] for c in p["coupons"]] for p in pages] == [
        ["a-4", "a-3"],
        ["a-2", "a-1"],
        ["a-0"],
    ]
    # And her cursor is refused to anyone else, as are one forged for her and one made up
    theirs = pages[0]["cursor"]
    forged = json.loads(base64.urlsafe_b64decode(theirs))
    forged["wonBy"] = "bob"
    made_for_bob = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
    for user, cursor in (("bob", theirs), ("alice", made_for_bob), ("alice", "bm90LWEtY3Vyc29y")):
        query = {"cursor": cursor}
        refused = resolve(app[0], rest_event("GET", "/me/coupons", user=user, query=query), {})
        assert refused["statusCode"] == 400
        assert [f["field"] for f in json_body(refused)["fields"]] == ["cursor"]


def test_the_wallet_needs_a_signed_in_player(world: World, app: Any) -> None:
    response = resolve(app[0], rest_event("GET", "/me/coupons", user=None), {})
    assert response["statusCode"] == 401


def test_wins_from_before_the_wallet_index_are_backfilled_once(world: World, app: Any) -> None:
    # Given three wins by alice and a loss, two of the wins decided before the index
    # existed (no wonBy), and one win already in it
    world.live_game(config=MANY_WINS)
    world.budget("brand-a", 10)
    play(world, app, "alice", ["a-1", "a-2", "a-3"])
    for play_id in ("a-1", "a-2"):
        world.db.update_item(
            TableName=world.settings.results_table,
            Key={"playId": {"S": play_id}},
            UpdateExpression="REMOVE wonBy",
        )
    world.db.put_item(
        TableName=world.settings.results_table,
        Item=codec.dump({"playId": "l-1", "userId": "alice", "gameId": GAME, "status": "lost"}),
    )
    assert [c["playId"] for c in wallet(app, "alice")["coupons"]] == ["a-3"]
    # When the backfill runs, and again
    first = backfill_wallet(world.db, world.settings, segments=2)
    second = backfill_wallet(world.db, world.settings, segments=2)
    # Then the two old wins join the wallet, the loss does not, and the rerun writes nothing
    assert (first.found, first.written) == (2, 2)
    assert (second.found, second.written) == (0, 0)
    assert sorted(c["playId"] for c in wallet(app, "alice")["coupons"]) == ["a-1", "a-2", "a-3"]
    assert "wonBy" not in world.result("l-1")
