"""The players' side: what each player's thread does with the plays handed to it.

A WebSocket player's thread reads its socket (`read_socket`): the `queued` answers and
the results are pushed to it, and the scheduler sends its plays. A REST player's thread
(`rest_loop`) takes plays from its inbox, sends each with `POST /plays` and polls
`GET /plays/{playId}` until the result is final or the deadline passes. Both settle
their plays through the `SharedState`, under its lock, as the scheduler does.
"""

from __future__ import annotations

import json
from typing import Any

from websockets.exceptions import ConnectionClosed

from frolic_tools.crowd.common import (
    POLL_FAST_FOR_SECONDS,
    POLL_FAST_SECONDS,
    POLL_SLOW_SECONDS,
    SOCKET_READ_SECONDS,
    brief,
    error_code,
    status_of,
)
from frolic_tools.crowd.report import FINAL_STATUSES, PlayRecord
from frolic_tools.crowd.state import Job, Player, SharedState
from frolic_tools.local.client import LocalClient, Reply

# -- WebSocket players ----------------------------------------------------------------------


def read_socket(state: SharedState, player: Player) -> None:
    """Read pushes until the crowd closes; if the socket dies first, poll for the
    play in flight and carry on as a REST player."""
    sock = player.socket
    assert sock is not None
    while not state.closing.is_set():
        try:
            text = sock.recv(timeout=SOCKET_READ_SECONDS)
        except TimeoutError:
            continue
        except ConnectionClosed:
            break
        on_message(state, text, state.clock())
    sock.close()  # the closing handshake, or nothing when the socket is already gone
    if state.closing.is_set():
        return
    with state.lock:
        player.socket = None
        state.sockets_lost += 1
        orphan = next(
            (
                r
                for r in reversed(state.run.records if state.run is not None else [])
                if r.player == player.index and not r.done and r.channel == "ws"
            ),
            None,
        )
        if orphan is not None:
            orphan.channel = "rest"
    if orphan is not None:
        player.inbox.put(Job(orphan, send=False))
    rest_loop(state, player)


def on_message(state: SharedState, text: str | bytes, now: float) -> None:
    """One message pushed on a player's socket: an answer to a play (or to its resend),
    or its result."""
    try:
        message = json.loads(text)
    except ValueError:
        message = None
    play_id = message.get("playId") if isinstance(message, dict) else None
    with state.lock:
        record = state.records.get(play_id) if isinstance(play_id, str) else None
        if record is None or not isinstance(message, dict):
            state.unexpected_messages += 1
            return
        kind = message.get("type")
        if kind in ("queued", "error"):
            # One socket's messages are handled in order, so answers come in the
            # order the sends went out: the first is the original's.
            record.answers += 1
            answer = (
                str(message.get("status")) if kind == "queued" else f"error {message.get('error')}"
            )
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
    """The play's first final result, pushed or polled. Caller holds the lock."""
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


def rest_loop(state: SharedState, player: Player) -> None:
    """Play each job from the inbox in turn, until the crowd closes."""
    while True:
        job = player.inbox.get()
        if job is None or state.closing.is_set():
            return
        _play_over_rest(state, player, job)


def _play_over_rest(state: SharedState, player: Player, job: Job) -> None:
    record = job.record
    client = player.client
    if job.send:
        with state.lock:
            record.sent = state.clock()
        try:
            reply = client.play(record.play_id, state.game_id)
        except OSError as error:
            now = state.clock()
            with state.lock:
                record.send_error = brief(error)
                state.settle(record, now, ready_at=now + state.interval)
                if record.duplicate:
                    state.close_resend(record, "not resent: the play was never sent")
            return
        now = state.clock()
        with state.lock:
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
                return
            record.acked, record.ack_status = now, status_of(reply)
    _poll(state, client, record, resend=job.send and record.duplicate)


def _poll(state: SharedState, client: LocalClient, record: PlayRecord, *, resend: bool) -> None:
    """Read the play until it is final (or past its deadline), resending it on the
    way when it was picked to be resent."""
    sent = record.sent if record.sent is not None else state.clock()
    deadline = sent + state.result_timeout
    resend_at = sent + (record.resend_due or 0.0) if resend else None
    while True:
        now = state.clock()
        if resend_at is not None and now >= resend_at:
            _resend_over_rest(state, client, record)
            resend_at = None
        if record.status is None:
            try:
                reply: Reply | None = client.result(record.play_id)
            except OSError:
                reply = None  # a failed poll is retried, like an app would
            now = state.clock()
            view = reply.json() if reply is not None and reply.status == 200 else None
            if isinstance(view, dict) and view.get("status") in FINAL_STATUSES:
                with state.lock:
                    _record_result(state, record, view, now, via="poll")
        if record.status is not None:
            if resend_at is None:
                return
            wake = resend_at  # answered already: only the resend is left to do
        elif now >= deadline:
            with state.lock:
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
        if state.closing.wait(max(0.0, wake - state.clock())):
            return


def _resend_over_rest(state: SharedState, client: LocalClient, record: PlayRecord) -> None:
    resent = state.clock()
    try:
        reply = client.play(record.play_id, state.game_id)
    except OSError as error:
        with state.lock:
            state.close_resend(record, f"not resent: {brief(error)}")
        return
    with state.lock:
        record.resent = resent
        record.answers += 1
        state.close_resend(
            record, status_of(reply) if reply.status == 202 else f"error {error_code(reply)}"
        )
