"""Who may call which admin route.

Admins may call every route. The routes listed in `STAFF_ROUTES` also admit the brand
staff they name; a route not listed is for admins alone, so a new route stays closed to
brand managers and tills until someone opens it here. Where a route's path names a
brand, the brand is checked here too; routes that answer about several brands (the
report, exports, redeem) narrow their answer to the caller's brands themselves.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Final

from frolic.auth import MANAGER_GROUP, TILL_GROUP, Principal


class Access(Enum):
    #: Any brand manager: a read-only view, or an answer narrowed to their brands.
    MANAGERS = "managers"
    #: A manager of the brand the path names (`brandId`).
    BRAND = "brand"
    #: Any till: the route acts on their brands' coupons only.
    TILLS = "tills"
    #: Any manager or till: an answer narrowed to their brands.
    STAFF = "staff"


_BUDGET = "/admin/games/<gameId>/budgets/<brandId>"
_EXPORTS = "/admin/games/<gameId>/exports"

STAFF_ROUTES: Final[dict[tuple[str, str], Access]] = {
    ("GET", "/admin/campaigns"): Access.MANAGERS,
    ("GET", "/admin/campaigns/<campaignId>"): Access.MANAGERS,
    ("GET", "/admin/campaigns/<campaignId>/games"): Access.MANAGERS,
    ("GET", "/admin/games/<gameId>"): Access.MANAGERS,
    ("GET", "/admin/brands"): Access.STAFF,
    ("GET", "/admin/brands/<brandId>"): Access.BRAND,
    ("PUT", _BUDGET): Access.BRAND,
    ("POST", f"{_BUDGET}/coupons"): Access.BRAND,
    ("GET", f"{_BUDGET}/offer"): Access.BRAND,
    ("PUT", f"{_BUDGET}/offer"): Access.BRAND,
    ("GET", "/admin/games/<gameId>/report"): Access.MANAGERS,
    ("GET", "/admin/games/<gameId>/budgets"): Access.MANAGERS,
    ("POST", _EXPORTS): Access.MANAGERS,
    ("GET", _EXPORTS): Access.MANAGERS,
    ("GET", f"{_EXPORTS}/<exportId>"): Access.MANAGERS,
    ("POST", "/admin/coupons/<code>/redeem"): Access.TILLS,
}


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", template) + "$")


_ROUTES: Final = [
    (method, _pattern(template), access) for (method, template), access in STAFF_ROUTES.items()
]


def admit(principal: Principal, method: str, path: str) -> None:
    """Returns if the caller may call this route, else ForbiddenError."""
    if principal.is_admin:
        return
    for route_method, pattern, access in _ROUTES:
        if route_method != method or (match := pattern.match(path)) is None:
            continue
        if access is Access.TILLS:
            principal.require_group(TILL_GROUP)
        elif access is Access.STAFF:
            principal.require_group(MANAGER_GROUP, TILL_GROUP)
        else:
            principal.require_group(MANAGER_GROUP)
        if access is Access.BRAND:
            principal.require_brand(match["brandId"])
        return
    principal.require_admin()
