"""Who is calling: the one place that reads identity and decides admin rights.

API Gateway's Cognito authorizer has already checked the bearer JWT when a request
reaches a handler; it passes the token's claims in the request context. The local
gateway checks its dev tokens and passes the same claims the same way, so handlers never
see a token and never verify one themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ADMIN_GROUP = "admin"


class AuthenticationError(Exception):
    """No usable identity: 401."""


class ForbiddenError(Exception):
    """A known caller without the right: 403."""


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    groups: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups

    def require_admin(self) -> Principal:
        if not self.is_admin:
            raise ForbiddenError("this route is for marketers (the admin group)")
        return self

    def require_player(self) -> Principal:
        """Player routes act on the caller's own plays; an admin token is not a player."""
        if self.is_admin:
            raise ForbiddenError("use a player account for player routes")
        return self


def _groups(raw: Any) -> frozenset[str]:
    """Cognito passes groups as a list, or through REST authorizers as "a,b" or "[a b]"."""
    if raw is None:
        return frozenset()
    if isinstance(raw, list | tuple):
        return frozenset(str(g) for g in raw)
    text = str(raw).strip().strip("[]")
    return frozenset(part for part in text.replace(",", " ").split() if part)


def principal_from_claims(claims: Mapping[str, Any] | None) -> Principal:
    if not claims or not claims.get("sub"):
        raise AuthenticationError("sign in first: no verified identity on this request")
    return Principal(str(claims["sub"]), _groups(claims.get("cognito:groups")))


def principal_from_event(event: Mapping[str, Any]) -> Principal:
    """From a REST or WebSocket API Gateway event's authorizer context."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = authorizer.get("claims")
    if claims is None and "sub" in authorizer:
        claims = authorizer  # Lambda authorizers (the WebSocket ticket check) put it flat
    return principal_from_claims(claims)
