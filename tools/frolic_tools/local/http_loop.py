"""A WSGI app served over HTTP/1.1 by one thread: one request at a time, by construction.

What moto's server needs locally, and what werkzeug's development server does not give
it: werkzeug answers every request with `Connection: close`, so each boto3 call opens a
TCP connection and the server starts a thread for it, which cost more than most of
moto's answers. Here connections are kept alive and a single event loop reads them
all; it runs the app for a request only once the whole request has arrived, so a slow
or stalled client holds up nobody, and the app never sees two requests at once (moto is
not thread-safe). Answers are written without blocking, in order per connection.

Enough of HTTP/1.1 for AWS SDK clients, the e2e tests and a curl: Content-Length bodies
(a chunked request body is refused with 411), pipelining, `Expect: 100-continue`,
keep-alive unless the client says otherwise, HEAD. Malformed requests get a 400 and the
connection is closed; nothing a client sends stops the loop.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import selectors
import socket
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import unquote

log = logging.getLogger("frolic_tools.local")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MAX_HEAD_BYTES: Final = 64 * 1024
#: DynamoDB's largest request (BatchWriteItem) is 16 MB, Kinesis PutRecords 5 MB.
MAX_BODY_BYTES: Final = 64 * 1024 * 1024
#: Connections nobody used for this long are closed (clients reconnect on their own).
IDLE_SECONDS: Final = 300.0
_RECV_BYTES: Final = 256 * 1024
_HOP_BY_HOP: Final = frozenset(
    {"connection", "content-length", "keep-alive", "transfer-encoding", "upgrade"}
)
_NO_BODY_STATUSES: Final = frozenset({204, 304})


class HttpError(Exception):
    """A request the loop answers itself, then closes the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class Request:
    """One complete request, parsed."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in reversed(self.headers):
            if key.lower() == lowered:
                return value
        return None

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in (self.header("Connection") or "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


@dataclass(slots=True)
class _Head:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    length: int
    expects_continue: bool


def parse_head(raw: bytes) -> _Head:
    """The request line and headers (without the blank line that ends them)."""
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
        raise HttpError(400, "unreadable request head") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1]:
        raise HttpError(400, "bad request line")
    method, target, version = parts
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise HttpError(505, "HTTP/1.0 or HTTP/1.1 only")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or " " in name:
            raise HttpError(400, "bad header line")
        headers.append((name, value.strip()))
    length = 0
    expects_continue = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == "transfer-encoding":
            raise HttpError(411, "send a Content-Length, not chunks")
        if lowered == "content-length":
            if not value.isdigit():
                raise HttpError(400, "invalid Content-Length")
            length = int(value)
        elif lowered == "expect" and value.lower() == "100-continue":
            expects_continue = True
    if length > MAX_BODY_BYTES:
        raise HttpError(413, "request body too large")
    return _Head(method, target, version, headers, length, expects_continue)


def wsgi_environ(
    request: Request, *, server: tuple[str, int], peer: tuple[str, int]
) -> dict[str, Any]:
    """The environ werkzeug's server would build for the request (moto reads it)."""
    path, _, query = request.target.partition("?")
    if "://" in path:  # an absolute URL: its host is the Host
        scheme_host, _, rest = path.partition("://")[2].partition("/")
        host, path = scheme_host, "/" + rest
    else:
        host = None
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "SERVER_SOFTWARE": "FrolicLocal",
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(path).encode().decode("latin-1"),
        "QUERY_STRING": query,
        "REQUEST_URI": request.target,
        "RAW_URI": request.target,
        "REMOTE_ADDR": peer[0],
        "REMOTE_PORT": peer[1],
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": request.version,
    }
    for name, value in request.headers:
        if "_" in name:
            continue  # as werkzeug: X_Foo must not pass for X-Foo
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = f"HTTP_{key}"
        joined = f"{environ[key]},{value}" if key.startswith("HTTP_") and key in environ else value
        environ[key] = joined
    if host is not None:
        environ["HTTP_HOST"] = host
    return environ


def run_app(app: WSGIApp, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status code, headers and the whole body of the app's answer."""
    answer: dict[str, Any] = {}
    written: list[bytes] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        answer["status"], answer["headers"] = status, headers
        return written.append

    result = app(environ, start_response)
    try:
        written.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if "status" not in answer:
        raise RuntimeError("the app never started its response")
    code = int(str(answer["status"]).split(" ", 1)[0])
    return code, list(answer["headers"]), b"".join(written)


def render_response(
    code: int,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    *,
    head_only: bool,
    keep_alive: bool,
) -> bytes:
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = "Unknown"
    lines = [f"HTTP/1.1 {code} {phrase}"]
    lines += [f"{name}: {value}" for name, value in headers if name.lower() not in _HOP_BY_HOP]
    if not any(name.lower() == "date" for name, _ in headers):
        lines.append(f"Date: {formatdate(usegmt=True)}")
    if code not in _NO_BODY_STATUSES and not 100 <= code < 200:
        lines.append(f"Content-Length: {len(body)}")
    else:
        body = b""
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body


def _error_response(error: HttpError) -> bytes:
    body = (error.args[0] + "\n").encode()
    return render_response(
        error.status,
        [("Content-Type", "text/plain; charset=utf-8")],
        body,
        head_only=False,
        keep_alive=False,
    )


@dataclass(eq=False)
class _Connection:
    sock: socket.socket
    peer: tuple[str, int]
    inbox: bytearray = field(default_factory=bytearray)
    outbox: bytearray = field(default_factory=bytearray)
    head: _Head | None = None
    continued: bool = False
    #: No more requests are read; close once the outbox is written.
    closing: bool = False
    last_active: float = field(default_factory=time.monotonic)
    events: int = selectors.EVENT_READ


class LoopServer:
    """Serves `app` on a listening socket until `stop()` or until a watched file
    descriptor reaches end of file (the parent process going away, say).

    `after_request(request, status, seconds, cpu_seconds)` runs after each request the
    app answered; `every(seconds, action)` runs `action` between requests, in the loop's
    thread, so it may touch whatever the app touches.
    """

    def __init__(
        self,
        app: WSGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        after_request: Callable[[Request, int, float, float], None] | None = None,
    ) -> None:
        self._app = app
        self._after_request = after_request
        self._listener = socket.create_server((host, port), backlog=128)
        self._listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._connections: dict[socket.socket, _Connection] = {}
        self._running = True
        self._watched: dict[int, Callable[[], None]] = {}
        self._timers: list[tuple[float, float, Callable[[], None]]] = []
        self.every(min(IDLE_SECONDS, 30.0), self._close_idle)
        host_bound, port_bound = self._listener.getsockname()[:2]
        self.address: tuple[str, int] = (str(host_bound), int(port_bound))

    @property
    def port(self) -> int:
        return self.address[1]

    def every(self, seconds: float, action: Callable[[], None]) -> None:
        self._timers.append((time.monotonic() + seconds, seconds, action))

    def watch_for_eof(self, fd: int, on_eof: Callable[[], None]) -> None:
        """Call `on_eof` (and stop) once `fd` is readable and reads empty; any data
        read from it before that is discarded."""
        self._watched[fd] = on_eof
        self._selector.register(fd, selectors.EVENT_READ, "watch")

    def stop(self) -> None:
        self._running = False

    def serve_forever(self) -> None:
        try:
            while self._running:
                timeout = self._run_timers()
                for key, mask in self._selector.select(timeout):
                    if key.data is None:
                        self._accept()
                    elif key.data == "watch":
                        self._check_watched(int(key.fd))
                    else:
                        connection: _Connection = key.data
                        if mask & selectors.EVENT_READ:
                            self._read(connection)
                        if mask & selectors.EVENT_WRITE and connection.sock in self._connections:
                            self._writable(connection)
        finally:
            self.close()

    def close(self) -> None:
        for connection in list(self._connections.values()):
            self._drop(connection)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(self._listener)
        self._listener.close()
        self._selector.close()

    # -- the loop ---------------------------------------------------------------------

    def _run_timers(self) -> float:
        now = time.monotonic()
        timeout = 1.0
        for index, (due, period, action) in enumerate(self._timers):
            next_due = due
            if due <= now:
                try:
                    action()
                except Exception:
                    log.exception("local moto: a periodic task failed")
                next_due = now + period
                self._timers[index] = (next_due, period, action)
            timeout = min(timeout, max(0.0, next_due - now))
        return timeout

    def _check_watched(self, fd: int) -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._selector.unregister(fd)
            self._watched.pop(fd)()
            self._running = False

    def _accept(self) -> None:
        while True:
            try:
                sock, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # out of descriptors, say: keep serving the others
                log.warning("local moto: accept failed: %s", error)
                return
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(sock, (str(peer[0]), int(peer[1])))
            self._connections[sock] = connection
            self._selector.register(sock, selectors.EVENT_READ, connection)

    def _read(self, connection: _Connection) -> None:
        try:
            data = connection.sock.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(connection)
            return
        connection.last_active = time.monotonic()
        if connection.closing:
            return  # answering its last request; anything after it is ignored
        connection.inbox += data
        self._serve(connection)

    def _serve(self, connection: _Connection) -> None:
        """Answer the complete requests in the inbox, in order, while the answers can
        be written at once; the rest waits until the client has read them."""
        while connection.sock in self._connections and not connection.closing:
            if connection.outbox:
                return  # the client is slow to read: serve its next request later
            try:
                request = self._take_request(connection)
            except HttpError as error:
                connection.outbox += _error_response(error)
                connection.closing = True
                self._flush(connection)
                return
            if request is None:
                self._flush(connection)  # a 100 Continue, maybe
                return
            connection.outbox += self._answer(request, connection)
            if not request.keep_alive:
                connection.closing = True
            self._flush(connection)

    def _take_request(self, connection: _Connection) -> Request | None:
        inbox = connection.inbox
        if connection.head is None:
            end = inbox.find(b"\r\n\r\n")
            if end < 0:
                if len(inbox) > MAX_HEAD_BYTES:
                    raise HttpError(431, "request head too large")
                return None
            if end > MAX_HEAD_BYTES:
                raise HttpError(431, "request head too large")
            connection.head = parse_head(bytes(inbox[:end]))
            del inbox[: end + 4]
            connection.continued = False
        head = connection.head
        if len(inbox) < head.length:
            if head.expects_continue and not connection.continued:
                connection.continued = True
                connection.outbox += b"HTTP/1.1 100 Continue\r\n\r\n"
            return None
        body = bytes(inbox[: head.length])
        del inbox[: head.length]
        connection.head = None
        return Request(head.method, head.target, head.version, head.headers, body)

    def _answer(self, request: Request, connection: _Connection) -> bytes:
        environ = wsgi_environ(request, server=self.address, peer=connection.peer)
        started, cpu = time.perf_counter(), time.process_time()
        try:
            code, headers, body = run_app(self._app, environ)
        except Exception:
            log.exception("local moto: %s %s failed", request.method, request.target[:200])
            code, headers = 500, [("Content-Type", "text/plain; charset=utf-8")]
            body = b"Internal Server Error\n"
        if self._after_request is not None:
            try:
                self._after_request(
                    request, code, time.perf_counter() - started, time.process_time() - cpu
                )
            except Exception:
                log.exception("local moto: after-request hook failed")
        return render_response(
            code,
            headers,
            body,
            head_only=request.method == "HEAD",
            keep_alive=request.keep_alive,
        )

    def _flush(self, connection: _Connection) -> None:
        """Write what the socket takes now; wait for it to take more if need be."""
        outbox = connection.outbox
        while outbox:
            try:
                sent = connection.sock.send(outbox)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._drop(connection)
                return
            del outbox[:sent]
        if not outbox and connection.closing:
            self._drop(connection)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if outbox else 0)
        if connection.events != events:
            connection.events = events
            self._selector.modify(connection.sock, events, connection)

    def _writable(self, connection: _Connection) -> None:
        self._flush(connection)
        if connection.sock in self._connections and not connection.outbox:
            self._serve(connection)  # requests that arrived while it was reading

    def _close_idle(self) -> None:
        deadline = time.monotonic() - IDLE_SECONDS
        for connection in list(self._connections.values()):
            if connection.last_active < deadline:
                self._drop(connection)

    def _drop(self, connection: _Connection) -> None:
        if self._connections.pop(connection.sock, None) is None:
            return
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(connection.sock)
        with contextlib.suppress(OSError):
            connection.sock.close()
