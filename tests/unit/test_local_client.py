"""LocalClient's transport as its callers rely on it: one player's calls share a kept-alive
connection, every status is an answer, and a failed transport is an OSError."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from frolic_tools.local.client import ApiError, LocalClient


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the local gateway and API Gateway
    server: _CountingServer

    def do_GET(self) -> None:
        status = int(self.path.rpartition("/")[2] or 200)
        body = json.dumps({"path": self.path, "auth": self.headers.get("Authorization")})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Retry-After", "3")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _CountingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        super().process_request(request, client_address)


@pytest.fixture
def server() -> Iterator[_CountingServer]:
    running = _CountingServer()
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()
    thread.join()


def base_url(server: _CountingServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_a_client_and_the_clients_made_from_it_share_kept_alive_connections(
    server: _CountingServer,
) -> None:
    anonymous = LocalClient(base_url(server))
    player = anonymous.with_token("player-token")
    for _ in range(3):
        assert anonymous.request("GET", "/200").status == 200
        assert player.request("GET", "/202").json()["auth"] == "Bearer player-token"
    assert server.connections == 1


def test_every_status_is_an_answer_and_call_raises_for_errors(server: _CountingServer) -> None:
    client = LocalClient(base_url(server))
    refused = client.request("GET", "/429")
    assert (refused.status, refused.headers["retry-after"]) == (429, "3")
    assert refused.json()["path"] == "/429"
    with pytest.raises(ApiError) as failed:
        client.call("GET", "/503")
    assert failed.value.status == 503


def test_a_failed_transport_is_an_oserror() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(ConnectionError):
            LocalClient(f"http://127.0.0.1:{port}").request("GET", "/")


def test_a_silent_server_is_a_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts into the backlog, never answers
        client = LocalClient(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.2)
        with pytest.raises(TimeoutError):
            client.request("GET", "/")
