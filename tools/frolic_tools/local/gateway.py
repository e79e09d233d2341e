"""The local gateway: one port that plays API Gateway (REST and WebSocket), the
Management API callback, the dev token issuer and a static file server.

A ThreadingHTTPServer, so each client connection has a thread (a WebSocket keeps its
thread for its lifetime, reading frames through websockets' sans-I/O protocol and
invoking the routes in order). Handlers run through `LocalFunctions`, one invocation at
a time; the callback route never invokes anything, so a handler pushing to a socket from inside
an invocation is answered at once. No input can take the gateway down: malformed HTTP
gets a JSON 4xx, an unexpected failure a JSON 5xx, and the server keeps serving.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl, unquote

from frolic.auth import ADMIN_GROUP
from frolic_tools.local.aws_doors import (
    LAMBDA_PREFIX,
    S3_PREFIX,
    AsyncInvokes,
    Download,
    ExportLinks,
    Refusal,
)
from frolic_tools.local.connections import Connection, Connections
from frolic_tools.local.devauth import (
    DevTokens,
    InvalidTokenError,
    TokenRequestError,
    authorizer_claims,
    bearer_token,
    parse_token_request,
)
from frolic_tools.local.devoauth import PREFIX as DEV_PREFIX
from frolic_tools.local.devoauth import DevAuthorization, OAuthError
from frolic_tools.local.events import (
    Caller,
    SocketInfo,
    connect_event,
    disconnect_event,
    message_event,
    new_connection_id,
    rest_event,
)
from frolic_tools.local.functions import FunctionError
from frolic_tools.local.routes import (
    PAGES,
    MethodNotAllowed,
    RestMatch,
    content_type,
    match_rest,
    page_redirect,
    static_file,
)
from frolic_tools.local.websocket_server import (
    MAX_MESSAGE_BYTES,
    Message,
    ServerSocket,
    SocketClosedError,
)

log = logging.getLogger("frolic_tools.local")

#: The dev issuer's stand-ins for managed login's endpoints, by path, and their methods.
DEV_SIGN_IN_ROUTES: Final = {
    f"{DEV_PREFIX}/oauth2/authorize": "authorize",
    f"{DEV_PREFIX}/signup": "signup",
    f"{DEV_PREFIX}/oauth2/token": "token",
    f"{DEV_PREFIX}/oauth2/revoke": "revoke",
    f"{DEV_PREFIX}/logout": "logout",
}
DEV_SIGN_IN_METHODS: Final = {
    "authorize": ("GET", "POST"),
    "signup": ("GET",),
    "token": ("POST",),
    "revoke": ("POST",),
    "logout": ("GET",),
}
#: Tokens and login pages are never cached, as the token endpoint's answers say.
NO_STORE: Final = (("Cache-Control", "no-store"),)

#: Bodies above this are refused here, as API Gateway's REST payload limit (10 MB) does;
#: the functions hold their own, smaller limits (16 KB for plays, 5 MiB for CSV uploads).
MAX_BODY_BYTES: Final = 10 * 1000 * 1000
WS_PATH: Final = "/ws"
CONNECTIONS_PREFIX: Final = "/@connections/"
#: Close codes the gateway sends (RFC 6455 § 7.4.1).
CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001
#: Routes a WebSocket message can select (`$request.body.action`); others go to $default.
SOCKET_ROUTES: Final = {"play": "ingest"}
#: Routes with a route response (infra/constructs/apis.py, `return_response`): the body
#: the integration answers goes back to the socket, as API Gateway sends it.
ROUTE_RESPONSES: Final = frozenset({"play"})
UNAUTHORIZED: Final = {"error": "unauthenticated", "message": "Unauthorized"}
INTERNAL_ERROR: Final = {"message": "Internal server error"}


@dataclass(frozen=True, slots=True)
class SocketLimits:
    """API Gateway's WebSocket limits (docs/architecture.md § Limits); tests shorten them."""

    idle_seconds: float = 600.0
    max_connection_seconds: float = 7200.0
    #: How long a closing handshake may wait for the peer's close frame.
    close_wait_seconds: float = 2.0
    #: How often an idle socket's reader wakes up to check the limits above.
    check_seconds: float = 10.0


class Functions(Protocol):
    """What the gateway needs of `LocalFunctions`: invoke a handler, or FunctionError."""

    def invoke(self, function: str, event: dict[str, Any]) -> Any: ...


def route_key(text: str) -> str:
    """API Gateway's route selection on `$request.body.action`."""
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return "$default"
    action = parsed.get("action") if isinstance(parsed, dict) else None
    return action if isinstance(action, str) and action in SOCKET_ROUTES else "$default"


class Gateway:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        tokens: DevTokens,
        web_root: Path | None,
        status: Callable[[], dict[str, Any]],
        limits: SocketLimits | None = None,
    ) -> None:
        self.tokens = tokens
        self.sign_in = DevAuthorization(
            tokens, pages=PAGES, token_seconds=int(tokens.lifetime_seconds)
        )
        self.web_root = web_root
        self.status = status
        self.limits = limits or SocketLimits()
        self.connections = Connections()
        self.functions: Functions | None = None
        #: Lambda's asynchronous Invoke and the export links (`aws_doors`), once attached.
        self.invokes: AsyncInvokes | None = None
        self.links: ExportLinks | None = None
        self.stopping = False
        self._server = _Server(host, port, self)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def attach(
        self,
        functions: Functions,
        *,
        invokes: AsyncInvokes | None = None,
        links: ExportLinks | None = None,
    ) -> None:
        """The functions are loaded once the port is known (their settings name it)."""
        self.functions = functions
        self.invokes = invokes
        self.links = links

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="frolic-local-gateway",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self.stopping = True
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self.connections.close_all(CLOSE_GOING_AWAY, "the local stack is stopping")
        self._server.drop_clients(timeout=5.0)
        self._server.server_close()

    # -- WebSocket ----------------------------------------------------------------------

    def serve_socket(self, connection: Connection) -> None:
        """Read the connection's messages until it ends, then `$disconnect`."""
        ws, limits = connection.socket, self.limits
        code, reason = 1006, "connection lost"  # unless the socket says otherwise
        try:
            while True:
                if ws.closing and connection.closing_since is None:
                    connection.closing_since = time.monotonic()
                if (
                    connection.closing_since is not None
                    and time.monotonic() - connection.closing_since > limits.close_wait_seconds
                ):
                    break
                # Idle sockets are looked at every few seconds (limits of minutes); one
                # that is closing, more often (it gets close_wait_seconds).
                closing = connection.closing_since is not None
                wait = limits.close_wait_seconds / 2 if closing else limits.check_seconds
                try:
                    message = ws.recv(timeout=wait)
                except TimeoutError:
                    self._enforce_limits(connection)
                    continue
                except SocketClosedError as closed:
                    code, reason = closed.code, closed.reason
                    break
                connection.touch()
                self._on_message(connection, message)
        finally:
            self.connections.remove(connection.connection_id)
            ws.release()
            if not self.stopping:
                self._invoke_quietly(
                    "ws_connect", disconnect_event(connection.info, status_code=code, reason=reason)
                )

    def _enforce_limits(self, connection: Connection) -> None:
        now, limits = time.monotonic(), self.limits
        if self.stopping:
            connection.socket.abort()
        elif connection.closing_since is None and (
            now - connection.last_active > limits.idle_seconds
            or now - connection.opened > limits.max_connection_seconds
        ):
            self.connections.close(connection.connection_id, CLOSE_GOING_AWAY, "Going away")

    def _on_message(self, connection: Connection, message: Message) -> None:
        if message.text is None:
            body, is_base64, route = base64.b64encode(message.data).decode(), True, "$default"
        else:
            body, is_base64, route = message.text, False, route_key(message.text)
        function = SOCKET_ROUTES.get(route, "ws_connect")
        event = message_event(
            connection.info, route_key=route, body=body, is_base64_encoded=is_base64
        )
        failed, answer = self._invoke(function, event)
        if failed:
            # What API Gateway tells a client whose integration failed.
            reply = {
                **INTERNAL_ERROR,
                "connectionId": connection.connection_id,
                "requestId": event["requestContext"]["requestId"],
            }
            self.connections.post(connection.connection_id, json.dumps(reply).encode())
        elif route in ROUTE_RESPONSES and isinstance(answer, dict):
            response = answer.get("body")
            if isinstance(response, str) and response:
                self.connections.post(connection.connection_id, response.encode())

    def _invoke(self, function: str, event: dict[str, Any]) -> tuple[bool, Any]:
        """(failed, the function's answer); a failure is already logged."""
        if self.functions is None:
            return True, None
        try:
            return False, self.functions.invoke(function, event)
        except FunctionError:
            return True, None

    def _invoke_quietly(self, function: str, event: dict[str, Any]) -> bool:
        """Invoke for effect; False when the function failed (already logged)."""
        return not self._invoke(function, event)[0]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a crowd connects in bursts

    def __init__(self, host: str, port: int, gateway: Gateway) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.gateway = gateway
        self._clients_changed = threading.Condition()
        self._clients: set[socket.socket] = set()
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup of the host (no network)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def track(self, client: socket.socket) -> None:
        with self._clients_changed:
            self._clients.add(client)

    def untrack(self, client: socket.socket) -> None:
        with self._clients_changed:
            self._clients.discard(client)
            self._clients_changed.notify_all()

    def drop_clients(self, timeout: float) -> None:
        """Wake every handler thread (idle keep-alive ones included) and wait a little
        for them to end, so no request is still running when moto goes away."""
        with self._clients_changed:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        with self._clients_changed:
            self._clients_changed.wait_for(lambda: not self._clients, timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("gateway: unexpected error serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # so even a garbled request line gets a status
    server_version = "FrolicLocal"
    sys_version = ""
    timeout = 30.0  # idle keep-alive connections end after this

    # -- plumbing -----------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        # Answers and WebSocket frames go out as soon as they are written: with Nagle's
        # algorithm a second small write (a body after its headers) would wait for the
        # client's delayed ACK, up to 40 ms.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("gateway %s: %s", self.address_string(), format % args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, headers too long, unknown
        method) as JSON; the connection is closed after them. An unknown method is the
        client's mistake: 405, as API Gateway answers, never a 5xx."""
        if code == HTTPStatus.NOT_IMPLEMENTED:
            code = HTTPStatus.METHOD_NOT_ALLOWED
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self._json(
            code,
            {"error": phrase.lower().replace(" ", "_"), "message": message or phrase},
            close=True,
        )

    @property
    def gateway(self) -> Gateway:
        return self.server.gateway

    def _send(
        self,
        status: int,
        body: bytes,
        content_type_value: str | None,
        headers: Iterable[tuple[str, str]] = (),
        *,
        close: bool = False,
    ) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if content_type_value:
            self.send_header("Content-Type", content_type_value)
        self.send_header("Content-Length", str(len(body)))
        if close or self.gateway.stopping:
            self.send_header("Connection", "close")
            self.close_connection = True
        # end_headers() without its flush: head and body leave in one write.
        buffered: list[bytes] = self._headers_buffer  # type: ignore[attr-defined]
        head = b"".join([*buffered, b"\r\n"])
        buffered.clear()
        self.wfile.write(head if self.command == "HEAD" else head + body)

    def _json(
        self,
        status: int,
        payload: Any,
        headers: Iterable[tuple[str, str]] = (),
        *,
        close: bool = False,
    ) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self._send(status, body, "application/json", headers, close=close)

    def _caller(self) -> Caller:
        return Caller(str(self.client_address[0]), self.headers.get("User-Agent", ""))

    def _domain(self) -> str:
        return self.headers.get("Host") or f"{self.server.server_name}:{self.gateway.port}"

    # -- dispatch -----------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            self._route()
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:
            log.exception("gateway: %s %s failed", self.command, self.path[:200])
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._json(500, {"error": "internal_error", "message": "the gateway failed"})

    def _route(self) -> None:
        raw_path, _, query = self.path.partition("?")
        if not raw_path.startswith("/"):
            self._json(400, {"error": "bad_request", "message": "the path must start with /"})
            return
        if raw_path == WS_PATH:
            self._upgrade(query)
            return
        if raw_path.startswith(S3_PREFIX) and self.gateway.links is not None:
            self._export_link(self.gateway.links, raw_path[len(S3_PREFIX) :], query)
            return
        body = self._read_body()
        if body is None:
            return
        if raw_path.startswith(CONNECTIONS_PREFIX):
            self._management(raw_path[len(CONNECTIONS_PREFIX) :], body)
            return
        if raw_path.startswith(f"{LAMBDA_PREFIX}/") and self.gateway.invokes is not None:
            refusal = self.gateway.invokes.accept(raw_path, dict(self.headers.items()), body)
            if refusal is None:
                self._send(202, b"", None)
            else:
                self._json(refusal.status, {"message": refusal.message})
            return
        if raw_path == "/dev/token":
            self._dev_token(body)
            return
        if raw_path == "/dev/status":
            self._dev_status()
            return
        if raw_path in DEV_SIGN_IN_ROUTES:
            self._dev_sign_in(DEV_SIGN_IN_ROUTES[raw_path], query, body)
            return
        path = unquote(raw_path)
        match = match_rest(self.command, path)
        if isinstance(match, RestMatch):
            self._rest(match, path, query, body)
            return
        if isinstance(match, MethodNotAllowed):
            self._method_not_allowed(match.allowed)
            return
        if self.command in ("GET", "HEAD"):
            target = page_redirect(raw_path)
            if target is not None:
                location = f"{target}?{query}" if query else target
                self._send(301, b"", None, [("Location", location)])
                return
            file = static_file(self.gateway.web_root, raw_path)
            if file is not None:
                self._file(file)
                return
        self._json(404, {"error": "not_found", "message": "no such route"})

    def _method_not_allowed(self, allowed: Iterable[str]) -> None:
        methods = ", ".join(allowed)
        self._json(
            405,
            {"error": "method_not_allowed", "message": f"use {methods}"},
            [("Allow", methods)],
        )

    def _read_body(self) -> bytes | None:
        """The request body, or None once a refusal has been sent."""
        if self.headers.get("Transfer-Encoding"):
            # A bad request as API Gateway sees it (400), not a status the API never lists.
            self._json(
                400,
                {"error": "bad_request", "message": "send a Content-Length, not chunks"},
                close=True,
            )
            return None
        declared = self.headers.get("Content-Length")
        if declared is None:
            return b""
        try:
            size = int(declared)
            if size < 0:
                raise ValueError(declared)
        except ValueError:
            self._json(
                400, {"error": "bad_request", "message": "invalid Content-Length"}, close=True
            )
            return None
        if size > MAX_BODY_BYTES:
            self._json(
                413,
                {
                    "error": "payload_too_large",
                    "message": f"request bodies are limited to {MAX_BODY_BYTES} bytes",
                },
                close=True,
            )
            return None
        body = self.rfile.read(size)
        if len(body) != size:
            self.close_connection = True
            return None
        return body

    # -- REST ---------------------------------------------------------------------------

    def _claims(self) -> dict[str, Any] | None:
        token = bearer_token(self.headers.get("Authorization"))
        if token is None:
            return None
        try:
            return self.gateway.tokens.verify(token)
        except InvalidTokenError:
            return None

    def _rest(self, match: RestMatch, path: str, query: str, body: bytes) -> None:
        claims = None
        if not match.route.public:
            verified = self._claims()
            if verified is None:
                self._json(401, UNAUTHORIZED, [("WWW-Authenticate", "Bearer")])
                return
            claims = authorizer_claims(verified)
        functions = self.gateway.functions
        if functions is None or self.gateway.stopping:
            self._json(503, {"message": "Service Unavailable"}, close=True)
            return
        event = rest_event(
            method=self.command,
            path=path,
            resource=match.route.resource,
            path_parameters=match.path_parameters,
            query=parse_qsl(query, keep_blank_values=True),
            headers=list(self.headers.items()),
            body=body,
            claims=claims,
            caller=self._caller(),
            domain=self._domain(),
        )
        try:
            response = functions.invoke(match.route.function, event)
        except FunctionError:
            self._json(502, INTERNAL_ERROR)
            return
        self._proxy_response(response)

    def _proxy_response(self, response: Any) -> None:
        """A Lambda proxy answer on the wire; a malformed one is API Gateway's 502."""
        status = response.get("statusCode", 200) if isinstance(response, Mapping) else None
        if not isinstance(status, int) or not 100 <= status <= 599:
            log.warning("gateway: a function answered without a valid statusCode")
            self._json(502, INTERNAL_ERROR)
            return
        assert isinstance(response, Mapping)
        body = response.get("body") or ""
        try:
            if not isinstance(body, str):
                raise TypeError("body must be a string")
            raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
        except (TypeError, ValueError, binascii.Error):
            log.warning("gateway: a function answered with an unreadable body")
            self._json(502, INTERNAL_ERROR)
            return
        headers: list[tuple[str, str]] = []
        seen: set[str] = set()
        skipped = {"content-length", "transfer-encoding", "connection", "content-type"}
        media = "application/json"
        for name, value in (response.get("headers") or {}).items():
            if str(name).lower() == "content-type":
                media = str(value)
            elif str(name).lower() not in skipped:
                headers.append((str(name), str(value)))
                seen.add(str(name).lower())
        for name, values in (response.get("multiValueHeaders") or {}).items():
            lowered = str(name).lower()
            if lowered in seen or lowered in skipped or not isinstance(values, list):
                continue
            headers += [(str(name), str(value)) for value in values]
        self._send(status, raw, media, headers)

    # -- dev routes ---------------------------------------------------------------------

    def _dev_token(self, body: bytes) -> None:
        if self.command != "POST":
            self._method_not_allowed(["POST"])
            return
        try:
            request = parse_token_request(body)
        except TokenRequestError as error:
            self._json(
                400,
                {
                    "error": "invalid_request",
                    "message": "the request is not valid",
                    "fields": [{"field": error.field, "message": error.message}],
                },
            )
            return
        token = self.gateway.tokens.issue(request.user_id, admin=request.admin, staff=request.staff)
        self._json(200, {"token": token, "userId": request.user_id, "admin": request.admin})

    def _dev_status(self) -> None:
        if self.command != "GET":
            self._method_not_allowed(["GET"])
            return
        claims = self._claims()
        if claims is None:
            self._json(401, UNAUTHORIZED)
            return
        if ADMIN_GROUP not in (claims.get("cognito:groups") or []):
            self._json(403, {"error": "forbidden", "message": "the status is for admins"})
            return
        self._json(200, self.gateway.status())

    def _dev_sign_in(self, route: str, query: str, body: bytes) -> None:
        """Managed login's endpoints, as the dev issuer plays them (`devoauth`)."""
        methods = DEV_SIGN_IN_METHODS[route]
        if self.command not in methods:
            self._method_not_allowed(methods)
            return
        params = dict(parse_qsl(query if self.command == "GET" else body.decode(errors="replace")))
        origin = f"http://{self._domain()}"
        sign_in = self.gateway.sign_in
        try:
            if route in ("authorize", "signup") and self.command == "GET":
                request = sign_in.authorize_request(params, origin=origin)
                page = sign_in.login_page(request, sign_up=route == "signup")
                self._send(200, page.encode(), "text/html; charset=utf-8", NO_STORE)
            elif route == "authorize":
                self._send(302, b"", None, [("Location", sign_in.sign_in(params, origin=origin))])
            elif route == "token":
                self._json(200, sign_in.token(params), NO_STORE)
            elif route == "revoke":
                sign_in.revoke(params)
                self._send(200, b"", None)
            else:
                target = sign_in.logout_target(params, origin=origin)
                self._send(302, b"", None, [("Location", target)])
        except OAuthError as error:
            self._json(400, {"error": error.error, "error_description": error.description})

    # -- Management API -----------------------------------------------------------------

    def _management(self, encoded_id: str, body: bytes) -> None:
        """`@connections/{id}`: POST writes a message, GET describes, DELETE closes.

        Only SigV4-signed calls are served (the signature itself is not checked: the
        stack's credentials are fake); a web page cannot send that header without a CORS
        preflight this gateway never grants, so it cannot push to players.
        """
        if not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
            self._json(403, {"message": "Missing Authentication Token"})
            return
        connection_id = unquote(encoded_id)  # ids are base64: '/' and '=' come encoded
        if not connection_id or "/" in encoded_id:
            self._json(400, {"message": "Invalid connectionId"}, [_error_type("BadRequest")])
            return
        connections = self.gateway.connections
        if self.command == "POST":
            if len(body) > MAX_MESSAGE_BYTES:
                self._json(
                    413,
                    {"message": f"messages are limited to {MAX_MESSAGE_BYTES} bytes"},
                    [_error_type("PayloadTooLargeException")],
                )
            elif connections.post(connection_id, body):
                self._send(200, b"", None)
            else:
                self._gone()
        elif self.command == "GET":
            connection = connections.get(connection_id)
            if connection is None:
                self._gone()
            else:
                self._json(200, connection.describe())
        elif self.command == "DELETE":
            if connections.close(connection_id, CLOSE_NORMAL, ""):
                self._send(204, b"", None)
            else:
                self._gone()
        else:
            self._method_not_allowed(["POST", "GET", "DELETE"])

    def _export_link(self, links: ExportLinks, path: str, query: str) -> None:
        """An export file, streamed from moto's S3 a block at a time (`aws_doors`)."""
        answer = links.open(self.command, path, query)
        if isinstance(answer, Refusal):
            self._json(answer.status, {"message": answer.message})
            return
        self._stream(answer)

    def _stream(self, download: Download) -> None:
        self.send_response(download.status)
        for name, value in download.headers:
            self.send_header(name, value)
        if not any(name == "Content-Length" for name, _ in download.headers):
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        with contextlib.closing(download.blocks()) as blocks:
            for block in blocks:
                if self.command != "HEAD":
                    self.wfile.write(block)

    def _gone(self) -> None:
        self._json(
            410,
            {"__type": "GoneException", "message": None},
            [_error_type("GoneException")],
        )

    # -- static files -------------------------------------------------------------------

    def _file(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except OSError:
            self._json(404, {"error": "not_found", "message": "no such page"})
            return
        self._send(
            200,
            data,
            content_type(path),
            [("Cache-Control", "no-cache"), ("X-Content-Type-Options", "nosniff")],
        )

    # -- WebSocket upgrade --------------------------------------------------------------

    def _upgrade(self, query: str) -> None:
        gateway = self.gateway
        ws = ServerSocket(
            self.connection,
            method=self.command,
            path=self.path,
            version=self.request_version,
            headers=self.headers.items(),
        )
        if not ws.acceptable:
            refusal = ws.answer
            headers = [(k, v) for k, v in refusal.headers.raw_items() if k in ("Allow", "Upgrade")]
            message = refusal.body.decode("utf-8", "replace").strip().partition("\n")[0]
            self._json(
                refusal.status_code,
                {"error": "bad_handshake", "message": message},
                headers,
                close=True,
            )
            return
        if self.headers.get("Content-Length") not in (None, "0"):
            self._json(400, {"error": "bad_handshake", "message": "no body"}, close=True)
            return
        if gateway.functions is None or gateway.stopping:
            self._json(503, {"message": "Service Unavailable"}, close=True)
            return
        info = SocketInfo(
            connection_id=new_connection_id(),
            connected_at_ms=int(time.time() * 1000),
            caller=self._caller(),
            domain=self._domain(),
        )
        event = connect_event(
            info,
            headers=list(self.headers.items()),
            query=parse_qsl(query, keep_blank_values=True),
        )
        try:
            answer = gateway.functions.invoke("ws_connect", event)
        except FunctionError:
            self._json(500, INTERNAL_ERROR, close=True)
            return
        status = answer.get("statusCode", 200) if isinstance(answer, Mapping) else 200
        if not isinstance(status, int) or not 200 <= status < 300:
            self.close_connection = True
            self._proxy_response(answer)
            return
        self.close_connection = True
        connection = Connection(info, ws)
        gateway.connections.add(connection)  # listed before the client can know its id
        ws.open()
        log.debug("gateway: socket %s open", info.connection_id)
        gateway.serve_socket(connection)


def _error_type(name: str) -> tuple[str, str]:
    """The header botocore reads an API Gateway error's code from."""
    return ("x-amzn-ErrorType", name)
