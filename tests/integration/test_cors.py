"""CORS on the functions' answers: the deployed pages (on CloudFront) read the REST API
(on API Gateway) cross-origin, so every answer, errors included, must name their origin,
and only theirs; a 429's `Retry-After` must be readable too."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import boto3
import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from frolic.http import CorsPolicy, resolve
from frolic.models import GameConfig
from frolic.settings import Settings, settings
from frolic_tools.schema import LOCAL_STREAM
from tests.integration import admin_fixtures
from tests.integration.admin_fixtures import (
    AdminApi,
    InvocationContext,
    admin_claims,
    player_claims,
)
from tests.integration.apigw import json_body, rest_event
from tests.integration.world import GAME, World

ROOT = Path(__file__).resolve().parents[2]
SITE = "https://d111111abcdef8.cloudfront.net"
EXTRA = "http://localhost:8000"
POLICY = CorsPolicy(allowed_origins=frozenset({SITE, EXTRA}))


def headers_of(response: dict[str, Any]) -> dict[str, list[str]]:
    """Both of a proxy response's header maps, as API Gateway merges them."""
    merged: dict[str, list[str]] = {}
    for name, value in (response.get("headers") or {}).items():
        merged.setdefault(name.lower(), []).append(value)
    for name, values in (response.get("multiValueHeaders") or {}).items():
        merged.setdefault(name.lower(), []).extend(values)
    return merged


def assert_readable_by(response: dict[str, Any], origin: str) -> None:
    headers = headers_of(response)
    assert headers.get("access-control-allow-origin") == [origin], headers
    assert headers.get("access-control-expose-headers") == ["Retry-After"], headers
    assert headers.get("vary") == ["Origin"], headers
    assert "access-control-allow-credentials" not in headers, "tokens are not cookies"


@pytest.fixture
def player_app(world: World) -> Iterator[APIGatewayRestResolver]:
    """A live game with one play per 10 s, and player-1's play p-0 accepted."""
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName=LOCAL_STREAM, ShardCount=1)
    world.live_game(config=GameConfig(min_seconds_between_plays=10))
    world.budget("brand-a", 5)
    app = world.player_app(kinesis)
    first = resolve(app, rest_event("POST", "/plays", body={"playId": "p-0", "gameId": GAME}), {})
    assert first["statusCode"] == 202
    world.clock.now += 2
    yield app


def play(play_id: str, **extra: Any) -> dict[str, Any]:
    return {"playId": play_id, "gameId": GAME, **extra}


class PlayerCase(NamedTuple):
    what: str
    method: str
    path: str
    keywords: dict[str, Any]  # for rest_event
    status: int


#: One of each kind of answer the players' API gives.
PLAYER_ANSWERS = [
    PlayerCase("the resend of an accepted play", "POST", "/plays", {"body": play("p-0")}, 202),
    PlayerCase("a read of one's own play", "GET", "/plays/p-0", {}, 200),
    PlayerCase("a second play too soon", "POST", "/plays", {"body": play("p-1")}, 429),
    PlayerCase("a missing field", "POST", "/plays", {"body": {"playId": "p-2"}}, 400),
    PlayerCase("broken JSON", "POST", "/plays", {"raw_body": "{not json"}, 400),
    PlayerCase("an unknown game", "POST", "/plays", {"body": play("p-3", gameId="no")}, 404),
    PlayerCase("another player's play", "GET", "/plays/p-0", {"user": "player-2"}, 404),
    PlayerCase("no identity", "GET", "/plays/p-0", {"user": None}, 401),
    PlayerCase("an admin token", "GET", "/plays/p-0", {"admin": True}, 403),
    PlayerCase(
        "an oversize body", "POST", "/plays", {"body": play("p-4", meta={"x": "y" * 20_000})}, 413
    ),
    PlayerCase(
        "an unreadable media type",
        "POST",
        "/plays",
        {"raw_body": "<play/>", "headers": {"Content-Type": "application/xml"}},
        415,
    ),
]


@pytest.mark.parametrize("case", PLAYER_ANSWERS, ids=[case.what for case in PLAYER_ANSWERS])
@pytest.mark.parametrize("origin", [SITE, EXTRA])
def test_every_player_answer_names_an_allowed_origin(
    player_app: APIGatewayRestResolver, origin: str, case: PlayerCase
) -> None:
    keywords = dict(case.keywords)  # shared by both origins' runs
    headers = {"Origin": origin, **keywords.pop("headers", {})}
    event = rest_event(case.method, case.path, headers=headers, **keywords)
    response = resolve(player_app, event, {}, cors=POLICY)
    assert response["statusCode"] == case.status, json_body(response)
    assert_readable_by(response, origin)


def test_a_429_keeps_its_retry_after_beside_the_cors_headers(
    player_app: APIGatewayRestResolver,
) -> None:
    event = rest_event("POST", "/plays", body=play("p-1"), headers={"origin": SITE})
    response = resolve(player_app, event, {}, cors=POLICY)
    assert response["statusCode"] == 429
    assert headers_of(response)["retry-after"] == ["8"]
    assert json_body(response)["error"] == "too_many_plays"
    assert_readable_by(response, SITE)


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        f"{SITE}.evil.example",  # a suffix is not the origin
        SITE.replace("https://", "http://"),  # nor another scheme
        f"{SITE}/",  # browsers send no slash; an origin with one is not ours
        "null",  # sandboxed frames and file:// pages
    ],
)
def test_other_origins_are_not_named(player_app: APIGatewayRestResolver, origin: str) -> None:
    event = rest_event("GET", "/plays/p-0", headers={"Origin": origin})
    response = resolve(player_app, event, {}, cors=POLICY)
    # CORS decides what a browser shows a page, not who may call: the answer stands
    assert response["statusCode"] == 200
    headers = headers_of(response)
    assert "access-control-allow-origin" not in headers
    assert "access-control-expose-headers" not in headers
    assert headers["vary"] == ["Origin"], "caches must not reuse an answer across origins"


def test_a_request_without_an_origin_gets_no_cors_headers_but_vary(
    player_app: APIGatewayRestResolver,
) -> None:
    response = resolve(player_app, rest_event("GET", "/plays/p-0"), {}, cors=POLICY)
    headers = headers_of(response)
    assert "access-control-allow-origin" not in headers
    assert headers["vary"] == ["Origin"]


def test_same_origin_pages_get_no_cors_headers_at_all(
    player_app: APIGatewayRestResolver,
) -> None:
    """The local stack serves the pages and the API on one origin and sets no origins."""
    event = rest_event("POST", "/plays", body=play("p-1"), headers={"Origin": SITE})
    response = resolve(player_app, event, {})
    assert response["statusCode"] == 429
    headers = headers_of(response)
    assert not {name for name in headers if name.startswith("access-control-")}
    assert "vary" not in headers
    assert headers["retry-after"] == ["8"]


def test_the_origin_is_found_in_multi_value_headers_too(
    player_app: APIGatewayRestResolver,
) -> None:
    event = rest_event("GET", "/plays/p-0")
    event["multiValueHeaders"] = {"origin": [EXTRA]}
    assert_readable_by(resolve(player_app, event, {}, cors=POLICY), EXTRA)


def test_a_header_the_answer_already_had_is_replaced_not_doubled(
    player_app: APIGatewayRestResolver,
) -> None:
    """A 413/415 refusal sets `headers`, a routed answer `multiValueHeaders`; API Gateway
    sends both maps, so a CORS header must sit in one of them only."""
    too_large = rest_event("POST", "/plays", body=play("p-5", meta={"x": "y" * 20_000}))
    too_large["headers"]["Origin"] = SITE
    response = resolve(player_app, too_large, {}, cors=POLICY)
    assert response["headers"] == {"Content-Type": "application/json"}
    assert response["multiValueHeaders"]["Access-Control-Allow-Origin"] == [SITE]


# -- the admin API ----------------------------------------------------------------------


@pytest.fixture
def admin_app(world: World) -> APIGatewayRestResolver:
    return AdminApi(world.db, world.settings).app


class AdminCase(NamedTuple):
    what: str
    method: str
    path: str
    body: str | None
    claims: dict[str, str] | None
    status: int


ADMIN_ANSWERS = [
    AdminCase("a list", "GET", "/admin/campaigns", None, admin_claims(), 200),
    AdminCase("the public contract", "GET", "/openapi.json", None, None, 200),
    AdminCase("an invalid body", "POST", "/admin/campaigns", "{}", admin_claims(), 400),
    AdminCase("no identity", "GET", "/admin/campaigns", None, None, 401),
    AdminCase("a player token", "GET", "/admin/campaigns", None, player_claims(), 403),
    AdminCase("an unknown campaign", "GET", "/admin/campaigns/nope", None, admin_claims(), 404),
    AdminCase("an unknown route", "GET", "/admin/nowhere", None, admin_claims(), 404),
]


@pytest.mark.parametrize("case", ADMIN_ANSWERS, ids=[case.what for case in ADMIN_ANSWERS])
def test_every_admin_answer_names_an_allowed_origin(
    admin_app: APIGatewayRestResolver, case: AdminCase
) -> None:
    event = admin_fixtures.rest_event(
        case.method, case.path, case.body, claims=case.claims, extra_headers={"Origin": SITE}
    )
    response = resolve(admin_app, event, InvocationContext(), cors=POLICY)
    assert response["statusCode"] == case.status, response["body"]
    assert_readable_by(response, SITE)


def test_an_admin_answer_to_another_origin_names_none(admin_app: APIGatewayRestResolver) -> None:
    event = admin_fixtures.rest_event(
        "GET", "/admin/campaigns", claims=admin_claims(), extra_headers={"Origin": "https://x.io"}
    )
    response = resolve(admin_app, event, InvocationContext(), cors=POLICY)
    assert response["statusCode"] == 200
    assert "Access-Control-Allow-Origin" not in response["multiValueHeaders"]


# -- settings and the handlers ----------------------------------------------------------


def loaded_settings(monkeypatch: pytest.MonkeyPatch, origins: str | None) -> Settings:
    """What a function's cold start reads, with CORS_ALLOWED_ORIGINS set to `origins`
    (None: not in the environment at all)."""
    if origins is None:
        monkeypatch.delenv("CORS_ALLOWED_ORIGINS", raising=False)
    else:
        monkeypatch.setenv("CORS_ALLOWED_ORIGINS", origins)
    settings.cache_clear()
    try:
        return settings()
    finally:
        settings.cache_clear()


@pytest.mark.parametrize(
    "origins",
    [
        f"{SITE},{EXTRA}",  # as the stack writes it (tests/infra)
        f" {SITE} , {EXTRA} ",  # as an operator might type it
        f"{SITE}/,{EXTRA}/",  # browsers send no trailing slash
        f",{SITE},,{EXTRA},",  # empty entries are no origin
    ],
)
def test_allowed_origins_are_read_from_the_environment(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, origins: str
) -> None:
    loaded = loaded_settings(monkeypatch, origins)
    assert loaded.cors_allowed_origins == frozenset({SITE, EXTRA})
    assert CorsPolicy.from_settings(loaded).headers_for(EXTRA)["Access-Control-Allow-Origin"] == (
        EXTRA
    )


@pytest.mark.parametrize("origins", [None, "", " , "])
def test_no_origins_in_the_environment_means_same_origin_pages_only(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, origins: str | None
) -> None:
    loaded = loaded_settings(monkeypatch, origins)
    assert loaded.cors_allowed_origins == frozenset()
    assert CorsPolicy.from_settings(loaded).headers_for(SITE) == {}


def _load(function: str) -> ModuleType:
    path = ROOT / "functions" / function / "handler.py"
    spec = importlib.util.spec_from_file_location(f"frolic_{function}_handler_cors_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize(
    ("function", "path", "status"),
    [("admin", "/openapi.json", 200), ("ingest", "/games", 200), ("ingest", "/plays/p-0", 401)],
)
def test_the_handlers_apply_the_origins_their_environment_names(
    world: World, monkeypatch: pytest.MonkeyPatch, function: str, path: str, status: int
) -> None:
    """The stack sets CORS_ALLOWED_ORIGINS on the two REST functions (tests/infra)."""
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", f"{SITE},{EXTRA}")
    settings.cache_clear()
    try:
        handler = _load(function)
        event = admin_fixtures.rest_event("GET", path, extra_headers={"Origin": EXTRA})
        response = handler.lambda_handler(event, InvocationContext())
    finally:
        settings.cache_clear()
    assert response["statusCode"] == status
    assert_readable_by(response, EXTRA)
