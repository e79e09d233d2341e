"""The backstop: once a minute, do what the results-stream consumers left undone.

Both consumers give up in the end (their mappings retry for up to an hour or ten
tries), and a throttling storm can outlast that. So:

- a play still pending `sweep_margin_seconds` after its deadline is expired, by the
  expiry watcher's own conditional write (invariant 4: no lost play);
- a win whose coupons are not all ISSUED `coupon_issue_bound_seconds` after it was
  decided gets them issued, by deliver's own conditional binding (the player otherwise
  holds a code the till refuses);
- then, for each game in play or ended within `RECENTLY_ENDED_SECONDS`, ordinals leased
  by a batch that died before its results go back to the budget (frolic.dal.stranded).
  Its precondition holds because the wins step ran first: every win decided before
  `coupon_issue_bound_seconds` ago has its coupons issued, so an ordinal still
  AVAILABLE then is held by no result.

Both are found through a sparse index on the results table (`frolic.dal.tables`): an
item is in it only while such work is outstanding, so a run costs a Query per shard of
wins (which normally find nothing) and one Scan of the index for pending plays, which
reads the plays in flight (a few seconds of arrivals) and normally acts on none; none
of it reads the table. The writes are the consumers' own
conditional ones, so racing a consumer that recovers, or another run, is harmless.
Acting at all means a consumer failed: `PlaysSweptExpired` and `CouponsSweptIssued`
are emitted only then, and each has an alarm.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Final, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from frolic.dal.result_indexes import ResultIndexes
from frolic.deliver import CouponIssuer, ResultImage
from frolic.expiry import ExpiryWatcher
from frolic.models import Game, PlayStatus
from frolic.observability import logger, metrics
from frolic.settings import Settings

#: How often it runs: the EventBridge rule (infra/constructs/schedule.py) and the local
#: stack's emulation of it (frolic_tools/local/schedules.py).
EVERY_SECONDS: Final = 60.0
#: A run stops taking new work after this long, well inside its schedule's minute and
#: the function's timeout; the next run carries on from the indexes.
RUN_SECONDS: Final = 45.0
#: Strands show after a game's last leases: its stranded ordinals are looked for this
#: long after its end (they are returned minutes after the lease).
RECENTLY_ENDED_SECONDS: Final = 3600.0


class StrandedRepair(Protocol):
    def repair(self, game_id: str, *, game_start: float, won_issued_through: float) -> int: ...


class GamesInPlay(Protocol):
    def __call__(self, now: float, *, ended_within: float) -> Iterable[Game]:
        """Games live at `now` or ended less than `ended_within` before."""
        ...


@dataclass(frozen=True, slots=True)
class SweepReport:
    expired: int = 0
    coupons_issued: int = 0
    #: Wins looked at; those with nothing to issue had it done already (deliver stopped
    #: between issuing and leaving the index) or carry an anomaly (its own metric).
    wins_checked: int = 0
    #: Stranded ordinals returned to their budgets.
    coupons_returned: int = 0
    #: False when the run stopped at its time limit with work possibly left.
    finished: bool = True


class _OutOfTimeError(Exception):
    """The run reached its time limit."""


class Sweeper:
    def __init__(
        self,
        indexes: ResultIndexes,
        watcher: ExpiryWatcher,
        issuer: CouponIssuer,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        *,
        stranded: StrandedRepair | None = None,
        games: GamesInPlay | None = None,
        run_seconds: float = RUN_SECONDS,
    ) -> None:
        self._indexes = indexes
        self._watcher = watcher
        self._issuer = issuer
        self._expire_after = settings.expiry_seconds + settings.sweep_margin_seconds
        self._issue_after = settings.coupon_issue_bound_seconds
        self._clock = clock
        self._run_seconds = run_seconds
        self._stranded = stranded
        self._games = games

    def sweep(self) -> SweepReport:
        started = self._clock()
        stop_at = started + self._run_seconds
        expired = issued = checked = returned = 0
        finished = True
        try:
            # Wins first: they are few (bounded by the budgets), so a backlog of stuck
            # plays after a storm, which may take several runs, never holds them back.
            for play_id in self._indexes.unissued_before(started - self._issue_after):
                self._in_time(stop_at)
                checked += 1
                now_issued = self._issue(play_id)
                if now_issued:
                    issued += now_issued
                    logger.warning(
                        "won coupons issued by the sweeper", play_id=play_id, coupons=now_issued
                    )
            pending = self._indexes.pending_before(
                started - self._expire_after, before_page=lambda: self._in_time(stop_at)
            )
            for play_id in pending:
                self._in_time(stop_at)
                if self._watcher.expire(play_id):
                    expired += 1
                    logger.warning("stuck play expired by the sweeper", play_id=play_id)
            returned = self._return_stranded(started, stop_at)
        except _OutOfTimeError:
            finished = False
        report = SweepReport(expired, issued, checked, returned, finished)
        if expired:
            metrics.add_metric(name="PlaysSweptExpired", unit=MetricUnit.Count, value=expired)
        if issued:
            metrics.add_metric(name="CouponsSweptIssued", unit=MetricUnit.Count, value=issued)
        logger.info("sweep done", **asdict(report))
        return report

    def _return_stranded(self, started: float, stop_at: float) -> int:
        """Only after the wins step has finished: that is its precondition."""
        if self._stranded is None or self._games is None:
            return 0
        returned = 0
        for game in self._games(started, ended_within=RECENTLY_ENDED_SECONDS):
            self._in_time(stop_at)
            returned += self._stranded.repair(
                game.game_id,
                game_start=game.start_time.timestamp(),
                won_issued_through=started - self._issue_after,
            )
        return returned

    def _in_time(self, stop_at: float) -> None:
        if self._clock() >= stop_at:
            raise _OutOfTimeError

    def _issue(self, play_id: str) -> int:
        item = self._indexes.result(play_id)
        if item is None or item.get("status") != PlayStatus.WON.value:
            return 0  # gone (TTL) or not a win: nothing to issue
        try:
            result = ResultImage.model_validate(item)
        except ValidationError as error:
            # The error text would quote the item, codes included: field names only.
            logger.error(
                "won result unreadable; not issued",
                play_id=play_id,
                fields=sorted({".".join(map(str, e["loc"])) for e in error.errors()}),
            )
            return 0
        return self._issuer.issue(result)
