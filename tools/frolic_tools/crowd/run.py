"""The crowd itself: players opened once (tokens, tickets, sockets), then schedules run
on them, each ending in a `CrowdReport`.

Everything a player does happens on one asyncio event loop, in a thread of its own
(`loop.LoopThread`): a socket or a REST play in flight is a task, an idle player is a
few objects, so a crowd of tens of thousands costs no thread per player. `Crowd`'s
methods stay blocking: each hands its work to the loop and waits.

`Crowd.run` is the conductor: it starts the watchers (`watch`), lets the `Scheduler` send
the arrivals and wait for every play to settle, checks the resent plays and builds the
report. The players' tasks (`players`) share the plays through one `SharedState`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import resource
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Self, TypeVar

from websockets.asyncio.client import ClientConnection

from frolic_tools.crowd.api import dev_token, open_player_socket, player_token, read_game
from frolic_tools.crowd.common import (
    DEFAULT_PLAY_INTERVAL,
    RESULT_TIMEOUT_SECONDS,
    SETUP_CONCURRENCY,
    CrowdError,
    GameInfo,
    Progress,
    RunState,
    Schedule,
    check_api_url,
    default_ws_url,
)
from frolic_tools.crowd.loop import LoopThread
from frolic_tools.crowd.players import read_socket
from frolic_tools.crowd.report import CrowdReport
from frolic_tools.crowd.rest import RestClient
from frolic_tools.crowd.scheduler import Scheduler
from frolic_tools.crowd.state import Player, SharedState
from frolic_tools.crowd.watch import sample, verify_duplicates, watch
from frolic_tools.local.client import LocalClient

T = TypeVar("T")
#: Open files a crowd needs besides its sockets: the set-up calls' connections, REST
#: polls in flight, the interpreter's own.
SPARE_DESCRIPTORS = 256


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
        self._http_timeout = http_timeout
        # The admin's blocking calls; the players' go through `_rest` on the loop.
        self._base = LocalClient(self.api, timeout=http_timeout)
        self._admin = self._base.with_token(admin_token) if admin_token else None
        self._clock = clock
        self._tag = uuid.uuid4().hex[:10]
        self._state = SharedState(clock=clock, result_timeout=result_timeout)
        self._players: list[Player] = []
        self._ids = itertools.count(1)
        self._loop: LoopThread | None = None
        self._rest: RestClient | None = None

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
        if self._loop is not None:
            return self
        _ensure_descriptors(self.ws_players + SPARE_DESCRIPTORS)
        self._loop = LoopThread("crowd-loop")
        try:
            self._loop.run(self._open())
        except BaseException:
            self.close()
            raise
        return self

    async def _open(self) -> None:
        rest = self._rest = RestClient(self.api, timeout=self._http_timeout)
        tokens = self._tokens or await _all_of(
            [partial(player_token, rest, f"crowd-{self._tag}-{i:05d}") for i in range(self.players)]
        )
        self._players = [Player(i, tokens[i]) for i in range(self.players)]

        async def connect(player: Player) -> None:
            # Kept on the player at once: if another socket fails, `_close` closes it.
            player.socket = await open_player_socket(rest, player.token, self.ws_url)

        await _all_of([partial(connect, p) for p in self._players[: self.ws_players]])
        for player in self._players:
            if player.socket is not None:
                self._state.spawn(read_socket(self._state, rest, player))
        now = self._clock()
        self._state.idle = [(now, p.index) for p in self._players]
        heapq.heapify(self._state.idle)

    def close(self) -> None:
        """Close every socket (each with its closing handshake) and end the players'
        tasks and the crowd's event loop."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            loop.run(self._close())
        finally:
            loop.stop()

    async def _close(self) -> None:
        state = self._state
        state.closing = True
        sockets: list[ClientConnection] = [p.socket for p in self._players if p.socket]
        await asyncio.gather(*(sock.close() for sock in sockets))
        for task in state.tasks:
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        if self._rest is not None:
            await self._rest.aclose()

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
        if self._loop is None or not self._players:
            raise RuntimeError("open the crowd first")
        if schedule.rate <= 0 or schedule.duration <= 0:
            raise CrowdError("--rate and --duration must be positive")
        return self._loop.run(self._run(game_id, schedule, game, progress, abort))

    async def _run(
        self,
        game_id: str,
        schedule: Schedule,
        game: GameInfo | None,
        progress: Callable[[Progress], None] | None,
        abort: Callable[[Progress], str | None] | None,
    ) -> CrowdReport:
        state, rest = self._state, self._rest
        assert rest is not None
        state.game_id = game_id
        state.interval = (
            game.min_seconds_between_plays if game is not None else DEFAULT_PLAY_INTERVAL
        )
        rng = random.Random(schedule.seed)
        run = state.run = RunState(schedule, started=self._clock())
        stop_watchers = asyncio.Event()
        watchers = [
            asyncio.create_task(
                watch(state, run, stop_watchers, progress=progress, abort=abort, game=game)
            )
        ]
        if game is not None and self._admin is not None and self._admin.token is not None:
            watchers.append(
                asyncio.create_task(
                    sample(state, run, stop_watchers, game, rest=rest, admin=self._admin.token)
                )
            )
        scheduler = Scheduler(state, self._players, run, rng, rest, tag=self._tag, ids=self._ids)
        try:
            await scheduler.arrivals()
            sending_seconds = self._clock() - run.started
            await scheduler.drain()
        finally:
            scheduler.cancel_timers()
            stop_watchers.set()
            await asyncio.gather(*watchers)
        elapsed = self._clock() - run.started
        await verify_duplicates(run, self._players, rest)
        return self._report(run, game, elapsed, sending_seconds)

    def _report(
        self, run: RunState, game: GameInfo | None, elapsed: float, sending_seconds: float
    ) -> CrowdReport:
        schedule = run.schedule
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


def _ensure_descriptors(needed: int) -> None:
    """Raise the process's soft limit on open files as far as `needed` allows (up to its
    hard limit); a CrowdError, before any set-up call, when even that is too few."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if needed <= soft:
        return
    if hard != resource.RLIM_INFINITY and needed > hard:
        raise CrowdError(
            f"{needed:,} open files are needed (a socket per WebSocket player), this "
            f"process may open {hard:,}: lower --players or --ws-share, or raise the "
            "hard limit (ulimit -Hn)"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


async def _all_of(works: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Every work's result, `SETUP_CONCURRENCY` at a time (the gateway serves set-up
    calls one invocation at a time anyway); the first failure cancels the rest and is
    raised as itself (a CrowdError, as a rule)."""
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def gated(work: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await work()

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(gated(work)) for work in works]
    except BaseExceptionGroup as failed:
        raise _first(failed) from None
    return [task.result() for task in tasks]


def _first(failed: BaseExceptionGroup[BaseException]) -> BaseException:
    first = failed.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first
