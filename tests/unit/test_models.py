"""Tests for the pydantic domain model: wire names, strictness, invariants, state machines."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from frolic.models import (
    MAX_META_ENTRIES,
    MAX_RELEASE_CURVE_PARTS,
    Campaign,
    FieldError,
    Game,
    GameConfig,
    GameStatus,
    InvalidTransitionError,
    PlayEvent,
    field_errors,
)

START = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
END = START + timedelta(hours=1)


def game_wire(**overrides: Any) -> dict[str, Any]:
    """A valid game as a client sends it (camelCase, ISO timestamps)."""
    wire: dict[str, Any] = {
        "gameId": "game-1",
        "campaignId": "campaign-1",
        "name": "Spin to win",
        "startTime": START.isoformat(),
        "endTime": END.isoformat(),
    }
    wire.update(overrides)
    return wire


def event_wire(**overrides: Any) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "playId": "play-1",
        "userId": "user-1",
        "gameId": "game-1",
        "clientTs": START.isoformat(),
        "arrivalTs": 1_900_000_000.5,
        "connectionId": "conn-A",
        "meta": {"device": "ios", "level": 3},
    }
    wire.update(overrides)
    return wire


def game(status: GameStatus = GameStatus.DRAFT) -> Game:
    return Game.model_validate(game_wire(status=status.value))


def errors_of(model: type[Any], data: dict[str, Any]) -> list[FieldError]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return field_errors(caught.value)


# --- camelCase on the wire ---------------------------------------------------------


def test_parses_camel_case_wire_names() -> None:
    # Given a game as a client sends it, with a nested camelCase config
    wire = game_wire(status="LIVE", config={"maxWinsPerUser": 3, "releaseCurve": [3, 2, 1]})
    # When it is parsed
    parsed = Game.model_validate(wire)
    # Then every camelCase name lands on its snake_case attribute
    assert parsed.game_id == "game-1"
    assert parsed.campaign_id == "campaign-1"
    assert parsed.start_time == START
    assert parsed.end_time == END
    assert parsed.status is GameStatus.LIVE
    assert parsed.config.max_wins_per_user == 3
    assert parsed.config.release_curve == (3.0, 2.0, 1.0)


def test_to_wire_emits_camel_case_and_omits_none() -> None:
    # Given a game with no release curve, serialised for the wire
    game_out = game().to_wire()
    assert {"gameId", "campaignId", "startTime", "endTime"} <= game_out.keys()
    assert not any("_" in key for key in game_out)
    assert not any("_" in key for key in game_out["config"])
    assert "releaseCurve" not in game_out["config"]
    assert game_out["config"]["maxCouponsPerPlay"] == 1


def test_to_wire_round_trips() -> None:
    original = Game.model_validate(game_wire(config={"releaseCurve": [1, 0, 2]}))
    assert Game.model_validate(original.to_wire()) == original
    event = PlayEvent.model_validate(event_wire())
    assert PlayEvent.model_validate(event.to_wire()) == event


def test_play_event_to_wire_omits_unset_optionals() -> None:
    event = PlayEvent.model_validate(event_wire(clientTs=None, connectionId=None))
    wire = event.to_wire()
    assert "clientTs" not in wire
    assert "connectionId" not in wire
    assert wire["playId"] == "play-1"
    assert wire["arrivalTs"] == 1_900_000_000.5


# --- strictness and client-readable errors -------------------------------------------


def test_unknown_field_is_rejected_and_reported_by_name() -> None:
    # Given a game with a field the model does not have
    # When it is parsed
    with pytest.raises(ValidationError) as caught:
        Game.model_validate(game_wire(colour="red"))
    # Then pydantic says extra_forbidden, and the client is told "colour: unknown field"
    assert [e["type"] for e in caught.value.errors()] == ["extra_forbidden"]
    assert field_errors(caught.value) == [FieldError(field="colour", message="unknown field")]


def test_a_typo_in_a_nested_field_is_an_unknown_field_with_its_path() -> None:
    # Given a config with a misspelt option, which must not silently fall back to a default
    problems = errors_of(Game, game_wire(config={"maxWinPerUser": 5}))
    assert problems == [FieldError(field="config.maxWinPerUser", message="unknown field")]


def test_field_errors_name_the_camel_case_field_of_a_bad_value() -> None:
    problems = errors_of(Game, game_wire(gameId="game 1"))
    assert [p.field for p in problems] == ["gameId"]
    assert problems[0].message != "unknown field"


def test_field_errors_name_a_missing_camel_case_field() -> None:
    data = event_wire()
    del data["playId"]
    problems = errors_of(PlayEvent, data)
    assert [p.field for p in problems] == ["playId"]


def test_field_errors_name_the_nested_camel_case_path() -> None:
    problems = errors_of(Game, game_wire(config={"releaseCurve": [1, -1]}))
    assert len(problems) == 1
    assert problems[0].field.startswith("config.releaseCurve")


def test_field_errors_report_a_whole_model_problem_as_body() -> None:
    problems = errors_of(Game, game_wire(endTime=START.isoformat()))
    assert len(problems) == 1
    assert problems[0].field == "body"
    assert "endTime must be after startTime" in problems[0].message


# --- time windows --------------------------------------------------------------------


@pytest.mark.parametrize(
    "end",
    [START, START - timedelta(seconds=1)],
    ids=["end-equals-start", "end-before-start"],
)
def test_end_time_must_be_after_start_time(end: datetime) -> None:
    with pytest.raises(ValidationError, match="endTime must be after startTime"):
        Game.model_validate(game_wire(endTime=end.isoformat()))


@pytest.mark.parametrize("field", ["startTime", "endTime"])
def test_naive_datetimes_are_rejected(field: str) -> None:
    # Given a timestamp without a zone, which could mean any of 24 instants
    naive = (START if field == "startTime" else END).replace(tzinfo=None)
    problems = errors_of(Game, game_wire(**{field: naive.isoformat()}))
    # Then it is refused and the field is named
    assert [p.field for p in problems] == [field]


def test_naive_datetime_objects_are_rejected_too() -> None:
    with pytest.raises(ValidationError):
        Campaign(
            campaign_id="c1",
            name="Summer",
            start_time=START.replace(tzinfo=None),
            end_time=END,
        )


def test_window_duration_and_containment() -> None:
    campaign = Campaign(campaign_id="c1", name="Summer", start_time=START, end_time=END)
    inner = game()
    outer = Game.model_validate(game_wire(endTime=(END + timedelta(seconds=1)).isoformat()))
    assert campaign.duration_seconds == 3600.0
    assert campaign.contains(inner)
    assert not campaign.contains(outer)


# --- GameConfig ------------------------------------------------------------------------


def test_game_config_defaults() -> None:
    config = GameConfig()
    assert config.max_coupons_per_play == 1
    assert config.max_wins_per_user == 1
    assert config.pacing_slack_pct == 0.1
    assert config.release_curve is None
    assert game().config == config


@pytest.mark.parametrize(
    "curve",
    [
        [],
        [0, 0, 0],
        [1, -1],
        [1.0] * (MAX_RELEASE_CURVE_PARTS + 1),
        [1, math.inf],
        [math.nan],
    ],
    ids=["empty", "all-zeros", "negative", "too-many-parts", "infinite", "nan"],
)
def test_invalid_release_curves_are_rejected(curve: list[float]) -> None:
    with pytest.raises(ValidationError):
        GameConfig.model_validate({"releaseCurve": curve})


@pytest.mark.parametrize(
    "curve",
    [[3, 2, 1], [0, 1], [5], [1.0] * MAX_RELEASE_CURVE_PARTS],
    ids=["front-loaded", "zero-then-positive", "single", "max-parts"],
)
def test_valid_release_curves_are_kept(curve: list[float]) -> None:
    config = GameConfig.model_validate({"releaseCurve": curve})
    assert config.release_curve == tuple(float(w) for w in curve)


@pytest.mark.parametrize(
    "options",
    [
        {"maxCouponsPerPlay": 0},
        {"maxWinsPerUser": 0},
        {"pacingSlackPct": -0.1},
    ],
)
def test_config_bounds(options: dict[str, Any]) -> None:
    (problem,) = errors_of(GameConfig, options)
    assert problem.field == next(iter(options))


# --- Game status -------------------------------------------------------------------------

# What a marketer may do, written out independently of the source's table.
ALLOWED_GAME_MOVES = {
    (GameStatus.DRAFT, GameStatus.SCHEDULED),
    (GameStatus.DRAFT, GameStatus.LIVE),
    (GameStatus.DRAFT, GameStatus.ENDED),
    (GameStatus.SCHEDULED, GameStatus.DRAFT),
    (GameStatus.SCHEDULED, GameStatus.LIVE),
    (GameStatus.SCHEDULED, GameStatus.ENDED),
    (GameStatus.LIVE, GameStatus.ENDED),
}


def test_draft_game_can_go_live() -> None:
    draft = game(GameStatus.DRAFT)
    live = draft.with_status(GameStatus.LIVE)
    assert live.status is GameStatus.LIVE
    assert draft.status is GameStatus.DRAFT  # the original is untouched
    assert live.game_id == draft.game_id


def test_live_game_cannot_go_back_to_draft() -> None:
    with pytest.raises(InvalidTransitionError):
        game(GameStatus.LIVE).with_status(GameStatus.DRAFT)


@pytest.mark.parametrize("target", [s for s in GameStatus if s is not GameStatus.ENDED])
def test_ended_is_final(target: GameStatus) -> None:
    with pytest.raises(InvalidTransitionError):
        game(GameStatus.ENDED).with_status(target)


@pytest.mark.parametrize("status", list(GameStatus))
def test_same_status_is_a_no_op(status: GameStatus) -> None:
    current = game(status)
    assert current.with_status(status) == current


@pytest.mark.parametrize("source", list(GameStatus))
@pytest.mark.parametrize("target", list(GameStatus))
def test_game_transition_table(source: GameStatus, target: GameStatus) -> None:
    current = game(source)
    if source is target or (source, target) in ALLOWED_GAME_MOVES:
        assert current.with_status(target).status is target
    else:
        with pytest.raises(InvalidTransitionError):
            current.with_status(target)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (START - timedelta(microseconds=1), False),
        (START, True),
        (START + timedelta(minutes=30), True),
        (END - timedelta(microseconds=1), True),
        (END, False),
        (END + timedelta(hours=1), False),
    ],
    ids=["before-start", "at-start", "middle", "just-before-end", "at-end", "after-end"],
)
def test_live_game_accepts_plays_within_start_inclusive_end_exclusive(
    moment: datetime, expected: bool
) -> None:
    assert game(GameStatus.LIVE).accepts_play_at(moment) is expected


@pytest.mark.parametrize("status", [s for s in GameStatus if s is not GameStatus.LIVE])
def test_only_a_live_game_accepts_plays(status: GameStatus) -> None:
    assert not game(status).accepts_play_at(START + timedelta(minutes=30))


# --- PlayEvent fingerprint and meta limits -----------------------------------------------


def fingerprint(**overrides: Any) -> str:
    return PlayEvent.model_validate(event_wire(**overrides)).payload_fingerprint()


def test_fingerprint_ignores_transport_details() -> None:
    # Given two submissions of one play, retried at another instant on another connection
    first = fingerprint()
    retry = fingerprint(arrivalTs=1_900_000_042.25, connectionId="conn-B")
    without_connection = fingerprint(connectionId=None)
    # Then they count as the same play
    assert first == retry == without_connection


@pytest.mark.parametrize(
    "change",
    [
        {"userId": "user-2"},
        {"gameId": "game-2"},
        {"clientTs": (START + timedelta(milliseconds=1)).isoformat()},
        {"clientTs": None},
        {"meta": {"device": "android", "level": 3}},
        {"meta": {"device": "ios", "level": "3"}},
        {"meta": {"device": "ios"}},
        {"meta": {}},
    ],
    ids=[
        "userId",
        "gameId",
        "clientTs",
        "clientTs-absent",
        "meta-value",
        "meta-type",
        "meta-key-missing",
        "meta-empty",
    ],
)
def test_fingerprint_changes_with_the_payload(change: dict[str, Any]) -> None:
    assert fingerprint(**change) != fingerprint()


def test_fingerprint_does_not_depend_on_meta_order() -> None:
    assert fingerprint(meta={"level": 3, "device": "ios"}) == fingerprint()


def test_meta_entry_count_is_limited() -> None:
    at_limit = {f"k{i}": i for i in range(MAX_META_ENTRIES)}
    assert len(PlayEvent.model_validate(event_wire(meta=at_limit)).meta) == MAX_META_ENTRIES
    over = {f"k{i}": i for i in range(MAX_META_ENTRIES + 1)}
    assert [p.field for p in errors_of(PlayEvent, event_wire(meta=over))] == ["meta"]


def test_meta_key_length_is_limited() -> None:
    PlayEvent.model_validate(event_wire(meta={"k" * 64: "v"}))
    with pytest.raises(ValidationError):
        PlayEvent.model_validate(event_wire(meta={"k" * 65: "v"}))


def test_meta_string_value_length_is_limited() -> None:
    PlayEvent.model_validate(event_wire(meta={"note": "v" * 256}))
    with pytest.raises(ValidationError):
        PlayEvent.model_validate(event_wire(meta={"note": "v" * 257}))


def test_connection_id_length_is_limited() -> None:
    with pytest.raises(ValidationError):
        PlayEvent.model_validate(event_wire(connectionId="c" * 129))
