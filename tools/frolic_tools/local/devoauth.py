"""The dev issuer's authorization-code flow with PKCE: the local stand-in for Cognito's
managed login (/oauth2/authorize, /signup, /oauth2/token, /oauth2/revoke, /logout), so
the pages run the same sign-in code locally as against Cognito (web/common.js).

Locally anyone may be anyone: the "login page" asks for a player name and whether to
act as a marketer, with no password. What is checked is what Cognito checks of the
pages: the client id, a redirect to one of the pages of this origin, an S256 code
challenge, a code used once, soon, by the same redirect and the verifier that matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol
from urllib.parse import urlencode, urlsplit

from pydantic import TypeAdapter, ValidationError

from frolic.models import Identifier
from frolic_tools.local.devauth import BRAND_ROLES, Staff

#: The app client id the pages use when `frolic-auth` is empty (web/common.js).
CLIENT_ID: Final = "frolic-local"
#: Where the dev issuer's managed-login stand-in lives on the gateway.
PREFIX: Final = "/dev"
#: Cognito's authorization codes live five minutes.
CODE_SECONDS: Final = 300.0
SCOPES: Final = frozenset({"openid", "email", "profile"})
_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)
#: A verifier is 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1).
_VERIFIER_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)


class OAuthError(Exception):
    """An OAuth error answer: `error` is the RFC 6749 code, as Cognito sends it."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class TokenIssuer(Protocol):
    def issue(self, user_id: str, *, admin: bool = False, staff: Staff | None = None) -> str: ...


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    redirect_uri: str
    state: str
    code_challenge: str

    def hidden_fields(self) -> dict[str, str]:
        return {
            "client_id": CLIENT_ID,
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "state": self.state,
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256",
        }


@dataclass(frozen=True, slots=True)
class _Session:
    user_id: str
    admin: bool
    #: A brand staff role and its brands, as the login form chose them.
    staff: Staff | None = None


@dataclass(frozen=True, slots=True)
class _Grant:
    session: _Session
    redirect_uri: str
    code_challenge: str
    expires_at: float


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class DevAuthorization:
    """Codes and refresh tokens of one local stack run, in memory (a restart signs
    everyone out, as a new signing key does for the tokens themselves)."""

    def __init__(
        self,
        tokens: TokenIssuer,
        *,
        pages: Mapping[str, str],
        token_seconds: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`pages`: the page paths a sign-in may return to, on the origin the browser
        reached the gateway by (each call's `origin`)."""
        self._tokens = tokens
        self._pages = frozenset(pages)
        self._token_seconds = token_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._codes: dict[str, _Grant] = {}
        self._sessions: dict[str, _Session] = {}

    # -- the login page ---------------------------------------------------------------

    def authorize_request(self, params: Mapping[str, str], *, origin: str) -> AuthorizeRequest:
        """What /oauth2/authorize (or /signup) was asked; refused as Cognito refuses."""
        if params.get("client_id") != CLIENT_ID:
            raise OAuthError("invalid_client", "unknown client_id")
        redirect_uri = self._page_url(params.get("redirect_uri", ""), origin)
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "response_type must be code")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            raise OAuthError("invalid_request", "an S256 code_challenge is required")
        scopes = set(params.get("scope", "openid").split())
        if not scopes <= SCOPES:
            raise OAuthError("invalid_scope", "scope must be among openid email profile")
        return AuthorizeRequest(
            redirect_uri=redirect_uri,
            state=params.get("state", ""),
            code_challenge=params["code_challenge"],
        )

    def sign_in(self, params: Mapping[str, str], *, origin: str) -> str:
        """The login form's answer: the page URL to send the browser back to, with a code."""
        request = self.authorize_request(params, origin=origin)
        try:
            user_id = _IDENTIFIER.validate_python(params.get("user_id", "").strip())
        except ValidationError:
            raise OAuthError("invalid_request", "a player name of A-Z a-z 0-9 _ . : -") from None
        role = params.get("role") or None
        if role is not None and role not in BRAND_ROLES:
            raise OAuthError("invalid_request", "role must be " + " or ".join(BRAND_ROLES))
        brands = tuple(b.strip() for b in params.get("brands", "").split(",") if b.strip())
        try:
            for brand in brands:
                _IDENTIFIER.validate_python(brand)
        except ValidationError:
            raise OAuthError("invalid_request", "brand ids of A-Z a-z 0-9 _ . : -") from None
        staff = None if role is None else Staff(role, brands)
        session = _Session(user_id, params.get("admin") == "on", staff)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._forget_old_codes()
            self._codes[code] = _Grant(
                session=session,
                redirect_uri=request.redirect_uri,
                code_challenge=request.code_challenge,
                expires_at=self._clock() + CODE_SECONDS,
            )
        answer = {"code": code, **({"state": request.state} if request.state else {})}
        return f"{request.redirect_uri}?{urlencode(answer)}"

    def login_page(self, request: AuthorizeRequest, *, sign_up: bool) -> str:
        fields = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
            for name, value in request.hidden_fields().items()
        )
        marketer = urlsplit(request.redirect_uri).path == "/admin"
        heading = "Create a local account" if sign_up else "Sign in to the local stack"
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{heading}</title>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="stylesheet" href="/style.css"></head><body><main id="main">'
            f'<section class="card"><h1>{heading}</h1>'
            "<p>The dev issuer stands in for Cognito's managed login: no password.</p>"
            f'<form method="post" action="{PREFIX}/oauth2/authorize">{fields}'
            '<div class="field"><label for="dev-user-id">Player name</label>'
            '<input id="dev-user-id" name="user_id" required maxlength="64" '
            'pattern="[A-Za-z0-9_.:\\-]{1,64}" autocomplete="username"></div>'
            '<div class="field"><label><input id="dev-admin" type="checkbox" name="admin"'
            f"{' checked' if marketer else ''}> A marketer (the admin group)</label></div>"
            '<div class="field"><label for="dev-role">Or brand staff</label>'
            '<select id="dev-role" name="role"><option value="">No</option>'
            + "".join(f'<option value="{r}">{r}</option>' for r in BRAND_ROLES)
            + "</select></div>"
            '<div class="field"><label for="dev-brands">Their brand ids, comma-separated</label>'
            '<input id="dev-brands" name="brands" maxlength="2048" autocomplete="off"></div>'
            '<button id="dev-sign-in" class="button" type="submit">Continue</button>'
            "</form></section></main></body></html>"
        )

    # -- the token endpoint -----------------------------------------------------------

    def token(self, form: Mapping[str, str]) -> dict[str, object]:
        if form.get("client_id") != CLIENT_ID:
            raise OAuthError("invalid_client", "unknown client_id")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            session = self._redeem_code(form)
            refresh_token = secrets.token_urlsafe(32)
            with self._lock:
                self._sessions[refresh_token] = session
            return {**self._tokens_for(session), "refresh_token": refresh_token}
        if grant_type == "refresh_token":
            with self._lock:
                known = self._sessions.get(form.get("refresh_token", ""))
            if known is None:
                raise OAuthError("invalid_grant", "refresh token unknown or revoked")
            return self._tokens_for(known)
        raise OAuthError("unsupported_grant_type", "authorization_code or refresh_token")

    def revoke(self, form: Mapping[str, str]) -> None:
        if form.get("client_id") != CLIENT_ID:
            raise OAuthError("invalid_client", "unknown client_id")
        with self._lock:
            self._sessions.pop(form.get("token", ""), None)

    def logout_target(self, params: Mapping[str, str], *, origin: str) -> str:
        if params.get("client_id") != CLIENT_ID:
            raise OAuthError("invalid_client", "unknown client_id")
        return self._page_url(params.get("logout_uri", ""), origin)

    # -- inside -----------------------------------------------------------------------

    def _redeem_code(self, form: Mapping[str, str]) -> _Session:
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or grant.expires_at <= self._clock():
            raise OAuthError("invalid_grant", "code unknown, used or expired")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorize request")
        verifier = form.get("code_verifier", "")
        if not (43 <= len(verifier) <= 128 and set(verifier) <= _VERIFIER_CHARS):
            raise OAuthError("invalid_grant", "code_verifier must be 43-128 unreserved characters")
        if not hmac.compare_digest(s256(verifier), grant.code_challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the challenge")
        return grant.session

    def _tokens_for(self, session: _Session) -> dict[str, object]:
        token = self._tokens.issue(session.user_id, admin=session.admin, staff=session.staff)
        return {
            "id_token": token,
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self._token_seconds,
        }

    def _page_url(self, url: str, origin: str) -> str:
        parts = urlsplit(url)
        if (
            f"{parts.scheme}://{parts.netloc}" != origin
            or parts.path not in self._pages
            or parts.query
            or parts.fragment
        ):
            raise OAuthError("invalid_request", "redirect to a page of this origin only")
        return url

    def _forget_old_codes(self) -> None:
        now = self._clock()
        for code in [c for c, grant in self._codes.items() if grant.expires_at <= now]:
            del self._codes[code]
