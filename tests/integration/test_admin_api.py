"""The admin API end to end on moto: REST proxy events in, DynamoDB items and JSON out."""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import boto3
import pytest
from moto import mock_aws

from frolic.admin.budgets import MAX_UPLOAD_BYTES, MAX_UPLOAD_LINES
from frolic.allocation.sub_budgets import DEAL_STEP
from frolic.dal import clients, codec
from frolic.dal.allocation_store import DynamoGameDirectory
from frolic.dal.items import RESULT_RETENTION_SECONDS
from frolic.dal.pools import GENERATED_ALPHABET
from frolic.dal.tables import (
    arrivals_key,
    audit_key,
    budget_key,
    campaign_game_key,
    code_key,
    coupon_key,
)
from frolic.models import MAX_GAME_SECONDS, CouponStatus
from frolic.settings import settings
from frolic_tools.openapi import admin_document, generate, render
from frolic_tools.schema import create_tables, local_settings
from tests.integration.admin_fixtures import (
    ADMIN,
    AdminApi,
    InvocationContext,
    Reply,
    admin_claims,
    player_claims,
    reply,
    rest_event,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ROOT = Path(__file__).resolve().parents[2]
COMMITTED_OPENAPI = ROOT / "docs" / "openapi.json"
HANDLER = ROOT / "functions" / "admin" / "handler.py"

CAMPAIGN_START = "2030-01-01T00:00:00Z"
CAMPAIGN_END = "2030-02-01T00:00:00Z"
GAME_START = "2030-01-10T12:00:00Z"
GAME_END = "2030-01-10T13:00:00Z"


# -- fixtures -------------------------------------------------------------------------
@pytest.fixture
def dynamodb(aws_env: None) -> Iterator[DynamoDBClient]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(client, local_settings())
        yield client


@pytest.fixture
def api(dynamodb: DynamoDBClient) -> AdminApi:
    return AdminApi(dynamodb, local_settings())


# -- helpers --------------------------------------------------------------------------
def ok(response: Reply, status: int = 200) -> dict[str, Any]:
    assert response.status == status, response
    assert isinstance(response.body, dict)
    return response.body


def fields(response: Reply) -> dict[str, str]:
    """The 400 body as {camelCase field: message}."""
    assert response.status == 400, response
    assert response.body["error"] == "invalid_request"
    return {problem["field"]: problem["message"] for problem in response.body["fields"]}


def new_campaign(api: AdminApi, start: str = CAMPAIGN_START, end: str = CAMPAIGN_END) -> str:
    body = {"name": "Winter sale", "startTime": start, "endTime": end}
    return str(ok(api.call("POST", "/admin/campaigns", body), 201)["campaignId"])


def new_game(
    api: AdminApi,
    campaign_id: str,
    start: str = GAME_START,
    end: str = GAME_END,
    config: dict[str, Any] | None = None,
) -> str:
    body: dict[str, Any] = {"name": "Spin", "startTime": start, "endTime": end}
    if config is not None:
        body["config"] = config
    created = ok(api.call("POST", f"/admin/campaigns/{campaign_id}/games", body), 201)
    return str(created["gameId"])


def new_brand(api: AdminApi, name: str = "Acme") -> str:
    return str(ok(api.call("POST", "/admin/brands", {"name": name}), 201)["brandId"])


def set_budget(api: AdminApi, game_id: str, brand_id: str, budget: int) -> dict[str, Any]:
    path = f"/admin/games/{game_id}/budgets/{brand_id}"
    return ok(api.call("PUT", path, {"budget": budget}))


def funded_pool(api: AdminApi, budget: int = 100) -> tuple[str, str]:
    game_id = new_game(api, new_campaign(api))
    brand_id = new_brand(api)
    set_budget(api, game_id, brand_id, budget)
    return game_id, brand_id


def upload_csv(
    api: AdminApi, game_id: str, brand_id: str, text: str | bytes, upload_id: str | None = None
) -> Reply:
    path = f"/admin/games/{game_id}/budgets/{brand_id}/coupons"
    query = {"uploadId": upload_id} if upload_id else None
    return api.call("POST", path, raw=text, content_type="text/csv", query=query)


def pool_codes(api: AdminApi, game_id: str, brand_id: str, size: int) -> list[str]:
    codes = []
    for ordinal in range(1, size + 1):
        coupon = api.item(coupon_key(game_id, brand_id, ordinal))
        assert coupon is not None, f"ordinal {ordinal} missing: the pool must stay dense"
        codes.append(str(coupon["code"]))
    return codes


def move_coupon(api: AdminApi, code: str, status: CouponStatus) -> None:
    """What the allocator (RESERVED) and the result's delivery (ISSUED) do to a coupon."""
    where = api.item(code_key(code))
    assert where is not None
    api.db.update_item(
        TableName=api.settings.state_table,
        Key=codec.dump(coupon_key(where["gameId"], where["brandId"], where["ordinal"])),
        UpdateExpression="SET #status = :status, playId = :play",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues=codec.dump({":status": status.value, ":play": "play-1"}),
    )


def epoch_minute(moment: str) -> int:
    return int(datetime.fromisoformat(moment).timestamp()) // 60


# -- campaigns ------------------------------------------------------------------------
def test_campaign_is_created_with_a_server_id_and_read_back_in_utc(api: AdminApi) -> None:
    # When a marketer creates a campaign with a local time zone
    created = ok(
        api.call(
            "POST",
            "/admin/campaigns",
            {
                "name": "Winter sale",
                "startTime": "2030-01-01T02:00:00+02:00",
                "endTime": CAMPAIGN_END,
            },
        ),
        201,
    )
    # Then the server made the id and answers in UTC, and every read agrees
    assert re.fullmatch(r"[0-9a-f]{16}", created["campaignId"])
    assert created["startTime"] == "2030-01-01T00:00:00Z"
    assert ok(api.call("GET", f"/admin/campaigns/{created['campaignId']}")) == created
    other = new_campaign(api)
    assert other != created["campaignId"]
    listed = ok(api.call("GET", "/admin/campaigns"))["items"]
    assert {c["campaignId"] for c in listed} == {created["campaignId"], other}


def test_campaign_patch_renames_and_moves_the_window(api: AdminApi) -> None:
    campaign_id = new_campaign(api)
    changed = ok(
        api.call(
            "PATCH",
            f"/admin/campaigns/{campaign_id}",
            {"name": "Spring sale", "endTime": "2030-03-01T00:00:00Z"},
        )
    )
    assert changed["name"] == "Spring sale"
    assert (changed["startTime"], changed["endTime"]) == (CAMPAIGN_START, "2030-03-01T00:00:00Z")
    assert ok(api.call("GET", f"/admin/campaigns/{campaign_id}")) == changed


def test_campaign_window_cannot_shrink_past_its_games(api: AdminApi) -> None:
    # Given a game on 10 January
    campaign_id = new_campaign(api)
    new_game(api, campaign_id)
    path = f"/admin/campaigns/{campaign_id}"
    # When the campaign would end before it, or start after it, the field is named
    assert "endTime" in fields(api.call("PATCH", path, {"endTime": "2030-01-05T00:00:00Z"}))
    assert "startTime" in fields(api.call("PATCH", path, {"startTime": "2030-01-20T00:00:00Z"}))
    # And an end before the stored start names endTime
    assert "endTime" in fields(api.call("PATCH", path, {"endTime": "2029-12-01T00:00:00Z"}))
    assert ok(api.call("GET", path))["endTime"] == CAMPAIGN_END


# -- games ----------------------------------------------------------------------------
def test_game_is_created_as_draft_and_listed_under_its_campaign(api: AdminApi) -> None:
    campaign_id = new_campaign(api)
    game_id = new_game(api, campaign_id, config={"releaseCurve": [3, 2, 1]})
    game = ok(api.call("GET", f"/admin/games/{game_id}"))
    assert game["status"] == "DRAFT"
    assert game["campaignId"] == campaign_id
    assert game["config"]["releaseCurve"] == [3, 2, 1]
    assert game["config"]["maxCouponsPerPlay"] == 1
    # The campaign's partition holds an index entry, so the listing is one Query
    index = api.item(campaign_game_key(campaign_id, game_id))
    assert index is not None and index["gameId"] == game_id
    listed = ok(api.call("GET", f"/admin/campaigns/{campaign_id}/games"))["items"]
    assert listed == [game]
    assert ok(api.call("GET", f"/admin/campaigns/{new_campaign(api)}/games"))["items"] == []


def test_game_status_follows_the_state_machine_and_the_listing_follows(api: AdminApi) -> None:
    campaign_id = new_campaign(api)
    game_id = new_game(api, campaign_id)
    path = f"/admin/games/{game_id}"
    for status in ("SCHEDULED", "LIVE"):
        assert ok(api.call("PATCH", path, {"status": status}))["status"] == status
    listed = ok(api.call("GET", f"/admin/campaigns/{campaign_id}/games"))["items"]
    assert [g["status"] for g in listed] == ["LIVE"]
    # LIVE cannot go back to DRAFT
    refused = api.call("PATCH", path, {"status": "DRAFT"})
    assert refused.status == 409 and refused.body["error"] == "conflict"
    assert ok(api.call("GET", path))["status"] == "LIVE"
    assert ok(api.call("PATCH", path, {"status": "ENDED"}))["status"] == "ENDED"


def test_window_and_config_change_only_before_the_game_is_live(api: AdminApi) -> None:
    campaign_id = new_campaign(api)
    game_id = new_game(api, campaign_id)
    path = f"/admin/games/{game_id}"
    # While DRAFT the window and config move, and scheduling can come in the same request
    moved = ok(
        api.call(
            "PATCH",
            path,
            {
                "status": "SCHEDULED",
                "endTime": "2030-01-10T14:00:00Z",
                "config": {"releaseCurve": [1, 1], "maxWinsPerUser": 3},
            },
        )
    )
    assert (moved["status"], moved["endTime"]) == ("SCHEDULED", "2030-01-10T14:00:00Z")
    assert moved["config"]["maxWinsPerUser"] == 3
    ok(api.call("PATCH", path, {"status": "LIVE"}))
    # Once LIVE: the window and config are fixed, the name is not
    for edit in ({"startTime": "2030-01-10T11:00:00Z"}, {"config": {"maxWinsPerUser": 9}}):
        refused = api.call("PATCH", path, edit)
        assert refused.status == 409, edit
    assert ok(api.call("PATCH", path, {"name": "Spin & win"}))["name"] == "Spin & win"
    assert ok(api.call("GET", path))["endTime"] == "2030-01-10T14:00:00Z"


def test_game_window_must_lie_inside_its_campaign(api: AdminApi) -> None:
    campaign_id = new_campaign(api)
    path = f"/admin/campaigns/{campaign_id}/games"
    early = {"name": "Spin", "startTime": "2029-12-31T00:00:00Z", "endTime": GAME_END}
    late = {"name": "Spin", "startTime": GAME_START, "endTime": "2030-02-02T00:00:00Z"}
    assert "startTime" in fields(api.call("POST", path, early))
    assert "endTime" in fields(api.call("POST", path, late))
    game_id = new_game(api, campaign_id)
    moved_out = api.call("PATCH", f"/admin/games/{game_id}", {"endTime": "2030-03-01T00:00:00Z"})
    assert "endTime" in fields(moved_out)
    before_start = api.call("PATCH", f"/admin/games/{game_id}", {"endTime": GAME_START})
    assert fields(before_start)["endTime"] == "endTime must be after startTime"
    assert ok(api.call("GET", f"/admin/campaigns/{campaign_id}/games"))["items"][0]["endTime"] == (
        GAME_END
    )


def test_game_items_are_what_the_allocator_reads(api: AdminApi) -> None:
    """The game item must load as the allocator's rules, so it carries no extra fields."""
    game_id = new_game(api, new_campaign(api), config={"releaseCurve": [2, 1]})
    ok(api.call("PATCH", f"/admin/games/{game_id}", {"status": "LIVE"}))
    rules = DynamoGameDirectory(api.db, api.settings).rules(game_id)
    assert rules is not None and rules.live
    assert rules.start_ts == datetime.fromisoformat(GAME_START).timestamp()


# -- brands ---------------------------------------------------------------------------
def test_a_game_is_short_enough_that_its_play_ids_outlive_it(api: AdminApi) -> None:
    """Results are kept 90 days from their play's arrival; a game lasts at most 30, so
    no playId can be played twice in one game (see models.MAX_GAME_SECONDS)."""
    campaign_id = new_campaign(api, CAMPAIGN_START, "2030-04-01T00:00:00Z")
    path = f"/admin/campaigns/{campaign_id}/games"
    start = datetime.fromisoformat(CAMPAIGN_START)
    longest = (start + timedelta(seconds=MAX_GAME_SECONDS)).isoformat()
    too_long = (start + timedelta(seconds=MAX_GAME_SECONDS + 1)).isoformat()
    refused = api.call(
        "POST", path, {"name": "Spin", "startTime": CAMPAIGN_START, "endTime": too_long}
    )
    assert fields(refused) == {"endTime": "a game lasts at most 30 days"}
    game_id = new_game(api, campaign_id, start=CAMPAIGN_START, end=longest)
    stretched = api.call("PATCH", f"/admin/games/{game_id}", {"endTime": too_long})
    assert fields(stretched) == {"endTime": "a game lasts at most 30 days"}
    assert RESULT_RETENTION_SECONDS - MAX_GAME_SECONDS >= 30 * 24 * 3600


def test_brands_are_created_listed_and_read(api: AdminApi) -> None:
    acme = new_brand(api, "Acme")
    bolt = new_brand(api, "bolt")
    listed = ok(api.call("GET", "/admin/brands"))["items"]
    assert [(b["brandId"], b["name"]) for b in listed] == [(acme, "Acme"), (bolt, "bolt")]
    assert ok(api.call("GET", f"/admin/brands/{acme}")) == {"brandId": acme, "name": "Acme"}


def test_a_taken_id_is_never_overwritten(dynamodb: DynamoDBClient) -> None:
    # Given an id generator that repeats itself
    api = AdminApi(dynamodb, local_settings(), new_id=lambda: "same-id")
    campaign_id = new_campaign(api)
    new_game(api, campaign_id)
    new_brand(api, "Acme")
    # When the next campaign, game and brand get the same id, they are refused
    for method, path, body in (
        ("POST", "/admin/campaigns", {"name": "B", "startTime": GAME_START, "endTime": GAME_END}),
        (
            "POST",
            f"/admin/campaigns/{campaign_id}/games",
            {"name": "B", "startTime": GAME_START, "endTime": GAME_END},
        ),
        ("POST", "/admin/brands", {"name": "Bolt"}),
    ):
        assert api.call(method, path, body).status == 409, path
    # And the originals are intact
    assert ok(api.call("GET", f"/admin/campaigns/{campaign_id}"))["name"] == "Winter sale"
    assert ok(api.call("GET", "/admin/brands/same-id"))["name"] == "Acme"


# -- budgets --------------------------------------------------------------------------
def test_budget_changes_are_answered_and_audited(api: AdminApi) -> None:
    game_id = new_game(api, new_campaign(api))
    brand_id = new_brand(api)
    first = set_budget(api, game_id, brand_id, 100)
    assert first == {
        "gameId": game_id,
        "brandId": brand_id,
        "budget": 100,
        "previous": None,
        "issued": 0,
        "counters": 1,
    }
    # Given the allocator has issued 7 since
    api.db.update_item(
        TableName=api.settings.state_table,
        Key=codec.dump(budget_key(game_id, brand_id)),
        UpdateExpression="SET issued = :n",
        ExpressionAttributeValues=codec.dump({":n": 7}),
    )
    raised = set_budget(api, game_id, brand_id, 150)
    assert (raised["previous"], raised["budget"], raised["issued"]) == (100, 150, 7)
    lowered = set_budget(api, game_id, brand_id, 40)
    assert (lowered["previous"], lowered["budget"]) == (150, 40)
    # Then every change left an audit entry with who, before and after
    audit = api.partition(audit_key(game_id, 0, "")["pk"])
    assert [(a.get("previous"), a["budget"]) for a in audit] == [
        (None, 100),
        (100, 150),
        (150, 40),
    ]
    assert {a["actor"] for a in audit} == {ADMIN}
    stored = api.item(budget_key(game_id, brand_id))
    assert stored is not None and stored["budget"] == 40


def test_a_hot_budget_is_split_over_counters_shown_whole_and_then_fixed(api: AdminApi) -> None:
    game_id = new_game(api, new_campaign(api))
    brand_id = new_brand(api)
    path = f"/admin/games/{game_id}/budgets/{brand_id}"
    # Given ops split a budget of 100 over 4 counters
    split = ok(api.call("PUT", path, {"budget": 100, "counters": 4}))
    assert (split["budget"], split["counters"]) == (100, 4)
    # When the pools are uploaded
    codes = "\n".join(f"HOT-{n:04d}" for n in range(100))
    assert ok(upload_csv(api, game_id, brand_id, codes))["poolSize"] == 100
    # Then the report shows the budget whole, and the split can no longer change
    report = ok(api.call("GET", f"/admin/games/{game_id}/report"))
    assert report["brands"] == [
        {
            "brandId": brand_id,
            "budget": 100,
            "issued": 0,
            "remaining": 100,
            "poolSize": 100,
            "counters": 4,
        }
    ]
    refused = api.call("PUT", path, {"budget": 100, "counters": 2})
    assert (refused.status, refused.body["error"]) == (409, "conflict")
    assert "4 counter" in refused.body["message"]
    # While the budget itself still may, keeping the split
    assert ok(api.call("PUT", path, {"budget": 80}))["counters"] == 4
    assert set(fields(api.call("PUT", path, {"budget": 1, "counters": 0}))) == {"counters"}
    assert set(fields(api.call("PUT", path, {"budget": 1, "counters": 65}))) == {"counters"}


def test_budget_for_unknown_game_or_brand_is_404(api: AdminApi) -> None:
    game_id = new_game(api, new_campaign(api))
    brand_id = new_brand(api)
    assert api.call("PUT", f"/admin/games/nope/budgets/{brand_id}", {"budget": 1}).status == 404
    assert api.call("PUT", f"/admin/games/{game_id}/budgets/nope", {"budget": 1}).status == 404
    assert api.item(budget_key(game_id, "nope")) is None


# -- coupon uploads -------------------------------------------------------------------
def test_csv_upload_counts_header_blanks_duplicates_and_invalid_lines(api: AdminApi) -> None:
    game_id, brand_id = funded_pool(api)
    text = (
        "code\n"
        "AAAA-0001\n"
        "\n"
        "  AAAA-0002  \n"
        "AAAA-0001\n"  # again in the same file
        "not a code\n"  # spaces
        "ab\n"  # too short
        '"AAAA-0003"\n'  # quoted, as spreadsheets write it
        "x,y\n"  # two columns
    )
    counts = ok(upload_csv(api, game_id, brand_id, text))
    assert counts == {"added": 3, "duplicates": 1, "invalid": 3, "poolSize": 3}
    assert pool_codes(api, game_id, brand_id, 3) == ["AAAA-0001", "AAAA-0002", "AAAA-0003"]
    assert api.item(coupon_key(game_id, brand_id, 4)) is None
    where = api.item(code_key("AAAA-0002"))
    assert where is not None and (where["gameId"], where["brandId"]) == (game_id, brand_id)


def test_codes_are_unique_across_uploads_brands_and_games(api: AdminApi) -> None:
    game_id, brand_id = funded_pool(api)
    ok(upload_csv(api, game_id, brand_id, "AAAA-0001\nAAAA-0002\n"))
    # A second upload only adds what is new
    again = ok(upload_csv(api, game_id, brand_id, "AAAA-0002\nAAAA-0003\n"))
    assert again == {"added": 1, "duplicates": 1, "invalid": 0, "poolSize": 3}
    # Another brand of the same game cannot take the same codes
    other_brand = new_brand(api, "Bolt")
    set_budget(api, game_id, other_brand, 10)
    taken = ok(upload_csv(api, game_id, other_brand, "AAAA-0001\nAAAA-0003\nBBBB-0001\n"))
    assert taken == {"added": 1, "duplicates": 2, "invalid": 0, "poolSize": 1}
    # Nor another game
    other_game, other_game_brand = funded_pool(api)
    elsewhere = ok(upload_csv(api, other_game, other_game_brand, "AAAA-0001\n"))
    assert elsewhere == {"added": 0, "duplicates": 1, "invalid": 0, "poolSize": 0}
    assert pool_codes(api, game_id, other_brand, 1) == ["BBBB-0001"]


def test_a_retried_upload_gets_its_first_answer_and_adds_nothing_twice(api: AdminApi) -> None:
    game_id, brand_id = funded_pool(api)
    set_budget(api, game_id, new_brand(api, "Bolt"), 10)
    ok(upload_csv(api, game_id, brand_id, "TAKEN-001\n"))
    text = "AAAA-0001\nAAAA-0002\nAAAA-0001\nTAKEN-001\nnot a code\n"
    first = ok(upload_csv(api, game_id, brand_id, text))
    # When its answer is lost on the way and the client sends the very same upload again
    retry = ok(upload_csv(api, game_id, brand_id, text))
    # Then the retry is answered as the upload was, and the pool holds each code once
    assert retry == first == {"added": 2, "duplicates": 2, "invalid": 1, "poolSize": 3}
    assert pool_codes(api, game_id, brand_id, 3) == ["TAKEN-001", "AAAA-0001", "AAAA-0002"]
    assert api.item(coupon_key(game_id, brand_id, 4)) is None


def test_an_upload_cut_off_after_some_of_its_transactions_is_completed_by_its_retry(
    api: AdminApi,
) -> None:
    game_id, brand_id = funded_pool(api, budget=500)
    codes = [f"CODE-{n:04d}" for n in range(3 * DEAL_STEP)]
    text = "\n".join(codes)
    committed: list[int] = []

    def cut_off_after_the_second(**_: Any) -> None:
        committed.append(1)
        if len(committed) == 2:
            raise ConnectionError("the Lambda timed out after this transaction committed")

    # Given an upload whose Lambda died after its second transaction had committed
    api.db.meta.events.register("after-call.dynamodb.TransactWriteItems", cut_off_after_the_second)
    assert upload_csv(api, game_id, brand_id, text).status == 500
    api.db.meta.events.unregister(
        "after-call.dynamodb.TransactWriteItems", cut_off_after_the_second
    )
    # When the client sends it again, it gets the answer of an upload that went through
    retry = ok(upload_csv(api, game_id, brand_id, text))
    assert retry == {"added": len(codes), "duplicates": 0, "invalid": 0, "poolSize": len(codes)}
    assert pool_codes(api, game_id, brand_id, len(codes)) == codes


def test_an_upload_id_tells_a_second_upload_of_a_file_from_a_retry(api: AdminApi) -> None:
    game_id, brand_id = funded_pool(api)
    text = "AAAA-0001\nAAAA-0002\n"
    first = ok(upload_csv(api, game_id, brand_id, text, upload_id="monday-file"))
    retry = ok(upload_csv(api, game_id, brand_id, text, upload_id="monday-file"))
    second = ok(upload_csv(api, game_id, brand_id, text, upload_id="tuesday-file"))
    assert retry == first == {"added": 2, "duplicates": 0, "invalid": 0, "poolSize": 2}
    assert second == {"added": 0, "duplicates": 2, "invalid": 0, "poolSize": 2}


def test_base64_encoded_csv_with_bom_and_crlf(api: AdminApi) -> None:
    game_id, brand_id = funded_pool(api)
    body = "\ufeffcode\r\nCCCC-0001\r\nCCCC-0002\r\n".encode()
    counts = ok(upload_csv(api, game_id, brand_id, body))
    assert counts == {"added": 2, "duplicates": 0, "invalid": 0, "poolSize": 2}
    assert pool_codes(api, game_id, brand_id, 2) == ["CCCC-0001", "CCCC-0002"]


@pytest.mark.parametrize(
    ("body", "encoded"),
    [
        ("A" * (MAX_UPLOAD_BYTES + 1), False),
        (base64.b64encode(b"A" * (MAX_UPLOAD_BYTES + 1)).decode(), True),
        ("".join(f"CODE-{n:06d}\n" for n in range(MAX_UPLOAD_LINES + 1)), False),
    ],
    ids=["bytes", "base64-bytes", "lines"],
)
def test_upload_over_the_limit_is_413(api: AdminApi, body: str, encoded: bool) -> None:
    game_id, brand_id = funded_pool(api)
    path = f"/admin/games/{game_id}/budgets/{brand_id}/coupons"
    refused = api.call("POST", path, raw=body, content_type="text/csv", is_base64=encoded)
    assert refused.status == 413
    assert refused.body["error"] == "payload_too_large"
    assert ok(api.call("GET", f"/admin/games/{game_id}/report"))["brands"][0]["poolSize"] == 0


def test_upload_refuses_other_media_types_and_bad_bodies(api: AdminApi) -> None:
    game_id, brand_id = funded_pool(api)
    path = f"/admin/games/{game_id}/budgets/{brand_id}/coupons"
    assert api.call("POST", path, raw="<codes/>", content_type="application/xml").status == 415
    not_utf8 = api.call("POST", path, raw=b"\xff\xfe\xfa", content_type="text/csv")
    assert fields(not_utf8) == {"body": "the body must be UTF-8 text"}
    not_base64 = api.call("POST", path, raw="%%%", content_type="text/csv", is_base64=True)
    assert "body" in fields(not_base64)
    assert "body" in fields(api.call("POST", path, raw="{", content_type="application/json"))


def test_generate_makes_n_unguessable_distinct_codes(api: AdminApi) -> None:
    game_id, brand_id = funded_pool(api)
    path = f"/admin/games/{game_id}/budgets/{brand_id}/coupons"
    counts = ok(api.call("POST", path, {"generate": 120}))
    assert counts == {"added": 120, "duplicates": 0, "invalid": 0, "poolSize": 120}
    first = pool_codes(api, game_id, brand_id, 120)
    symbol = f"[{GENERATED_ALPHABET}]"
    assert all(re.fullmatch(rf"{symbol}{{4}}-{symbol}{{4}}-{symbol}{{4}}", c) for c in first)
    assert len(set(first)) == 120
    # A second batch shares nothing with the first: the codes are drawn, not counted
    assert ok(api.call("POST", path, {"generate": 50}))["poolSize"] == 170
    second = pool_codes(api, game_id, brand_id, 170)[120:]
    assert not set(first) & set(second)
    assert len(set(second)) == 50


@pytest.mark.parametrize("generate", [0, -1, 100_001, "ten"])
def test_generate_count_is_bounded(api: AdminApi, generate: Any) -> None:
    game_id, brand_id = funded_pool(api)
    path = f"/admin/games/{game_id}/budgets/{brand_id}/coupons"
    assert "generate" in fields(api.call("POST", path, {"generate": generate}))
    assert "colour" in fields(api.call("POST", path, {"generate": 1, "colour": "red"}))


def test_coupons_before_a_budget_are_409(api: AdminApi) -> None:
    game_id = new_game(api, new_campaign(api))
    brand_id = new_brand(api)
    refused = upload_csv(api, game_id, brand_id, "AAAA-0001\n")
    assert refused.status == 409
    assert refused.body["error"] == "no_budget"
    assert "budget" in refused.body["message"]
    assert api.item(code_key("AAAA-0001")) is None


def test_coupons_for_unknown_game_or_brand_are_404(api: AdminApi) -> None:
    game_id, brand_id = funded_pool(api)
    assert upload_csv(api, "nope", brand_id, "AAAA-0001\n").status == 404
    assert upload_csv(api, game_id, "nope", "AAAA-0001\n").status == 404


# -- report ---------------------------------------------------------------------------
def test_report_numbers_from_seeded_budgets_and_arrivals(api: AdminApi) -> None:
    # Given a five-minute game that front-loads its coupons (3:1 over two halves)
    start, end = "2030-01-10T12:00:00Z", "2030-01-10T12:05:00Z"
    game_id = new_game(api, new_campaign(api), start, end, {"releaseCurve": [3, 1]})
    ok(api.call("PATCH", f"/admin/games/{game_id}", {"status": "LIVE"}))
    # And budgets as the allocator left them, with what each minute's leases took
    for brand, budget, issued, pool, tallies in (
        ("a", 100, 30, 120, {"won#0": 2, "won#1": 5, "won#3": 23}),
        ("b", 50, 10, 50, {"won#0": 1, "won#3": 9}),
    ):
        api.put(
            {
                **budget_key(game_id, brand),
                "gameId": game_id,
                "brandId": brand,
                "budget": budget,
                "issued": issued,
                "poolSize": pool,
                **tallies,
            }
        )
    # And arrivals per minute
    m0 = epoch_minute(start)
    seeded: list[tuple[int, dict[str, int]]] = [
        (m0, {"s0": 5, "s30": 5}),
        (m0 + 1, {"s10": 4}),
        (m0 + 3, {"s59": 1}),
    ]
    for minute, counts in seeded:
        api.put({**arrivals_key(game_id, minute), **counts})
    # When the marketer reads the report
    report = ok(api.call("GET", f"/admin/games/{game_id}/report"))
    # Then wins come from the budgets and plays from the arrivals
    assert report["gameId"] == game_id
    assert (report["status"], report["startTime"], report["endTime"]) == ("LIVE", start, end)
    assert (report["plays"], report["wins"]) == (15, 40)
    assert report["brands"] == [
        {
            "brandId": "a",
            "budget": 100,
            "issued": 30,
            "remaining": 70,
            "poolSize": 120,
            "counters": 1,
        },
        {
            "brandId": "b",
            "budget": 50,
            "issued": 10,
            "remaining": 40,
            "poolSize": 50,
            "counters": 1,
        },
    ]
    curve = report["curve"]
    assert [p["minute"] for p in curve] == [0, 1, 2, 3, 4]
    assert [p["plays"] for p in curve] == [10, 4, 0, 1, 0]
    # And the issued curve adds up the minutes' tallies, ending at the counters
    assert [p["issued"] for p in curve] == [3, 8, 8, 40, 40]
    # 150 coupons, 3/4 over the first 150 s and 1/4 over the last 150 s
    assert [p["scheduled"] for p in curve] == pytest.approx([45, 90, 120, 135, 150])


def test_report_cuts_minutes_from_an_unaligned_start(api: AdminApi) -> None:
    start, end = "2030-01-10T12:00:30Z", "2030-01-10T12:02:30Z"
    game_id = new_game(api, new_campaign(api), start, end)
    # Minutes of the game run from :30 to :30; a void after the end joins the last one
    tallies = {"won#0": 3, "won#1": 3, "won#4": -1}
    counter = {"budget": 10, "issued": 6, "voided": 1, "poolSize": 11, **tallies}
    api.put({**budget_key(game_id, "a"), **counter})
    m0 = epoch_minute(start)
    api.put({**arrivals_key(game_id, m0), "s40": 1})  # game second 10
    api.put({**arrivals_key(game_id, m0 + 1), "s20": 2, "s40": 4})  # 50, 70
    api.put({**arrivals_key(game_id, m0 + 2), "s10": 8})  # 100
    report = ok(api.call("GET", f"/admin/games/{game_id}/report"))
    assert report["plays"] == 15
    assert [(p["plays"], p["issued"]) for p in report["curve"]] == [(3, 3), (12, 5)]
    assert report["wins"] == 5
    assert [p["scheduled"] for p in report["curve"]] == pytest.approx([5, 10])


def test_report_of_a_quiet_game(api: AdminApi) -> None:
    game_id = new_game(api, new_campaign(api))
    report = ok(api.call("GET", f"/admin/games/{game_id}/report"))
    assert (report["plays"], report["wins"], report["brands"]) == (0, 0, [])
    assert len(report["curve"]) == 60
    assert {(p["plays"], p["issued"], p["scheduled"]) for p in report["curve"]} == {(0, 0, 0)}
    assert api.call("GET", "/admin/games/nope/report").status == 404


# -- redemption -----------------------------------------------------------------------
def test_an_issued_coupon_is_redeemed_once(api: AdminApi) -> None:
    game_id, brand_id = funded_pool(api)
    ok(upload_csv(api, game_id, brand_id, "RDM-0001\nRDM-0002\n"))
    move_coupon(api, "RDM-0002", CouponStatus.ISSUED)
    redeemed = ok(api.call("POST", "/admin/coupons/RDM-0002/redeem"))
    assert redeemed == {
        "code": "RDM-0002",
        "status": "REDEEMED",
        "gameId": game_id,
        "brandId": brand_id,
    }
    coupon = api.item(coupon_key(game_id, brand_id, 2))
    assert coupon is not None
    assert (coupon["status"], coupon["redeemedBy"]) == ("REDEEMED", ADMIN)
    # The second time is refused, and the answer does not repeat the code
    again = api.call("POST", "/admin/coupons/RDM-0002/redeem")
    assert again.status == 409
    assert again.body["message"] == "this coupon has already been redeemed"
    assert "RDM-0002" not in json.dumps(again.body)


@pytest.mark.parametrize("status", [CouponStatus.AVAILABLE, CouponStatus.RESERVED])
def test_a_coupon_not_issued_yet_cannot_be_redeemed(api: AdminApi, status: CouponStatus) -> None:
    game_id, brand_id = funded_pool(api)
    ok(upload_csv(api, game_id, brand_id, "RDM-0001\n"))
    if status is not CouponStatus.AVAILABLE:
        move_coupon(api, "RDM-0001", status)
    refused = api.call("POST", "/admin/coupons/RDM-0001/redeem")
    # Answered as a code that does not exist: a guesser learns nothing from it
    unknown = api.call("POST", "/admin/coupons/RDM-9999/redeem")
    assert (refused.status, refused.body) == (404, unknown.body)
    coupon = api.item(coupon_key(game_id, brand_id, 1))
    assert coupon is not None and coupon["status"] == status.value


# -- offers ---------------------------------------------------------------------------
OFFER = {
    "title": "A free coffee",
    "description": "Any size, any shop.",
    "value": "€3.50",
    "termsUrl": "https://brand.example/terms",
    "validUntil": "2030-02-01T00:00:00Z",
}


def test_a_game_brand_offer_is_set_read_back_and_replaced(api: AdminApi) -> None:
    game_id, brand_id = funded_pool(api)
    path = f"/admin/games/{game_id}/budgets/{brand_id}/offer"
    assert api.call("GET", path).status == 404
    assert ok(api.call("PUT", path, OFFER)) == OFFER
    assert ok(api.call("GET", path)) == OFFER
    # A replacement replaces the whole offer: what it leaves out is gone (null)
    plain = {**dict.fromkeys(OFFER), "title": "Two coffees"}
    assert ok(api.call("PUT", path, {"title": "Two coffees"})) == plain
    assert ok(api.call("GET", path)) == plain


def test_an_offer_needs_the_budget_first_and_a_valid_body(api: AdminApi) -> None:
    game_id = new_game(api, new_campaign(api))
    brand_id = new_brand(api)
    path = f"/admin/games/{game_id}/budgets/{brand_id}/offer"
    no_budget = api.call("PUT", path, OFFER)
    assert (no_budget.status, no_budget.body["message"]) == (
        409,
        "set the brand's budget in this game first",
    )
    assert api.call("PUT", f"/admin/games/nope/budgets/{brand_id}/offer", OFFER).status == 404
    set_budget(api, game_id, brand_id, 10)
    bad = fields(api.call("PUT", path, {**OFFER, "termsUrl": "http://brand.example/t"}))
    assert set(bad) == {"termsUrl"}
    assert set(fields(api.call("PUT", path, {**OFFER, "title": ""}))) == {"title"}
    assert set(fields(api.call("PUT", path, {**OFFER, "validUntil": "2030-02-01"}))) == {
        "validUntil"
    }


def test_a_till_refuses_a_coupon_after_its_offer_ends_and_takes_it_before(api: AdminApi) -> None:
    # Given two issued coupons of a game-brand whose offer ends just after the clock
    game_id, brand_id = funded_pool(api)
    ok(upload_csv(api, game_id, brand_id, "OFR-0001\nOFR-0002\n"))
    move_coupon(api, "OFR-0001", CouponStatus.ISSUED)
    move_coupon(api, "OFR-0002", CouponStatus.ISSUED)
    ends = api.clock.now + 5.0  # the clock ticks a second per reading
    until = datetime.fromtimestamp(ends, UTC).isoformat().replace("+00:00", "Z")
    path = f"/admin/games/{game_id}/budgets/{brand_id}/offer"
    ok(api.call("PUT", path, {"title": "A free coffee", "validUntil": until}))
    # When one is redeemed before the end and one after
    before = api.call("POST", "/admin/coupons/OFR-0001/redeem")
    api.clock.now = ends
    after = api.call("POST", "/admin/coupons/OFR-0002/redeem")
    # Then the first is taken, and the second refused, saying when the offer ended
    assert before.status == 200
    assert (after.status, after.body["message"]) == (409, f"this coupon's offer ended at {until}")
    assert "OFR-0002" not in json.dumps(after.body)
    # ... while the one used in time still says so, not that its offer ended
    again = api.call("POST", "/admin/coupons/OFR-0001/redeem")
    assert (again.status, again.body["message"]) == (409, "this coupon has already been redeemed")
    coupon = api.item(coupon_key(game_id, brand_id, 2))
    assert coupon is not None and coupon["status"] == CouponStatus.ISSUED.value


def test_unknown_or_malformed_codes(api: AdminApi) -> None:
    unknown = api.call("POST", "/admin/coupons/NOPE-0001/redeem")
    assert unknown.status == 404
    assert "NOPE-0001" not in json.dumps(unknown.body)
    assert fields(api.call("POST", "/admin/coupons/ab/redeem")) == {
        "code": "not a valid coupon code"
    }


def test_codes_with_reserved_characters_are_redeemed_percent_encoded(api: AdminApi) -> None:
    game_id, brand_id = funded_pool(api)
    code = "X/Y#Z?1%"
    ok(upload_csv(api, game_id, brand_id, f"{code}\n"))
    move_coupon(api, code, CouponStatus.ISSUED)
    redeemed = ok(api.call("POST", f"/admin/coupons/{quote(code, safe='')}/redeem"))
    assert redeemed["code"] == code


# -- validation, not found, auth -------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"startTime": "yesterday"}, "startTime", None),
        ({"startTime": "2030-01-01T00:00:00"}, "startTime", None),  # no time zone
        ({"endTime": "2029-01-01T00:00:00Z"}, "endTime", "endTime must be after startTime"),
        ({"colour": "red"}, "colour", "unknown field"),
        ({"name": None}, "name", None),
        ({"name": "   "}, "name", None),
    ],
)
def test_campaign_400_names_the_camel_case_field(
    api: AdminApi, body: dict[str, Any], field: str, message: str | None
) -> None:
    valid = {"name": "Winter sale", "startTime": CAMPAIGN_START, "endTime": CAMPAIGN_END}
    problems = fields(api.call("POST", "/admin/campaigns", {**valid, **body}))
    assert field in problems
    if message is not None:
        assert problems[field] == message
    assert ok(api.call("GET", "/admin/campaigns"))["items"] == []


def test_400s_for_bodies_and_paths(api: AdminApi) -> None:
    campaign_id = new_campaign(api)
    game_id = new_game(api, campaign_id)
    brand_id = new_brand(api)
    budget_path = f"/admin/games/{game_id}/budgets/{brand_id}"
    assert "budget" in fields(api.call("PUT", budget_path, {"budget": -1}))
    assert "budget" in fields(api.call("PUT", budget_path, {"budget": 1.5}))
    assert fields(api.call("PUT", budget_path, raw="{nope")) == {
        "body": "the body is not valid JSON"
    }
    assert fields(api.call("PUT", budget_path)) == {"body": "required"}
    assert "gameId" in fields(api.call("PUT", "/admin/games/a%23b/budgets/x", {"budget": 1}))
    bad_curve = {"config": {"releaseCurve": [1, -1]}}
    assert "config.releaseCurve.1" in fields(
        api.call("PATCH", f"/admin/games/{game_id}", bad_curve)
    )
    assert "status" in fields(api.call("PATCH", f"/admin/games/{game_id}", {"status": "PAUSED"}))
    assert "body" in fields(api.call("POST", "/admin/brands", [1, 2]))


def test_404s(api: AdminApi) -> None:
    body = {"name": "Spin", "startTime": GAME_START, "endTime": GAME_END}
    for method, path, payload in (
        ("GET", "/admin/campaigns/nope", None),
        ("PATCH", "/admin/campaigns/nope", {"name": "x"}),
        ("GET", "/admin/campaigns/nope/games", None),
        ("POST", "/admin/campaigns/nope/games", body),
        ("GET", "/admin/games/nope", None),
        ("PATCH", "/admin/games/nope", {"name": "x"}),
        ("GET", "/admin/brands/nope", None),
        ("GET", "/admin/no-such-route", None),
    ):
        missing = api.call(method, path, payload)
        assert missing.status == 404, path
        assert missing.body["error"] == "not_found"


#: Every admin route, with a body that would be valid if the ids existed.
ADMIN_ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/admin/campaigns", {"name": "x", "startTime": GAME_START, "endTime": GAME_END}),
    ("GET", "/admin/campaigns", None),
    ("GET", "/admin/campaigns/c1", None),
    ("PATCH", "/admin/campaigns/c1", {"name": "x"}),
    (
        "POST",
        "/admin/campaigns/c1/games",
        {"name": "x", "startTime": GAME_START, "endTime": GAME_END},
    ),
    ("GET", "/admin/campaigns/c1/games", None),
    ("GET", "/admin/games/g1", None),
    ("PATCH", "/admin/games/g1", {"status": "LIVE"}),
    ("POST", "/admin/brands", {"name": "x"}),
    ("GET", "/admin/brands", None),
    ("GET", "/admin/brands/b1", None),
    ("PUT", "/admin/games/g1/budgets/b1", {"budget": 1}),
    ("POST", "/admin/games/g1/budgets/b1/coupons", {"generate": 1}),
    ("GET", "/admin/games/g1/report", None),
    ("GET", "/admin/games/g1/budgets", None),
    ("POST", "/admin/coupons/ABCD-1234/redeem", None),
    ("PUT", "/admin/games/g1/budgets/b1/offer", {"title": "x"}),
    ("GET", "/admin/games/g1/budgets/b1/offer", None),
    ("POST", "/admin/games/g1/exports", {"kind": "winners"}),
    ("GET", "/admin/games/g1/exports", None),
    ("GET", "/admin/games/g1/exports/e1", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_every_admin_route_needs_the_admin_group(
    api: AdminApi, method: str, path: str, body: Any
) -> None:
    anonymous = api.call(method, path, body, anonymous=True)
    assert (anonymous.status, anonymous.body["error"]) == (401, "unauthenticated")
    player = api.call(method, path, body, claims=player_claims())
    assert (player.status, player.body["error"]) == (403, "forbidden")
    # The guard comes before validation: a non-admin learns nothing about valid bodies
    assert api.call(method, path, {"bogus": True}, claims=player_claims()).status == 403
    assert api.call(method, path, raw="{", anonymous=True).status == 401
    no_groups = {"sub": "someone"}
    assert api.call(method, path, body, claims=no_groups).status == 403


def test_client_mistakes_are_never_500(api: AdminApi) -> None:
    game_id, brand_id = funded_pool(api)
    for method, path, raw, content_type in (
        ("POST", "/admin/campaigns", "\ufffe\x00", "application/json"),
        ("POST", "/admin/campaigns", "name=x", "application/x-www-form-urlencoded"),
        ("POST", "/admin/brands", "<brand/>", "application/xml"),
        ("POST", f"/admin/games/{game_id}/budgets/{brand_id}/coupons", "", "text/csv"),
    ):
        answer = api.call(method, path, raw=raw, content_type=content_type)
        assert 400 <= answer.status < 500, (path, content_type, answer)
        assert isinstance(answer.body, dict) and "error" in answer.body


# -- OpenAPI --------------------------------------------------------------------------
def _operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item}


def test_committed_openapi_is_the_generated_one() -> None:
    """Regenerate with: python -m frolic_tools.openapi > docs/openapi.json"""
    generated = generate()
    assert json.loads(COMMITTED_OPENAPI.read_text()) == generated
    assert COMMITTED_OPENAPI.read_text() == render(generated)


def test_openapi_documents_every_route_with_its_errors() -> None:
    spec = generate()
    documented = _operations(spec)
    expected = {
        (method, re.sub(r"/(c1|g1|b1|e1|ABCD-1234)(?=/|$)", _template, path))
        for method, path, _ in ADMIN_ROUTES
    }
    players = {
        ("POST", "/plays"),
        ("GET", "/plays/{playId}"),
        ("POST", "/ws-ticket"),
        ("GET", "/me/coupons"),
    }
    public = {("GET", "/openapi.json"), ("GET", "/games")}
    assert documented == expected | players | public
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert "422" not in codes, (method, path)
            if path.startswith("/admin/"):
                assert {"400", "401", "403"} <= codes, (method, path)
            elif (method.upper(), path) in players:
                assert {"401", "403"} <= codes, (method, path)
            else:
                assert operation["security"] == []
    upload = spec["paths"]["/admin/games/{gameId}/budgets/{brandId}/coupons"]["post"]
    assert set(upload["requestBody"]["content"]) == {"text/csv", "application/json"}
    assert {"413", "415", "409"} <= set(upload["responses"])
    assert "ErrorBody" in spec["components"]["schemas"]


def _template(match: re.Match[str]) -> str:
    names = {
        "c1": "campaignId",
        "g1": "gameId",
        "b1": "brandId",
        "e1": "exportId",
        "ABCD-1234": "code",
    }
    return "/{" + names[match.group(1)] + "}"


def test_openapi_is_served_without_a_token(api: AdminApi) -> None:
    served = api.call("GET", "/openapi.json", anonymous=True)
    assert served.status == 200
    assert served.body == admin_document()


# -- the Lambda handler ---------------------------------------------------------------
def _load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("frolic_admin_handler_under_test", HANDLER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_handler_serves_the_api_and_never_logs_a_code(
    aws_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    settings.cache_clear()
    secret = "SECRET-CODE-4242"
    try:
        with mock_aws():
            db = boto3.client("dynamodb", region_name="us-east-1")
            create_tables(db, local_settings())
            handler = _load_handler()

            def invoke(method: str, path: str, body: str | None, content_type: str) -> Reply:
                event = rest_event(
                    method, path, body, content_type=content_type, claims=admin_claims()
                )
                return reply(handler.lambda_handler(event, InvocationContext()))

            campaign = invoke(
                "POST",
                "/admin/campaigns",
                json.dumps({"name": "C", "startTime": CAMPAIGN_START, "endTime": CAMPAIGN_END}),
                "application/json",
            ).body["campaignId"]
            game_body = {"name": "G", "startTime": GAME_START, "endTime": GAME_END}
            game = invoke(
                "POST",
                f"/admin/campaigns/{campaign}/games",
                json.dumps(game_body),
                "application/json",
            ).body["gameId"]
            brand = invoke("POST", "/admin/brands", '{"name": "B"}', "application/json").body[
                "brandId"
            ]
            budget = invoke(
                "PUT", f"/admin/games/{game}/budgets/{brand}", '{"budget": 5}', "application/json"
            )
            assert budget.status == 200
            uploaded = invoke(
                "POST",
                f"/admin/games/{game}/budgets/{brand}/coupons",
                f"code\n{secret}\n",
                "text/csv",
            )
            assert uploaded.body["added"] == 1
            not_yet = invoke("POST", f"/admin/coupons/{secret}/redeem", None, "application/json")
            assert not_yet.status == 404
            api = AdminApi(db, local_settings())
            move_coupon(api, secret, CouponStatus.ISSUED)
            redeemed = invoke("POST", f"/admin/coupons/{secret}/redeem", None, "application/json")
            assert redeemed.status == 200
            twice = invoke("POST", f"/admin/coupons/{secret}/redeem", None, "application/json")
            assert twice.status == 409
    finally:
        settings.cache_clear()
        clients.forget_clients()  # built inside mock_aws: no use outside it
    # Then neither a log record (with all its extra fields) nor a metric holds the code
    logged = "\n".join(repr(vars(record)) for record in caplog.records)
    assert "coupons added" in logged and "coupon redeemed" in logged
    metrics_out = capfd.readouterr()
    assert "CouponsRedeemed" in metrics_out.out
    assert secret not in logged + metrics_out.out + metrics_out.err
