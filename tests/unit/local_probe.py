"""What the handlers of tests/unit/test_local_functions.py run: notes who ran when, and
waits where a test tells it to."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from frolic.observability import logger

guard = threading.Lock()
barrier: threading.Barrier | None = None
hold: threading.Event | None = None
entered = threading.Event()
ran_allocate = threading.Event()
orders: list[int] = []
calls: list[tuple[str, Any]] = []
running: Counter[str] = Counter()
most_at_once: Counter[str] = Counter()


def reset() -> None:
    global barrier, hold
    barrier, hold = None, None
    entered.clear()
    ran_allocate.clear()
    orders.clear()
    calls.clear()
    running.clear()
    most_at_once.clear()


def _function(module: str) -> str:
    """frolic_local_<folder>_<file>_<n> → the function's folder."""
    return module.split("_")[2]


def run(module: str, event: dict[str, Any]) -> dict[str, Any]:
    function = _function(module)
    with guard:
        calls.append((module, event))
        running[function] += 1
        most_at_once[function] = max(most_at_once[function], running[function])
        if "order" in event:
            orders.append(event["order"])
        if function == "allocate":
            ran_allocate.set()
    try:
        if event.get("hold") and hold is not None:
            entered.set()
            assert hold.wait(timeout=30)
        if event.get("barrier") and barrier is not None:
            barrier.wait()
        if "log" in event:
            logger.info(f"from {event['log']}")
        return {"statusCode": 200}
    finally:
        with guard:
            running[function] -= 1


def until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    """The condition's first True, polled until the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def wait_for_waiters(functions: Any, function: str, count: int) -> bool:
    return until(lambda: functions.waiting(function) >= count)
