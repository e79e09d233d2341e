"""What every part of the crowd shares: its constants, its error, the shapes a run is
described and watched with, and the small readers of replies.

Kept free of the event loop and sockets so the scheduler (`run`), the players
(`players`) and the demo (`demo`) can all import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from frolic.pacing.schedule import ReleaseSchedule
from frolic_tools.crowd.report import IssuedSample, PlayRecord
from frolic_tools.local.client import Reply

#: The reel spins this long; the expiry watcher allows the grace on top; the crowd waits
#: a margin more before it calls a play lost (README: "answers every player before the
#: reel stops", docs/architecture.md, invariant 4).
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
#: Tokens, tickets and sockets are asked for this many at a time (and resent plays
#: read back): the gateway serves them one invocation at a time anyway, so more would
#: only queue.
SETUP_CONCURRENCY: Final = 8


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


@dataclass
class RunState:
    """The state of one schedule being run; only the crowd's event loop touches it."""

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


def brief(error: BaseException) -> str:
    """An exception as one short line, for a record or a CrowdError."""
    text = str(getattr(error, "reason", None) or error) or type(error).__name__
    return text.splitlines()[0][:200]


def error_code(reply: Reply) -> str:
    """The API's `error` code of a refusal, or `http_<status>` without one."""
    try:
        body = reply.json()
    except ValueError:
        body = None
    code = body.get("error") if isinstance(body, dict) else None
    return str(code) if code else f"http_{reply.status}"


def status_of(reply: Reply) -> str:
    """The `status` of a play's JSON reply, or `unreadable`."""
    try:
        body = reply.json()
    except ValueError:
        return "unreadable"
    return str(body.get("status")) if isinstance(body, dict) else "unreadable"
