"""Games the e2e tests play, and what they wait for of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from frolic_tools.local import DemoGame, LocalClient, create_demo_game
from tests.e2e.waiting import wait_for

#: How long a play's result and its coupon's issue may take on a busy machine.
RESULT_SECONDS = 20.0


def game_under_way(
    client: LocalClient, name: str, brand: str, config: dict[str, Any] | None = None
) -> DemoGame:
    """A five-minute game half a minute in, 60 coupons of one brand and no plays yet:
    the schedule owes ~6 coupons, so the pacing gives a lone player's first plays a win
    probability of 1 and these tests see a win every time."""
    return create_demo_game(
        client,
        minutes=5,
        budgets=(60,),
        brand_names=(brand,),
        start=datetime.now(UTC) - timedelta(seconds=30),
        name=name,
        config=config,
    )


def wait_until_issued(player: LocalClient, codes: list[str]) -> None:
    """Deliver issues a won coupon moments after the result: the player's wallet says
    when it has."""

    def issued() -> bool | None:
        statuses = {c["code"]: c["status"] for c in player.call("GET", "/me/coupons")["coupons"]}
        return all(statuses.get(code) == "issued" for code in codes) or None

    wait_for(issued, timeout=RESULT_SECONDS, what="deliver to issue the coupons")
