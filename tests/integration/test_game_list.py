"""GET /games on moto: which games a player may find, and what the list costs."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import boto3

from frolic.dal.budgets import game_brand_ids
from frolic.dal.catalog import BrandNames, Catalog, GameChanges
from frolic.game_list import LIST_SECONDS, OpenGames
from frolic.http import resolve
from frolic.models import GameStatus
from frolic_tools.schema import LOCAL_STREAM
from tests.integration.apigw import json_body, rest_event
from tests.integration.world import World


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def game(
    catalog: Catalog,
    campaign_id: str,
    name: str,
    *,
    window: tuple[float, float],
    status: GameStatus,
) -> str:
    made = catalog.create_game(campaign_id, name, at(window[0]), at(window[1]))
    if status is not GameStatus.DRAFT:
        catalog.update_game(made.game_id, GameChanges(status=status))
    return made.game_id


def test_live_and_upcoming_games_are_listed_with_their_brands_soonest_first(
    world: World,
) -> None:
    # Given a campaign running now, with games in every state, and one already over
    now = 1_900_000_000.0
    catalog = Catalog(world.db, world.settings)
    current = catalog.create_campaign("Summer", at(now - 3600), at(now + 86_400))
    over = catalog.create_campaign("Spring", at(now - 86_400), at(now - 3600))
    cid = current.campaign_id
    live = game(catalog, cid, "Lunch spin", window=(now - 600, now + 600), status=GameStatus.LIVE)
    later = game(
        catalog, cid, "Evening", window=(now + 3600, now + 7200), status=GameStatus.SCHEDULED
    )
    game(catalog, cid, "Draft", window=(now - 600, now + 600), status=GameStatus.DRAFT)
    game(catalog, cid, "Stopped", window=(now - 600, now + 600), status=GameStatus.ENDED)
    game(catalog, cid, "Past window", window=(now - 1800, now - 60), status=GameStatus.LIVE)
    game(catalog, over.campaign_id, "Old", window=(now - 7200, now - 3700), status=GameStatus.LIVE)
    world.brand("brand-a", "Acme Coffee")
    world.pools().set_budget(live, "brand-a", 50, actor="test")
    world.pools().set_budget(live, "brand-b", 0, actor="test")  # nothing to win
    world.pools().set_budget(later, "brand-b", 10, actor="test")
    listing = OpenGames(
        catalog.open_games,
        lambda game_id: game_brand_ids(world.db, world.settings.state_table, game_id),
        BrandNames(world.db, world.settings),
        clock=lambda: now,
    )

    # When a player asks which games there are
    wire = listing().to_wire()

    # Then the live game and the scheduled one show, soonest first, each with the brands
    # it has coupons of (named when the brand has a name)
    assert [(g["gameId"], g["status"]) for g in wire["games"]] == [
        (live, "LIVE"),
        (later, "SCHEDULED"),
    ]
    assert wire["games"][0]["brands"] == [{"brandId": "brand-a", "name": "Acme Coffee"}]
    assert wire["games"][1]["brands"] == [{"brandId": "brand-b"}]
    assert wire["games"][0]["name"] == "Lunch spin"
    assert wire["games"][0]["endTime"] == at(now + 600).isoformat().replace("+00:00", "Z")


def test_the_list_is_read_once_per_interval_however_often_it_is_asked_for(
    world: World,
) -> None:
    # Given a listing over a catalog whose reads are counted
    reads: list[float] = []
    ticks = iter([0.0, 1.0, LIST_SECONDS - 0.1, LIST_SECONDS + 0.1])
    catalog = Catalog(world.db, world.settings)

    def games(now: float) -> list[Any]:
        reads.append(now)
        return catalog.open_games(now)

    listing = OpenGames(games, lambda _: [], lambda _: None, monotonic=lambda: next(ticks))
    # When it is asked four times, the last just past the interval
    for _ in range(4):
        listing()
    # Then the catalog was read twice: once at first, once after the interval
    assert len(reads) == 2


def test_anyone_may_list_games_without_a_token_and_may_cache_the_answer(world: World) -> None:
    # Given a live game now, in a campaign running now
    now = time.time()
    catalog = Catalog(world.db, world.settings)
    campaign = catalog.create_campaign("Now", at(now - 3600), at(now + 3600))
    live = game(
        catalog,
        campaign.campaign_id,
        "On air",
        window=(now - 60, now + 600),
        status=GameStatus.LIVE,
    )
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName=LOCAL_STREAM, ShardCount=1)
    app = world.player_app(kinesis)

    # When someone who has not signed in asks for the list
    response = resolve(app, rest_event("GET", "/games", user=None), {})

    # Then it is answered, with the game, and says how long it may be kept
    assert response["statusCode"] == 200
    assert [g["gameId"] for g in json_body(response)["games"]] == [live]
    headers = {k.lower(): v for k, v in response["multiValueHeaders"].items()}
    assert headers["cache-control"] == [f"public, max-age={LIST_SECONDS:.0f}"]
    # ... while a player route still refuses the same caller
    refused = resolve(app, rest_event("GET", "/plays/p-1", user=None), {})
    assert refused["statusCode"] == 401
