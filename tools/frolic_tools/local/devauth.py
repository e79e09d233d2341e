"""Dev tokens: the local stand-in for Cognito, so the gateway can pass the handlers the
same authorizer claims API Gateway passes in AWS.

A token is an HS256 JWT signed with a key made up for one run of the local stack, so
a token never outlives the stack that issued it. Anyone who can reach the local gateway
can ask for any identity, admin included: that is the point of a dev issuer, and why
it exists only in local mode (the deployed REST API has no such route).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

from frolic.auth import ADMIN_GROUP
from frolic.models import Identifier

TOKEN_SECONDS: Final = 12 * 3600
ISSUER: Final = "frolic-local"
#: Tolerated clock difference for `iat` (the stack and its clients share one clock).
_LEEWAY_SECONDS: Final = 5
_MAX_TOKEN_CHARS: Final = 4096
_HEADER: Final = {"alg": "HS256", "typ": "JWT"}
_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


class InvalidTokenError(Exception):
    """Not a token this stack issued, or no longer valid: the gateway answers 401."""


class TokenRequestError(ValueError):
    """A `POST /dev/token` body that does not ask for a valid identity: 400."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class TokenRequest:
    user_id: str
    admin: bool = False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidTokenError("not base64url") from None


def parse_token_request(body: bytes) -> TokenRequest:
    """`{"userId": "...", "admin"?: true}`, strictly: the user id is an Identifier."""
    try:
        data = json.loads(body.decode() or "null")
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise TokenRequestError("body", "send a JSON object") from None
    if not isinstance(data, dict):
        raise TokenRequestError("body", "send a JSON object")
    unknown = sorted(set(data) - {"userId", "admin"})
    if unknown:
        raise TokenRequestError(unknown[0], "unknown field")
    user_id = data.get("userId")
    if not isinstance(user_id, str):
        raise TokenRequestError("userId", "a string is required")
    try:
        _IDENTIFIER.validate_python(user_id)
    except ValidationError:
        raise TokenRequestError("userId", "1 to 64 of A-Z a-z 0-9 _ . : -") from None
    admin = data.get("admin", False)
    if not isinstance(admin, bool):
        raise TokenRequestError("admin", "true or false")
    return TokenRequest(user_id, admin)


class DevTokens:
    """Issues and verifies this run's tokens."""

    def __init__(
        self,
        key: bytes | None = None,
        *,
        lifetime_seconds: float = TOKEN_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)
        self._lifetime = lifetime_seconds
        self._clock = clock

    def issue(
        self, user_id: str, *, admin: bool = False, lifetime_seconds: float | None = None
    ) -> str:
        """A token for this identity; `lifetime_seconds` overrides the default (tests
        pass a negative one to get an expired token)."""
        now = int(self._clock())
        lifetime = self._lifetime if lifetime_seconds is None else lifetime_seconds
        claims: dict[str, Any] = {
            "sub": user_id,
            "iss": ISSUER,
            "token_use": "id",
            "iat": now,
            "exp": int(now + lifetime),
        }
        if admin:
            claims["cognito:groups"] = [ADMIN_GROUP]  # a list, as in a Cognito ID token
        return self._sign(_HEADER, claims)

    def _sign(self, header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
        signing_input = ".".join(
            _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token, else InvalidTokenError. The signature is checked
        before anything in the token is trusted, and only HS256 is accepted."""
        if len(token) > _MAX_TOKEN_CHARS or token.count(".") != 2:
            raise InvalidTokenError("not a JWT")
        header_part, claims_part, signature_part = token.split(".")
        expected = hmac.new(
            self._key, f"{header_part}.{claims_part}".encode(), hashlib.sha256
        ).digest()
        if not hmac.compare_digest(expected, _unb64(signature_part)):
            raise InvalidTokenError("bad signature")
        try:
            header = json.loads(_unb64(header_part))
            claims = json.loads(_unb64(claims_part))
        except (UnicodeDecodeError, ValueError):
            raise InvalidTokenError("not JSON") from None
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            raise InvalidTokenError("only HS256 tokens are accepted")
        if not isinstance(claims, dict):
            raise InvalidTokenError("claims are not an object")
        now = self._clock()
        expires, issued = claims.get("exp"), claims.get("iat")
        if not isinstance(expires, int) or expires <= now:
            raise InvalidTokenError("expired")
        if not isinstance(issued, int) or issued > now + _LEEWAY_SECONDS:
            raise InvalidTokenError("issued in the future")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidTokenError("no subject")
        return claims


def bearer_token(authorization: str | None) -> str | None:
    """The token of an Authorization header: `Bearer <jwt>`, or the bare JWT as Cognito
    authorizers also accept."""
    if not authorization:
        return None
    scheme, _, rest = authorization.strip().partition(" ")
    if rest and scheme.lower() == "bearer":
        return rest.strip() or None
    return authorization.strip() if not rest else None


def authorizer_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as a REST API's Cognito authorizer hands them to Lambda: every value a
    string, groups comma-separated."""
    passed: dict[str, str] = {}
    for name, value in claims.items():
        if isinstance(value, list):
            passed[name] = ",".join(str(v) for v in value)
        else:
            passed[name] = str(value)
    return passed
