"""The players' side: what happens to the plays handed to them, as tasks on the crowd's
event loop.

A WebSocket player's task reads its socket (`read_socket`): the `queued` answers and
the results are pushed to it, and the scheduler sends its plays. A REST play is a task
of its own (`play_over_rest`): `POST /plays`, then `GET /plays/{playId}` until the
result is final or the deadline passes. Both settle their plays through the
`SharedState`, as the scheduler does.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.exceptions import ConnectionClosed

from frolic_tools.crowd.common import (
    POLL_FAST_FOR_SECONDS,
    POLL_FAST_SECONDS,
    POLL_SLOW_SECONDS,
    brief,
    error_code,
    status_of,
)
from frolic_tools.crowd.report import FINAL_STATUSES, PlayRecord
from frolic_tools.crowd.rest import RestClient
from frolic_tools.crowd.state import Job, Player, SharedState

# -- WebSocket players ----------------------------------------------------------------------


async def read_socket(state: SharedState, rest: RestClient, player: Player) -> None:
    """Read pushes until the socket ends; if it dies before the crowd closes, poll for
    the play in flight and carry on as a REST player."""
    sock = player.socket
    assert sock is not None
    try:
        async for text in sock:
            on_message(state, text, state.clock())
    except ConnectionClosed:
        pass  # ended without a clean close: lost, unless the crowd is closing
    if state.closing:
        return
    await sock.close()  # the closing handshake, or nothing when the socket is already gone
    player.socket = None
    state.sockets_lost += 1
    records = state.run.records if state.run is not None else []
    orphan = next(
        (
            r
            for r in reversed(records)
            if r.player == player.index and not r.done and r.channel == "ws"
        ),
        None,
    )
    if orphan is not None:
        orphan.channel = "rest"
        await play_over_rest(state, rest, player, Job(orphan, send=False))


def on_message(state: SharedState, text: str | bytes, now: float) -> None:
    """One message pushed on a player's socket: an answer to a play (or to its resend),
    or its result."""
    try:
        message = json.loads(text)
    except ValueError:
        message = None
    play_id = message.get("playId") if isinstance(message, dict) else None
    record = state.records.get(play_id) if isinstance(play_id, str) else None
    if record is None or not isinstance(message, dict):
        state.unexpected_messages += 1
        return
    kind = message.get("type")
    if kind in ("queued", "error"):
        # One socket's messages are handled in order, so answers come in the order the
        # sends went out: the first is the original's.
        record.answers += 1
        answer = str(message.get("status")) if kind == "queued" else f"error {message.get('error')}"
        if record.answers == 1:
            if kind == "queued":
                record.acked, record.ack_status = now, answer
            else:
                record.refused = str(message.get("error"))
                retry = message.get("retryAfter")
                wait = float(retry) if isinstance(retry, int | float) else state.interval
                state.settle(record, now, ready_at=now + wait)
                if record.duplicate and record.resent is None:
                    state.close_resend(record, f"not resent: refused ({record.refused})")
        else:
            state.close_resend(record, answer)
    elif kind == "result":
        record.results += 1
        if record.results > 1:
            return
        _record_result(state, record, message, now, via="push")
    else:
        state.unexpected_messages += 1


def _record_result(
    state: SharedState, record: PlayRecord, view: dict[str, Any], now: float, *, via: str
) -> None:
    """The play's first final result, pushed or polled."""
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
    state.settle(record, now, ready_at=state.next_play_at(record, now))


# -- REST players ---------------------------------------------------------------------------


async def play_over_rest(state: SharedState, rest: RestClient, player: Player, job: Job) -> None:
    """Send the play (unless its socket already did) and poll it to the end, after the
    player's earlier plays."""
    async with player.turn:
        record = job.record
        if job.send and not await _send_over_rest(state, rest, player, record):
            return
        await _poll(state, rest, player, record, resend=job.send and record.duplicate)


async def _send_over_rest(
    state: SharedState, rest: RestClient, player: Player, record: PlayRecord
) -> bool:
    """`POST /plays`; False when the play went no further (not sent, or refused)."""
    record.sent = state.clock()
    try:
        reply = await rest.play(player.token, record.play_id, state.game_id)
    except OSError as error:
        now = state.clock()
        record.send_error = brief(error)
        state.settle(record, now, ready_at=now + state.interval)
        if record.duplicate:
            state.close_resend(record, "not resent: the play was never sent")
        return False
    now = state.clock()
    record.answers += 1
    if reply.status != 202:
        record.refused = error_code(reply)
        try:
            wait = float(reply.headers.get("retry-after", state.interval))
        except ValueError:
            wait = state.interval
        state.settle(record, now, ready_at=now + wait)
        if record.duplicate:
            state.close_resend(record, f"not resent: refused ({record.refused})")
        return False
    record.acked, record.ack_status = now, status_of(reply)
    return True


async def _poll(
    state: SharedState, rest: RestClient, player: Player, record: PlayRecord, *, resend: bool
) -> None:
    """Read the play until it is final (or past its deadline), resending it on the
    way when it was picked to be resent."""
    sent = record.sent if record.sent is not None else state.clock()
    deadline = sent + state.result_timeout
    resend_at = sent + (record.resend_due or 0.0) if resend else None
    while True:
        now = state.clock()
        if resend_at is not None and now >= resend_at:
            await _resend_over_rest(state, rest, player, record)
            resend_at = None
        if record.status is None:
            try:
                view = _final_view(await rest.result(player.token, record.play_id))
            except OSError:
                view = None  # a failed poll is retried, like an app would
            if view is not None:
                _record_result(state, record, view, state.clock(), via="poll")
        now = state.clock()
        if record.status is not None:
            if resend_at is None:
                return
            wake = resend_at  # answered already: only the resend is left to do
        elif now >= deadline:
            if not record.done:
                record.timed_out = True
                state.settle(record, now, ready_at=now + state.interval)
            if resend_at is not None:
                state.close_resend(record, "not resent: no result before the deadline")
            return
        else:
            fast = now - sent < POLL_FAST_FOR_SECONDS
            wake = min(now + (POLL_FAST_SECONDS if fast else POLL_SLOW_SECONDS), deadline)
            if resend_at is not None:
                wake = min(wake, resend_at)
        await asyncio.sleep(max(0.0, wake - state.clock()))


def _final_view(reply: Any) -> dict[str, Any] | None:
    """The play as `GET /plays/{playId}` shows it, once final."""
    try:
        view = reply.json() if reply.status == 200 else None
    except ValueError:
        return None
    if isinstance(view, dict) and view.get("status") in FINAL_STATUSES:
        return view
    return None


async def _resend_over_rest(
    state: SharedState, rest: RestClient, player: Player, record: PlayRecord
) -> None:
    resent = state.clock()
    try:
        reply = await rest.play(player.token, record.play_id, state.game_id)
    except OSError as error:
        state.close_resend(record, f"not resent: {brief(error)}")
        return
    record.resent = resent
    record.answers += 1
    state.close_resend(
        record, status_of(reply) if reply.status == 202 else f"error {error_code(reply)}"
    )
