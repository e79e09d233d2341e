"""A live demo game, set up the way a marketer would: over the admin API, over HTTP, with
an admin token from the local issuer. `frolic local --demo`, `make demo` and the crowd
all start from it, so it exercises the same requests the admin page sends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

from frolic.models import iso_utc
from frolic_tools.local.client import LocalClient

DEMO_BUDGETS: Final = (150, 100, 50)
DEMO_BRANDS: Final = ("Aurora Coffee", "Bolt Bikes", "Cirrus Air")
DEMO_ADMIN: Final = "demo-admin"


@dataclass(frozen=True, slots=True)
class DemoGame:
    campaign_id: str
    game_id: str
    brand_ids: tuple[str, ...]
    budgets: tuple[int, ...]
    starts_at: datetime
    ends_at: datetime

    def describe(self) -> str:
        brands = ", ".join(f"{b} ({n})" for b, n in zip(self.brand_ids, self.budgets, strict=True))
        return f"game {self.game_id}, LIVE until {self.ends_at:%H:%M:%S} UTC; budgets: {brands}"


def create_demo_game(
    target: str | LocalClient,
    *,
    minutes: float = 3.0,
    budgets: Sequence[int] = DEMO_BUDGETS,
    brand_names: Sequence[str] = DEMO_BRANDS,
    config: Mapping[str, Any] | None = None,
    start: datetime | None = None,
    name: str = "Frolic demo",
) -> DemoGame:
    """A campaign with one game LIVE from `start` (now) for `minutes`, one brand per
    budget with a generated pool of that many coupons. `config` is the game's config as
    the admin API takes it (camelCase, e.g. {"minSecondsBetweenPlays": 0}). Raises
    ApiError naming the request that failed."""
    if len(brand_names) < len(budgets):
        raise ValueError("name a brand for every budget")
    base = target if isinstance(target, LocalClient) else LocalClient(target)
    admin = base.as_user(DEMO_ADMIN, admin=True)
    starts = (start or datetime.now(UTC)).replace(microsecond=0)
    ends = starts + timedelta(minutes=minutes)
    campaign = admin.call(
        "POST",
        "/admin/campaigns",
        {"name": name, "startTime": iso_utc(starts), "endTime": iso_utc(ends + timedelta(hours=1))},
    )
    campaign_id: str = campaign["campaignId"]
    game_body: dict[str, Any] = {
        "name": f"{name}: {minutes:g}-minute spin",
        "startTime": iso_utc(starts),
        "endTime": iso_utc(ends),
    }
    if config is not None:
        game_body["config"] = dict(config)
    game = admin.call("POST", f"/admin/campaigns/{quote(campaign_id)}/games", game_body)
    game_id: str = game["gameId"]
    brand_ids: list[str] = []
    for brand_name, budget in zip(brand_names, budgets, strict=False):
        brand_id: str = admin.call("POST", "/admin/brands", {"name": brand_name})["brandId"]
        path = f"/admin/games/{quote(game_id)}/budgets/{quote(brand_id)}"
        admin.call("PUT", path, {"budget": budget})
        if budget > 0:
            admin.call("POST", f"{path}/coupons", {"generate": budget})
        brand_ids.append(brand_id)
    admin.call("PATCH", f"/admin/games/{quote(game_id)}", {"status": "LIVE"})
    return DemoGame(
        campaign_id=campaign_id,
        game_id=game_id,
        brand_ids=tuple(brand_ids),
        budgets=tuple(budgets),
        starts_at=starts,
        ends_at=ends,
    )
