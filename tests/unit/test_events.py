"""The events Frolic puts on its bus: their details, ids and the codes they hold back."""

from __future__ import annotations

import json
from pathlib import Path

from frolic.events import (
    CouponIssued,
    EventType,
    OutEvent,
    PlayWon,
    detail,
    event_type,
    win_events,
    without_codes,
)
from frolic_tools.event_schema import generate
from frolic_tools.openapi import render

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "events.json"
WON_AT, ISSUED_AT = 1_900_000_000.0, 1_900_000_003.5


def a_win(issued_at: float = ISSUED_AT) -> list[OutEvent]:
    return list(
        win_events(
            play_id="p-1",
            game_id="g-1",
            user_id="ann",
            grants=[("acme", "ACME-0001"), ("beta", "BETA-0002")],
            won_at=WON_AT,
            issued_at=issued_at,
        )
    )


def test_a_win_is_one_won_event_and_one_issued_event_per_coupon_in_camel_case() -> None:
    won, first, second = a_win()
    assert isinstance(won, PlayWon) and event_type(won) is EventType.PLAY_WON
    assert detail(won) == {
        "eventId": "won:p-1",
        "playId": "p-1",
        "gameId": "g-1",
        "userId": "ann",
        "brandIds": ["acme", "beta"],
        "wonAt": "2030-03-17T17:46:40Z",
    }
    assert isinstance(first, CouponIssued) and isinstance(second, CouponIssued)
    assert (detail(first)["brandId"], detail(first)["code"]) == ("acme", "ACME-0001")
    assert detail(second)["eventId"] == "issued:p-1:1"


def test_a_win_published_again_later_keeps_its_ids() -> None:
    ids = [detail(e)["eventId"] for e in a_win()]
    again = [detail(e)["eventId"] for e in a_win(issued_at=ISSUED_AT + 60)]
    assert ids == again and len(set(ids)) == 3


def test_codes_are_held_back_unless_asked_for() -> None:
    issued = detail(a_win()[1])
    assert "code" in issued
    held_back = without_codes(issued)
    assert "code" not in held_back and held_back["playId"] == "p-1"
    assert "ACME" not in json.dumps(held_back)


def test_committed_event_schema_is_the_generated_one() -> None:
    """Regenerate with: make openapi (it writes docs/events.json too)."""
    assert COMMITTED.read_text() == render(generate())
    schemas = generate()["detailTypes"]
    assert set(schemas) == {t.value for t in EventType}
    assert "code" in schemas["Coupon issued"]["properties"]
