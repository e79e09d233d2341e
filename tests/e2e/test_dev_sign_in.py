"""The dev issuer's managed-login stand-in over real HTTP: the pages' authorization-code
flow with PKCE ends in a token the local API takes, and a refresh token that works until
it is revoked. (tests/unit/test_dev_oauth.py covers each refusal.)"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import urllib3

from frolic_tools.local import LocalClient, LocalStack
from frolic_tools.local.devoauth import CLIENT_ID

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def post_form(url: str, fields: dict[str, str]) -> urllib3.BaseHTTPResponse:
    return urllib3.request("POST", url, body=urlencode(fields), headers=FORM, redirect=False)


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_in(stack: LocalStack, *, user: str, admin: bool, page: str) -> tuple[str, dict[str, Any]]:
    """The browser's part: the login page, its form, and the way back with a code."""
    verifier = secrets.token_urlsafe(48)
    query = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "scope": "openid email profile",
        "redirect_uri": f"{stack.base_url}{page}",
        "state": "st",
        "code_challenge": challenge(verifier),
        "code_challenge_method": "S256",
    }
    login = urllib3.request("GET", f"{stack.base_url}/dev/oauth2/authorize?{urlencode(query)}")
    assert login.status == 200
    assert login.headers["Content-Type"].startswith("text/html")
    assert 'name="user_id"' in login.data.decode()
    fields = {**query, "user_id": user, **({"admin": "on"} if admin else {})}
    back = post_form(f"{stack.base_url}/dev/oauth2/authorize", fields)
    assert back.status == 302
    location = urlsplit(back.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{stack.base_url}{page}"
    answer = parse_qs(location.query)
    assert answer["state"] == ["st"]
    tokens = post_form(
        f"{stack.base_url}/dev/oauth2/token",
        {
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "code": answer["code"][0],
            "redirect_uri": f"{stack.base_url}{page}",
            "code_verifier": verifier,
        },
    )
    assert tokens.status == 200, tokens.data
    assert tokens.headers["Cache-Control"] == "no-store"
    return verifier, tokens.json()


def test_a_player_signs_in_with_the_code_flow_and_plays(
    stack: LocalStack, anonymous: LocalClient
) -> None:
    _, tokens = sign_in(stack, user="ann.code", admin=False, page="/")
    player = anonymous.with_token(tokens["id_token"])
    assert player.request("POST", "/ws-ticket").status == 200
    assert player.request("GET", "/admin/brands").status == 403


def test_a_marketer_signs_in_on_the_console_and_may_administer(
    stack: LocalStack, anonymous: LocalClient
) -> None:
    _, tokens = sign_in(stack, user="mia.code", admin=True, page="/admin")
    assert anonymous.with_token(tokens["id_token"]).request("GET", "/admin/brands").status == 200


def test_a_refresh_token_renews_until_it_is_revoked(
    stack: LocalStack, anonymous: LocalClient
) -> None:
    _, tokens = sign_in(stack, user="ann.refresh", admin=False, page="/")
    token_url = f"{stack.base_url}/dev/oauth2/token"
    refresh = {"grant_type": "refresh_token", "client_id": CLIENT_ID}
    renewed = post_form(token_url, {**refresh, "refresh_token": tokens["refresh_token"]})
    assert renewed.status == 200
    player = anonymous.with_token(renewed.json()["id_token"])
    assert player.request("POST", "/ws-ticket").status == 200
    revoked = post_form(
        f"{stack.base_url}/dev/oauth2/revoke",
        {"client_id": CLIENT_ID, "token": tokens["refresh_token"]},
    )
    assert revoked.status == 200
    refused = post_form(token_url, {**refresh, "refresh_token": tokens["refresh_token"]})
    assert refused.status == 400
    assert refused.json()["error"] == "invalid_grant"


def test_a_code_is_refused_with_another_verifier(stack: LocalStack) -> None:
    verifier = secrets.token_urlsafe(48)
    query = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": f"{stack.base_url}/",
        "code_challenge": challenge(verifier),
        "code_challenge_method": "S256",
        "user_id": "eve",
    }
    back = post_form(f"{stack.base_url}/dev/oauth2/authorize", query)
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    stolen = post_form(
        f"{stack.base_url}/dev/oauth2/token",
        {
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "code": code,
            "redirect_uri": f"{stack.base_url}/",
            "code_verifier": secrets.token_urlsafe(48),
        },
    )
    assert stolen.status == 400
    assert stolen.json()["error"] == "invalid_grant"


def test_sign_out_returns_to_the_page_and_nowhere_else(stack: LocalStack) -> None:
    def logout(target: str) -> urllib3.BaseHTTPResponse:
        query = urlencode({"client_id": CLIENT_ID, "logout_uri": target})
        return urllib3.request("GET", f"{stack.base_url}/dev/logout?{query}", redirect=False)

    home = logout(f"{stack.base_url}/")
    assert (home.status, home.headers["Location"]) == (302, f"{stack.base_url}/")
    assert logout("https://evil.example/").status == 400


def test_the_token_endpoint_takes_only_posts(stack: LocalStack) -> None:
    answer = urllib3.request("GET", f"{stack.base_url}/dev/oauth2/token", redirect=False)
    assert answer.status == 405
    assert answer.headers["Allow"] == "POST"
