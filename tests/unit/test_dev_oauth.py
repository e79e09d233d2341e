"""The dev issuer's authorization-code flow: it refuses what Cognito refuses of the pages,
so a sign-in that works locally is one that works against managed login."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import pytest

from frolic_tools.local.devauth import Staff
from frolic_tools.local.devoauth import (
    CLIENT_ID,
    CODE_SECONDS,
    DevAuthorization,
    OAuthError,
    s256,
)

ORIGIN = "http://127.0.0.1:8000"
PLAYER_PAGE = f"{ORIGIN}/"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Issued:
    """Records who each token was issued to."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.staff: list[Staff | None] = []

    def issue(self, user_id: str, *, admin: bool = False, staff: Staff | None = None) -> str:
        self.calls.append((user_id, admin))
        self.staff.append(staff)
        return f"token-{len(self.calls)}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def issued() -> Issued:
    return Issued()


@pytest.fixture
def server(clock: Clock, issued: Issued) -> DevAuthorization:
    return DevAuthorization(
        issued,
        pages={"/": "index.html", "/admin": "admin.html"},
        token_seconds=3600,
        clock=clock,
    )


def authorize(verifier: str, **changes: str) -> dict[str, str]:
    params = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": PLAYER_PAGE,
        "state": "s-1",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
        "scope": "openid email profile",
    }
    return {**params, **changes}


def signed_in_code(server: DevAuthorization, verifier: str, **form: str) -> str:
    back = server.sign_in({**authorize(verifier), "user_id": "ann", **form}, origin=ORIGIN)
    query = parse_qs(urlsplit(back).query)
    assert back.startswith(PLAYER_PAGE + "?")
    assert query["state"] == ["s-1"]
    return query["code"][0]


def exchange(verifier: str, code: str, changes: dict[str, str] | None = None) -> dict[str, str]:
    form = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "code": code,
        "redirect_uri": PLAYER_PAGE,
        "code_verifier": verifier,
    }
    return {**form, **(changes or {})}


def test_a_code_with_its_verifier_buys_tokens_and_a_refresh_token(
    server: DevAuthorization, issued: Issued
) -> None:
    # Given a player who signed in on the login page
    verifier = secrets.token_urlsafe(48)
    code = signed_in_code(server, verifier)
    # When the page redeems the code with its verifier
    tokens = server.token(exchange(verifier, code))
    # Then it holds an ID token for that player, and can refresh it
    assert tokens["id_token"] == "token-1"
    assert tokens["expires_in"] == 3600
    refreshed = server.token(
        {
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "refresh_token": str(tokens["refresh_token"]),
        }
    )
    assert refreshed["id_token"] == "token-2"
    assert "refresh_token" not in refreshed
    assert issued.calls == [("ann", False), ("ann", False)]


def test_the_marketer_box_asks_for_the_admin_group(
    server: DevAuthorization, issued: Issued
) -> None:
    verifier = secrets.token_urlsafe(48)
    server.token(exchange(verifier, signed_in_code(server, verifier, admin="on")))
    assert issued.calls == [("ann", True)]


def test_a_staff_role_and_its_brands_reach_the_token(
    server: DevAuthorization, issued: Issued
) -> None:
    verifier = secrets.token_urlsafe(48)
    code = signed_in_code(server, verifier, role="till", brands=" acme, beta ,")
    server.token(exchange(verifier, code))
    assert (issued.calls, issued.staff) == ([("ann", False)], [Staff("till", ("acme", "beta"))])


@pytest.mark.parametrize("form", [{"role": "admin"}, {"role": "till", "brands": "a b"}])
def test_a_staff_sign_in_with_an_unknown_role_or_bad_brand_is_refused(
    server: DevAuthorization, form: dict[str, str]
) -> None:
    with pytest.raises(OAuthError):
        signed_in_code(server, secrets.token_urlsafe(48), **form)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_verifier": "x" * 64}, "invalid_grant"),  # another verifier
        ({"code_verifier": "short"}, "invalid_grant"),
        ({"redirect_uri": f"{ORIGIN}/admin"}, "invalid_grant"),
        ({"code": "not-a-code"}, "invalid_grant"),
        ({"client_id": "someone-else"}, "invalid_client"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
    ],
)
def test_a_code_is_refused_without_what_bound_it(
    server: DevAuthorization, change: dict[str, str], error: str
) -> None:
    verifier = secrets.token_urlsafe(48)
    code = signed_in_code(server, verifier)
    with pytest.raises(OAuthError) as refused:
        server.token(exchange(verifier, code, change))
    assert refused.value.error == error


def test_a_code_is_good_once_and_for_five_minutes(server: DevAuthorization, clock: Clock) -> None:
    verifier = secrets.token_urlsafe(48)
    code = signed_in_code(server, verifier)
    server.token(exchange(verifier, code))
    with pytest.raises(OAuthError, match="used"):
        server.token(exchange(verifier, code))
    late = signed_in_code(server, verifier)
    clock.now += CODE_SECONDS
    with pytest.raises(OAuthError, match="expired"):
        server.token(exchange(verifier, late))


@pytest.mark.parametrize(
    "change",
    [
        {"redirect_uri": "https://evil.example/"},
        {"redirect_uri": f"{ORIGIN}/not-a-page"},
        {"redirect_uri": f"{PLAYER_PAGE}?next=x"},
        {"client_id": "someone-else"},
        {"response_type": "token"},
        {"code_challenge_method": "plain"},
        {"code_challenge": ""},
        {"scope": "openid aws.cognito.signin.user.admin"},
    ],
)
def test_the_login_page_is_only_shown_for_what_the_pages_ask(
    server: DevAuthorization, change: dict[str, str]
) -> None:
    with pytest.raises(OAuthError):
        server.authorize_request(authorize("v" * 43, **change), origin=ORIGIN)


def test_a_revoked_refresh_token_refreshes_nothing(server: DevAuthorization) -> None:
    verifier = secrets.token_urlsafe(48)
    tokens = server.token(exchange(verifier, signed_in_code(server, verifier)))
    refresh = str(tokens["refresh_token"])
    server.revoke({"client_id": CLIENT_ID, "token": refresh})
    with pytest.raises(OAuthError) as refused:
        server.token(
            {"grant_type": "refresh_token", "client_id": CLIENT_ID, "refresh_token": refresh}
        )
    assert refused.value.error == "invalid_grant"


def test_the_login_page_escapes_what_it_echoes(server: DevAuthorization) -> None:
    request = server.authorize_request(
        authorize("v" * 43, state='"><script>x</script>'), origin=ORIGIN
    )
    page = server.login_page(request, sign_up=False)
    assert "<script>" not in page
    assert "&quot;&gt;&lt;script&gt;" in page


def test_sign_out_returns_only_to_a_page(server: DevAuthorization) -> None:
    assert (
        server.logout_target({"client_id": CLIENT_ID, "logout_uri": PLAYER_PAGE}, origin=ORIGIN)
        == PLAYER_PAGE
    )
    with pytest.raises(OAuthError):
        server.logout_target(
            {"client_id": CLIENT_ID, "logout_uri": "https://evil.example/"}, origin=ORIGIN
        )
