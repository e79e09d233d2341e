"""Waiting for a condition with a deadline: the e2e tests' only way to wait."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from websockets.sync.client import ClientConnection

from frolic_tools.local import LocalClient

T = TypeVar("T")
FINAL = frozenset({"won", "lost", "rejected", "expired"})
POLL_SECONDS = 0.05


def wait_for(condition: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """The condition's first truthy answer, polled until the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        answer = condition()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def final_result(player: LocalClient, play_id: str, *, timeout: float = 20.0) -> dict[str, Any]:
    """The play as its owner reads it over REST, once it is final."""

    def read() -> dict[str, Any] | None:
        reply = player.result(play_id)
        assert reply.status == 200, reply.body
        view: dict[str, Any] = reply.json()
        return view if view["status"] in FINAL else None

    return wait_for(read, timeout=timeout, what=f"a final result for {play_id}")


def receive_until(
    socket: ClientConnection,
    done: Callable[[list[dict[str, Any]]], bool],
    *,
    timeout: float = 20.0,
) -> list[dict[str, Any]]:
    """Every message the socket gets until `done(messages)` holds."""
    deadline = time.monotonic() + timeout
    messages: list[dict[str, Any]] = []
    while not done(messages):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out; received so far: {messages}")
        try:
            messages.append(json.loads(socket.recv(timeout=remaining)))
        except TimeoutError:
            continue
    return messages
