"""What the scheduler and the players share, on the crowd's one event loop.

A play is handed from the scheduler to a player and settled by whichever learns its
fate first (a push, a poll, a refusal or the deadline). Everything runs on one event
loop, so no lock guards this state: a step that changes it never awaits halfway.
`changed` is set whenever a play settles or a planned resend is over, so the scheduler
can stop waiting. The game and its interval are set before a run hands out any play.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection

from frolic_tools.crowd.common import (
    DEFAULT_PLAY_INTERVAL,
    INTERVAL_MARGIN_SECONDS,
    RunState,
)
from frolic_tools.crowd.report import PlayRecord


@dataclass(eq=False)
class Player:
    """One simulated phone: its own token, and its socket (None for a REST player, and
    once the socket has died)."""

    index: int
    token: str
    socket: ClientConnection | None = None
    #: Held while one of its plays goes over REST: a player's plays are played one at a
    #: time, in the order they were handed to it (an orphaned socket play first).
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True, slots=True)
class Job:
    """A play handed to a player over REST."""

    record: PlayRecord
    send: bool  # False: the play is already sent (its socket died); only poll for it


class SharedState:
    """The crowd's plays and idle players, the game being played, and the tasks that
    play them."""

    def __init__(self, *, clock: Callable[[], float], result_timeout: float) -> None:
        self.clock = clock
        self.result_timeout = result_timeout
        #: Set once by `Crowd.close`: a socket that ends after it was not lost.
        self.closing = False
        self.changed = asyncio.Event()
        self.records: dict[str, PlayRecord] = {}
        self.idle: list[tuple[float, int]] = []  # (ready at, player index), a heap
        self.ready: list[int] = []
        self.run: RunState | None = None
        self.game_id = ""
        self.interval = DEFAULT_PLAY_INTERVAL
        self.sockets_lost = 0
        self.unexpected_messages = 0
        #: The players' tasks (socket readers, REST plays, socket sends), kept until done.
        self.tasks: set[asyncio.Task[None]] = set()
        #: The first task that failed unexpectedly: the run stops waiting and raises it,
        #: rather than wait for a play that task would never settle.
        self.failure: BaseException | None = None

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` as a task of its own, watched for an unexpected failure."""
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if task.cancelled() or self.failure is not None:
            return
        failure = task.exception()
        if failure is not None:
            self.failure = failure
            self.changed.set()

    def settle(self, record: PlayRecord, now: float, *, ready_at: float) -> None:
        """The play is over for its player (answered, refused or past its deadline): the
        player may play again from `ready_at`."""
        if record.done:
            return
        record.done = True
        heapq.heappush(self.idle, (ready_at, record.player))
        run = self.run
        if run is not None:
            run.outstanding -= 1
            latency = record.latency
            if latency is not None:
                run.latencies.append(latency)
        self.changed.set()

    def close_resend(self, record: PlayRecord, answer: str) -> None:
        """The planned resend is over: answered, or `answer` says why not."""
        if record.resend_answer is not None:
            return
        record.resend_answer = answer
        if self.run is not None:
            self.run.resends_open -= 1
        self.changed.set()

    def next_play_at(self, record: PlayRecord, now: float) -> float:
        """The game's rule counts from the server's arrival stamp, which comes before the
        `queued` answer: so wait the interval (and a margin) from that answer."""
        since = record.acked if record.acked is not None else now
        return max(now, since + self.interval + INTERVAL_MARGIN_SECONDS)
