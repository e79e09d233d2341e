"""frolic_tools.local.http_loop: HTTP/1.1 with keep-alive from one thread, so the app sees one
request at a time, and no client, slow or broken, holds up the others."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from frolic_tools.local.http_loop import MAX_HEAD_BYTES, LoopServer, Request


class Probe:
    """A WSGI app that echoes what it was asked and notes how many run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most_at_once = 0
        self.calls = 0
        self.guard = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        with self.guard:
            self.running += 1
            self.calls += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            if environ["PATH_INFO"] == "/boom":
                raise RuntimeError("the app failed")
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            answer = {
                "method": environ["REQUEST_METHOD"],
                "path": environ["PATH_INFO"],
                "query": environ["QUERY_STRING"],
                "target": environ.get("HTTP_X_AMZ_TARGET"),
                "body": body.decode(),
            }
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps(answer).encode()]
        finally:
            with self.guard:
                self.running -= 1


@pytest.fixture
def served() -> Iterator[tuple[LoopServer, Probe, list[tuple[str, int]]]]:
    probe = Probe()
    seen: list[tuple[str, int]] = []

    def after(request: Request, status: int, seconds: float, cpu: float) -> None:
        seen.append((request.target, status))

    server = LoopServer(probe, "127.0.0.1", 0, after_request=after)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, probe, seen
    server.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()


def connect(server: LoopServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    _readers.pop(id(sock), None)
    return sock


_readers: dict[int, Any] = {}


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response off the socket (one buffered reader per socket, so responses read
    back to back lose no bytes)."""
    reader = _readers.setdefault(id(sock), sock.makefile("rb"))
    status_line = reader.readline().decode("latin-1")
    assert status_line.startswith("HTTP/1.1 "), status_line
    headers: dict[str, str] = {}
    while (line := reader.readline().decode("latin-1").rstrip("\r\n")) != "":
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def test_requests_share_one_kept_alive_connection(
    served: tuple[LoopServer, Probe, list[tuple[str, int]]],
) -> None:
    server, probe, seen = served
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    for index in range(3):
        client.request(
            "POST",
            f"/p{index}?x=1",
            body=b'{"k": 1}',
            headers={"X-Amz-Target": "DynamoDB_20120810.GetItem"},
        )
        response = client.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200
        assert response.getheader("Connection") == "keep-alive"
        assert answer == {
            "method": "POST",
            "path": f"/p{index}",
            "query": "x=1",
            "target": "DynamoDB_20120810.GetItem",
            "body": '{"k": 1}',
        }
        if index == 0:
            first_socket = client.sock
        assert client.sock is first_socket  # never reconnected
    client.close()
    assert seen == [("/p0?x=1", 200), ("/p1?x=1", 200), ("/p2?x=1", 200)]
    assert probe.calls == 3


def test_pipelined_requests_are_answered_in_order(
    served: tuple[LoopServer, Probe, list[tuple[str, int]]],
) -> None:
    server, _, _ = served
    with connect(server) as sock:
        sock.sendall(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
            b"HEAD /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        first = read_response(sock)
        second = read_response(sock)
        status, headers, body = read_response(sock)
        assert body == b""  # HEAD: the length of the body, never the body
        assert int(headers["content-length"]) > 0
        assert json.loads(first[2])["path"] == "/a"
        assert json.loads(second[2])["body"] == "abc"
        assert status == 200 and headers["connection"] == "close"
        assert sock.recv(1) == b""  # closed after the request that asked for it


def test_a_stalled_client_holds_up_nobody(
    served: tuple[LoopServer, Probe, list[tuple[str, int]]],
) -> None:
    server, _, _ = served
    with connect(server) as stalled:
        stalled.sendall(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhal")
        client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        client.request("GET", "/quick")
        assert client.getresponse().status == 200
        client.close()
        stalled.sendall(b"f a body")
        status, _, body = read_response(stalled)
        assert status == 200 and json.loads(body)["body"] == "half a bod"


def test_the_app_never_runs_twice_at_once(
    served: tuple[LoopServer, Probe, list[tuple[str, int]]],
) -> None:
    server, probe, _ = served
    failures: list[BaseException] = []

    def hammer() -> None:
        try:
            client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            for _ in range(25):
                client.request("POST", "/x", body=b"x" * 5000)
                assert client.getresponse().read()
            client.close()
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    assert probe.calls == 200
    assert probe.most_at_once == 1


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
        (b"POST / HTTP/1.1\r\nContent-Length: -4\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 10) + b"\r\n\r\n", 431),
    ],
)
def test_a_bad_request_is_refused_and_the_server_serves_on(
    served: tuple[LoopServer, Probe, list[tuple[str, int]]], raw: bytes, status: int
) -> None:
    server, probe, _ = served
    with connect(server) as sock:
        sock.sendall(raw)
        answered, headers, _ = read_response(sock)
        assert (answered, headers["connection"]) == (status, "close")
    assert probe.calls == 0
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    client.request("GET", "/after")
    assert client.getresponse().status == 200
    client.close()


def test_an_app_failure_is_a_500_and_the_connection_lives_on(
    served: tuple[LoopServer, Probe, list[tuple[str, int]]],
) -> None:
    server, _, seen = served
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    client.request("GET", "/boom")
    assert client.getresponse().read() and seen[-1] == ("/boom", 500)
    client.request("GET", "/fine")
    assert client.getresponse().status == 200
    client.close()


def test_expect_100_continue_is_answered_before_the_body(
    served: tuple[LoopServer, Probe, list[tuple[str, int]]],
) -> None:
    server, _, _ = served
    with connect(server) as sock:
        sock.sendall(b"PUT /up HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"data")
        status, _, body = read_response(sock)
        assert status == 200 and json.loads(body)["body"] == "data"


def test_end_of_file_on_a_watched_descriptor_stops_the_loop() -> None:
    server = LoopServer(Probe(), "127.0.0.1", 0)
    ours, theirs = socket.socketpair()
    gone: list[bool] = []
    server.watch_for_eof(theirs.fileno(), lambda: gone.append(True))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ours.sendall(b"noise is ignored")
    ours.close()
    thread.join(timeout=10)
    theirs.close()
    assert not thread.is_alive() and gone == [True]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
