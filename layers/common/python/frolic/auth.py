"""Who is calling: the one place that reads identity, roles and brands.

API Gateway's Cognito authorizer has already checked the bearer JWT when a request
reaches a handler; it passes the token's claims in the request context. The local
gateway checks its dev tokens and passes the same claims the same way, so handlers never
see a token and never verify one themselves.

Roles are Cognito groups. An *admin* may do everything; a *brand manager* runs the
budgets, pools, report lines and exports of their brands; a *till* redeems their brands'
coupons. Which brands is the `custom:brands` attribute (brand ids, comma-separated),
which only an administrator of the user pool can write (infra/constructs/auth.py), so a
user cannot give themselves a brand. A token with no role is a player's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

ADMIN_GROUP = "admin"
MANAGER_GROUP = "brand-manager"
TILL_GROUP = "till"
STAFF_GROUPS = (ADMIN_GROUP, MANAGER_GROUP, TILL_GROUP)
#: The ID token's claim naming a staff user's brands.
BRANDS_CLAIM = "custom:brands"


class AuthenticationError(Exception):
    """No usable identity: 401."""


class ForbiddenError(Exception):
    """A known caller without the right: 403."""


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    groups: frozenset[str]
    brands: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups

    @property
    def is_staff(self) -> bool:
        return not self.groups.isdisjoint(STAFF_GROUPS)

    def manages(self, brand_id: str) -> bool:
        return self.is_admin or (MANAGER_GROUP in self.groups and brand_id in self.brands)

    def tills(self, brand_id: str) -> bool:
        return self.is_admin or (TILL_GROUP in self.groups and brand_id in self.brands)

    def managed(self) -> frozenset[str] | None:
        """The brands whose lines this caller may see: None for every brand (admin)."""
        if self.is_admin:
            return None
        return self.brands if MANAGER_GROUP in self.groups else frozenset()

    def known_brands(self) -> frozenset[str] | None:
        """The brands this caller works for (any staff role): None for every brand."""
        if self.is_admin:
            return None
        return self.brands if self.is_staff else frozenset()

    def require_admin(self) -> Principal:
        if not self.is_admin:
            raise ForbiddenError("this route is for marketers (the admin group)")
        return self

    def require_group(self, *groups: str) -> Principal:
        """An admin, or a member of one of `groups`; brands are checked where known."""
        if not (self.is_admin or not self.groups.isdisjoint(groups)):
            raise ForbiddenError(f"this route is for admins and the {' or '.join(groups)} group")
        return self

    def require_brand(self, brand_id: str) -> Principal:
        if not self.manages(brand_id):
            raise ForbiddenError("this brand is not one you manage")
        return self

    def require_player(self) -> Principal:
        """Player routes act on the caller's own plays; a staff token is not a player."""
        if self.is_staff:
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


def in_scope(brands: Collection[str] | None, brand_id: str) -> bool:
    """Whether a brand is within a caller's brands (`managed`, `known_brands`), where
    None stands for every brand."""
    return brands is None or brand_id in brands


def _brands(raw: Any) -> frozenset[str]:
    return frozenset(part.strip() for part in str(raw or "").split(",") if part.strip())


def principal_from_claims(claims: Mapping[str, Any] | None) -> Principal:
    if not claims or not claims.get("sub"):
        raise AuthenticationError("sign in first: no verified identity on this request")
    return Principal(
        str(claims["sub"]),
        _groups(claims.get("cognito:groups")),
        _brands(claims.get(BRANDS_CLAIM)),
    )


def principal_from_event(event: Mapping[str, Any]) -> Principal:
    """From a REST or WebSocket API Gateway event's authorizer context."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = authorizer.get("claims")
    if claims is None and "sub" in authorizer:
        claims = authorizer  # Lambda authorizers (the WebSocket ticket check) put it flat
    return principal_from_claims(claims)
