"""The pages' sign-in (web/common.js: beginSignIn, finishSignIn, freshSession), run in
Node with a recording `fetch`, `location` and `sessionStorage`: what the pages send to
managed login and its token endpoint, and what they make of each answer. Nothing here
can reach Cognito; the browser tests run the same code against the dev issuer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

COMMON_JS = Path(__file__).resolve().parents[2] / "web" / "common.js"
DOMAIN = "https://frolic-dev-123.auth.eu-west-1.amazoncognito.com"
COGNITO = f"clientId=4example5client6id7; domain={DOMAIN}"
SITE = "https://site.example"

#: Loads common.js into a fresh context with the page's <meta> tags, URL and storage,
#: runs one step of the sign-in, and reports what it did.
HARNESS = r"""
const vm = require("vm");
const fs = require("fs");
const scenario = JSON.parse(fs.readFileSync(0, "utf8"));
const calls = [];
const storage = new Map(Object.entries(scenario.storage || {}));
const url = new URL(scenario.url);
const context = {
  window: {
    location: {
      protocol: url.protocol, host: url.host, pathname: url.pathname, search: url.search,
      assign(to) { context.window.assigned = to; },
    },
    history: { replaceState(_s, _t, to) { context.window.replaced = to; } },
    sessionStorage: {
      getItem: (k) => (storage.has(k) ? storage.get(k) : null),
      setItem: (k, v) => storage.set(k, String(v)),
      removeItem: (k) => storage.delete(k),
    },
    crypto: globalThis.crypto,
  },
  document: {
    querySelector(selector) {
      const name = /meta\[name="([^"]+)"\]/.exec(selector);
      if (!name || !(name[1] in scenario.meta)) return null;
      return { getAttribute: () => scenario.meta[name[1]] };
    },
  },
  fetch(to, init) {
    calls.push({ url: to, method: init.method, headers: init.headers, body: init.body,
                 credentials: init.credentials });
    const reply = scenario.replies.shift();
    if (!reply || reply.fail) return Promise.reject(new TypeError("Failed to fetch"));
    const text = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
    return Promise.resolve({
      ok: reply.status >= 200 && reply.status < 300, status: reply.status,
      headers: { get: () => null }, text: () => Promise.resolve(text),
    });
  },
  AbortController, setTimeout, clearTimeout, atob, btoa, TextDecoder, TextEncoder,
  URLSearchParams, Date, console,
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(scenario.common, "utf8"), context);
const F = context.window.Frolic;
const report = (outcome) => process.stdout.write(JSON.stringify({
  ...outcome, calls, storage: Object.fromEntries(storage),
  assigned: context.window.assigned || null, replaced: context.window.replaced || null }));
const step = { begin: () => F.beginSignIn(scenario.role, scenario.opts),
               finish: () => F.finishSignIn(scenario.role),
               fresh: () => F.freshSession(scenario.role) }[scenario.step];
step().then(
  (value) => report({ value: value === undefined ? null : value }),
  (error) => report({ error: { name: error.name, status: error.status, code: error.code,
                               words: F.plainWords(error.code, null) } }),
);
"""


def run(
    step: str,
    *,
    role: str = "player",
    auth: str = COGNITO,
    url: str = f"{SITE}/",
    replies: list[dict[str, Any]] | None = None,
    storage: dict[str, str] | None = None,
    opts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed for this test (and for `make synth`)", pytrace=False)
    scenario = {
        "common": str(COMMON_JS),
        "meta": {"frolic-api": "", "frolic-ws": "", "frolic-auth": auth},
        "url": url,
        "step": step,
        "role": role,
        "opts": opts or {},
        "replies": replies or [],
        "storage": storage or {},
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


def jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value, ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'kid': 'k'})}.{part(claims)}.c2lnbmF0dXJl"


def token_answer(claims: dict[str, Any], refresh: str | None = "refresh-1") -> dict[str, Any]:
    body: dict[str, Any] = {
        "id_token": jwt(claims),
        "access_token": "access",
        "expires_in": 3600,
        "token_type": "Bearer",
    }
    if refresh:
        body["refresh_token"] = refresh
    return {"status": 200, "body": body}


PENDING = "frolic.signin.pending"


def pending(role: str = "player", state: str = "st-1", search: str = "") -> dict[str, str]:
    value = {"state": state, "verifier": "v" * 64, "role": role, "search": search}
    return {PENDING: json.dumps(value)}


@pytest.mark.parametrize(
    ("role", "sign_up", "path", "back"),
    [
        ("player", False, "/oauth2/authorize", f"{SITE}/"),
        ("player", True, "/signup", f"{SITE}/"),
        ("admin", False, "/oauth2/authorize", f"{SITE}/admin"),
    ],
)
def test_signing_in_goes_to_managed_login_with_a_pkce_challenge(
    role: str, sign_up: bool, path: str, back: str
) -> None:
    # Given a deployed page
    # When the person asks to sign in (or to make an account)
    outcome = run("begin", role=role, opts={"signUp": sign_up}, url=f"{SITE}/?game=g-1")
    # Then the browser goes to managed login, and nothing was fetched
    assert outcome["calls"] == []
    target = urlsplit(outcome["assigned"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{DOMAIN}{path}"
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    kept = json.loads(outcome["storage"][PENDING])
    assert query["client_id"] == "4example5client6id7"
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == back
    assert query["scope"] == "openid email profile"
    assert query["state"] == kept["state"]
    assert query["code_challenge_method"] == "S256"
    # And the challenge is the S256 of the verifier the tab keeps for the way back
    digest = hashlib.sha256(kept["verifier"].encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert 43 <= len(kept["verifier"]) <= 128
    assert kept["role"] == role
    assert kept["search"] == "?game=g-1"


def test_two_sign_ins_never_share_a_state_or_verifier() -> None:
    first, second = (json.loads(run("begin")["storage"][PENDING]) for _ in range(2))
    assert first["state"] != second["state"]
    assert first["verifier"] != second["verifier"]


def test_back_from_managed_login_the_code_is_redeemed_with_the_verifier() -> None:
    # Given a player sent back with a code for the state this tab kept
    claims = {"sub": "1f2e", "email": "zoë@example.com", "token_use": "id"}
    outcome = run(
        "finish",
        url=f"{SITE}/?code=c-1&state=st-1",
        storage=pending(search="?game=g-1"),
        replies=[token_answer(claims)],
    )
    # Then one form post went to the token endpoint, with the verifier
    (call,) = outcome["calls"]
    assert call["url"] == f"{DOMAIN}/oauth2/token"
    assert call["method"] == "POST"
    assert call["headers"] == {"Content-Type": "application/x-www-form-urlencoded"}
    assert call["credentials"] == "omit"
    assert {k: v[0] for k, v in parse_qs(call["body"]).items()} == {
        "grant_type": "authorization_code",
        "client_id": "4example5client6id7",
        "code": "c-1",
        "redirect_uri": f"{SITE}/",
        "code_verifier": "v" * 64,
    }
    # And the session holds the ID token (what the authorizer takes) and the refresh
    # token; the page shows the account's email, UTF-8 and all
    session = outcome["value"]
    assert session["token"] == jwt(claims)
    assert session["refreshToken"] == "refresh-1"
    assert session["userId"] == "zoë@example.com"
    assert json.loads(outcome["storage"]["frolic.player.session"]) == session
    # And the code left the address bar; the page's own query came back
    assert outcome["replaced"] == "/?game=g-1"
    assert PENDING not in outcome["storage"]


@pytest.mark.parametrize(
    ("url", "storage"),
    [
        (f"{SITE}/?code=c-1&state=forged", pending()),  # another state
        (f"{SITE}/?code=c-1&state=st-1", {}),  # this tab asked for nothing
        (f"{SITE}/?code=c-1&state=st-1", pending(role="admin")),  # for the other page
    ],
)
def test_a_code_this_tab_did_not_ask_for_is_not_redeemed(url: str, storage: dict[str, str]) -> None:
    outcome = run("finish", url=url, storage=storage)
    assert outcome["error"]["code"] == "sign_in_failed"
    assert outcome["calls"] == []
    assert outcome["replaced"] is not None, "the code still leaves the address bar"


@pytest.mark.parametrize(
    ("groups", "role", "code"),
    [([], "admin", "not_a_marketer_account"), (["admin"], "player", "not_a_player_account")],
)
def test_an_account_in_the_wrong_role_is_told_at_sign_in(
    groups: list[str], role: str, code: str
) -> None:
    claims = {"sub": "1", "email": "x@example.com", "cognito:groups": groups}
    outcome = run(
        "finish",
        role=role,
        url=f"{SITE}/?code=c&state=st-1",
        storage=pending(role=role),
        replies=[token_answer(claims)],
    )
    assert outcome["error"]["code"] == code
    assert outcome["error"]["words"], "every sign-in error has plain words on the page"
    assert f"frolic.{role}.session" not in outcome["storage"]


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        ({"status": 400, "body": {"error": "invalid_grant"}}, "sign_in_expired"),
        ({"status": 400, "body": {"error": "invalid_client"}}, "sign_in_unavailable"),
        ({"status": 502, "body": "<html>bad gateway</html>"}, "sign_in_unavailable"),
        ({"status": 200, "body": {"access_token": "no id token"}}, "sign_in_unavailable"),
        ({"fail": True}, "network"),
    ],
)
def test_token_endpoint_refusals_become_plain_words(reply: dict[str, Any], code: str) -> None:
    outcome = run("finish", url=f"{SITE}/?code=c&state=st-1", storage=pending(), replies=[reply])
    assert outcome["error"]["name"] == "ApiError"
    assert outcome["error"]["code"] == code
    assert outcome["error"]["words"]


def test_a_refused_sign_in_on_the_login_page_is_reported() -> None:
    outcome = run("finish", url=f"{SITE}/?error=access_denied&state=st-1", storage=pending())
    assert outcome["error"]["code"] == "sign_in_failed"
    assert outcome["calls"] == []


def test_a_page_without_a_sign_in_in_its_url_finishes_nothing() -> None:
    outcome = run("finish", url=f"{SITE}/?game=g-1")
    assert outcome["value"] is None
    assert outcome["calls"] == []
    assert outcome["replaced"] is None


def stored_session(expires_in_ms: int, refresh: str = "refresh-1") -> dict[str, str]:
    """A session as finishSignIn stores it, expiring `expires_in_ms` from now (the harness
    runs moments later; the margins tested are minutes)."""
    value = {
        "token": "old",
        "refreshToken": refresh,
        "expiresAt": int(time.time() * 1000) + expires_in_ms,
        "userId": "ann@example.com",
    }
    return {"frolic.player.session": json.dumps(value)}


def test_a_session_with_time_left_is_used_as_it_is() -> None:
    outcome = run("fresh", storage=stored_session(expires_in_ms=3_000_000))
    assert outcome["value"]["token"] == "old"
    assert outcome["calls"] == []


def test_a_session_near_its_end_is_refreshed_with_the_refresh_token() -> None:
    claims = {"sub": "1", "email": "ann@example.com"}
    outcome = run(
        "fresh", storage=stored_session(expires_in_ms=60_000), replies=[token_answer(claims, None)]
    )
    (call,) = outcome["calls"]
    assert {k: v[0] for k, v in parse_qs(call["body"]).items()} == {
        "grant_type": "refresh_token",
        "client_id": "4example5client6id7",
        "refresh_token": "refresh-1",
    }
    # Cognito does not send a new refresh token: the one kept goes on serving
    assert outcome["value"]["token"] == jwt(claims)
    assert outcome["value"]["refreshToken"] == "refresh-1"


def test_a_refused_refresh_is_a_session_that_ended() -> None:
    outcome = run(
        "fresh",
        storage=stored_session(expires_in_ms=-1),
        replies=[{"status": 400, "body": {"error": "invalid_grant"}}],
    )
    assert outcome["value"] is None
    assert "frolic.player.session" not in outcome["storage"]


@pytest.mark.parametrize(
    "auth",
    [
        "clientId=abc",  # no domain
        f"domain={DOMAIN}",  # no client
        "clientId=abc; domain=http://plain.example",  # not https
        "clientId=abc; domain=https://evil.example/path?x",  # a path or a query
    ],
)
def test_a_broken_setting_is_reported_not_replaced_by_the_dev_issuer(auth: str) -> None:
    outcome = run("begin", auth=auth)
    assert outcome["error"]["code"] == "sign_in_misconfigured"
    assert outcome["assigned"] is None


def test_locally_the_same_flow_goes_to_the_dev_issuer_on_this_origin() -> None:
    outcome = run("begin", auth="", url="http://127.0.0.1:8000/")
    target = urlsplit(outcome["assigned"])
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert f"{target.scheme}://{target.netloc}{target.path}" == (
        "http://127.0.0.1:8000/dev/oauth2/authorize"
    )
    assert query["client_id"] == "frolic-local"
    assert query["redirect_uri"] == "http://127.0.0.1:8000/"
