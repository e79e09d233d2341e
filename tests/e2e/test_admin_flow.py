"""A marketer's path over HTTP: campaign, game, brand, budget, coupons, go live, report.
The demo game is built the same way (`create_demo_game`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from frolic_tools.local import DemoGame, LocalClient, create_demo_game


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_a_marketer_sets_up_a_live_game_over_http(admin: LocalClient) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    campaign = admin.call(
        "POST",
        "/admin/campaigns",
        {"name": "Spring", "startTime": iso(now), "endTime": iso(now + timedelta(hours=2))},
    )
    game = admin.call(
        "POST",
        f"/admin/campaigns/{campaign['campaignId']}/games",
        {"name": "Noon spin", "startTime": iso(now), "endTime": iso(now + timedelta(hours=1))},
    )
    assert game["status"] == "DRAFT"
    brand = admin.call("POST", "/admin/brands", {"name": "Delta Donuts"})
    budget_path = f"/admin/games/{game['gameId']}/budgets/{brand['brandId']}"
    assert admin.call("PUT", budget_path, {"budget": 3})["budget"] == 3

    upload = admin.request(
        "POST",
        f"{budget_path}/coupons",
        raw=b"code\nDONUT-0001\nDONUT-0002\nDONUT-0001\nx\n",
        content_type="text/csv",
    )
    assert upload.status == 200
    assert upload.json() == {"added": 2, "duplicates": 1, "invalid": 1, "poolSize": 2}
    generated = admin.call("POST", f"{budget_path}/coupons", {"generate": 1})
    assert generated["poolSize"] == 3

    live = admin.call("PATCH", f"/admin/games/{game['gameId']}", {"status": "LIVE"})
    assert live["status"] == "LIVE"
    report = admin.call("GET", f"/admin/games/{game['gameId']}/report")
    assert report["gameId"] == game["gameId"]
    assert report["brands"] == [
        {
            "brandId": brand["brandId"],
            "budget": 3,
            "issued": 0,
            "remaining": 3,
            "poolSize": 3,
            "counters": 1,
        }
    ]


def test_the_admin_api_refuses_players_and_strangers(
    anonymous: LocalClient, game: DemoGame
) -> None:
    path = f"/admin/games/{game.game_id}"
    assert anonymous.request("GET", path).status == 401
    assert anonymous.as_user("curious-player").request("GET", path).status == 403


def test_the_demo_game_is_live_with_its_budgets_and_pools(
    anonymous: LocalClient, admin: LocalClient
) -> None:
    demo = create_demo_game(anonymous)
    assert demo.budgets == (150, 100, 50)
    assert demo.ends_at - demo.starts_at == timedelta(minutes=3)
    assert admin.call("GET", f"/admin/games/{demo.game_id}")["status"] == "LIVE"
    for brand_id, budget in zip(demo.brand_ids, demo.budgets, strict=True):
        path = f"/admin/games/{demo.game_id}/budgets/{brand_id}"
        assert admin.call("PUT", path, {"budget": budget})["previous"] == budget
    assert demo.game_id in demo.describe()
