"""The local stand-in for Cognito: dev tokens are issued, verified, and refused when
they are bad, expired or forged, before any function runs."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from frolic_tools.local import LocalClient, LocalStack
from frolic_tools.local.devauth import TOKEN_SECONDS, DevTokens, Staff


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return decoded


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_player_token_names_the_player_and_opens_the_player_api(
    anonymous: LocalClient,
) -> None:
    reply = anonymous.request("POST", "/dev/token", body={"userId": "ann.lee:42"})
    assert reply.status == 200
    token = reply.json()["token"]
    claims = claims_of(token)
    assert claims["sub"] == "ann.lee:42"
    assert "cognito:groups" not in claims
    assert claims["exp"] - claims["iat"] == TOKEN_SECONDS
    assert anonymous.with_token(token).request("POST", "/ws-ticket").status == 200


def test_an_admin_token_opens_the_admin_api_and_only_it(
    anonymous: LocalClient, admin: LocalClient
) -> None:
    assert claims_of(admin.token or "")["cognito:groups"] == ["admin"]
    assert admin.request("GET", "/admin/brands").status == 200
    assert admin.request("POST", "/ws-ticket").status == 403  # not a player
    player = anonymous.as_user("ann")
    refused = player.request("GET", "/admin/brands")
    assert refused.status == 403
    assert refused.json()["error"] == "forbidden"


def test_a_brand_staff_token_carries_its_role_and_brands_as_cognito_would(
    anonymous: LocalClient, admin: LocalClient
) -> None:
    # Given two brands, and a manager and a till of the first
    mine = admin.call("POST", "/admin/brands", {"name": "Mine"})["brandId"]
    theirs = admin.call("POST", "/admin/brands", {"name": "Theirs"})["brandId"]
    manager = anonymous.as_user("mia", staff=Staff("brand-manager", (mine,)))
    till = anonymous.as_user("tom", staff=Staff("till", (mine,)))
    claims = claims_of(manager.token or "")
    assert (claims["cognito:groups"], claims["custom:brands"]) == (["brand-manager"], mine)
    # Then the gateway hands the role and brands to the admin API, which acts on them
    assert manager.request("GET", f"/admin/brands/{mine}").status == 200
    assert manager.request("GET", f"/admin/brands/{theirs}").status == 403
    listed = manager.call("GET", "/admin/brands")["items"]
    assert [brand["brandId"] for brand in listed] == [mine]
    assert till.request("GET", f"/admin/brands/{mine}").status == 403
    assert [brand["brandId"] for brand in till.call("GET", "/admin/brands")["items"]] == [mine]
    # ... and neither is a player
    assert manager.request("POST", "/ws-ticket").status == 403
    assert till.request("POST", "/ws-ticket").status == 403


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"not json", "body"),
        (b"[]", "body"),
        (b"{}", "userId"),
        (b'{"userId": ""}', "userId"),
        (b'{"userId": "ann lee"}', "userId"),
        (b'{"userId": "' + b"a" * 65 + b'"}', "userId"),
        (b'{"userId": 7}', "userId"),
        (b'{"userId": "ann", "admin": "yes"}', "admin"),
        (b'{"userId": "ann", "role": "admin"}', "role"),
        (b'{"userId": "ann", "role": "till", "brands": "b1"}', "brands"),
        (b'{"userId": "ann", "role": "till", "brands": ["b 1"]}', "brands"),
    ],
)
def test_a_token_request_for_no_valid_identity_is_refused(
    anonymous: LocalClient, raw: bytes, field: str
) -> None:
    reply = anonymous.request("POST", "/dev/token", raw=raw, content_type="application/json")
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_request"
    assert reply.json()["fields"][0]["field"] == field


def test_tokens_are_only_issued_by_post(anonymous: LocalClient) -> None:
    assert anonymous.request("GET", "/dev/token").status == 405


def _forgeries(stack: LocalStack) -> dict[str, str | None]:
    genuine = stack.tokens.issue("mallory")
    header, payload, signature = genuine.split(".")
    raised = b64({**claims_of(genuine), "sub": "ann"})
    return {
        "missing": None,
        "garbage": "not-a-token",
        "expired": stack.tokens.issue("mallory", lifetime_seconds=-1),
        "other key": DevTokens().issue("mallory", admin=True),
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "tampered claims": f"{header}.{raised}.{signature}",
        "truncated": f"{header}.{payload}",
    }


@pytest.mark.parametrize(
    "kind",
    ["missing", "garbage", "expired", "other key", "alg none", "tampered claims", "truncated"],
)
def test_a_bad_token_is_refused_like_api_gateway_refuses_it(
    stack: LocalStack, anonymous: LocalClient, kind: str
) -> None:
    token = _forgeries(stack)[kind]
    for method, path in (("POST", "/plays"), ("POST", "/ws-ticket"), ("GET", "/admin/games")):
        reply = anonymous.with_token(token).request(method, path, body={})
        assert reply.status == 401, (kind, path)
        assert reply.json() == {"error": "unauthenticated", "message": "Unauthorized"}


def test_the_openapi_document_needs_no_token(anonymous: LocalClient) -> None:
    reply = anonymous.request("GET", "/openapi.json")
    assert reply.status == 200
    assert "/admin/campaigns" in reply.json()["paths"]


def test_the_status_page_is_for_admins(anonymous: LocalClient, admin: LocalClient) -> None:
    assert anonymous.request("GET", "/dev/status").status == 401
    assert anonymous.as_user("ann").request("GET", "/dev/status").status == 403
    status = admin.call("GET", "/dev/status")
    assert set(status["mappings"]) == {"allocate", "deliver", "expiry"}
    assert set(status["schedules"]) == {"sweep"}
