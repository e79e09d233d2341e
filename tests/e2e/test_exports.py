"""Exports on the local stack: started over the admin API, written by the export
function (invoked asynchronously through the gateway), fetched by their link through
the gateway from moto's S3."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import urllib3

from frolic_tools.local import LocalClient
from tests.e2e.games import RESULT_SECONDS, game_under_way, wait_until_issued
from tests.e2e.waiting import final_result, wait_for


def finished_export(admin: LocalClient, game_id: str, kind: str) -> dict[str, Any]:
    started = admin.request("POST", f"/admin/games/{game_id}/exports", body={"kind": kind})
    assert started.status == 202, started.body
    path = f"/admin/games/{game_id}/exports/{started.json()['exportId']}"

    def done() -> dict[str, Any] | None:
        export: dict[str, Any] = admin.call("GET", path)
        assert export["status"] != "failed", export
        return export if export["status"] == "done" else None

    return wait_for(done, timeout=RESULT_SECONDS, what=f"the {kind} export")


def fetch(url: str, method: str = "GET") -> urllib3.BaseHTTPResponse:
    return urllib3.request(method, url, redirect=False, retries=False)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return parts._replace(query=urlencode(query)).geturl()


def test_a_marketer_downloads_the_winners_of_a_game(
    admin: LocalClient, anonymous: LocalClient
) -> None:
    # Given a player who won three coupons, now issued
    game = game_under_way(
        admin, "Export spin", "Export Brand", {"minSecondsBetweenPlays": 0, "maxWinsPerUser": 10}
    )
    player = anonymous.as_user("export-player")
    plays = [f"export-play-{n}" for n in range(3)]
    codes = []
    for play_id in plays:
        assert player.play(play_id, game.game_id).status == 202
        result = final_result(player, play_id)
        assert result["status"] == "won", result
        codes.append(result["coupons"][0]["code"])
    wait_until_issued(player, codes)
    # When the marketer exports the game's winners and follows the link
    export = finished_export(admin, game.game_id, "winners")
    download = fetch(export["downloadUrl"])
    # Then the browser is handed a CSV file to save, one row per coupon won
    assert download.status == 200
    assert download.headers["Content-Type"].startswith("text/csv")
    assert download.headers["Content-Disposition"] == f'attachment; filename="{export["fileName"]}"'
    rows = list(csv.DictReader(io.StringIO(download.data.decode())))
    assert export["rows"] == 3
    assert sorted((r["playId"], r["playerId"], r["code"], r["status"]) for r in rows) == sorted(
        (play_id, "export-player", code, "ISSUED")
        for play_id, code in zip(plays, codes, strict=True)
    )


def test_export_links_serve_only_live_signed_gets_of_export_files(
    admin: LocalClient, anonymous: LocalClient
) -> None:
    game = game_under_way(admin, "Link spin", "Link Brand")
    url = finished_export(admin, game.game_id, "audit")["downloadUrl"]
    assert fetch(url).status == 200
    assert fetch(url, "HEAD").status == 200
    # A link past its lifetime, an unsigned one, another method, another object: refused
    assert fetch(with_query(url, **{"X-Amz-Date": "20200101T000000Z"})).status == 403
    unsigned = urlsplit(url)._replace(query="").geturl()
    assert fetch(unsigned).status == 403
    assert fetch(url, "DELETE").status == 405
    other = url.replace("/exports/", "/uploads/", 1)
    assert fetch(other).status == 403
    # And nobody but the stack invokes a function through the gateway
    invoke = f"{anonymous.base_url}/_aws/lambda/2015-03-31/functions/export/invocations"
    answer = urllib3.request(
        "POST", invoke, body=b"{}", headers={"X-Amz-Invocation-Type": "Event"}, retries=False
    )
    assert answer.status == 403
