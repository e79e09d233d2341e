"""The scheduler: the arrivals of one run, on the crowd's event loop.

It draws the Poisson arrivals and hands each to an idle player: a socket play is sent
on the player's socket by a task of its own (so a slow socket never holds the schedule
up), with a timer for its deadline and, when it is picked to be resent, one for the
resend; a REST play is a player's task (`players`), deadline included. One `Scheduler`
serves one run: its timers are cancelled when the run is over, so none reaches into the
next.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import random
from collections.abc import Callable, Iterator, Sequence

from websockets.exceptions import ConnectionClosed

from frolic_tools.crowd.common import RESEND_DELAY_SECONDS, RunState
from frolic_tools.crowd.players import play_over_rest
from frolic_tools.crowd.report import PlayRecord
from frolic_tools.crowd.rest import RestClient
from frolic_tools.crowd.state import Job, Player, SharedState


class Scheduler:
    """Arrivals, socket sends, resends and deadlines for one run."""

    def __init__(
        self,
        state: SharedState,
        players: Sequence[Player],
        run: RunState,
        rng: random.Random,
        rest: RestClient,
        *,
        tag: str,
        ids: Iterator[int],
    ) -> None:
        self._state = state
        self._players = players
        self._run = run
        self._rng = rng
        self._rest = rest
        self._tag = tag
        #: The crowd's counter, kept across runs: play ids stay unique in its lifetime.
        self._ids = ids
        self._timers: list[asyncio.TimerHandle] = []

    async def arrivals(self) -> None:
        """The Poisson arrivals, by thinning a process at the peak rate: exact across the
        end of the rush, with no special case for it."""
        run, rng, clock = self._run, self._rng, self._state.clock
        schedule = run.schedule
        peak = schedule.peak_rate
        offset = rng.expovariate(peak)
        while offset < schedule.duration and run.stop_reason is None:
            accepted = rng.random() < schedule.rate_at(offset) / peak
            wait = run.started + offset - clock()
            if wait > 0:
                await asyncio.sleep(wait)
            if accepted:
                self._arrive(clock())
            offset += rng.expovariate(peak)
        run.arrivals_done = True

    async def drain(self) -> None:
        """Wait for every play sent to settle (result, refusal or deadline) and every
        planned resend to be over; raise what a player's task failed with, if one did."""
        state, run = self._state, self._run
        while state.failure is None and (run.outstanding or run.resends_open):
            state.changed.clear()
            await state.changed.wait()
        if state.failure is not None:
            raise state.failure

    def cancel_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def _at(self, when: float, callback: Callable[[], None]) -> None:
        """`callback` at `when` on the crowd's clock."""
        delay = max(0.0, when - self._state.clock())
        self._timers.append(asyncio.get_running_loop().call_later(delay, callback))

    def _arrive(self, now: float) -> None:
        """One arrival: a play for a random idle player, or a skip when none is idle."""
        state, run, rng = self._state, self._run, self._rng
        run.arrivals += 1
        while state.idle and state.idle[0][0] <= now:
            state.ready.append(heapq.heappop(state.idle)[1])
        if not state.ready:
            run.skipped += 1
            return
        pick = rng.randrange(len(state.ready))
        state.ready[pick], state.ready[-1] = state.ready[-1], state.ready[pick]
        player = self._players[state.ready.pop()]
        record = PlayRecord(
            play_id=f"crowd-{self._tag}-{next(self._ids):07d}",
            player=player.index,
            channel="ws" if player.socket is not None else "rest",
            scheduled=now,
        )
        if rng.random() < run.schedule.duplicate_share:
            delay = rng.uniform(*RESEND_DELAY_SECONDS)
            # A resend after the arrivals end could land after the game closes; its
            # refusal would say nothing about idempotency.
            if now + delay < run.started + run.schedule.duration:
                record.duplicate = True
                record.resend_due = delay
                run.resends_open += 1
        state.records[record.play_id] = record
        run.records.append(record)
        run.outstanding += 1
        if record.channel == "ws":
            state.spawn(self._send_on_socket(player, record))
        else:
            state.spawn(play_over_rest(state, self._rest, player, Job(record, send=True)))

    def _play_message(self, record: PlayRecord) -> str:
        return json.dumps(
            {"action": "play", "playId": record.play_id, "gameId": self._state.game_id}
        )

    async def _send_on_socket(self, player: Player, record: PlayRecord) -> None:
        state = self._state
        sock = player.socket
        if sock is not None:
            record.sent = state.clock()
            try:
                await sock.send(self._play_message(record))
            except ConnectionClosed:
                sock = None
        if sock is None:
            # The socket died under us: this play goes over REST instead, and the
            # player's reader turns it into a REST player once it notices.
            record.sent = None
            record.channel = "rest"
            await play_over_rest(state, self._rest, player, Job(record, send=True))
            return
        sent = record.sent
        assert sent is not None
        self._at(sent + state.result_timeout, lambda: self._expire(record))
        if record.duplicate and record.resend_due is not None:
            self._at(sent + record.resend_due, lambda: state.spawn(self._resend_on_socket(record)))

    def _expire(self, record: PlayRecord) -> None:
        """A socket play's deadline: without a result by now, it is lost. (A play that
        moved to REST has its deadline kept by its poller.)"""
        if record.done or record.channel != "ws":
            return
        now = self._state.clock()
        record.timed_out = True
        self._state.settle(record, now, ready_at=now + self._state.interval)

    async def _resend_on_socket(self, record: PlayRecord) -> None:
        state = self._state
        sock = self._players[record.player].socket
        skip = _resend_skip_reason(record)
        if skip is None and (sock is None or record.channel != "ws"):
            skip = "not resent: its socket closed"
        if skip is not None:
            state.close_resend(record, skip)
            return
        assert sock is not None
        resent = record.resent = state.clock()
        try:
            await sock.send(self._play_message(record))
        except ConnectionClosed:
            record.resent = None
            state.close_resend(record, "not resent: its socket closed")
            return
        self._at(
            resent + state.result_timeout,
            lambda: state.close_resend(record, "no answer to the resend"),
        )


def _resend_skip_reason(record: PlayRecord) -> str | None:
    """Resending a refused or unsent play would test nothing about idempotency."""
    if record.refused is not None:
        return f"not resent: the play was refused ({record.refused})"
    if record.send_error is not None:
        return "not resent: the play was never sent"
    return None
