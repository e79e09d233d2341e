"""The local gateway's WebSockets as Frolic relies on them: the routes invoked in order,
API Gateway's limits and close codes, `$connect` refusals as HTTP statuses, pushes from
other threads, and a `$disconnect` for every way a socket ends. A gateway on a loopback
port, with recorded stand-ins for the functions; shortened limits where one is timed."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.sync.client import ClientConnection

from frolic_tools.local.client import open_websocket
from frolic_tools.local.devauth import DevTokens
from frolic_tools.local.functions import FunctionError
from frolic_tools.local.gateway import Gateway, SocketLimits
from frolic_tools.local.websocket_server import MAX_MESSAGE_BYTES

WAIT_SECONDS = 5.0
#: Limits short enough to pass while a test waits for their close frame.
SHORT = SocketLimits(
    idle_seconds=0.3, max_connection_seconds=60.0, close_wait_seconds=0.3, check_seconds=0.05
)


class RecordedFunctions:
    """Records every invocation; `$connect` answers `?refuse=STATUS` with that status,
    and a message `boom` fails as a function error would."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        context = event["requestContext"]
        with self._changed:
            self.events.append({"function": function, **event})
            self._changed.notify_all()
        if event.get("body") == "boom":
            raise FunctionError(function, RuntimeError("boom"))
        refuse = (event.get("queryStringParameters") or {}).get("refuse")
        if context["routeKey"] == "$connect" and refuse:
            return {"statusCode": int(refuse), "body": json.dumps({"message": "Forbidden"})}
        return {"statusCode": 200}

    def routes(self) -> list[str]:
        with self._changed:
            return [e["requestContext"]["routeKey"] for e in self.events]

    def wait_for(self, route_key: str) -> dict[str, Any]:
        """The first event of that route, once it has been invoked."""

        def found() -> dict[str, Any] | None:
            matches = (e for e in self.events if e["requestContext"]["routeKey"] == route_key)
            return next(matches, None)

        with self._changed:
            event = self._changed.wait_for(found, WAIT_SECONDS)
        assert event is not None, f"no {route_key} within {WAIT_SECONDS} s: {self.routes()}"
        return event

    def wait_for_messages(self, count: int) -> list[dict[str, Any]]:
        def enough() -> list[dict[str, Any]] | None:
            messages = [e for e in self.events if e["requestContext"].get("messageId")]
            return messages if len(messages) >= count else None

        with self._changed:
            messages = self._changed.wait_for(enough, WAIT_SECONDS)
        assert messages is not None, f"fewer than {count} messages: {self.routes()}"
        return messages


GatewayFactory = Callable[[SocketLimits], tuple[Gateway, RecordedFunctions]]


@pytest.fixture
def make_gateway() -> Iterator[GatewayFactory]:
    started: list[Gateway] = []

    def make(limits: SocketLimits) -> tuple[Gateway, RecordedFunctions]:
        gateway = Gateway(
            "127.0.0.1", 0, tokens=DevTokens(), web_root=None, status=dict, limits=limits
        )
        functions = RecordedFunctions()
        gateway.attach(functions)
        gateway.start()
        started.append(gateway)
        return gateway, functions

    yield make
    for gateway in started:
        gateway.stop()


def ws_url(gateway: Gateway, query: str = "") -> str:
    return f"ws://127.0.0.1:{gateway.port}/ws{query}"


def only_connection(gateway: Gateway) -> str:
    (connection_id,) = gateway.connections.ids()
    return connection_id


def expect_close(client: ClientConnection) -> int:
    """The code of the close frame the gateway sent."""
    with pytest.raises(ConnectionClosed) as closed:
        client.recv(timeout=WAIT_SECONDS)
    assert closed.value.rcvd is not None, "the connection ended without a close frame"
    return closed.value.rcvd.code


def test_messages_reach_their_routes_in_order(make_gateway: GatewayFactory) -> None:
    gateway, functions = make_gateway(SocketLimits())
    play = json.dumps({"action": "play", "playId": "p-1", "gameId": "g"})
    with open_websocket(ws_url(gateway)) as client:
        client.send("first")
        client.send(play)
        client.send(b"\xff\x00 binary")
        client.send(["frag", "mented"])  # one text message in two frames
        first, second, third, fourth = functions.wait_for_messages(4)
    assert (first["function"], first["body"]) == ("ws_connect", "first")
    assert (second["function"], second["requestContext"]["routeKey"]) == ("ingest", "play")
    assert second["body"] == play
    assert third["isBase64Encoded"] is True
    assert base64.b64decode(third["body"]) == b"\xff\x00 binary"
    assert (fourth["body"], fourth["isBase64Encoded"]) == ("fragmented", False)
    assert functions.wait_for("$disconnect")["requestContext"]["disconnectStatusCode"] == 1000
    assert functions.routes()[0] == "$connect"


def test_a_message_at_the_limit_passes_and_one_byte_more_closes_with_1009(
    make_gateway: GatewayFactory,
) -> None:
    gateway, functions = make_gateway(SocketLimits())
    with open_websocket(ws_url(gateway)) as client:
        client.send("x" * MAX_MESSAGE_BYTES)
        (delivered,) = functions.wait_for_messages(1)
        assert len(delivered["body"]) == MAX_MESSAGE_BYTES
        client.send("x" * (MAX_MESSAGE_BYTES + 1))
        assert expect_close(client) == 1009
    disconnect = functions.wait_for("$disconnect")["requestContext"]
    assert disconnect["disconnectStatusCode"] == 1009
    assert gateway.connections.ids() == []


def test_text_that_is_not_utf8_closes_with_1007(make_gateway: GatewayFactory) -> None:
    gateway, functions = make_gateway(SocketLimits())
    with open_websocket(ws_url(gateway)) as client:
        client.socket.sendall(Frame(Opcode.TEXT, b"\xff\xfe").serialize(mask=True))
        assert expect_close(client) == 1007
    assert functions.wait_for("$disconnect")["requestContext"]["disconnectStatusCode"] == 1007
    assert not [e for e in functions.events if e["requestContext"].get("messageId")]


def test_a_refused_connect_is_the_handshakes_http_status(make_gateway: GatewayFactory) -> None:
    gateway, functions = make_gateway(SocketLimits())
    with pytest.raises(InvalidStatus) as refused:
        open_websocket(ws_url(gateway, "?refuse=403"))
    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body or b"") == {"message": "Forbidden"}
    assert gateway.connections.ids() == []
    assert functions.routes() == ["$connect"]  # no socket, so no $disconnect either


def test_a_push_from_another_thread_reaches_the_socket(make_gateway: GatewayFactory) -> None:
    gateway, _ = make_gateway(SocketLimits())
    with open_websocket(ws_url(gateway)) as client:
        connection_id = only_connection(gateway)
        answers: list[bool] = []
        pushes = [b'{"type":"result"}', b"\xff not text"]
        pusher = threading.Thread(
            target=lambda: answers.extend(
                gateway.connections.post(connection_id, p) for p in pushes
            )
        )
        pusher.start()
        assert client.recv(timeout=WAIT_SECONDS) == '{"type":"result"}'
        assert client.recv(timeout=WAIT_SECONDS) == b"\xff not text"
        pusher.join()
        assert answers == [True, True]
        assert client.ping().wait(WAIT_SECONDS)  # pings are answered on the way
    assert not gateway.connections.post(connection_id, b"{}")  # gone: the caller's 410


def test_a_failed_route_tells_the_client_as_api_gateway_does(make_gateway: GatewayFactory) -> None:
    gateway, _ = make_gateway(SocketLimits())
    with open_websocket(ws_url(gateway)) as client:
        client.send("boom")
        reply = json.loads(client.recv(timeout=WAIT_SECONDS))
        assert reply["message"] == "Internal server error"
        assert reply["connectionId"] == only_connection(gateway)


def test_deleting_a_connection_closes_it_with_1000(make_gateway: GatewayFactory) -> None:
    gateway, functions = make_gateway(SocketLimits())
    with open_websocket(ws_url(gateway)) as client:
        assert gateway.connections.close(only_connection(gateway), 1000, "")
        assert expect_close(client) == 1000
    assert functions.wait_for("$disconnect")["requestContext"]["disconnectStatusCode"] == 1000


@pytest.mark.parametrize(
    "limits",
    [SHORT, SocketLimits(max_connection_seconds=0.3, check_seconds=0.05)],
    ids=["idle", "lifetime"],
)
def test_a_socket_past_its_limit_is_closed_going_away(
    make_gateway: GatewayFactory, limits: SocketLimits
) -> None:
    gateway, functions = make_gateway(limits)
    with open_websocket(ws_url(gateway)) as client:
        assert expect_close(client) == 1001
    assert functions.wait_for("$disconnect")["requestContext"]["disconnectStatusCode"] == 1001


def test_a_lost_connection_is_disconnected_with_1006(make_gateway: GatewayFactory) -> None:
    gateway, functions = make_gateway(SocketLimits())
    with open_websocket(ws_url(gateway)) as client:
        client.socket.shutdown(socket.SHUT_RDWR)  # the phone went into a tunnel
        disconnect = functions.wait_for("$disconnect")["requestContext"]
    assert disconnect["disconnectStatusCode"] == 1006
    assert gateway.connections.ids() == []


def test_a_peer_that_never_answers_the_close_is_dropped(make_gateway: GatewayFactory) -> None:
    gateway, functions = make_gateway(SHORT)
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=WAIT_SECONDS) as raw:
        raw.sendall(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        assert raw.recv(4096).startswith(b"HTTP/1.1 101 ")
        # Idle past its limit, closed, and it never answers: the gateway hangs up.
        disconnect = functions.wait_for("$disconnect")["requestContext"]
        assert raw.recv(4096)[:1] == bytes([0x88])  # the close frame came first
    assert disconnect["disconnectStatusCode"] == 1006


def test_stopping_the_gateway_closes_its_sockets_going_away(make_gateway: GatewayFactory) -> None:
    gateway, _ = make_gateway(SocketLimits())
    with open_websocket(ws_url(gateway)) as client:
        gateway.stop()
        assert expect_close(client) == 1001
