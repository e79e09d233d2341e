"""A stand-in for Frolic's player API on loopback, for the crowd's unit tests: the dev
issuer, tickets, `POST /plays`, `GET /plays/{playId}` and the results socket, over real
HTTP and a real WebSocket, with an intake that keeps the interval rule and can be told
to misbehave (never decide a play, refuse a player's first play, drop a socket).

Each player's token is their user id. Everything the crowd sends is recorded, and
`changed` is notified whenever a socket opens or ends, so a test waits on it.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve


@dataclass
class Behaviour:
    """How the intake answers; the defaults are a healthy API."""

    interval: float = 0.2
    #: Plays are queued and never decided: no push, and `pending` when read.
    undecided: bool = False
    #: Each player's first play is refused (429) with this retry-after, in seconds.
    refuse_first_for: float | None = None
    #: A socket that carries a play is dropped (no close frame) instead of answering.
    drop_sockets: bool = False
    #: Sockets past this many are refused at the handshake (403).
    sockets_allowed: int | None = None


@dataclass
class Intake:
    """What the API saw, behind one lock."""

    behaviour: Behaviour
    changed: threading.Condition = field(default_factory=threading.Condition)
    #: playId → (user, status or None while undecided)
    plays: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    #: Every send of every play (a resend counts again), by playId.
    sends: Counter[str] = field(default_factory=Counter)
    pushed: Counter[str] = field(default_factory=Counter)
    #: user → when each of their plays was accepted, and when one was refused.
    accepted_at: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    refused_at: dict[str, float] = field(default_factory=dict)
    tickets: dict[str, str] = field(default_factory=dict)
    sockets_admitted: int = 0
    sockets_open: int = 0
    _numbers: itertools.count[int] = field(default_factory=itertools.count)

    def accept(self, user: str, play_id: str) -> tuple[int, dict[str, Any], bool]:
        """(status, body, new play); the body is what REST answers and the socket's
        frame is made of."""
        now = time.monotonic()
        with self.changed:
            self.sends[play_id] += 1
            known = self.plays.get(play_id)
            if known is not None:
                return 202, {"playId": play_id, "status": "queued"}, False
            rule = self.behaviour
            past = self.accepted_at[user]
            wait = rule.interval - (now - past[-1]) if past else 0.0
            if rule.refuse_first_for is not None and user not in self.refused_at:
                self.refused_at[user] = now
                wait = rule.refuse_first_for
            if wait > 0:
                return 429, {"error": "too_many_plays", "retryAfter": wait}, False
            past.append(now)
            number = next(self._numbers)
            status = None if rule.undecided else ("won" if number % 3 == 0 else "lost")
            self.plays[play_id] = (user, status)
            return 202, {"playId": play_id, "status": "queued"}, True

    def view(self, user: str, play_id: str) -> dict[str, Any] | None:
        with self.changed:
            known = self.plays.get(play_id)
        if known is None or known[0] != user:
            return None
        status = known[1]
        view: dict[str, Any] = {"playId": play_id, "status": status or "pending"}
        if status == "won":
            view["coupon"] = {"brandId": "brand-a", "code": f"CODE-{play_id}"}
        return view

    def socket_changed(self, delta: int) -> None:
        with self.changed:
            self.sockets_open += delta
            self.changed.notify_all()

    def wait_for_sockets(self, count: int, timeout: float = 10.0) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.sockets_open == count, timeout)


class _Rest(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _RestServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if "retryAfter" in body:
            self.send_header("Retry-After", str(body["retryAfter"]))
        self.end_headers()
        self.wfile.write(data)

    def _user(self) -> str:
        return self.headers.get("Authorization", "").removeprefix("Bearer ")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        intake = self.server.intake
        if self.path == "/dev/token":
            self._answer(200, {"token": body["userId"]})
        elif self.path == "/ws-ticket":
            ticket = f"ticket-{self._user()}"
            with intake.changed:
                intake.tickets[ticket] = self._user()
            self._answer(200, {"ticket": ticket})
        elif self.path == "/plays":
            status, answer, _ = intake.accept(self._user(), body["playId"])
            self._answer(status, answer)
        else:
            self._answer(404, {"error": "not_found"})

    def do_GET(self) -> None:
        play_id = unquote(self.path.removeprefix("/plays/"))
        view = self.server.intake.view(self._user(), play_id)
        if view is None:
            self._answer(404, {"error": "not_found"})
        else:
            self._answer(200, view)


class _RestServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        super().__init__(("127.0.0.1", 0), _Rest)


class FakeFrolic:
    """The stand-in API: `api` and `ws_url` for a Crowd; `intake` for what it saw."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.intake = Intake(behaviour)
        self._rest = _RestServer(self.intake)
        self._sockets: Server = serve(
            self._serve_socket, "127.0.0.1", 0, process_request=self._check_ticket
        )
        self._threads = [
            threading.Thread(target=self._rest.serve_forever, daemon=True),
            threading.Thread(target=self._sockets.serve_forever, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self._rest.server_address[1]}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self._sockets.socket.getsockname()[1]}/ws"

    def stop(self) -> None:
        self._rest.shutdown()
        self._rest.server_close()
        self._sockets.shutdown()
        for thread in self._threads:
            thread.join()

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        intake = self.intake
        ticket = parse_qs(urlsplit(request.path).query).get("ticket", [""])[0]
        allowed = intake.behaviour.sockets_allowed
        with intake.changed:
            known = ticket in intake.tickets
            full = allowed is not None and intake.sockets_admitted >= allowed
            if known and not full:
                intake.sockets_admitted += 1
        if not known or full:
            return connection.respond(403, "Forbidden\n")
        return None

    def _serve_socket(self, connection: ServerConnection) -> None:
        intake = self.intake
        request = connection.request
        assert request is not None
        user = intake.tickets[parse_qs(urlsplit(request.path).query)["ticket"][0]]
        intake.socket_changed(+1)
        try:
            for text in connection:
                message = json.loads(text)
                play_id = message["playId"]
                status, answer, new = intake.accept(user, play_id)
                if intake.behaviour.drop_sockets:
                    connection.close_socket()  # accepted, then the line goes dead
                    return
                if status != 202:
                    connection.send(json.dumps({"type": "error", "playId": play_id, **answer}))
                    continue
                connection.send(json.dumps({"type": "queued", **answer}))
                view = intake.view(user, play_id)
                if new and view is not None and view["status"] != "pending":
                    with intake.changed:
                        intake.pushed[play_id] += 1
                    connection.send(json.dumps({"type": "result", **view}))
        finally:
            intake.socket_changed(-1)
