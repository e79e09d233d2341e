"""Exports over moto: a game's winners and audit trail, written to S3 as CSV and
linked for download."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from frolic.dal import codec
from frolic.dal.tables import budget_key, coupon_key
from frolic.exports import ExportKind, object_key
from frolic.models import CouponStatus
from tests.integration.admin_fixtures import AdminApi
from tests.integration.test_admin_api import api, dynamodb, funded_pool, ok, upload_csv

__all__ = ["api", "dynamodb"]

ISSUED_AT = 1_900_000_100.0
REDEEMED_AT = 1_900_000_200.0


def lease(api: AdminApi, game_id: str, brand_id: str, count: int) -> None:
    """What the allocator's leases do to the budget's counter."""
    api.db.update_item(
        TableName=api.settings.state_table,
        Key=codec.dump(budget_key(game_id, brand_id)),
        UpdateExpression="SET issued = :n",
        ExpressionAttributeValues=codec.dump({":n": count}),
    )


def set_coupon(api: AdminApi, game_id: str, brand_id: str, ordinal: int, **fields: Any) -> None:
    names = {f"#f{n}": name for n, name in enumerate(fields)}
    api.db.update_item(
        TableName=api.settings.state_table,
        Key=codec.dump(coupon_key(game_id, brand_id, ordinal)),
        UpdateExpression="SET " + ", ".join(f"{n} = :v{n[2:]}" for n in names),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=codec.dump(
            {f":v{n}": value for n, value in enumerate(fields.values())}
        ),
    )


def exported_text(api: AdminApi, export: dict[str, Any]) -> str:
    """The file the link names, read from moto's S3."""
    key = object_key(export["gameId"], export["exportId"], ExportKind(export["kind"]))
    assert urlsplit(export["downloadUrl"]).path.endswith(f"/{key}")
    bucket = api.settings.export_bucket
    assert bucket is not None
    s3 = boto3.client("s3", region_name="us-east-1")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


@pytest.fixture
def played_game(api: AdminApi) -> tuple[str, str]:
    """Five codes, four leased: one issued, one redeemed, one voided by the sweeper and
    one leased but not yet bound to its play; the fifth never leased."""
    game_id, brand_id = funded_pool(api, budget=5)
    ok(upload_csv(api, game_id, brand_id, "EXP-0001\n=1+2\nEXP-0003\nEXP-0004\nEXP-0005\n"))
    lease(api, game_id, brand_id, 4)
    issued = CouponStatus.ISSUED.value
    set_coupon(
        api, game_id, brand_id, 1, status=issued, playId="p1", userId="u1", issuedAt=ISSUED_AT
    )
    set_coupon(
        api,
        game_id,
        brand_id,
        2,
        status=CouponStatus.REDEEMED.value,
        playId="p2",
        userId="u2",
        issuedAt=ISSUED_AT,
        redeemedAt=REDEEMED_AT,
        redeemedBy="till-7",
    )
    set_coupon(api, game_id, brand_id, 3, status=CouponStatus.VOID.value, voidedAt=ISSUED_AT)
    return game_id, brand_id


def test_winners_export_lists_the_coupons_players_hold(
    api: AdminApi, played_game: tuple[str, str]
) -> None:
    game_id, brand_id = played_game
    # When a marketer starts a winners export
    started = ok(api.call("POST", f"/admin/games/{game_id}/exports", {"kind": "winners"}), 202)
    assert (started["status"], started["kind"], started["gameId"]) == (
        "running",
        "winners",
        game_id,
    )
    assert "downloadUrl" not in started or started["downloadUrl"] is None
    # Then, once written, it is done, with its rows counted and a link to the file
    export = ok(api.call("GET", f"/admin/games/{game_id}/exports/{started['exportId']}"))
    assert (export["status"], export["rows"]) == ("done", 2)
    query = parse_qs(urlsplit(export["downloadUrl"]).query)
    assert query["response-content-disposition"] == [f'attachment; filename="{export["fileName"]}"']
    assert int(query["X-Amz-Expires"][0]) == 900
    rows = list(csv.reader(io.StringIO(exported_text(api, export))))
    assert rows == [
        ["playId", "playerId", "brandId", "code", "status", "issuedAt", "redeemedAt"],
        ["p1", "u1", brand_id, "EXP-0001", "ISSUED", "2030-03-17T17:48:20Z", ""],
        # And a code a spreadsheet would run as a formula is written after a quote
        ["p2", "u2", brand_id, "'=1+2", "REDEEMED", "2030-03-17T17:48:20Z", "2030-03-17T17:50:00Z"],
    ]


def test_audit_export_lists_every_leased_coupon_and_what_became_of_it(
    api: AdminApi, played_game: tuple[str, str]
) -> None:
    game_id, _ = played_game
    started = ok(api.call("POST", f"/admin/games/{game_id}/exports", {"kind": "audit"}), 202)
    export = ok(api.call("GET", f"/admin/games/{game_id}/exports/{started['exportId']}"))
    rows = list(csv.DictReader(io.StringIO(exported_text(api, export))))
    assert export["rows"] == 4
    assert [(r["ordinal"], r["status"], r["redeemedBy"], r["voidedAt"]) for r in rows] == [
        ("1", "ISSUED", "", ""),
        ("2", "REDEEMED", "till-7", ""),
        ("3", "VOID", "", "2030-03-17T17:48:20Z"),
        ("4", "AVAILABLE", "", ""),
    ]
    # And the game's exports are listed newest first
    listed = ok(api.call("GET", f"/admin/games/{game_id}/exports"))["items"]
    assert [e["exportId"] for e in listed] == [export["exportId"]]


def test_export_requests_are_checked(api: AdminApi, played_game: tuple[str, str]) -> None:
    game_id, _ = played_game
    assert api.call("POST", "/admin/games/nope/exports", {"kind": "winners"}).status == 404
    bad = api.call("POST", f"/admin/games/{game_id}/exports", {"kind": "everything"})
    assert (bad.status, [f["field"] for f in bad.body["fields"]]) == (400, ["kind"])
    assert api.call("GET", f"/admin/games/{game_id}/exports/0000000000000-none").status == 404
    # And a player cannot start one
    player = {"sub": "player-9", "cognito:groups": ""}
    assert (
        api.call(
            "POST", f"/admin/games/{game_id}/exports", {"kind": "winners"}, claims=player
        ).status
        == 403
    )
