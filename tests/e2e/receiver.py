"""A CRM stand-in on loopback: the standard library's threading HTTP server, taking the
events the local stack posts (frolic_tools.local.events_out) and keeping each request."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class EventReceiver:
    """Answers 200, or 503 to the next few requests that `fail` picks; `requests` keeps
    them all."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._failures = 0
        self._failing: Callable[[dict[str, Any]], bool] = lambda _: False
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    refuse = receiver._failures > 0 and receiver._failing(json.loads(body))
                    status = 503 if refuse else 200
                    receiver._failures -= 1 if refuse else 0
                    receiver.requests.append(Received(dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the tests read `requests`

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/frolic-events"

    def fail(self, count: int, events: Callable[[dict[str, Any]], bool]) -> None:
        """Answer 503 to the next `count` posts of events that `events` picks."""
        with self._lock:
            self._failures, self._failing = count, events

    def taken(self) -> list[Received]:
        """The requests answered 200."""
        with self._lock:
            return [r for r in self.requests if r.status == 200]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
