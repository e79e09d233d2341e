"""What the scheduler and the player threads share, behind one lock.

A play is handed from the scheduler to a player and settled by whichever thread learns
its fate first (a push, a poll, a refusal or the deadline). Keeping that state and the
few steps that change it in one object makes the lock discipline visible: the plays,
the idle players, the run and the counters are changed with `lock` held, and `changed`
is signalled whenever a play settles or a planned resend is over, so the scheduler can
stop waiting. The game and its interval are set before a run hands out any play.
"""

from __future__ import annotations

import heapq
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from websockets.sync.client import ClientConnection

from frolic_tools.crowd.common import (
    DEFAULT_PLAY_INTERVAL,
    INTERVAL_MARGIN_SECONDS,
    RunState,
)
from frolic_tools.crowd.report import PlayRecord
from frolic_tools.local.client import LocalClient


@dataclass(eq=False)
class Player:
    """One simulated phone: its own token, and its socket (None for a REST player, and
    once the socket has died)."""

    index: int
    client: LocalClient
    socket: ClientConnection | None = None
    inbox: queue.SimpleQueue[Job | None] = field(default_factory=queue.SimpleQueue)
    thread: threading.Thread | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """A play handed to a REST player's thread."""

    record: PlayRecord
    send: bool  # False: the play is already sent (its socket died); only poll for it


class SharedState:
    """The crowd's plays and idle players, and the game being played."""

    def __init__(self, *, clock: Callable[[], float], result_timeout: float) -> None:
        self.clock = clock
        self.result_timeout = result_timeout
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        #: Set once by `Crowd.close`: every thread winds down when it sees it.
        self.closing = threading.Event()
        self.records: dict[str, PlayRecord] = {}
        self.idle: list[tuple[float, int]] = []  # (ready at, player index), a heap
        self.ready: list[int] = []
        self.run: RunState | None = None
        self.game_id = ""
        self.interval = DEFAULT_PLAY_INTERVAL
        self.sockets_lost = 0
        self.unexpected_messages = 0

    def settle(self, record: PlayRecord, now: float, *, ready_at: float) -> None:
        """The play is over for its player (answered, refused or past its deadline): the
        player may play again from `ready_at`. Caller holds the lock."""
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
        self.changed.notify_all()

    def close_resend(self, record: PlayRecord, answer: str) -> None:
        """The planned resend is over: answered, or `answer` says why not. Caller holds
        the lock."""
        if record.resend_answer is not None:
            return
        record.resend_answer = answer
        if self.run is not None:
            self.run.resends_open -= 1
        self.changed.notify_all()

    def next_play_at(self, record: PlayRecord, now: float) -> float:
        """The game's rule counts from the server's arrival stamp, which comes before the
        `queued` answer: so wait the interval (and a margin) from that answer."""
        since = record.acked if record.acked is not None else now
        return max(now, since + self.interval + INTERVAL_MARGIN_SECONDS)
