"""The WebSocket side on moto: single-use tickets, `$connect` refusal, `$default` replies.

The Management API client is a real boto3 client under botocore's Stubber (see
push_fixtures): moto cannot answer 410 Gone.
"""

from __future__ import annotations

import base64
import json
from types import ModuleType
from typing import Any

import pytest

from frolic.dal.push import Push, callback_url
from frolic.dal.sessions import CONNECTION_SECONDS, TICKET_SECONDS, Sessions
from frolic.dal.tables import ticket_key
from frolic.ws_connect import MAX_MESSAGE_BYTES, WebSocketRoutes, reply_to
from frolic_tools.schema import local_settings
from tests.integration.apigw import FakeContext
from tests.integration.push_fixtures import (
    ENDPOINT,
    ManualClock,
    PushStub,
    clock,
    connect_event,
    disconnect_event,
    load_handler,
    message_event,
    push_stub,
    sessions,
)
from tests.integration.world import World

__all__ = ["clock", "push_stub", "sessions"]  # fixtures, used by name

CONN = "Ab1cDEFgIAMCJzQ="


@pytest.fixture
def handler(
    world: World, sessions: Sessions, push_stub: PushStub, monkeypatch: pytest.MonkeyPatch
) -> ModuleType:
    """The real entry point, with its dependencies swapped for moto and the stub."""
    module = load_handler("ws_connect")
    endpoints: list[str] = []

    def push_for(endpoint: str) -> Push:
        endpoints.append(endpoint)
        return push_stub.push()

    routes = WebSocketRoutes(sessions, push_for, world.settings)
    monkeypatch.setattr(module, "_routes", lambda: routes)
    module.endpoints = endpoints  # type: ignore[attr-defined]
    return module


def invoke(handler: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = handler.lambda_handler(event, FakeContext())
    return response


# -- tickets ----------------------------------------------------------------------------


def test_a_ticket_works_once(sessions: Sessions) -> None:
    ticket, _ = sessions.issue_ticket("alice")

    assert sessions.redeem_ticket(ticket) == "alice"
    assert sessions.redeem_ticket(ticket) is None


def test_a_ticket_lives_thirty_seconds(sessions: Sessions, clock: ManualClock) -> None:
    fresh, expires_at = sessions.issue_ticket("alice")
    stale, _ = sessions.issue_ticket("alice")
    assert expires_at - clock.now == pytest.approx(TICKET_SECONDS, abs=1)

    clock.now += TICKET_SECONDS - 1
    assert sessions.redeem_ticket(fresh) == "alice"

    clock.now += 2  # past the 30 s, though TTL has not deleted the item
    assert sessions.redeem_ticket(stale) is None


def test_an_expired_ticket_is_deleted_when_tried(
    world: World, sessions: Sessions, clock: ManualClock
) -> None:
    ticket, _ = sessions.issue_ticket("alice")
    clock.now += TICKET_SECONDS + 5

    assert sessions.redeem_ticket(ticket) is None
    stored = world.db.get_item(
        TableName=world.settings.sessions_table, Key={"pk": {"S": ticket_key(ticket)["pk"]}}
    )
    assert "Item" not in stored


@pytest.mark.parametrize(
    "ticket", ["", "short", "x" * 500, "no spaces or slashes/allowed ok?", "A" * 32]
)
def test_unknown_or_malformed_tickets_are_refused(sessions: Sessions, ticket: str) -> None:
    assert sessions.redeem_ticket(ticket) is None


def test_tickets_are_unguessable_and_distinct(sessions: Sessions) -> None:
    tickets = {sessions.issue_ticket("alice")[0] for _ in range(20)}

    assert len(tickets) == 20
    assert all(len(t) == 32 for t in tickets)  # 24 random bytes, URL-safe


# -- connections ------------------------------------------------------------------------


def test_a_connection_belongs_to_its_opener_until_closed(sessions: Sessions) -> None:
    sessions.open(CONN, "alice")
    assert sessions.owner(CONN) == "alice"

    sessions.close(CONN)
    assert sessions.owner(CONN) is None
    sessions.close(CONN)  # closing twice is harmless


def test_a_connection_ends_after_api_gateways_two_hours(
    sessions: Sessions, clock: ManualClock
) -> None:
    sessions.open(CONN, "alice")
    clock.now += CONNECTION_SECONDS - 10
    assert sessions.owner(CONN) == "alice"

    clock.now += 20
    assert sessions.owner(CONN) is None


# -- $connect / $disconnect -------------------------------------------------------------


def test_connect_without_a_ticket_is_refused(handler: ModuleType, sessions: Sessions) -> None:
    response = invoke(handler, connect_event(CONN))

    assert response["statusCode"] == 401
    assert sessions.owner(CONN) is None


@pytest.mark.parametrize("case", ["unknown", "used", "expired", "empty"])
def test_connect_with_a_bad_ticket_is_refused(
    handler: ModuleType, sessions: Sessions, clock: ManualClock, case: str
) -> None:
    ticket, _ = sessions.issue_ticket("alice")
    if case == "unknown":
        ticket = ticket[::-1]
    elif case == "used":
        assert sessions.redeem_ticket(ticket) == "alice"
    elif case == "expired":
        clock.now += TICKET_SECONDS + 1
    else:
        ticket = ""

    response = invoke(handler, connect_event(CONN, {"ticket": ticket}))

    assert response["statusCode"] == 401
    assert sessions.owner(CONN) is None


def test_a_long_lived_token_in_the_url_is_not_accepted(
    handler: ModuleType, sessions: Sessions
) -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
    for name in ("token", "access_token", "Authorization"):
        response = invoke(handler, connect_event(CONN, {name: token}))
        assert response["statusCode"] == 401
    assert sessions.owner(CONN) is None


def test_connect_with_a_ticket_opens_the_socket_for_its_player(
    handler: ModuleType, sessions: Sessions
) -> None:
    ticket, _ = sessions.issue_ticket("alice")

    response = invoke(handler, connect_event(CONN, {"ticket": ticket}))

    assert response["statusCode"] == 200
    assert sessions.owner(CONN) == "alice"
    # and the ticket is spent: a second handshake with it is refused
    assert invoke(handler, connect_event("Zz9other=", {"ticket": ticket}))["statusCode"] == 401


def test_disconnect_forgets_the_connection(handler: ModuleType, sessions: Sessions) -> None:
    sessions.open(CONN, "alice")

    response = invoke(handler, disconnect_event(CONN))

    assert response["statusCode"] == 200
    assert sessions.owner(CONN) is None


# -- $default ---------------------------------------------------------------------------


def test_ping_gets_pong_over_the_socket(
    handler: ModuleType, sessions: Sessions, push_stub: PushStub
) -> None:
    sessions.open(CONN, "alice")
    push_stub.expect_post(CONN)

    response = invoke(handler, message_event(CONN, '{"action":"ping"}'))

    assert response["statusCode"] == 200
    assert push_stub.posted == [(CONN, {"type": "pong"})]
    assert handler.endpoints == [ENDPOINT]  # the stage that called, from the event
    push_stub.assert_all_used()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('{"action": "ping"', "invalid_json"),
        ("not json at all", "invalid_json"),
        ("", "invalid_json"),
        (None, "invalid_json"),
        ("[1, 2, 3]", "invalid_message"),
        ('"ping"', "invalid_message"),
        ("null", "invalid_message"),
        ('{"hello": "world"}', "invalid_message"),
        ('{"action": 7}', "invalid_message"),
        ('{"action": "dance"}', "unknown_action"),
        ('{"action": "ping", "pad": "' + "x" * MAX_MESSAGE_BYTES + '"}', "message_too_large"),
        ("[" * 100_000, "message_too_large"),
        ("[" * 10_000 + "]" * 10_000, "message_too_large"),
        ("[" * 500 + "]" * 500, "invalid_message"),
        ("[" * 5_000 + "]" * 5_000, "invalid_json"),  # nested past the parser's depth
    ],
)
def test_a_bad_message_gets_an_error_and_keeps_the_socket(
    handler: ModuleType,
    sessions: Sessions,
    push_stub: PushStub,
    body: str | None,
    error: str,
) -> None:
    sessions.open(CONN, "alice")
    push_stub.expect_post(CONN)

    response = invoke(handler, message_event(CONN, body))

    assert response["statusCode"] == 200
    [(target, message)] = push_stub.posted
    assert target == CONN
    assert message["type"] == "error"
    assert message["error"] == error
    assert isinstance(message["message"], str) and message["message"]
    assert sessions.owner(CONN) == "alice"  # still connected
    push_stub.assert_all_used()


def test_a_message_right_at_the_size_limit_is_read() -> None:
    prefix, suffix = '{"action":"ping","pad":"', '"}'
    body = prefix + "x" * (MAX_MESSAGE_BYTES - len(prefix) - len(suffix)) + suffix
    assert len(body.encode()) == MAX_MESSAGE_BYTES

    assert reply_to(body) == {"type": "pong"}
    assert reply_to(body[:-2] + 'x"}')["error"] == "message_too_large"


def test_the_size_limit_counts_bytes_not_characters() -> None:
    prefix, suffix = '{"action":"ping","pad":"', '"}'
    room = MAX_MESSAGE_BYTES - len(prefix) - len(suffix)
    body = prefix + "é" * (room // 2 + 1) + suffix  # 2 bytes each in UTF-8

    assert reply_to(body)["error"] == "message_too_large"


def test_binary_frames_are_decoded_before_reading() -> None:
    ping = base64.b64encode(b'{"action":"ping"}').decode()

    assert reply_to(ping, is_base64_encoded=True) == {"type": "pong"}
    assert reply_to("%%%", is_base64_encoded=True)["error"] == "invalid_json"
    latin = base64.b64encode(b'{"action":"p\xefng"}').decode()
    assert reply_to(latin, is_base64_encoded=True)["error"] == "invalid_json"


def test_error_messages_do_not_echo_what_the_client_sent() -> None:
    secret = "SECRET-CODE-1234"
    for body in (f'{{"action": "{secret}"}}', f"{secret} not json", f'["{secret}"]'):
        assert secret not in json.dumps(reply_to(body))


def test_an_answer_to_a_closed_socket_forgets_the_connection(
    handler: ModuleType, sessions: Sessions, push_stub: PushStub
) -> None:
    sessions.open(CONN, "alice")
    push_stub.expect_gone(CONN)

    response = invoke(handler, message_event(CONN, '{"action":"ping"}'))

    assert response["statusCode"] == 200
    assert sessions.owner(CONN) is None
    push_stub.assert_all_used()


def test_the_configured_callback_url_wins_over_the_event() -> None:
    local = local_settings(WEBSOCKET_CALLBACK_URL="http://127.0.0.1:3001/local")

    assert callback_url(local, "abc.example.com", "prod") == "http://127.0.0.1:3001/local"
    assert (
        callback_url(local_settings(), "abc.example.com", "prod") == "https://abc.example.com/prod"
    )
