"""Watching a run while it goes, and checking its resent plays once it is over.

The progress task (`watch`) takes a snapshot every second for the live display and for
an `abort` that may stop the arrivals early; the sampler (`sample`) reads the admin
report every 2 s so the pacing chart can set coupons issued against the schedule. Both
only read the shared state, and run beside the scheduler on the crowd's event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from frolic_tools.crowd.api import read_game_report
from frolic_tools.crowd.common import (
    PROGRESS_SECONDS,
    SAMPLE_SECONDS,
    SETUP_CONCURRENCY,
    GameInfo,
    Progress,
    RunState,
    brief,
    error_code,
)
from frolic_tools.crowd.report import IssuedSample, PlayRecord, percentile
from frolic_tools.crowd.rest import RestClient
from frolic_tools.crowd.state import Player, SharedState


async def stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Whether `stop` is set within `seconds`."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


def snapshot(state: SharedState, run: RunState, game: GameInfo | None) -> Progress:
    """The run's figures so far."""
    records = run.records
    latencies = sorted(run.latencies)
    sent = sum(1 for r in records if r.sent is not None and r.send_error is None)
    answered = [r for r in records if r.status is not None and not r.timed_out]
    settled = sum(1 for r in records if r.done)
    now = state.clock()
    oldest = min((r.sent for r in records if not r.done and r.sent is not None), default=now)
    return Progress(
        elapsed=now - run.started,
        oldest_pending=now - oldest,
        sent=sent,
        answered=len(answered),
        won=sum(1 for r in answered if r.status == "won"),
        pending=len(records) - settled,
        skipped=run.skipped,
        no_result=sum(1 for r in records if r.timed_out),
        p50=percentile(latencies, 50),
        p99=percentile(latencies, 99),
        issued=run.latest_issued,
        scheduled=game.scheduled(time.time()) if game is not None else None,
    )


async def watch(
    state: SharedState,
    run: RunState,
    stop: asyncio.Event,
    *,
    progress: Callable[[Progress], None] | None,
    abort: Callable[[Progress], str | None] | None,
    game: GameInfo | None,
) -> None:
    """Every second until `stop`: show the progress, and ask `abort` whether to stop
    the arrivals (the scheduler sees `run.stop_reason`)."""
    while not await stopped_within(stop, PROGRESS_SECONDS):
        if progress is None and (abort is None or run.arrivals_done):
            continue
        figures = snapshot(state, run, game)
        if progress is not None:
            progress(figures)
        if abort is not None and not run.arrivals_done and run.stop_reason is None:
            run.stop_reason = abort(figures) or None


async def sample(
    state: SharedState,
    run: RunState,
    stop: asyncio.Event,
    game: GameInfo,
    *,
    rest: RestClient,
    admin: str,
) -> None:
    """Issued vs schedule from the admin report (read with the `admin` token), every
    2 s and once at the end."""
    while True:
        finished = await stopped_within(stop, SAMPLE_SECONDS)
        report = await read_game_report(rest, admin, state.game_id)
        if report is not None:
            issued, curve = report
            now = time.time()
            run.latest_issued = issued
            run.samples.append(
                IssuedSample(
                    now - game.start,
                    issued,
                    game.scheduled(now),
                    curve=tuple(int(point["issued"]) for point in curve),
                )
            )
            run.report_curve = curve
        if finished:
            return


async def verify_duplicates(run: RunState, players: Sequence[Player], rest: RestClient) -> None:
    """A resent play must have been accepted again, answered once, and read back
    over REST exactly as it was answered."""
    limit = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def verify(record: PlayRecord) -> None:
        async with limit:
            record.verified = await _verdict(record, players[record.player], rest)

    await asyncio.gather(*(verify(r) for r in run.records if r.resent is not None))


async def _verdict(record: PlayRecord, player: Player, rest: RestClient) -> str:
    if record.status is None:
        return "no result"
    if record.results > 1:
        return f"{record.results} results pushed"
    answer = record.resend_answer or "no answer to the resend"
    if answer not in ("queued", record.status):
        return f"resend answered {answer!r}, result {record.status!r}"
    try:
        reply = await rest.result(player.token, record.play_id)
    except OSError as error:
        return f"cannot read it back: {brief(error)}"
    if reply.status != 200:
        return f"read back: {reply.status} {error_code(reply)}"
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
