"""The scheduler: the caller's thread while a schedule runs.

It draws the Poisson arrivals and hands each to an idle player, sending socket plays
itself (a small frame on a loopback or LAN socket, so it does not hold the schedule
up); it sends the socket resends when they fall due, and counts socket plays past their
deadline as lost. REST plays are the players' threads' own business (`players`), deadline
included. One `Scheduler` serves one run: it owns that run's queues of socket plays.
"""

from __future__ import annotations

import heapq
import json
import random
from collections import deque
from collections.abc import Iterator, Sequence

from websockets.exceptions import ConnectionClosed

from frolic_tools.crowd.common import RESEND_DELAY_SECONDS, TICK_SECONDS, RunState
from frolic_tools.crowd.report import PlayRecord
from frolic_tools.crowd.state import Job, Player, SharedState


class Scheduler:
    """Arrivals, socket resends and socket deadlines for one run."""

    def __init__(
        self,
        state: SharedState,
        players: Sequence[Player],
        run: RunState,
        rng: random.Random,
        *,
        tag: str,
        ids: Iterator[int],
    ) -> None:
        self._state = state
        self._players = players
        self._run = run
        self._rng = rng
        self._tag = tag
        #: The crowd's counter, kept across runs: play ids stay unique in its lifetime.
        self._ids = ids
        #: Socket plays, in the order they were sent (so their deadlines come in order).
        self._inflight: deque[PlayRecord] = deque()
        #: Socket resends not sent yet: (due, tie-breaker, play), a heap.
        self._resends: list[tuple[float, int, PlayRecord]] = []

    def arrivals(self) -> None:
        """The Poisson arrivals, by thinning a process at the peak rate: exact across the
        end of the rush, with no special case for it."""
        run, rng, clock = self._run, self._rng, self._state.clock
        schedule = run.schedule
        peak = schedule.peak_rate
        offset = rng.expovariate(peak)
        while offset < schedule.duration and run.stop_reason is None:
            accepted = rng.random() < schedule.rate_at(offset) / peak
            due = run.started + offset
            while (now := clock()) < due:
                self._service(now)
                if self._state.closing.wait(min(TICK_SECONDS, max(0.0, due - clock()))):
                    return
            if accepted:
                self._arrive(clock())
            offset += rng.expovariate(peak)
        with self._state.lock:
            run.arrivals_done = True

    def drain(self) -> None:
        """Wait for every play sent to settle (result, refusal or deadline) and every
        planned resend to go out."""
        run = self._run
        while True:
            now = self._state.clock()
            self._service(now)
            with self._state.changed:
                if run.outstanding == 0 and run.resends_open == 0 and not self._resends:
                    return
                self._state.changed.wait(TICK_SECONDS)

    def _service(self, now: float) -> None:
        """Send due socket resends; count socket plays past their deadline as lost."""
        state, inflight, resends = self._state, self._inflight, self._resends
        while resends and resends[0][0] <= now:
            _, _, record = heapq.heappop(resends)
            self._resend_on_socket(record)
        with state.lock:
            waiting = self._run.resent_on_sockets
            while waiting and (
                waiting[0].resend_answer is not None
                or now >= (waiting[0].resent or now) + state.result_timeout
            ):
                state.close_resend(waiting.popleft(), "no answer to the resend")
            while inflight and (inflight[0].done or inflight[0].channel != "ws"):
                inflight.popleft()
            while inflight:
                head = inflight[0]
                if head.sent is None or now < head.sent + state.result_timeout:
                    break
                inflight.popleft()
                if not head.done:
                    head.timed_out = True
                    state.settle(head, now, ready_at=now + state.interval)

    def _arrive(self, now: float) -> None:
        """One arrival: a play for a random idle player, or a skip when none is idle."""
        state, run, rng = self._state, self._run, self._rng
        with state.lock:
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
            sock = player.socket
        if sock is None:
            player.inbox.put(Job(record, send=True))
            return
        message = json.dumps({"action": "play", "playId": record.play_id, "gameId": state.game_id})
        with state.lock:
            record.sent = state.clock()
        try:
            sock.send(message)
        except ConnectionClosed:
            # The socket died under us: this play goes over REST instead, and the
            # player's reader turns into a REST player once it notices.
            with state.lock:
                record.sent = None
                record.channel = "rest"
            player.inbox.put(Job(record, send=True))
            return
        with state.lock:
            self._inflight.append(record)
            if record.duplicate and record.resend_due is not None and record.sent is not None:
                due = record.sent + record.resend_due
                heapq.heappush(self._resends, (due, next(self._ids), record))

    def _resend_on_socket(self, record: PlayRecord) -> None:
        state = self._state
        sock = self._players[record.player].socket
        with state.lock:
            skip = _resend_skip_reason(record)
            if skip is None and (sock is None or record.channel != "ws"):
                skip = "not resent: its socket closed"
            if skip is not None:
                state.close_resend(record, skip)
                return
            record.resent = state.clock()
        assert sock is not None
        message = json.dumps({"action": "play", "playId": record.play_id, "gameId": state.game_id})
        try:
            sock.send(message)
        except ConnectionClosed:
            with state.lock:
                record.resent = None
                state.close_resend(record, "not resent: its socket closed")
            return
        with state.lock:
            self._run.resent_on_sockets.append(record)


def _resend_skip_reason(record: PlayRecord) -> str | None:
    """Resending a refused or unsent play would test nothing about idempotency."""
    if record.refused is not None:
        return f"not resent: the play was refused ({record.refused})"
    if record.send_error is not None:
        return "not resent: the play was never sent"
    return None
