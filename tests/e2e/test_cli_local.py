"""`frolic local` as a user runs it: a process that prints its endpoints, serves, makes
the demo game, and exits 0 on SIGTERM."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from frolic_tools.local import LocalClient

START_SECONDS = 60.0


@pytest.fixture
def frolic_local() -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str]]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "frolic_tools.cli", "local", "--port", "0", "--demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    yield process, lines
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def read_until(lines: queue.Queue[str], marker: str, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while not any(marker in line for line in seen):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {marker!r} in time; output so far: {seen}")
        try:
            seen.append(lines.get(timeout=remaining))
        except queue.Empty:
            continue
    return seen


def test_frolic_local_serves_until_sigterm_then_exits_0(
    frolic_local: tuple[subprocess.Popen[str], queue.Queue[str]],
) -> None:
    process, lines = frolic_local
    banner = "".join(read_until(lines, "Ctrl-C to stop", START_SECONDS))
    rest = re.search(r"REST API\s+(http://127\.0\.0\.1:\d+)", banner)
    assert rest is not None, banner
    for name in ("WebSocket", "player page", "admin page", "moto", "demo"):
        assert name in banner
    game = re.search(r"game (\S+), LIVE until", banner)
    assert game is not None, banner

    client = LocalClient(rest.group(1))
    admin = client.as_user("ops", admin=True)
    assert admin.call("GET", f"/admin/games/{game.group(1)}")["status"] == "LIVE"

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert any("stopped" in line for line in read_until(lines, "stopped", 5))
