"""The players' REST API on moto: taking plays in, and reading them back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest

from frolic.auth import Principal
from frolic.dal.allocation_store import DynamoGameDirectory
from frolic.dal.offers import OfferStore
from frolic.dal.sessions import Sessions
from frolic.http import resolve
from frolic.ingest import PlayRequest
from frolic.models import MAX_GAME_SECONDS, GameStatus, Offer
from frolic_tools.schema import LOCAL_STREAM
from tests.doubles import GreedyPacing
from tests.integration.apigw import json_body, rest_event
from tests.integration.world import GAME, START, World

PLAYER = Principal("player-1", frozenset())


@pytest.fixture
def player_api(world: World) -> Iterator[Any]:
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName=LOCAL_STREAM, ShardCount=2)
    world.live_game()
    world.budget("brand-a", 5)
    world.brand("brand-a", "Acme Coffee")
    app = world.player_app(kinesis)
    yield app, kinesis


def _call(app: Any, event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = resolve(app, event, {})
    return response


def _stream_records(world: World, kinesis: Any) -> list[dict[str, Any]]:
    """Everything on the play stream, as Lambda would be handed it."""
    records = []
    for shard in kinesis.list_shards(StreamName=LOCAL_STREAM)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=LOCAL_STREAM,
            ShardId=shard["ShardId"],
            ShardIteratorType="TRIM_HORIZON",
        )["ShardIterator"]
        for record in kinesis.get_records(ShardIterator=iterator)["Records"]:
            records.append(json.loads(record["Data"]))
    return records


def test_a_play_is_queued_recorded_pending_and_put_on_the_stream(
    world: World, player_api: Any
) -> None:
    app, kinesis = player_api
    response = _call(app, rest_event("POST", "/plays", body={"playId": "p-1", "gameId": GAME}))
    assert response["statusCode"] == 202
    assert json_body(response) == {"playId": "p-1", "status": "queued"}
    assert world.result("p-1")["status"] == "pending"
    [record] = _stream_records(world, kinesis)
    assert record["playId"] == "p-1"
    assert record["userId"] == "player-1"
    assert record["arrivalTs"] == world.clock.now
    # And the owner reads it as pending
    read = _call(app, rest_event("GET", "/plays/p-1"))
    assert json_body(read) == {"playId": "p-1", "gameId": GAME, "status": "pending"}


def test_resending_a_play_is_harmless_and_reusing_its_id_is_refused(
    world: World, player_api: Any
) -> None:
    app, kinesis = player_api
    body = {"playId": "p-1", "gameId": GAME}
    first = _call(app, rest_event("POST", "/plays", body=body))
    world.clock.now += 1
    again = _call(app, rest_event("POST", "/plays", body=body))
    assert first["statusCode"] == again["statusCode"] == 202
    # The resend goes on the stream with the original arrival time
    assert {r["arrivalTs"] for r in _stream_records(world, kinesis)} == {world.clock.now - 1}
    # Another player, or another payload, cannot take the same playId
    theft = _call(app, rest_event("POST", "/plays", body=body, user="player-2"))
    changed = _call(app, rest_event("POST", "/plays", body={**body, "meta": {"x": 1}}))
    assert theft["statusCode"] == changed["statusCode"] == 409
    assert json_body(theft)["error"] == "play_id_taken"
    assert world.result("p-1")["userId"] == "player-1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"gameId": GAME}, "playId"),
        ({"playId": "has space", "gameId": GAME}, "playId"),
        ({"playId": "p-1", "gameId": GAME, "extra": 1}, "extra"),
        ({"playId": "p-1", "gameId": GAME, "clientTs": "yesterday"}, "clientTs"),
    ],
)
def test_a_client_mistake_is_a_400_naming_the_field(
    player_api: Any, body: dict[str, Any], field: str
) -> None:
    app, _ = player_api
    response = _call(app, rest_event("POST", "/plays", body=body))
    assert response["statusCode"] == 400
    assert field in [f["field"] for f in json_body(response)["fields"]]


def test_broken_json_and_oversize_bodies_get_json_errors(player_api: Any) -> None:
    app, _ = player_api
    broken = _call(app, rest_event("POST", "/plays", raw_body="{not json"))
    assert broken["statusCode"] == 400
    huge = {"playId": "p-1", "gameId": GAME, "meta": {"note": "x" * 20_000}}
    too_large = _call(app, rest_event("POST", "/plays", body=huge))
    assert too_large["statusCode"] == 413
    assert json_body(too_large)["error"] == "payload_too_large"


def test_unknown_closed_and_out_of_window_games_are_refused_clearly(
    world: World, player_api: Any
) -> None:
    app, _ = player_api
    unknown = _call(app, rest_event("POST", "/plays", body={"playId": "p-1", "gameId": "nope"}))
    assert (unknown["statusCode"], json_body(unknown)["error"]) == (404, "unknown_game")
    world.clock.now = START + 601
    late = _call(app, rest_event("POST", "/plays", body={"playId": "p-2", "gameId": GAME}))
    assert (late["statusCode"], json_body(late)["error"]) == (409, "outside_window")


def test_a_resend_after_the_window_closed_gets_the_play_s_answer_not_a_refusal(
    world: World, player_api: Any
) -> None:
    # Given a play taken a second before the game's window closed, then decided
    app, kinesis = player_api
    world.clock.now = START + 599
    body = {"playId": "p-1", "gameId": GAME}
    assert _call(app, rest_event("POST", "/plays", body=body))["statusCode"] == 202
    _allocate_the_stream(world, kinesis)
    decided = world.result("p-1")["status"]
    # When the player's app resends it after the close
    world.clock.now = START + 605
    again = _call(app, rest_event("POST", "/plays", body=body))
    # Then it is answered as the play was, and a new play is still refused
    assert (again["statusCode"], json_body(again)["status"]) == (202, decided)
    fresh = _call(app, rest_event("POST", "/plays", body={"playId": "p-2", "gameId": GAME}))
    assert (fresh["statusCode"], json_body(fresh)["error"]) == (409, "outside_window")


def test_only_the_owner_reads_a_play_and_tokens_stay_in_their_lane(player_api: Any) -> None:
    app, _ = player_api
    _call(app, rest_event("POST", "/plays", body={"playId": "p-1", "gameId": GAME}))
    assert _call(app, rest_event("GET", "/plays/p-1", user="player-2"))["statusCode"] == 404
    assert _call(app, rest_event("GET", "/plays/guessed-id"))["statusCode"] == 404
    assert _call(app, rest_event("GET", "/plays/p-1", user=None))["statusCode"] == 401
    admin = rest_event("GET", "/plays/p-1", user="player-1", admin=True)
    assert _call(app, admin)["statusCode"] == 403


def test_a_play_goes_from_ingest_through_the_stream_to_its_result(
    world: World, player_api: Any
) -> None:
    app, kinesis = player_api
    offer = Offer(title="A free espresso", value="1 cup")
    OfferStore(world.db, world.settings).put(GAME, "brand-a", offer, actor="marketer")
    for n in range(3):
        _call(
            app,
            rest_event(
                "POST", "/plays", body={"playId": f"p-{n}", "gameId": GAME}, user=f"player-{n}"
            ),
        )
    records = [world.record(r) for r in _stream_records(world, kinesis)]
    response = world.stream_allocator(GreedyPacing()).handle({"Records": records}, None)
    assert response == {"batchItemFailures": []}
    for n in range(3):
        view = json_body(_call(app, rest_event("GET", f"/plays/p-{n}", user=f"player-{n}")))
        assert view["status"] == "won"
        assert view["coupon"]["brandId"] == "brand-a"
        assert view["coupon"]["brandName"] == "Acme Coffee"  # players see the brand's name
        assert view["coupon"]["offer"] == {"title": "A free espresso", "value": "1 cup"}
    report = world.reconcile()
    assert report.clean, report.render()


def test_a_player_gets_a_short_lived_single_use_ticket(world: World, player_api: Any) -> None:
    app, _ = player_api
    response = _call(app, rest_event("POST", "/ws-ticket"))
    assert response["statusCode"] == 200
    body = json_body(response)
    issued = datetime.fromisoformat(body["expiresAt"]).timestamp()
    assert 0 < issued - world.clock.now <= 31
    sessions = Sessions(world.db, world.settings, clock=world.clock)
    assert sessions.redeem_ticket(body["ticket"]) == "player-1"
    assert sessions.redeem_ticket(body["ticket"]) is None
    assert _call(app, rest_event("POST", "/ws-ticket", user=None))["statusCode"] == 401


# -- resends ---------------------------------------------------------------------------
def test_resends_within_the_reput_interval_put_the_play_on_the_stream_once(
    world: World, player_api: Any
) -> None:
    app, kinesis = player_api
    body = {"playId": "p-1", "gameId": GAME}
    _call(app, rest_event("POST", "/plays", body=body))
    # When the client resends the play many times before the re-put interval is over
    step = world.settings.play_reput_seconds / 10
    answers = []
    for _ in range(9):
        world.clock.now += step
        answers.append(_call(app, rest_event("POST", "/plays", body=body)))
    # Then each resend is answered as the play was, and the stream holds the play and
    # one copy: the first resend's (ingest may have died before the first put)
    assert {(a["statusCode"], json_body(a)["status"]) for a in answers} == {(202, "queued")}
    assert [r["playId"] for r in _stream_records(world, kinesis)] == ["p-1", "p-1"]


def test_the_first_resend_and_one_after_the_reput_interval_put_the_play_again(
    world: World, player_api: Any
) -> None:
    app, kinesis = player_api
    body = {"playId": "p-1", "gameId": GAME}
    _call(app, rest_event("POST", "/plays", body=body))
    arrival = world.clock.now
    first_resend = _call(app, rest_event("POST", "/plays", body=body))
    world.clock.now += world.settings.play_reput_seconds
    again = _call(app, rest_event("POST", "/plays", body=body))
    soon_after = _call(app, rest_event("POST", "/plays", body=body))
    assert first_resend["statusCode"] == again["statusCode"] == soon_after["statusCode"] == 202
    # The first resend and the one after the interval put it again, with its arrival
    assert [r["arrivalTs"] for r in _stream_records(world, kinesis)] == [arrival] * 3


def test_a_resend_of_a_decided_play_answers_its_result_and_puts_nothing(
    world: World, player_api: Any
) -> None:
    app, kinesis = player_api
    body = {"playId": "p-1", "gameId": GAME}
    _call(app, rest_event("POST", "/plays", body=body))
    records = [world.record(r) for r in _stream_records(world, kinesis)]
    world.stream_allocator(GreedyPacing()).handle({"Records": records}, None)
    world.clock.now += world.settings.play_reput_seconds
    again = _call(app, rest_event("POST", "/plays", body=body))
    assert (again["statusCode"], json_body(again)["status"]) == (202, "won")
    assert len(_stream_records(world, kinesis)) == 1


def test_resends_are_paced_like_plays(world: World, player_api: Any) -> None:
    """A resend goes through the player's play slot like a play: once the interval has
    passed, a resend takes the slot, and a new play right after it waits."""
    app, _ = player_api
    _call(app, rest_event("POST", "/plays", body={"playId": "p-1", "gameId": GAME}))
    world.clock.now += 10  # the game's default interval between plays
    resend = _call(app, rest_event("POST", "/plays", body={"playId": "p-1", "gameId": GAME}))
    fresh = _call(app, rest_event("POST", "/plays", body={"playId": "p-2", "gameId": GAME}))
    assert (resend["statusCode"], fresh["statusCode"]) == (202, 429)


# -- the game's status as ingest saw it ------------------------------------------------
def _allocate_the_stream(
    world: World, kinesis: Any, games: DynamoGameDirectory | None = None
) -> None:
    records = [world.record(r) for r in _stream_records(world, kinesis)]
    response = world.stream_allocator(GreedyPacing(), games).handle({"Records": records}, None)
    assert response == {"batchItemFailures": []}


def test_a_play_taken_as_the_game_went_live_is_played_though_the_allocator_saw_it_scheduled(
    world: World, player_api: Any
) -> None:
    _, kinesis = player_api
    # Given an allocator that read the game while it was still scheduled
    world.live_game(status=GameStatus.SCHEDULED)
    allocator_view = world.cached_games()
    assert allocator_view.rules(GAME) is not None
    # When the game goes live and ingest, reading it afresh, takes a play
    world.live_game()
    intake = world.intake(kinesis, games=world.cached_games())
    assert intake.accept(PLAYER, PlayRequest(play_id="p-1", game_id=GAME)).status == "queued"
    _allocate_the_stream(world, kinesis, allocator_view)
    # Then the play is drawn, not refused for a status ingest had seen change
    assert world.result("p-1")["status"] == "won"


def test_a_play_taken_just_before_ingest_saw_the_game_end_is_still_played(
    world: World, player_api: Any
) -> None:
    _, kinesis = player_api
    # Given an ingest that read the game while it was live
    ingest_view = world.cached_games()
    assert ingest_view.rules(GAME) is not None
    # When the marketer ends the game and ingest, not knowing yet, answers 202
    world.live_game(status=GameStatus.ENDED)
    intake = world.intake(kinesis, games=ingest_view)
    assert intake.accept(PLAYER, PlayRequest(play_id="p-1", game_id=GAME)).status == "queued"
    # Then the allocator, which sees the game ended, honours what ingest accepted
    _allocate_the_stream(world, kinesis)
    assert world.result("p-1")["status"] == "won"
    assert world.reconcile().clean


def test_a_record_without_the_stamp_is_judged_by_the_allocators_view(world: World) -> None:
    """Records put by an ingest from before the stamp (during a deploy) keep the rule
    they were taken under: the allocator's own view of the game."""
    world.live_game(status=GameStatus.ENDED)
    world.budget("brand-a", 5)
    unstamped = world.play(1)
    assert "gameStatus" not in unstamped.to_wire()
    world.stream_allocator(GreedyPacing()).handle({"Records": [world.record(unstamped)]}, None)
    result = world.result("play-1")
    assert (result["status"], result["reason"]) == ("rejected", "game_not_live")


def test_a_stamp_the_game_never_had_is_not_believed(world: World) -> None:
    """The allocator re-reads a game its cache shows before LIVE; a game that is still
    not live then never took the play, whatever the record says."""
    world.live_game(status=GameStatus.SCHEDULED)
    world.budget("brand-a", 5)
    stamped = world.play(1).model_copy(update={"game_status": GameStatus.LIVE})
    world.stream_allocator(GreedyPacing()).handle({"Records": [world.record(stamped)]}, None)
    result = world.result("play-1")
    assert (result["status"], result["reason"]) == ("rejected", "game_not_live")


def test_a_play_id_cannot_come_back_in_its_game_however_long_the_game(
    world: World, player_api: Any
) -> None:
    """Its result, kept from the play's arrival, outlives the longest game: the id stays
    taken, and the win slot's set of won plays never sees it again as a new play."""
    app, kinesis = player_api
    world.live_game(duration=MAX_GAME_SECONDS)
    _call(app, rest_event("POST", "/plays", body={"playId": "p-1", "gameId": GAME}))
    _allocate_the_stream(world, kinesis)
    won = world.result("p-1")
    assert won["status"] == "won"
    # At the game's last second the result is still there (TTL has not come)
    world.clock.now = START + MAX_GAME_SECONDS - 1
    assert won["expiresAt"] > world.clock.now
    again = _call(app, rest_event("POST", "/plays", body={"playId": "p-1", "gameId": GAME}))
    assert (again["statusCode"], json_body(again)["status"]) == (202, "won")
    assert len(_stream_records(world, kinesis)) == 1


def test_a_play_whose_ingest_died_before_its_first_put_reaches_the_stream_on_resend(
    world: World, player_api: Any
) -> None:
    # Given an ingest that recorded the play as pending and died before putting it
    app, kinesis = player_api

    class Died(BaseException):
        pass

    def die(**_: Any) -> None:
        raise Died

    kinesis.meta.events.register("before-call.kinesis.PutRecord", die)
    body = {"playId": "p-1", "gameId": GAME}
    with pytest.raises(Died):
        _call(app, rest_event("POST", "/plays", body=body))
    kinesis.meta.events.unregister("before-call.kinesis.PutRecord", die)
    # When the player's app resends at once
    resend = _call(app, rest_event("POST", "/plays", body=body))
    # Then the play is on the stream, with the arrival ingest stamped first
    assert (resend["statusCode"], json_body(resend)["status"]) == (202, "queued")
    [record] = _stream_records(world, kinesis)
    assert record["arrivalTs"] == world.result("p-1")["arrivalTs"]
