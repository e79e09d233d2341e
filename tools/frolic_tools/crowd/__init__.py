"""`frolic crowd`: simulated players spinning one game over the real API.

Why a crowd and not a loop of requests: Frolic's promises (every player answered before
the reel stops, one result per play, paced coupons) are about many players at once, on
two channels, under a rush. So each simulated player is what a phone would be: a token,
a WebSocket ticket and an open socket (or, for the REST share, `POST /plays` and polling
`GET /plays/{playId}`), playing again only after its previous result and the game's
one-play-per-interval rule, and sometimes resending a play the way a flaky client does.

Plays arrive as a Poisson process (faster during an opening rush), each given to an idle
player. An arrival that finds no idle player is counted, never dropped quietly; so is a
play that gets no final result within reel + grace + margin (20 s). The figures go to
`frolic_tools.crowd.report.CrowdReport`.

Threads: one per player. A WebSocket player's thread reads its socket (results are
pushed to it); a REST player's thread sends and polls. The caller's thread runs the
arrival schedule and sends socket plays itself (a small frame on a loopback or LAN
socket, so it does not hold the schedule up). A progress thread and an admin-report
sampler run only while a schedule runs. Everything is bounded by the number of players:
a player has at most one play in flight.

`run_demo` is `make demo`: a local stack, a campaign made over the admin API, a crowd
for the game's whole window, the report, and `reconcile` on the tables.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import queue
import random
import secrets
import socket
import ssl
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, TextIO
from urllib.parse import quote, urlsplit, urlunsplit

from frolic.pacing.schedule import ReleaseSchedule
from frolic_tools.crowd.report import (
    FINAL_STATUSES,
    CrowdReport,
    IssuedSample,
    PlayRecord,
    percentile,
)
from frolic_tools.local.client import LocalClient, Reply
from frolic_tools.local.websocket_protocol import (
    MAX_HANDSHAKE_BYTES,
    ConnectionClosedError,
    HandshakeRefusedError,
    ProtocolError,
    WebSocketClient,
    check_server_handshake,
    client_handshake_request,
    connect,
    new_key,
    parse_response_head,
)

#: The reel spins this long; the expiry watcher allows the grace on top; the crowd waits
#: a margin more before it calls a play lost (README: "answers every player before the
#: reel stops", ARCHITECTURE invariant 4).
REEL_SECONDS: Final = 10.0
GRACE_SECONDS: Final = 5.0
MARGIN_SECONDS: Final = 5.0
RESULT_TIMEOUT_SECONDS: Final = REEL_SECONDS + GRACE_SECONDS + MARGIN_SECONDS
#: The game's rule when it cannot be read (no admin token): one play per 10 s per player.
DEFAULT_PLAY_INTERVAL: Final = 10.0
#: Measured from the `queued` answer, which comes after the server stamped the play's
#: arrival: waiting this much longer keeps clock jitter from tripping the rule (429).
INTERVAL_MARGIN_SECONDS: Final = 0.25
DUPLICATE_SHARE: Final = 0.02
RESEND_DELAY_SECONDS: Final = (0.05, 1.5)
#: REST players poll briskly while a result is expected, then back off like an app would.
POLL_FAST_SECONDS: Final = 0.2
POLL_FAST_FOR_SECONDS: Final = 3.0
POLL_SLOW_SECONDS: Final = 1.0
PROGRESS_SECONDS: Final = 1.0
SAMPLE_SECONDS: Final = 2.0
#: Tickets and sockets are opened by this many threads: the gateway serves them one
#: invocation at a time anyway, so more would only queue.
SETUP_WORKERS: Final = 8
SOCKET_READ_SECONDS: Final = 0.5
#: The scheduler wakes at least this often to notice plays past their deadline.
TICK_SECONDS: Final = 0.1


class CrowdError(Exception):
    """The crowd cannot start (bad URL, unknown game, no tokens); one line."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """How plays arrive: Poisson at `rate`/s, `rush_multiplier` times that for the first
    `rush_seconds`; `duplicate_share` of them are resent with the same playId."""

    rate: float
    duration: float
    rush_multiplier: float = 1.0
    rush_seconds: float = 0.0
    duplicate_share: float = DUPLICATE_SHARE
    seed: int | None = None

    def rate_at(self, elapsed: float) -> float:
        return self.rate * (self.rush_multiplier if elapsed < self.rush_seconds else 1.0)

    @property
    def peak_rate(self) -> float:
        return self.rate * max(1.0, self.rush_multiplier if self.rush_seconds > 0 else 1.0)


@dataclass(frozen=True, slots=True)
class GameInfo:
    """What the admin API says of the game: its window and its rules."""

    game_id: str
    status: str
    start: float  # epoch seconds
    end: float
    min_seconds_between_plays: float
    release_curve: tuple[float, ...] | None
    budget_total: int

    @property
    def duration(self) -> float:
        return self.end - self.start

    def scheduled(self, epoch: float) -> float:
        """Coupons the release schedule allows by `epoch` (all brands)."""
        schedule = ReleaseSchedule(self.duration, self.release_curve)
        return self.budget_total * schedule.fraction(epoch - self.start)


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot for the live display, taken every second while plays arrive."""

    elapsed: float
    sent: int
    answered: int
    won: int
    pending: int
    skipped: int
    no_result: int
    p50: float | None
    p99: float | None
    issued: int | None
    scheduled: float | None
    #: Age of the oldest play sent and not settled yet: a backlog shows here first,
    #: before any slow result is in to move the percentiles.
    oldest_pending: float = 0.0

    def line(self) -> str:
        def s(value: float | None) -> str:
            return "-" if value is None else f"{value:.2f}s"

        text = (
            f"{self.elapsed:5.0f}s  sent {self.sent:,}  answered {self.answered:,}  "
            f"won {self.won:,}  pending {self.pending:,}  skipped {self.skipped:,}  "
            f"no result {self.no_result:,}  p50 {s(self.p50)}  p99 {s(self.p99)}"
        )
        if self.issued is not None and self.scheduled is not None:
            text += f"  issued {self.issued:,} / schedule {self.scheduled:.0f}"
        return text


@dataclass(eq=False)
class _Player:
    index: int
    client: LocalClient
    socket: WebSocketClient | None = None
    inbox: queue.SimpleQueue[_Job | None] = field(default_factory=queue.SimpleQueue)
    thread: threading.Thread | None = None


@dataclass(frozen=True, slots=True)
class _Job:
    record: PlayRecord
    send: bool  # False: the play is already sent (its socket died); only poll for it


@dataclass
class _Run:
    """The state of one schedule being run; guarded by the crowd's lock."""

    schedule: Schedule
    started: float
    records: list[PlayRecord] = field(default_factory=list)
    outstanding: int = 0
    arrivals: int = 0
    skipped: int = 0
    latencies: list[float] = field(default_factory=list)
    samples: list[IssuedSample] = field(default_factory=list)
    latest_issued: int | None = None
    #: The admin report's per-minute curve, as last read.
    report_curve: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    arrivals_done: bool = False
    #: Resends planned whose answer (or the reason there is none) is not in yet.
    resends_open: int = 0
    #: Socket resends sent, waiting for their answer, in the order they went out.
    resent_on_sockets: deque[PlayRecord] = field(default_factory=deque)


def read_tokens(path: Path) -> list[str]:
    """One JWT per line; blank lines and `#` comments are skipped."""
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise CrowdError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise CrowdError(f"{path} is not text") from None
    tokens = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not tokens:
        raise CrowdError(f"{path} holds no tokens")
    return tokens


def check_api_url(url: str) -> str:
    """An http(s) URL with a host, without a trailing slash."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CrowdError(f"--api must be an http:// or https:// URL, got {url!r}")
    return url.rstrip("/")


def default_ws_url(api: str) -> str:
    """The local gateway serves the WebSocket API at /ws on the REST API's host."""
    parts = urlsplit(api)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, "/ws", "", ""))


def _brief(error: BaseException) -> str:
    text = str(getattr(error, "reason", None) or error) or type(error).__name__
    return text.splitlines()[0][:200]


def _error_code(reply: Reply) -> str:
    try:
        body = reply.json()
    except ValueError:
        body = None
    code = body.get("error") if isinstance(body, dict) else None
    return str(code) if code else f"http_{reply.status}"


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
        self.result_timeout = result_timeout
        self._tokens = list(tokens) if tokens is not None else None
        self._base = LocalClient(self.api, timeout=http_timeout)
        self._admin = self._base.with_token(admin_token) if admin_token else None
        self._clock = clock
        self._tag = uuid.uuid4().hex[:10]
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._closing = threading.Event()
        self._players: list[_Player] = []
        self._records: dict[str, PlayRecord] = {}
        self._idle: list[tuple[float, int]] = []  # (ready at, player index), a heap
        self._ready: list[int] = []
        self._run: _Run | None = None
        self._game_id = ""
        self._interval = DEFAULT_PLAY_INTERVAL
        self._ids = itertools.count(1)
        self.sockets_lost = 0
        self.unexpected_messages = 0

    # -- setting up -----------------------------------------------------------------------

    @property
    def admin(self) -> LocalClient | None:
        """The admin client (with --admin-token, or from the dev issuer), if any."""
        return self._admin

    def _call(self, client: LocalClient, method: str, path: str, body: Any = None) -> Reply:
        """A request whose transport failure is the crowd's one-line error."""
        try:
            if body is None:
                return client.request(method, path)
            return client.request(method, path, body=body)
        except OSError as error:
            raise CrowdError(f"cannot reach {self.api}: {_brief(error)}") from None

    def issue_admin_token(self) -> None:
        """An admin token from the local dev issuer, for the game check and progress."""
        self._admin = self._base.with_token(self._dev_token(f"crowd-{self._tag}-admin", True))

    def _dev_token(self, user_id: str, admin: bool = False) -> str:
        reply = self._call(self._base, "POST", "/dev/token", {"userId": user_id, "admin": admin})
        if reply.status == 404:
            raise CrowdError(
                f"{self.api} has no dev token route (POST /dev/token): "
                "for a deployed stack pass --tokens FILE"
            )
        if reply.status != 200:
            raise CrowdError(f"POST /dev/token: {reply.status} {_error_code(reply)}")
        try:
            token = reply.json()["token"]
        except (ValueError, KeyError, TypeError):
            raise CrowdError(f"{self.api} does not look like a Frolic API") from None
        return str(token)

    def game_info(self, game_id: str) -> GameInfo | None:
        """The game as the admin API has it, or None without an admin token. CrowdError
        when there is no such game."""
        if self._admin is None:
            return None
        path = f"/admin/games/{quote(game_id, safe='')}"
        reply = self._call(self._admin, "GET", path)
        if reply.status == 404:
            raise CrowdError(f"there is no game {game_id!r} at {self.api}")
        if reply.status != 200:
            raise CrowdError(f"GET {path}: {reply.status} {_error_code(reply)}")
        report = self._call(self._admin, "GET", f"{path}/report")
        try:
            game = reply.json()
            config = game.get("config") or {}
            brands = report.json()["brands"] if report.status == 200 else []
            curve = config.get("releaseCurve")
            return GameInfo(
                game_id=game_id,
                status=str(game["status"]),
                start=datetime.fromisoformat(game["startTime"]).timestamp(),
                end=datetime.fromisoformat(game["endTime"]).timestamp(),
                min_seconds_between_plays=float(
                    config.get("minSecondsBetweenPlays", DEFAULT_PLAY_INTERVAL)
                ),
                release_curve=tuple(float(w) for w in curve) if curve else None,
                budget_total=sum(int(b["budget"]) for b in brands),
            )
        except (ValueError, KeyError, TypeError):
            raise CrowdError(f"{self.api} answered GET {path} with an unexpected body") from None

    def open(self) -> Self:
        """Tokens for every player, then a ticket and a socket for the WebSocket share."""
        tokens = self._tokens or [
            self._dev_token(f"crowd-{self._tag}-{i:05d}") for i in range(self.players)
        ]
        self._players = [_Player(i, self._base.with_token(tokens[i])) for i in range(self.players)]
        with ThreadPoolExecutor(SETUP_WORKERS, thread_name_prefix="crowd-setup") as pool:
            futures = [pool.submit(self._open_socket, p) for p in self._players[: self.ws_players]]
        opened = [f.result() for f in futures if f.exception() is None]
        failed = next((f.exception() for f in futures if f.exception() is not None), None)
        if failed is not None:
            for sock in opened:
                with contextlib.suppress(OSError, ConnectionClosedError, ProtocolError):
                    sock.close(timeout=0.5)
            raise failed
        for player, sock in zip(self._players, opened, strict=False):
            player.socket = sock
        for player in self._players:
            target = self._read_socket if player.socket is not None else self._rest_loop
            player.thread = threading.Thread(
                target=target, args=(player,), name=f"crowd-player-{player.index}", daemon=True
            )
            player.thread.start()
        now = self._clock()
        self._idle = [(now, p.index) for p in self._players]
        heapq.heapify(self._idle)
        return self

    def _open_socket(self, player: _Player) -> WebSocketClient:
        reply = self._call(player.client, "POST", "/ws-ticket")
        if reply.status != 200:
            raise CrowdError(f"POST /ws-ticket: {reply.status} {_error_code(reply)}")
        try:
            ticket = str(reply.json()["ticket"])
        except (ValueError, KeyError, TypeError):
            raise CrowdError("POST /ws-ticket answered without a ticket") from None
        url = f"{self.ws_url}?ticket={quote(ticket, safe='')}"
        try:
            return open_websocket(url)
        except HandshakeRefusedError as error:
            raise CrowdError(f"{self.ws_url} refused the socket: {error.status}") from None
        except (OSError, ProtocolError, ConnectionClosedError, ValueError) as error:
            raise CrowdError(f"cannot open a socket at {self.ws_url}: {_brief(error)}") from None

    def close(self) -> None:
        """Close every socket (each reader does its own closing handshake) and end the
        players' threads."""
        self._closing.set()
        for player in self._players:
            player.inbox.put(None)
        for player in self._players:
            if player.thread is not None:
                player.thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
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
        self._game_id = game_id
        self._interval = (
            game.min_seconds_between_plays if game is not None else DEFAULT_PLAY_INTERVAL
        )
        rng = random.Random(schedule.seed)
        run = _Run(schedule, started=self._clock())
        with self._lock:
            self._run = run
        stop_watchers = threading.Event()
        watchers = [
            threading.Thread(
                target=self._watch,
                args=(run, stop_watchers, progress, abort, game),
                name="crowd-progress",
                daemon=True,
            )
        ]
        if game is not None and self._admin is not None:
            watchers.append(
                threading.Thread(
                    target=self._sample,
                    args=(run, stop_watchers, game),
                    name="crowd-admin-report",
                    daemon=True,
                )
            )
        for watcher in watchers:
            watcher.start()
        inflight: deque[PlayRecord] = deque()  # socket plays, in the order they were sent
        resends: list[tuple[float, int, PlayRecord]] = []
        try:
            self._arrivals(run, rng, inflight, resends)
            sending_seconds = self._clock() - run.started
            self._drain(run, inflight, resends)
        finally:
            stop_watchers.set()
            for watcher in watchers:
                watcher.join(timeout=15)
        elapsed = self._clock() - run.started
        self._verify_duplicates(run)
        return self._report(run, game, elapsed, sending_seconds)

    def _arrivals(
        self,
        run: _Run,
        rng: random.Random,
        inflight: deque[PlayRecord],
        resends: list[tuple[float, int, PlayRecord]],
    ) -> None:
        """The Poisson arrivals, by thinning a process at the peak rate: exact across the
        end of the rush, with no special case for it."""
        schedule = run.schedule
        peak = schedule.peak_rate
        offset = rng.expovariate(peak)
        while offset < schedule.duration and run.stop_reason is None:
            accepted = rng.random() < schedule.rate_at(offset) / peak
            due = run.started + offset
            while (now := self._clock()) < due:
                self._service(run, inflight, resends, now)
                if self._closing.wait(min(TICK_SECONDS, max(0.0, due - self._clock()))):
                    return
            if accepted:
                self._arrive(run, rng, inflight, resends, self._clock())
            offset += rng.expovariate(peak)
        with self._lock:
            run.arrivals_done = True

    def _drain(
        self,
        run: _Run,
        inflight: deque[PlayRecord],
        resends: list[tuple[float, int, PlayRecord]],
    ) -> None:
        """Wait for every play sent to settle (result, refusal or deadline) and every
        planned resend to go out."""
        while True:
            now = self._clock()
            self._service(run, inflight, resends, now)
            with self._changed:
                if run.outstanding == 0 and run.resends_open == 0 and not resends:
                    return
                self._changed.wait(TICK_SECONDS)

    def _service(
        self,
        run: _Run,
        inflight: deque[PlayRecord],
        resends: list[tuple[float, int, PlayRecord]],
        now: float,
    ) -> None:
        """Send due socket resends; count socket plays past their deadline as lost."""
        while resends and resends[0][0] <= now:
            _, _, record = heapq.heappop(resends)
            self._resend_on_socket(run, record)
        with self._lock:
            waiting = run.resent_on_sockets
            while waiting and (
                waiting[0].resend_answer is not None
                or now >= (waiting[0].resent or now) + self.result_timeout
            ):
                self._close_resend(waiting.popleft(), "no answer to the resend")
            while inflight and (inflight[0].done or inflight[0].channel != "ws"):
                inflight.popleft()
            while inflight:
                head = inflight[0]
                if head.sent is None or now < head.sent + self.result_timeout:
                    break
                inflight.popleft()
                if not head.done:
                    head.timed_out = True
                    self._settle(head, now, ready_at=now + self._interval)

    def _arrive(
        self,
        run: _Run,
        rng: random.Random,
        inflight: deque[PlayRecord],
        resends: list[tuple[float, int, PlayRecord]],
        now: float,
    ) -> None:
        with self._lock:
            run.arrivals += 1
            while self._idle and self._idle[0][0] <= now:
                self._ready.append(heapq.heappop(self._idle)[1])
            if not self._ready:
                run.skipped += 1
                return
            pick = rng.randrange(len(self._ready))
            self._ready[pick], self._ready[-1] = self._ready[-1], self._ready[pick]
            player = self._players[self._ready.pop()]
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
            self._records[record.play_id] = record
            run.records.append(record)
            run.outstanding += 1
            sock = player.socket
        if sock is None:
            player.inbox.put(_Job(record, send=True))
            return
        message = json.dumps({"action": "play", "playId": record.play_id, "gameId": self._game_id})
        with self._lock:
            record.sent = self._clock()
        try:
            sock.send_text(message)
        except ConnectionClosedError:
            # The socket died under us: this play goes over REST instead, and the
            # player's reader turns into a REST player once it notices.
            with self._lock:
                record.sent = None
                record.channel = "rest"
            player.inbox.put(_Job(record, send=True))
            return
        with self._lock:
            inflight.append(record)
            if record.duplicate and record.resend_due is not None and record.sent is not None:
                heapq.heappush(resends, (record.sent + record.resend_due, next(self._ids), record))

    def _resend_on_socket(self, run: _Run, record: PlayRecord) -> None:
        player = self._players[record.player]
        sock = player.socket
        with self._lock:
            skip = self._resend_skip_reason(record)
            if skip is None and (sock is None or record.channel != "ws"):
                skip = "not resent: its socket closed"
            if skip is not None:
                self._close_resend(record, skip)
                return
            record.resent = self._clock()
        assert sock is not None
        message = json.dumps({"action": "play", "playId": record.play_id, "gameId": self._game_id})
        try:
            sock.send_text(message)
        except ConnectionClosedError:
            with self._lock:
                record.resent = None
                self._close_resend(record, "not resent: its socket closed")
            return
        with self._lock:
            run.resent_on_sockets.append(record)

    @staticmethod
    def _resend_skip_reason(record: PlayRecord) -> str | None:
        """Resending a refused or unsent play would test nothing about idempotency."""
        if record.refused is not None:
            return f"not resent: the play was refused ({record.refused})"
        if record.send_error is not None:
            return "not resent: the play was never sent"
        return None

    def _close_resend(self, record: PlayRecord, answer: str) -> None:
        """The planned resend is over: answered, or `answer` says why not. Caller holds
        the lock."""
        if record.resend_answer is not None:
            return
        record.resend_answer = answer
        if self._run is not None:
            self._run.resends_open -= 1
        self._changed.notify_all()

    def _settle(self, record: PlayRecord, now: float, *, ready_at: float) -> None:
        """The play is over for its player (answered, refused or past its deadline): the
        player may play again from `ready_at`. Caller holds the lock."""
        if record.done:
            return
        record.done = True
        heapq.heappush(self._idle, (ready_at, record.player))
        run = self._run
        if run is not None:
            run.outstanding -= 1
            latency = record.latency
            if latency is not None:
                run.latencies.append(latency)
        self._changed.notify_all()

    def _next_play_at(self, record: PlayRecord, now: float) -> float:
        """The game's rule counts from the server's arrival stamp, which comes before the
        `queued` answer: so wait the interval (and a margin) from that answer."""
        since = record.acked if record.acked is not None else now
        return max(now, since + self._interval + INTERVAL_MARGIN_SECONDS)

    # -- WebSocket players ----------------------------------------------------------------

    def _read_socket(self, player: _Player) -> None:
        """Read pushes until the crowd closes; if the socket dies first, poll for the
        play in flight and carry on as a REST player."""
        sock = player.socket
        assert sock is not None
        while not self._closing.is_set():
            try:
                text = sock.recv_text(timeout=SOCKET_READ_SECONDS)
            except TimeoutError:
                continue
            except (ConnectionClosedError, ProtocolError, OSError):
                break
            self._on_message(text, self._clock())
        if self._closing.is_set():
            with contextlib.suppress(OSError, ConnectionClosedError, ProtocolError):
                sock.close(timeout=2.0)
            return
        with contextlib.suppress(OSError, ConnectionClosedError, ProtocolError):
            sock.close(timeout=0.5)
        with self._lock:
            player.socket = None
            self.sockets_lost += 1
            orphan = next(
                (
                    r
                    for r in reversed(self._run.records if self._run is not None else [])
                    if r.player == player.index and not r.done and r.channel == "ws"
                ),
                None,
            )
            if orphan is not None:
                orphan.channel = "rest"
        if orphan is not None:
            player.inbox.put(_Job(orphan, send=False))
        self._rest_loop(player)

    def _on_message(self, text: str, now: float) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        play_id = message.get("playId") if isinstance(message, dict) else None
        with self._lock:
            record = self._records.get(play_id) if isinstance(play_id, str) else None
            if record is None or not isinstance(message, dict):
                self.unexpected_messages += 1
                return
            kind = message.get("type")
            if kind in ("queued", "error"):
                # One socket's messages are handled in order, so answers come in the
                # order the sends went out: the first is the original's.
                record.answers += 1
                answer = (
                    str(message.get("status"))
                    if kind == "queued"
                    else f"error {message.get('error')}"
                )
                if record.answers == 1:
                    if kind == "queued":
                        record.acked, record.ack_status = now, answer
                    else:
                        record.refused = str(message.get("error"))
                        retry = message.get("retryAfter")
                        wait = float(retry) if isinstance(retry, int | float) else self._interval
                        self._settle(record, now, ready_at=now + wait)
                        if record.duplicate and record.resent is None:
                            self._close_resend(record, f"not resent: refused ({record.refused})")
                else:
                    self._close_resend(record, answer)
            elif kind == "result":
                record.results += 1
                if record.results > 1:
                    return
                self._record_result(record, message, now, via="push")
            else:
                self.unexpected_messages += 1

    def _record_result(
        self, record: PlayRecord, view: dict[str, Any], now: float, *, via: str
    ) -> None:
        """Caller holds the lock."""
        if record.status is not None:
            return
        coupon = view.get("coupon")
        record.status = str(view.get("status"))
        record.result_at = now
        record.via = via
        if isinstance(coupon, dict):
            record.brand = str(coupon.get("brandId"))
            record.code = str(coupon.get("code"))
        if record.timed_out:
            record.late = True
            return
        self._settle(record, now, ready_at=self._next_play_at(record, now))

    # -- REST players ---------------------------------------------------------------------

    def _rest_loop(self, player: _Player) -> None:
        while True:
            job = player.inbox.get()
            if job is None or self._closing.is_set():
                return
            self._play_over_rest(player, job)

    def _play_over_rest(self, player: _Player, job: _Job) -> None:
        record = job.record
        client = player.client
        if job.send:
            with self._lock:
                record.sent = self._clock()
            try:
                reply = client.play(record.play_id, self._game_id)
            except OSError as error:
                now = self._clock()
                with self._lock:
                    record.send_error = _brief(error)
                    self._settle(record, now, ready_at=now + self._interval)
                    if record.duplicate:
                        self._close_resend(record, "not resent: the play was never sent")
                return
            now = self._clock()
            with self._lock:
                record.answers += 1
                if reply.status != 202:
                    record.refused = _error_code(reply)
                    try:
                        wait = float(reply.headers.get("retry-after", self._interval))
                    except ValueError:
                        wait = self._interval
                    self._settle(record, now, ready_at=now + wait)
                    if record.duplicate:
                        self._close_resend(record, f"not resent: refused ({record.refused})")
                    return
                record.acked, record.ack_status = now, _status_of(reply)
        self._poll(client, record, resend=job.send and record.duplicate)

    def _poll(self, client: LocalClient, record: PlayRecord, *, resend: bool) -> None:
        """Read the play until it is final (or past its deadline), resending it on the
        way when it was picked to be resent."""
        sent = record.sent if record.sent is not None else self._clock()
        deadline = sent + self.result_timeout
        resend_at = sent + (record.resend_due or 0.0) if resend else None
        while True:
            now = self._clock()
            if resend_at is not None and now >= resend_at:
                self._resend_over_rest(client, record)
                resend_at = None
            if record.status is None:
                try:
                    reply: Reply | None = client.result(record.play_id)
                except OSError:
                    reply = None  # a failed poll is retried, like an app would
                now = self._clock()
                view = reply.json() if reply is not None and reply.status == 200 else None
                if isinstance(view, dict) and view.get("status") in FINAL_STATUSES:
                    with self._lock:
                        self._record_result(record, view, now, via="poll")
            if record.status is not None:
                if resend_at is None:
                    return
                wake = resend_at  # answered already: only the resend is left to do
            elif now >= deadline:
                with self._lock:
                    if not record.done:
                        record.timed_out = True
                        self._settle(record, now, ready_at=now + self._interval)
                    if resend_at is not None:
                        self._close_resend(record, "not resent: no result before the deadline")
                return
            else:
                fast = now - sent < POLL_FAST_FOR_SECONDS
                wake = min(now + (POLL_FAST_SECONDS if fast else POLL_SLOW_SECONDS), deadline)
                if resend_at is not None:
                    wake = min(wake, resend_at)
            if self._closing.wait(max(0.0, wake - self._clock())):
                return

    def _resend_over_rest(self, client: LocalClient, record: PlayRecord) -> None:
        resent = self._clock()
        try:
            reply = client.play(record.play_id, self._game_id)
        except OSError as error:
            with self._lock:
                self._close_resend(record, f"not resent: {_brief(error)}")
            return
        with self._lock:
            record.resent = resent
            record.answers += 1
            self._close_resend(
                record, _status_of(reply) if reply.status == 202 else f"error {_error_code(reply)}"
            )

    # -- watching ---------------------------------------------------------------------------

    def _snapshot(self, run: _Run, game: GameInfo | None) -> Progress:
        with self._lock:
            records = list(run.records)
            latencies = sorted(run.latencies)
            issued = run.latest_issued
            skipped = run.skipped
        sent = sum(1 for r in records if r.sent is not None and r.send_error is None)
        answered = [r for r in records if r.status is not None and not r.timed_out]
        settled = sum(1 for r in records if r.done)
        now = self._clock()
        oldest = min((r.sent for r in records if not r.done and r.sent is not None), default=now)
        return Progress(
            elapsed=now - run.started,
            oldest_pending=now - oldest,
            sent=sent,
            answered=len(answered),
            won=sum(1 for r in answered if r.status == "won"),
            pending=len(records) - settled,
            skipped=skipped,
            no_result=sum(1 for r in records if r.timed_out),
            p50=percentile(latencies, 50),
            p99=percentile(latencies, 99),
            issued=issued,
            scheduled=game.scheduled(time.time()) if game is not None else None,
        )

    def _watch(
        self,
        run: _Run,
        stop: threading.Event,
        progress: Callable[[Progress], None] | None,
        abort: Callable[[Progress], str | None] | None,
        game: GameInfo | None,
    ) -> None:
        while not stop.wait(PROGRESS_SECONDS):
            if progress is None and (abort is None or run.arrivals_done):
                continue
            snapshot = self._snapshot(run, game)
            if progress is not None:
                progress(snapshot)
            if abort is not None and not run.arrivals_done and run.stop_reason is None:
                reason = abort(snapshot)
                if reason:
                    with self._lock:
                        run.stop_reason = reason

    def _sample(self, run: _Run, stop: threading.Event, game: GameInfo) -> None:
        """Issued vs schedule from the admin report, every 2 s and once at the end."""
        while True:
            finished = stop.wait(SAMPLE_SECONDS)
            report = self._game_report()
            if report is not None:
                issued, curve = report
                now = time.time()
                sample = IssuedSample(now - game.start, issued, game.scheduled(now))
                with self._lock:
                    run.latest_issued = issued
                    run.samples.append(sample)
                    run.report_curve = curve
            if finished:
                return

    def _game_report(self) -> tuple[int, list[dict[str, Any]]] | None:
        """Coupons issued so far (the budget counters) and the per-minute curve."""
        if self._admin is None:
            return None
        try:
            reply = self._admin.request(
                "GET", f"/admin/games/{quote(self._game_id, safe='')}/report"
            )
            if reply.status != 200:
                return None
            body = reply.json()
            curve = [
                {k: point[k] for k in ("minute", "plays", "issued", "scheduled")}
                for point in body["curve"]
            ]
            return int(body["wins"]), curve
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a missed sample is a gap in the chart, not a failure

    # -- checking resent plays ------------------------------------------------------------

    def _verify_duplicates(self, run: _Run) -> None:
        """A resent play must have been accepted again, answered once, and read back
        over REST exactly as it was answered."""
        for record in run.records:
            if record.resent is None:
                continue
            record.verified = self._verdict(record)

    def _verdict(self, record: PlayRecord) -> str:
        if record.status is None:
            return "no result"
        if record.results > 1:
            return f"{record.results} results pushed"
        answer = record.resend_answer or "no answer to the resend"
        if answer not in ("queued", record.status):
            return f"resend answered {answer!r}, result {record.status!r}"
        try:
            reply = self._players[record.player].client.result(record.play_id)
        except OSError as error:
            return f"cannot read it back: {_brief(error)}"
        if reply.status != 200:
            return f"read back: {reply.status} {_error_code(reply)}"
        view = reply.json()
        coupon = view.get("coupon") if isinstance(view, dict) else None
        stored = (
            view.get("status") if isinstance(view, dict) else None,
            coupon.get("brandId") if isinstance(coupon, dict) else None,
            coupon.get("code") if isinstance(coupon, dict) else None,
        )
        if stored != (record.status, record.brand, record.code):
            return "read back differs from the result received"
        return "consistent"

    def _report(
        self, run: _Run, game: GameInfo | None, elapsed: float, sending_seconds: float
    ) -> CrowdReport:
        schedule = run.schedule
        with self._lock:
            self._run = None
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
            game_id=self._game_id,
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


def _status_of(reply: Reply) -> str:
    try:
        body = reply.json()
    except ValueError:
        return "unreadable"
    return str(body.get("status")) if isinstance(body, dict) else "unreadable"


# -- sockets ------------------------------------------------------------------------------


def open_websocket(url: str, *, timeout: float = 5.0) -> WebSocketClient:
    """`ws://` through the local stack's client; `wss://` (a deployed WebSocket API)
    through the same client over TLS, which `websocket_protocol.connect` leaves out."""
    if urlsplit(url).scheme != "wss":
        return connect(url, timeout=timeout)
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    raw = socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout)
    try:
        sock = ssl.create_default_context().wrap_socket(raw, server_hostname=parts.hostname)
    except BaseException:
        raw.close()
        raise
    try:
        key = new_key()
        sock.sendall(client_handshake_request(parts.netloc, resource, key))
        data = b""
        while b"\r\n\r\n" not in data:
            if len(data) > MAX_HANDSHAKE_BYTES:
                raise HandshakeRefusedError(0, b"response head too large")
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionClosedError(1006, "closed during the handshake")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        response = parse_response_head(head)
        if response.status != 101:
            raise HandshakeRefusedError(response.status, rest[:200])
        check_server_handshake(response, key)
    except BaseException:
        sock.close()
        raise
    return WebSocketClient(sock, is_client=True, io_timeout=SOCKET_READ_SECONDS, buffered=rest)


# -- the demo -------------------------------------------------------------------------------

DEMO_BRANDS: Final = (("Aurora Coffee", 150), ("Bolt Bikes", 100), ("Cirrus Air", 50))
DEMO_MINUTES: Final = 3.0
DEMO_RUSH: Final = (3.0, 20.0)
#: Players per play/s at the peak: a player can play once per ~10.5 s (the game's rule
#: plus the result), so this leaves a sixth of them idle to take the next arrival.
PLAYERS_PER_PEAK_RATE: Final = 12
#: The demo's base rate: 15 plays/s through the 3x rush, about 1,100 plays in the 3
#: minutes. The local stack tops out near 10 plays/s (`make bench`), so the rush already
#: builds a backlog of a few seconds; a faster base rate risks plays without a result.
DEMO_RATE: Final = 5.0
#: The demo's game lets a player win up to this many coupons (the default is one).
DEMO_MAX_WINS_PER_USER: Final = 3


@dataclass(frozen=True, slots=True)
class DemoCampaign:
    campaign_id: str
    game_id: str
    brand_ids: tuple[str, ...]
    budgets: tuple[int, ...]
    starts_at: datetime
    ends_at: datetime


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def create_campaign(
    admin: LocalClient,
    *,
    minutes: float = DEMO_MINUTES,
    brands: Sequence[tuple[str, int]] = DEMO_BRANDS,
    config: dict[str, Any] | None = None,
    name: str = "Frolic crowd demo",
) -> DemoCampaign:
    """A campaign with one game LIVE from now for `minutes`, made the way a marketer
    would: over the admin API, each brand's coupon pool uploaded as a CSV file.
    (`frolic_tools.local.create_demo_game` generates its codes instead; the demo exercises
    the upload a marketer really uses.)"""

    def call(method: str, path: str, body: Any) -> Any:
        reply = admin.request(method, path, body=body)
        if reply.status >= 400:
            raise CrowdError(f"{method} {path}: {reply.status} {_error_code(reply)}")
        return reply.json()

    starts = datetime.now(UTC).replace(microsecond=0)
    ends = starts + timedelta(minutes=minutes)
    campaign = call(
        "POST",
        "/admin/campaigns",
        {"name": name, "startTime": _iso(starts), "endTime": _iso(ends + timedelta(hours=1))},
    )
    campaign_id = str(campaign["campaignId"])
    game_body: dict[str, Any] = {
        "name": f"{name}: {minutes:g}-minute spin",
        "startTime": _iso(starts),
        "endTime": _iso(ends),
    }
    if config:
        game_body["config"] = config
    game_id = str(call("POST", f"/admin/campaigns/{quote(campaign_id)}/games", game_body)["gameId"])
    batch = secrets.token_hex(4).upper()
    brand_ids: list[str] = []
    for brand_name, budget in brands:
        brand_id = str(call("POST", "/admin/brands", {"name": brand_name})["brandId"])
        path = f"/admin/games/{quote(game_id)}/budgets/{quote(brand_id)}"
        call("PUT", path, {"budget": budget})
        prefix = "".join(ch for ch in brand_name.upper() if ch.isalnum())[:6]
        csv = "code\n" + "".join(f"{prefix}-{batch}-{n:05d}\n" for n in range(1, budget + 1))
        reply = admin.request(
            "POST", f"{path}/coupons", raw=csv.encode(), content_type="text/csv; charset=utf-8"
        )
        if reply.status != 200:
            raise CrowdError(
                f"uploading {brand_name}'s coupons: {reply.status} {_error_code(reply)}"
            )
        added = reply.json()
        if added.get("added") != budget:
            raise CrowdError(f"{brand_name}'s pool took {added.get('added')} of {budget} codes")
        brand_ids.append(brand_id)
    call("PATCH", f"/admin/games/{quote(game_id)}", {"status": "LIVE"})
    return DemoCampaign(
        campaign_id=campaign_id,
        game_id=game_id,
        brand_ids=tuple(brand_ids),
        budgets=tuple(budget for _, budget in brands),
        starts_at=starts,
        ends_at=ends,
    )


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    report: CrowdReport
    reconciled: str
    clean: bool
    failure: str | None  # one line when the demo failed

    @property
    def exit_code(self) -> int:
        return 0 if self.failure is None else 1


def demo_rate(players: int, rush_multiplier: float) -> float:
    """The base rate a crowd of `players` sustains through the rush under the game's
    one-play-per-10-s rule."""
    return players / (PLAYERS_PER_PEAK_RATE * max(1.0, rush_multiplier))


def run_demo(
    *,
    port: int,
    players: int,
    out: Path,
    rate: float | None = None,
    minutes: float = DEMO_MINUTES,
    seed: int | None = None,
    show_progress: bool = True,
    stdout: TextIO,
    stderr: TextIO,
) -> DemoOutcome:
    """`make demo`: the local stack, a campaign over the admin API, a crowd for the
    game's whole window, then the report and `reconcile`. CrowdError or
    LocalStackError (one line) when it cannot start."""
    # Imported here: the local stack needs moto's server, a dev dependency.
    from frolic_tools.local.stack import LocalStack  # noqa: PLC0415
    from frolic_tools.reconcile import reconcile  # noqa: PLC0415

    multiplier, rush_seconds = DEMO_RUSH
    base_rate = rate if rate is not None else demo_rate(players, multiplier)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CrowdError(f"cannot create {out}: {error.strerror or error}") from None
    # The functions publish no metrics locally; Powertools would warn on every flush.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with LocalStack("127.0.0.1", port) as stack:
        print(
            f"frolic demo: local stack at {stack.base_url} (moto at {stack.moto_url})", file=stdout
        )
        with Crowd(stack.base_url, players=players) as crowd:
            crowd.issue_admin_token()
            assert crowd.admin is not None
            campaign = create_campaign(
                crowd.admin, minutes=minutes, config={"maxWinsPerUser": DEMO_MAX_WINS_PER_USER}
            )
            budgets = ", ".join(
                f"{name} {budget}" for (name, budget) in DEMO_BRANDS[: len(campaign.budgets)]
            )
            print(
                f"frolic demo: game {campaign.game_id} LIVE {campaign.starts_at:%H:%M:%S}–"
                f"{campaign.ends_at:%H:%M:%S} UTC; budgets {budgets} (pools uploaded as CSV)",
                file=stdout,
            )
            game = crowd.game_info(campaign.game_id)
            assert game is not None
            duration = game.end - time.time() - 1.0  # the last arrival still inside
            print(
                f"frolic demo: {players} players ({crowd.ws_players} on WebSockets), "
                f"{base_rate:.1f} plays/s, {multiplier:g}x for the first {rush_seconds:g} s, "
                f"for {duration:.0f} s",
                file=stdout,
                flush=True,
            )
            schedule = Schedule(
                rate=base_rate,
                duration=duration,
                rush_multiplier=multiplier,
                rush_seconds=rush_seconds,
                seed=seed,
            )
            printer = ProgressPrinter(stderr) if show_progress else None
            try:
                report = crowd.run(campaign.game_id, schedule, game=game, progress=printer)
            finally:
                if printer is not None:
                    printer.finish()
        report.brand_names = {
            brand_id: name
            for brand_id, (name, _) in zip(campaign.brand_ids, DEMO_BRANDS, strict=False)
        }
        report.title = "Frolic demo"
        charts = write_charts(report, out / "pacing.png", out / "latency.png")
        (out / "crowd.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
        session = stack.boto3_session()
        dynamodb = session.client("dynamodb", endpoint_url=stack.moto_url)
        reconciled = reconcile(dynamodb, stack.settings, campaign.game_id)
        print(report.render(charts=[str(c) for c in charts]), file=stdout)
        print(reconciled.render(), file=stdout, flush=True)
    failure = None
    if report.no_result:
        failure = f"{report.no_result} play(s) got no result"
    elif not reconciled.clean:
        failure = f"reconcile found drift: {reconciled.problems[0]}"
    elif not report.ok:
        failure = report.problems()[0]
    return DemoOutcome(report, reconciled.render(), reconciled.clean, failure)


def write_charts(report: CrowdReport, pacing: Path, latency: Path) -> list[Path]:
    """The pacing and latency charts that have data; the paths written."""
    written: list[Path] = []
    for path, png in ((pacing, report.pacing_chart()), (latency, report.latency_chart())):
        if png is None:
            continue
        try:
            path.write_bytes(png)
        except OSError as error:
            raise CrowdError(f"cannot write {path}: {error.strerror or error}") from None
        written.append(path)
    return written


class ProgressPrinter:
    """The live progress line on a terminal, rewritten in place."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._shown = False

    def __call__(self, progress: Progress) -> None:
        self._stream.write("\r\033[K" + progress.line())
        self._stream.flush()
        self._shown = True

    def finish(self) -> None:
        if self._shown:
            self._stream.write("\r\033[K")
            self._stream.flush()


def overload_reason(progress: Progress, *, pending_limit: float) -> str | None:
    """An `abort` for load tests: stop sending once a play is lost or one has waited
    longer than `pending_limit` for its result. Past that point more arrivals only grow
    the backlog, and draining it would hold up whatever is measured next."""
    if progress.no_result:
        return f"{progress.no_result} play(s) without a result after {progress.elapsed:.0f} s"
    if progress.oldest_pending > pending_limit:
        return (
            f"a play waited over {pending_limit:g} s for its result after {progress.elapsed:.0f} s"
        )
    return None
