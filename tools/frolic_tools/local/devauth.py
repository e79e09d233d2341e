"""Dev tokens: the local stand-in for Cognito, so the gateway can pass the handlers the
same authorizer claims API Gateway passes in AWS.

A token is an HS256 JWT, signed and checked by joserfc, with a key made up for one run
of the local stack, so a token never outlives the stack that issued it. Anyone who can
reach the local gateway can ask for any identity, admin included: that is the point of
a dev issuer, and why it exists only in local mode (the deployed REST API has no such
route).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from pydantic import TypeAdapter, ValidationError

from frolic.auth import ADMIN_GROUP, BRANDS_CLAIM, MANAGER_GROUP, TILL_GROUP
from frolic.models import Identifier

TOKEN_SECONDS: Final = 12 * 3600
ISSUER: Final = "frolic-local"
#: The only algorithm a token may name: the header cannot choose another, or "none".
ALGORITHM: Final = "HS256"
_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)
#: The roles a dev token may carry besides admin.
BRAND_ROLES: Final = (MANAGER_GROUP, TILL_GROUP)


class InvalidTokenError(Exception):
    """Not a token this stack issued, or no longer valid: the gateway answers 401."""


class TokenRequestError(ValueError):
    """A `POST /dev/token` body that does not ask for a valid identity: 400."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Staff:
    """A brand staff role (`frolic.auth`'s manager or till group), and its brands."""

    role: str
    brands: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TokenRequest:
    user_id: str
    admin: bool = False
    staff: Staff | None = None


def parse_token_request(body: bytes) -> TokenRequest:
    """`{"userId": "...", "admin"?: true, "role"?: "brand-manager" | "till", "brands"?:
    ["..."]}`, strictly: the user and brand ids are Identifiers."""
    try:
        data = json.loads(body.decode() or "null")
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise TokenRequestError("body", "send a JSON object") from None
    if not isinstance(data, dict):
        raise TokenRequestError("body", "send a JSON object")
    unknown = sorted(set(data) - {"userId", "admin", "role", "brands"})
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
    role = data.get("role")
    if role is not None and role not in BRAND_ROLES:
        raise TokenRequestError("role", " or ".join(BRAND_ROLES))
    brands = data.get("brands", [])
    if not isinstance(brands, list) or not all(_is_identifier(b) for b in brands):
        raise TokenRequestError("brands", "a list of brand ids")
    return TokenRequest(user_id, admin, None if role is None else Staff(role, tuple(brands)))


def _is_identifier(value: Any) -> bool:
    try:
        _IDENTIFIER.validate_python(value)
    except ValidationError:
        return False
    return True


class DevTokens:
    """Issues and verifies this run's tokens."""

    def __init__(
        self,
        key: bytes | None = None,
        *,
        lifetime_seconds: float = TOKEN_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = OctKey.import_key(key if key is not None else secrets.token_bytes(32))
        self._lifetime = lifetime_seconds
        self._clock = clock
        # Issuer and verifier are this one object on one clock: no leeway is needed.
        self._required = jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
            iss={"essential": True, "value": ISSUER},
        )

    @property
    def lifetime_seconds(self) -> float:
        return self._lifetime

    def issue(
        self,
        user_id: str,
        *,
        admin: bool = False,
        staff: Staff | None = None,
        lifetime_seconds: float | None = None,
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
        groups = [ADMIN_GROUP] if admin else []
        if staff is not None:
            groups.append(staff.role)
            if staff.brands:
                claims[BRANDS_CLAIM] = ",".join(staff.brands)  # a string, as Cognito's
        if groups:
            claims["cognito:groups"] = groups  # a list, as in a Cognito ID token
        return jwt.encode({"alg": ALGORITHM}, claims, self._key, algorithms=[ALGORITHM])

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token, else InvalidTokenError: signed with this run's
        key under HS256 alone, unexpired, not issued in the future, with a subject."""
        try:
            claims = jwt.decode(token, self._key, algorithms=[ALGORITHM]).claims
            self._required.validate(claims)
        except JoseError as error:
            raise InvalidTokenError(str(error)) from None
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
