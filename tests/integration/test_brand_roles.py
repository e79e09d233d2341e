"""Brand roles on the admin API: what an admin, a brand manager and a till may do.

A manager of brand A and a till of brand A act in a game that also has brand B. Each
role is tried against every admin route, and a manager of A must not read or change B.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from frolic.admin.coupons import REDEEM_LIMIT
from frolic.models import CouponStatus
from tests.integration.admin_fixtures import AdminApi, admin_claims
from tests.integration.test_admin_api import (
    ADMIN_ROUTES,
    api,
    dynamodb,
    funded_pool,
    move_coupon,
    new_brand,
    ok,
    set_budget,
    upload_csv,
)
from tests.integration.test_exports import exported_text, lease, set_coupon

__all__ = ["api", "dynamodb"]

MANAGER, TILL = "manager-of-a", "till-of-a"

#: Who besides admins may call each route (ADMIN_ROUTES' paths, `b1` standing for the
#: caller's own brand). Written out here, apart from frolic.admin.access, as the spec.
OPENED: dict[tuple[str, str], str] = {
    ("GET", "/admin/campaigns"): "manager",
    ("GET", "/admin/campaigns/c1"): "manager",
    ("GET", "/admin/campaigns/c1/games"): "manager",
    ("GET", "/admin/games/g1"): "manager",
    ("GET", "/admin/brands"): "staff",
    ("GET", "/admin/brands/b1"): "manager",
    ("PUT", "/admin/games/g1/budgets/b1"): "manager",
    ("POST", "/admin/games/g1/budgets/b1/coupons"): "manager",
    ("GET", "/admin/games/g1/budgets/b1/offer"): "manager",
    ("PUT", "/admin/games/g1/budgets/b1/offer"): "manager",
    ("GET", "/admin/games/g1/report"): "manager",
    ("GET", "/admin/games/g1/budgets"): "manager",
    ("POST", "/admin/games/g1/exports"): "manager",
    ("GET", "/admin/games/g1/exports"): "manager",
    ("GET", "/admin/games/g1/exports/e1"): "manager",
    ("POST", "/admin/coupons/ABCD-1234/redeem"): "till",
}


def staff(user: str, role: str, *brands: str) -> dict[str, str]:
    """Claims as API Gateway's Cognito authorizer passes them: strings throughout."""
    return {"sub": user, "cognito:groups": role, "custom:brands": ",".join(brands)}


def manager(*brands: str) -> dict[str, str]:
    return staff(MANAGER, "brand-manager", *brands)


def till(*brands: str) -> dict[str, str]:
    return staff(TILL, "till", *brands)


class Game:
    """A game with brands A and B, each with a budget of 10 and a pool of 3 codes."""

    def __init__(self, api: AdminApi) -> None:
        self.api = api
        self.game_id, self.a = funded_pool(api, budget=10)
        self.b = new_brand(api, "Brand B")
        set_budget(api, self.game_id, self.b, 10)
        for brand, prefix in ((self.a, "AAA"), (self.b, "BBB")):
            ok(
                upload_csv(
                    api, self.game_id, brand, "".join(f"{prefix}-000{n}\n" for n in (1, 2, 3))
                )
            )

    def path(self, template: str, brand: str) -> str:
        return template.replace("g1", self.game_id).replace("b1", brand)


@pytest.fixture
def game(api: AdminApi) -> Game:
    return Game(api)


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_each_role_against_each_route(game: Game, method: str, path: str, body: Any) -> None:
    # Given the route, with the caller's own brand A, and with brand B
    api, opened = game.api, OPENED.get((method, path))
    own, other = game.path(path, game.a), game.path(path, game.b)
    # Then a manager of A gets past the guard only where managers are let in, and
    # never on a route that names brand B
    assert (api.call(method, own, body, claims=manager(game.a)).status != 403) == (
        opened in ("manager", "staff")
    )
    if "b1" in path:
        assert api.call(method, other, body, claims=manager(game.a)).status == 403
    # ... a manager of no brand is refused every route naming a brand
    if "b1" in path:
        assert api.call(method, own, body, claims=manager()).status == 403
    # ... a till only redeems, and lists its brands
    assert (api.call(method, own, body, claims=till(game.a)).status != 403) == (
        opened in ("till", "staff")
    )
    # ... and an admin is let in everywhere
    assert api.call(method, own, body, claims=admin_claims()).status != 403


def test_a_manager_sets_their_brands_budget_and_pool_not_anothers(game: Game) -> None:
    api = game.api
    budget = api.call(
        "PUT",
        f"/admin/games/{game.game_id}/budgets/{game.a}",
        {"budget": 20},
        claims=manager(game.a),
    )
    assert ok(budget)["budget"] == 20
    refused = api.call(
        "PUT",
        f"/admin/games/{game.game_id}/budgets/{game.b}",
        {"budget": 20},
        claims=manager(game.a),
    )
    assert (refused.status, refused.body["error"]) == (403, "forbidden")
    assert ok(api.call("GET", f"/admin/brands/{game.b}"))["name"] == "Brand B"
    for staff_claims in (manager(game.a), till(game.a)):
        shown = ok(api.call("GET", "/admin/brands", claims=staff_claims))["items"]
        assert [b["brandId"] for b in shown] == [game.a]


def test_a_managers_report_has_their_brands_lines_and_curve_alone(game: Game) -> None:
    api = game.api
    lease(api, game.game_id, game.a, 2)
    lease(api, game.game_id, game.b, 3)
    whole = ok(api.call("GET", f"/admin/games/{game.game_id}/report"))
    assert (whole["wins"], [b["brandId"] for b in whole["brands"]]) == (
        5,
        sorted([game.a, game.b]),
    )
    mine = ok(api.call("GET", f"/admin/games/{game.game_id}/report", claims=manager(game.a)))
    assert [b["brandId"] for b in mine["brands"]] == [game.a]
    assert mine["wins"] == 2
    assert mine["curve"][-1]["scheduled"] == pytest.approx(10)  # A's budget, not A's and B's


def test_a_games_budgets_are_listed_by_brand_and_a_manager_sees_theirs(game: Game) -> None:
    api = game.api
    lease(api, game.game_id, game.b, 2)
    path = f"/admin/games/{game.game_id}/budgets"
    lines = ok(api.call("GET", path))["items"]
    assert {
        line["brandId"]: (line["budget"], line["issued"], line["poolSize"]) for line in lines
    } == {
        game.a: (10, 0, 3),
        game.b: (10, 2, 3),
    }
    mine = ok(api.call("GET", path, claims=manager(game.a)))["items"]
    assert [line["brandId"] for line in mine] == [game.a]
    assert api.call("GET", "/admin/games/nope/budgets").status == 404


def test_a_managers_export_holds_their_brands_coupons_and_they_see_only_theirs(
    game: Game,
) -> None:
    api = game.api
    for brand in (game.a, game.b):
        lease(api, game.game_id, brand, 1)
        set_coupon(api, game.game_id, brand, 1, status="ISSUED", playId="p", userId="u")
    exports = f"/admin/games/{game.game_id}/exports"
    # When the manager of A and an admin each export the winners
    theirs = ok(api.call("POST", exports, {"kind": "winners"}, claims=manager(game.a)), 202)
    everyone = ok(api.call("POST", exports, {"kind": "winners"}), 202)
    # Then the manager's file has A's coupon alone, and the admin's both brands'
    done = ok(api.call("GET", f"{exports}/{theirs['exportId']}", claims=manager(game.a)))
    assert done["brands"] == [game.a]
    rows = list(csv.DictReader(io.StringIO(exported_text(api, done))))
    assert [(row["brandId"], row["code"]) for row in rows] == [(game.a, "AAA-0001")]
    admins = ok(api.call("GET", f"{exports}/{everyone['exportId']}"))
    assert len(list(csv.DictReader(io.StringIO(exported_text(api, admins))))) == 2
    # ... and the manager neither lists nor reads the admin's export
    listed = ok(api.call("GET", exports, claims=manager(game.a)))["items"]
    assert [job["exportId"] for job in listed] == [theirs["exportId"]]
    hidden = api.call("GET", f"{exports}/{everyone['exportId']}", claims=manager(game.a))
    assert hidden.status == 404
    # ... while a manager of B sees neither the admin's nor A's
    assert ok(api.call("GET", exports, claims=manager(game.b)))["items"] == []


def test_a_till_redeems_its_brands_coupons_and_learns_nothing_of_others(game: Game) -> None:
    api = game.api
    move_coupon(api, "AAA-0001", CouponStatus.ISSUED)
    move_coupon(api, "BBB-0001", CouponStatus.ISSUED)

    def redeem(code: str) -> Any:
        return api.call("POST", f"/admin/coupons/{code}/redeem", claims=till(game.a))

    assert ok(redeem("AAA-0001"))["brandId"] == game.a
    unknown = redeem("ZZZ-0001")
    assert unknown.status == 404
    # Another brand's issued code, and its own brand's code not yet issued, answer the same
    for code in ("BBB-0001", "AAA-0002"):
        answer = redeem(code)
        assert (answer.status, answer.body) == (404, unknown.body)
    b_coupon = ok(api.call("POST", "/admin/coupons/BBB-0001/redeem"))  # still B's to redeem
    assert b_coupon["brandId"] == game.b


def test_redeem_is_rate_limited_per_caller(game: Game) -> None:
    api = game.api
    window = REDEEM_LIMIT.window_seconds
    # The clock's next reading starts a window (it moves a second per reading)
    api.clock.now = (api.clock.now // window + 1) * window - 1
    answers = [
        api.call("POST", f"/admin/coupons/ZZZ-{n:04d}/redeem", claims=till(game.a))
        for n in range(REDEEM_LIMIT.uses + 1)
    ]
    assert {a.status for a in answers[:-1]} == {404}
    limited = answers[-1]
    assert (limited.status, limited.body["error"]) == (429, "too_many_requests")
    wait = int(limited.headers["Retry-After"][0])
    assert 0 < wait <= window
    # Another caller is not held back, and the till may go on in the next window
    assert api.call("POST", "/admin/coupons/ZZZ-0000/redeem").status == 404
    api.clock.now += wait
    assert api.call("POST", "/admin/coupons/ZZZ-0000/redeem", claims=till(game.a)).status == 404


def test_a_redemption_and_a_status_change_go_out_on_the_bus(game: Game) -> None:
    api = game.api
    move_coupon(api, "AAA-0001", CouponStatus.ISSUED)
    api.events.published()  # what setting the game up published is not this test's
    # When a till redeems a coupon, a refused code is tried, and an admin changes the
    # game's status (and then sends the same status again)
    ok(api.call("POST", "/admin/coupons/AAA-0001/redeem", claims=till(game.a)))
    assert api.call("POST", "/admin/coupons/ZZZ-0001/redeem", claims=till(game.a)).status == 404
    path = f"/admin/games/{game.game_id}"
    ok(api.call("PATCH", path, {"status": "SCHEDULED"}))
    ok(api.call("PATCH", path, {"status": "SCHEDULED"}))
    # Then the bus got one event for each change, and none for the refusal or the repeat
    events = api.events.published()
    assert [e["type"] for e in events] == ["Coupon redeemed", "Game status changed"]
    redeemed, changed = events
    assert (redeemed["code"], redeemed["brandId"], redeemed["redeemedBy"]) == (
        "AAA-0001",
        game.a,
        TILL,
    )
    assert (changed["gameId"], changed["status"]) == (game.game_id, "SCHEDULED")
