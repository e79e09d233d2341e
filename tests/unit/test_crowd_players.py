"""The crowd's players on their event loop, against a stand-in API on loopback
(tests/unit/crowd_api.py): what tests/e2e/test_crowd.py cannot make the real stack do.
A play never decided is lost at its deadline; a refused play waits for its
retry-after; a socket that dies hands its play to REST; an abort stops the arrivals;
a player task's bug fails the run rather than hang it; closing (or failing to open)
leaves no socket and no loop thread behind; a crowd asks for the open files its sockets
need. Short deadlines and intervals keep each
run to a second or two; no assertion depends on how fast the machine is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from frolic_tools.crowd import Crowd, CrowdError, GameInfo, Progress, Schedule
from frolic_tools.crowd.report import FINAL_STATUSES, CrowdReport
from frolic_tools.crowd.run import SPARE_DESCRIPTORS
from tests.unit.crowd_api import Behaviour, FakeFrolic

Start = Callable[[Behaviour], FakeFrolic]


@pytest.fixture
def start() -> Iterator[Start]:
    started: list[FakeFrolic] = []

    def make(behaviour: Behaviour) -> FakeFrolic:
        started.append(FakeFrolic(behaviour))
        return started[-1]

    yield make
    for frolic in started:
        frolic.stop()


def game_with(interval: float) -> GameInfo:
    now = time.time()
    return GameInfo("game-1", "LIVE", now, now + 600, interval, None, 0)


def crowd_on(frolic: FakeFrolic, players: int, ws_share: float, **options: Any) -> Crowd:
    return Crowd(frolic.api, players=players, ws_share=ws_share, ws_url=frolic.ws_url, **options)


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "crowd-loop"]


def play(
    frolic: FakeFrolic, schedule: Schedule, *, players: int, ws_share: float, **options: Any
) -> tuple[CrowdReport, Crowd]:
    with crowd_on(frolic, players, ws_share, **options) as crowd:
        report = crowd.run("game-1", schedule, game=game_with(frolic.intake.behaviour.interval))
    return report, crowd


def test_plays_and_resends_on_both_channels_are_answered_once(start: Start) -> None:
    frolic = start(Behaviour(interval=0.2))
    schedule = Schedule(rate=15, duration=2.0, duplicate_share=1.0, seed=5)
    report, _ = play(frolic, schedule, players=6, ws_share=0.5)
    intake = frolic.intake

    assert {p.channel for p in report.plays} == {"ws", "rest"}
    assert not report.refused  # the intake refuses any play inside a player's interval
    assert report.no_result == 0
    assert len(report.answered) == len(report.plays) == len(intake.plays)
    assert all(p.status in FINAL_STATUSES for p in report.answered)
    pushed = [p for p in report.plays if p.channel == "ws"]
    assert all(p.via == "push" and p.results == 1 == intake.pushed[p.play_id] for p in pushed)
    assert all(p.via == "poll" for p in report.plays if p.channel == "rest")
    resent = report.duplicates
    assert {p.channel for p in resent} == {"ws", "rest"}
    assert all(intake.sends[p.play_id] == 2 for p in resent)
    assert {p.verified for p in resent} == {"consistent"}, report.inconsistencies
    assert report.ok, report.problems()
    # Closing ends every socket, as the API sees it, and the crowd's loop thread.
    assert intake.wait_for_sockets(0)
    assert not loop_threads()


def test_a_play_never_decided_is_lost_at_its_deadline(start: Start) -> None:
    frolic = start(Behaviour(interval=0.1, undecided=True))
    schedule = Schedule(rate=10, duration=1.0, duplicate_share=0.0, seed=2)
    report, _ = play(frolic, schedule, players=2, ws_share=0.5, result_timeout=0.5)

    assert {p.channel for p in report.plays} == {"ws", "rest"}
    assert report.no_result == len(report.plays) == len(frolic.intake.plays)
    assert all(p.timed_out and p.status is None and p.done for p in report.plays)
    assert report.problems()[0].endswith("got no result within their deadline")


def test_a_refused_play_waits_for_its_retry_after(start: Start) -> None:
    retry_after = 0.5
    frolic = start(Behaviour(interval=0.1, refuse_first_for=retry_after))
    schedule = Schedule(rate=10, duration=2.0, duplicate_share=0.0, seed=4)
    report, _ = play(frolic, schedule, players=4, ws_share=0.5)
    intake = frolic.intake

    assert report.refused == {"too_many_plays": len(intake.refused_at)} != {}
    assert len(report.answered) == len(report.plays) - len(intake.refused_at)
    for user, refused in intake.refused_at.items():
        accepted = intake.accepted_at[user]
        assert not accepted or accepted[0] - refused >= retry_after


def test_a_socket_that_dies_hands_its_play_to_rest(start: Start) -> None:
    frolic = start(Behaviour(interval=0.1, drop_sockets=True))
    schedule = Schedule(rate=5, duration=1.5, duplicate_share=0.0, seed=1)
    report, crowd = play(frolic, schedule, players=1, ws_share=1.0)

    first, *later = report.plays
    assert report.sockets_lost == crowd.sockets_lost == 1
    # Sent on the socket, then read over REST: not sent again.
    assert (first.channel, first.via, frolic.intake.sends[first.play_id]) == ("rest", "poll", 1)
    assert first.status in FINAL_STATUSES
    assert all(p.channel == "rest" and p.via == "poll" for p in later)
    assert report.no_result == 0


def test_abort_stops_the_arrivals_and_the_plays_sent_are_still_answered(start: Start) -> None:
    frolic = start(Behaviour(interval=0.1))
    seen: list[Progress] = []
    with crowd_on(frolic, 3, 1.0) as crowd:
        report = crowd.run(
            "game-1",
            Schedule(rate=5, duration=60, duplicate_share=0.0, seed=3),
            game=game_with(0.1),
            progress=seen.append,
            abort=lambda progress: "enough" if progress.sent else None,
        )
    assert report.stopped_early == "enough"
    assert report.sending_seconds < 60
    assert seen and seen[-1].sent > 0
    assert len(report.answered) == len(report.plays) > 0


def test_a_failing_player_task_fails_the_run_instead_of_hanging(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("a bug in a player")

    monkeypatch.setattr("frolic_tools.crowd.scheduler.play_over_rest", broken)
    frolic = start(Behaviour())
    with crowd_on(frolic, 1, 0.0) as crowd, pytest.raises(RuntimeError, match="a bug"):
        crowd.run("game-1", Schedule(rate=20, duration=0.5, seed=6), game=game_with(0.2))
    assert not loop_threads()


def test_a_refused_socket_fails_the_opening_and_leaves_nothing_open(start: Start) -> None:
    frolic = start(Behaviour(sockets_allowed=2))
    crowd = crowd_on(frolic, 4, 1.0)
    with pytest.raises(CrowdError, match="refused the socket: 403"):
        crowd.open()
    assert frolic.intake.wait_for_sockets(0)
    assert not loop_threads()


def test_a_crowd_asks_for_the_open_files_its_sockets_need(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket per WebSocket player: the soft limit is raised to fit, and a crowd the
    hard limit cannot hold is refused before any set-up call (not minutes in, with
    EMFILE)."""
    frolic = start(Behaviour())
    limits = {"soft": 64, "hard": 100_000}
    raised: list[tuple[int, int]] = []
    monkeypatch.setattr(
        "frolic_tools.crowd.run.resource.getrlimit", lambda _: (limits["soft"], limits["hard"])
    )
    monkeypatch.setattr(
        "frolic_tools.crowd.run.resource.setrlimit", lambda _, values: raised.append(values)
    )
    with crowd_on(frolic, 2, 1.0):
        assert frolic.intake.wait_for_sockets(2)
    assert raised == [(2 + SPARE_DESCRIPTORS, 100_000)]

    limits["hard"] = 64
    with pytest.raises(CrowdError, match="open files are needed"):
        crowd_on(frolic, 2, 1.0).open()
    assert len(frolic.intake.tickets) == 2  # the refused crowd asked for no ticket
    assert not loop_threads()
