"""The crowd itself: players opened once (tokens, tickets, sockets, one thread each),
then schedules run on them, each ending in a `CrowdReport`.

`Crowd.run` is the conductor: it starts the watchers (`watch`), lets the `Scheduler` send
the arrivals and wait for every play to settle, checks the resent plays and builds the
report. The players' threads (`players`) share the plays through one `SharedState`.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Self

from frolic_tools.crowd.api import dev_token, open_player_socket, read_game
from frolic_tools.crowd.common import (
    DEFAULT_PLAY_INTERVAL,
    RESULT_TIMEOUT_SECONDS,
    SETUP_WORKERS,
    CrowdError,
    GameInfo,
    Progress,
    RunState,
    Schedule,
    check_api_url,
    default_ws_url,
)
from frolic_tools.crowd.players import read_socket, rest_loop
from frolic_tools.crowd.report import CrowdReport
from frolic_tools.crowd.scheduler import Scheduler
from frolic_tools.crowd.state import Player, SharedState
from frolic_tools.crowd.watch import sample, verify_duplicates, watch
from frolic_tools.local.client import LocalClient


class Crowd:
    """A population of players on one API: `open()`, `run(game, schedule)` as often as
    needed (players, tokens and sockets are kept between runs), `close()`."""

    def __init__(
        self,
        api: str,
        *,
        players: int,
        ws_share: float = 0.8,
        tokens: Sequence[str] | None = None,
        admin_token: str | None = None,
        ws_url: str | None = None,
        result_timeout: float = RESULT_TIMEOUT_SECONDS,
        http_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if players < 1:
            raise CrowdError("a crowd needs at least one player")
        if not 0.0 <= ws_share <= 1.0:
            raise CrowdError("--ws-share must be between 0 and 1")
        if tokens is not None and len(tokens) < players:
            raise CrowdError(f"{players} players need {players} tokens, got {len(tokens)}")
        self.api = check_api_url(api)
        self.ws_url = ws_url or default_ws_url(self.api)
        self.players = players
        self.ws_players = round(players * ws_share)
        self._tokens = list(tokens) if tokens is not None else None
        # A kept-alive connection for every thread that may call at once.
        self._base = LocalClient(self.api, timeout=http_timeout, pool_size=players + SETUP_WORKERS)
        self._admin = self._base.with_token(admin_token) if admin_token else None
        self._clock = clock
        self._tag = uuid.uuid4().hex[:10]
        self._state = SharedState(clock=clock, result_timeout=result_timeout)
        self._players: list[Player] = []
        self._ids = itertools.count(1)

    @property
    def result_timeout(self) -> float:
        """How long a play may go without a final result before it counts as lost."""
        return self._state.result_timeout

    @property
    def sockets_lost(self) -> int:
        """Sockets that died while the crowd was open (their players went on over REST)."""
        return self._state.sockets_lost

    @property
    def unexpected_messages(self) -> int:
        """Socket messages that named no play of this crowd, or were not understood."""
        return self._state.unexpected_messages

    # -- setting up -----------------------------------------------------------------------

    @property
    def admin(self) -> LocalClient | None:
        """The admin client (with --admin-token, or from the dev issuer), if any."""
        return self._admin

    def issue_admin_token(self) -> None:
        """An admin token from the local dev issuer, for the game check and progress."""
        token = dev_token(self._base, self.api, f"crowd-{self._tag}-admin", True)
        self._admin = self._base.with_token(token)

    def game_info(self, game_id: str) -> GameInfo | None:
        """The game as the admin API has it, or None without an admin token. CrowdError
        when there is no such game."""
        if self._admin is None:
            return None
        return read_game(self._admin, self.api, game_id)

    def open(self) -> Self:
        """Tokens for every player, then a ticket and a socket for the WebSocket share."""
        tokens = self._tokens or [
            dev_token(self._base, self.api, f"crowd-{self._tag}-{i:05d}")
            for i in range(self.players)
        ]
        self._players = [Player(i, self._base.with_token(tokens[i])) for i in range(self.players)]
        with ThreadPoolExecutor(SETUP_WORKERS, thread_name_prefix="crowd-setup") as pool:
            futures = [
                pool.submit(open_player_socket, p.client, self.api, self.ws_url)
                for p in self._players[: self.ws_players]
            ]
        opened = [f.result() for f in futures if f.exception() is None]
        failed = next((f.exception() for f in futures if f.exception() is not None), None)
        if failed is not None:
            for sock in opened:
                sock.close()
            raise failed
        for player, sock in zip(self._players, opened, strict=False):
            player.socket = sock
        for player in self._players:
            target = read_socket if player.socket is not None else rest_loop
            player.thread = threading.Thread(
                target=target,
                args=(self._state, player),
                name=f"crowd-player-{player.index}",
                daemon=True,
            )
            player.thread.start()
        now = self._clock()
        self._state.idle = [(now, p.index) for p in self._players]
        heapq.heapify(self._state.idle)
        return self

    def close(self) -> None:
        """Close every socket (each reader does its own closing handshake) and end the
        players' threads."""
        self._state.closing.set()
        for player in self._players:
            player.inbox.put(None)
        for player in self._players:
            if player.thread is not None:
                player.thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- running a schedule ---------------------------------------------------------------

    def run(
        self,
        game_id: str,
        schedule: Schedule,
        *,
        game: GameInfo | None = None,
        progress: Callable[[Progress], None] | None = None,
        abort: Callable[[Progress], str | None] | None = None,
    ) -> CrowdReport:
        """Send plays on `schedule` and wait until each is settled; `abort` may end the
        arrivals early by naming a reason (the plays already sent are still awaited)."""
        if not self._players:
            raise RuntimeError("open the crowd first")
        if schedule.rate <= 0 or schedule.duration <= 0:
            raise CrowdError("--rate and --duration must be positive")
        state = self._state
        state.game_id = game_id
        state.interval = (
            game.min_seconds_between_plays if game is not None else DEFAULT_PLAY_INTERVAL
        )
        rng = random.Random(schedule.seed)
        run = RunState(schedule, started=self._clock())
        with state.lock:
            state.run = run
        stop_watchers = threading.Event()
        watchers = [
            threading.Thread(
                target=watch,
                args=(state, run, stop_watchers),
                kwargs={"progress": progress, "abort": abort, "game": game},
                name="crowd-progress",
                daemon=True,
            )
        ]
        if game is not None and self._admin is not None:
            watchers.append(
                threading.Thread(
                    target=sample,
                    args=(state, run, stop_watchers, game, self._admin),
                    name="crowd-admin-report",
                    daemon=True,
                )
            )
        for watcher in watchers:
            watcher.start()
        scheduler = Scheduler(state, self._players, run, rng, tag=self._tag, ids=self._ids)
        try:
            scheduler.arrivals()
            sending_seconds = self._clock() - run.started
            scheduler.drain()
        finally:
            stop_watchers.set()
            for watcher in watchers:
                watcher.join(timeout=15)
        elapsed = self._clock() - run.started
        verify_duplicates(run, self._players)
        return self._report(run, game, elapsed, sending_seconds)

    def _report(
        self, run: RunState, game: GameInfo | None, elapsed: float, sending_seconds: float
    ) -> CrowdReport:
        schedule = run.schedule
        with self._state.lock:
            self._state.run = None
            records = list(run.records)
        issued_final = run.samples[-1].issued if run.samples else None
        curve: list[tuple[float, float]] = []
        if game is not None:
            steps = 120
            curve = [
                (game.duration * i / steps, game.scheduled(game.start + game.duration * i / steps))
                for i in range(steps + 1)
            ]
        return CrowdReport(
            api=self.api,
            game_id=self._state.game_id,
            players=self.players,
            ws_players=self.ws_players,
            rate=schedule.rate,
            duration=schedule.duration,
            rush_multiplier=schedule.rush_multiplier,
            rush_seconds=schedule.rush_seconds,
            seed=schedule.seed,
            plays=records,
            arrivals=run.arrivals,
            skipped_no_idle=run.skipped,
            elapsed=elapsed,
            sending_seconds=sending_seconds,
            stopped_early=run.stop_reason,
            sockets_lost=self.sockets_lost,
            unexpected_messages=self.unexpected_messages,
            samples=list(run.samples),
            schedule=curve,
            report_curve=list(run.report_curve),
            budget_total=game.budget_total if game is not None else None,
            issued_final=issued_final,
        )
