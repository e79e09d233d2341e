"""The pages' one sign-in function (`Frolic.signIn` in web/common.js), run in Node with a
stand-in `fetch`: what it sends to Cognito in AWS and to the dev issuer locally, and what
it makes of each answer. No browser needed; the browser tests cover the local path in
Chromium, and nothing here can reach Cognito.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

COMMON_JS = Path(__file__).resolve().parents[2] / "web" / "common.js"
COGNITO = "region=eu-west-1; clientId=4example5client6id7"
ENDPOINT = "https://cognito-idp.eu-west-1.amazonaws.com/"

#: Loads common.js into a fresh context with the page's <meta> tags and a fetch that
#: records each call and answers from the scenario's list.
HARNESS = r"""
const vm = require("vm");
const fs = require("fs");
const scenario = JSON.parse(fs.readFileSync(0, "utf8"));
const calls = [];
const context = {
  window: { location: { protocol: "https:", host: "site.example" } },
  document: {
    querySelector(selector) {
      const name = /meta\[name="([^"]+)"\]/.exec(selector);
      if (!name || !(name[1] in scenario.meta)) return null;
      return { getAttribute: () => scenario.meta[name[1]] };
    },
  },
  fetch(url, init) {
    calls.push({ url, method: init.method, headers: init.headers, body: init.body,
                 credentials: init.credentials });
    const reply = scenario.replies.shift();
    if (!reply || reply.fail) return Promise.reject(new TypeError("Failed to fetch"));
    const text = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
    return Promise.resolve({
      ok: reply.status >= 200 && reply.status < 300,
      status: reply.status,
      headers: { get: () => null },
      text: () => Promise.resolve(text),
    });
  },
  AbortController, setTimeout, clearTimeout, atob, TextDecoder, console,
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(scenario.common, "utf8"), context);
const F = context.window.Frolic;
const report = (outcome) =>
  process.stdout.write(JSON.stringify({ ...outcome, calls,
                                        needsPassword: F.signInNeedsPassword() }));
F.signIn(scenario.name, scenario.password, scenario.opts).then(
  (signedIn) => report({ signedIn }),
  (error) => report({ error: { name: error.name, status: error.status, code: error.code,
                               words: F.plainWords(error.code, null) } }),
);
"""


def jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value, ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'kid': 'k'})}.{part(claims)}.c2lnbmF0dXJl"


def sign_in(
    *,
    auth: str,
    replies: list[dict[str, Any]],
    name: str = "ann@example.com",
    password: str = "correct horse battery staple",
    admin: bool = False,
) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed for this test (and for `make synth`)", pytrace=False)
    scenario = {
        "common": str(COMMON_JS),
        "meta": {"frolic-api": "", "frolic-ws": "", "frolic-auth": auth},
        "replies": replies,
        "name": name,
        "password": password,
        "opts": {"admin": admin},
    }
    done = subprocess.run(
        [node, "-e", HARNESS],
        input=json.dumps(scenario),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcome: dict[str, Any] = json.loads(done.stdout)
    return outcome


def tokens(claims: dict[str, Any]) -> dict[str, Any]:
    """Cognito's answer to a successful InitiateAuth."""
    return {
        "status": 200,
        "body": {
            "AuthenticationResult": {
                "IdToken": jwt(claims),
                "AccessToken": "access",
                "RefreshToken": "refresh",
                "ExpiresIn": 3600,
                "TokenType": "Bearer",
            },
            "ChallengeParameters": {},
        },
    }


def test_in_aws_a_player_signs_in_with_one_initiate_auth_call() -> None:
    claims = {"sub": "1f2e", "email": "zoë@example.com", "token_use": "id"}
    outcome = sign_in(auth=COGNITO, replies=[tokens(claims)], name="  Zoë@example.com ")
    assert outcome["needsPassword"] is True
    (call,) = outcome["calls"]
    assert call["url"] == ENDPOINT
    assert call["method"] == "POST"
    assert call["headers"] == {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
    }
    assert call["credentials"] == "omit"
    assert json.loads(call["body"]) == {
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": "4example5client6id7",
        "AuthParameters": {
            "USERNAME": "Zoë@example.com",
            "PASSWORD": "correct horse battery staple",
        },
    }
    # The ID token is what the REST API's Cognito authorizer takes; the page shows the
    # account's email from it (UTF-8 and all), and keeps no refresh token.
    assert outcome["signedIn"] == {"token": jwt(claims), "userId": "zoë@example.com"}


def test_the_marketer_console_takes_an_admin_group_account() -> None:
    claims = {"sub": "9a8b", "email": "m@example.com", "cognito:groups": ["admin"]}
    outcome = sign_in(auth=COGNITO, replies=[tokens(claims)], name="m@example.com", admin=True)
    assert outcome["signedIn"]["userId"] == "m@example.com"


@pytest.mark.parametrize(
    ("groups", "admin", "code"),
    [([], True, "not_a_marketer_account"), (["admin"], False, "not_a_player_account")],
)
def test_an_account_in_the_wrong_role_is_told_at_sign_in(
    groups: list[str], admin: bool, code: str
) -> None:
    claims = {"sub": "1", "email": "x@example.com", "cognito:groups": groups}
    outcome = sign_in(auth=COGNITO, replies=[tokens(claims)], admin=admin)
    assert outcome["error"]["code"] == code
    assert outcome["error"]["words"], "every sign-in error has plain words on the page"


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (
            {
                "status": 400,
                "body": {
                    "__type": "NotAuthorizedException",
                    "message": "Incorrect username or password.",
                },
            },
            "sign_in_failed",
        ),
        ({"status": 400, "body": {"__type": "UserNotConfirmedException"}}, "account_not_confirmed"),
        (
            {"status": 400, "body": {"__type": "PasswordResetRequiredException"}},
            "password_reset_required",
        ),
        ({"status": 400, "body": {"__type": "TooManyRequestsException"}}, "too_many_sign_ins"),
        (
            {"status": 400, "body": {"__type": "InvalidParameterException", "message": "flow"}},
            "sign_in_unavailable",
        ),
        # a type that is no Cognito error, whatever JavaScript objects inherit
        ({"status": 400, "body": {"__type": "constructor"}}, "sign_in_unavailable"),
        (
            {"status": 200, "body": {"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": "s"}},
            "sign_in_step_unsupported",
        ),
        ({"status": 502, "body": "<html>bad gateway</html>"}, "sign_in_unavailable"),
        ({"fail": True}, "network"),
    ],
)
def test_cognito_refusals_become_plain_words(reply: dict[str, Any], code: str) -> None:
    outcome = sign_in(auth=COGNITO, replies=[reply])
    assert outcome["error"]["name"] == "ApiError"
    assert outcome["error"]["code"] == code
    assert outcome["error"]["words"]
    assert len(outcome["calls"]) == 1


def not_authorized(message: str) -> dict[str, Any]:
    return {"status": 400, "body": {"__type": "NotAuthorizedException", "message": message}}


@pytest.mark.parametrize(
    ("message", "code", "says"),
    [
        ("Incorrect username or password.", "sign_in_failed", "don't match"),
        # Cognito locks an account after repeated wrong passwords, and says so only here
        ("Password attempts exceeded", "too_many_password_attempts", "locked"),
        ("User is disabled.", "account_disabled", "disabled"),
    ],
)
def test_a_refused_sign_in_says_why_when_cognito_does(message: str, code: str, says: str) -> None:
    """NotAuthorizedException is one type for three causes; telling a locked or disabled
    account that its password is wrong would send the person round in circles."""
    outcome = sign_in(auth=COGNITO, replies=[not_authorized(message)])
    assert outcome["error"]["code"] == code
    assert says in outcome["error"]["words"]


@pytest.mark.parametrize(
    "auth", ["region=evil.example/x; clientId=abc", "clientId=abc", "region=eu-west-1"]
)
def test_a_broken_setting_is_reported_not_replaced_by_the_dev_issuer(auth: str) -> None:
    outcome = sign_in(auth=auth, replies=[])
    assert outcome["needsPassword"] is True
    assert outcome["error"]["code"] == "sign_in_misconfigured"
    assert outcome["calls"] == [], "neither Cognito nor /dev/token was called"


@pytest.mark.parametrize(("admin", "payload"), [(False, {}), (True, {"admin": True})])
def test_locally_the_dev_issuer_gives_the_token_as_before(
    admin: bool, payload: dict[str, Any]
) -> None:
    outcome = sign_in(
        auth="",
        replies=[{"status": 200, "body": {"token": "dev-token"}}],
        name="Ann Lee!",
        password="",
        admin=admin,
    )
    assert outcome["needsPassword"] is False
    (call,) = outcome["calls"]
    assert (call["url"], call["method"]) == ("/dev/token", "POST")
    assert json.loads(call["body"]) == {"userId": "Ann-Lee", **payload}
    assert outcome["signedIn"] == {"token": "dev-token", "userId": "Ann-Lee"}
