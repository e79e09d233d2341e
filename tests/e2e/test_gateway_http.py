"""The gateway as a web server: pages, refusals, and bad input that must not hurt it,
plus the Management API callback that `deliver` and the WebSocket routes push through."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed

from frolic.dal.errors import is_gone
from frolic_tools.local import LocalClient, LocalStack
from frolic_tools.local.gateway import MAX_BODY_BYTES
from tests.e2e.conftest import PAGES, SECRET
from tests.e2e.waiting import wait_for


def raw_exchange(stack: LocalStack, data: bytes) -> tuple[int, dict[str, Any]]:
    """Send bytes as they are; the status and JSON body of the answer."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=5) as conn:
        conn.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = conn.recv(4096)
            if not chunk:
                break
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        headers = dict(
            line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:] if ": " in line
        )
        length = int(headers.get("Content-Length", "0"))
        while len(body) < length:
            chunk = conn.recv(4096)
            if not chunk:
                break
            body += chunk
    status = int(head.split(b" ")[1])
    return status, json.loads(body) if body else {}


def get_exact(stack: LocalStack, path: str) -> tuple[int, bytes]:
    """A GET with the path sent byte for byte (no client-side normalising)."""
    status, body, _ = get_raw(stack, path)
    return status, body


def get_raw(stack: LocalStack, path: str) -> tuple[int, bytes, dict[str, str]]:
    """The same, with the answer's headers, and no redirect followed."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=5)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, response.read(), headers
    finally:
        conn.close()


def management_api(stack: LocalStack) -> Any:
    session = stack.boto3_session()
    return session.client(
        "apigatewaymanagementapi",
        endpoint_url=stack.base_url,
        config=Config(retries={"max_attempts": 1}),
    )


# -- pages --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name", "media"),
    [
        ("/", "index.html", "text/html"),
        ("/admin", "admin.html", "text/html"),
        ("/index.html", "index.html", "text/html"),
        ("/app.js", "app.js", "text/javascript"),
        ("/style.css", "style.css", "text/css"),
    ],
)
def test_pages_are_served_from_the_web_folder(
    anonymous: LocalClient, path: str, name: str, media: str
) -> None:
    reply = anonymous.request("GET", path)
    assert reply.status == 200
    assert reply.body.decode() == PAGES[name]
    assert reply.headers["content-type"].startswith(media)
    head = anonymous.request("HEAD", path)
    assert head.status == 200 and head.body == b""


@pytest.mark.parametrize(
    ("path", "location"),
    [("/admin/", "/admin"), ("/admin/?game=g-1&x=", "/admin?game=g-1&x=")],
)
def test_a_page_path_with_a_trailing_slash_is_redirected_as_cloudfront_does(
    stack: LocalStack, path: str, location: str
) -> None:
    status, _, headers = get_raw(stack, path)
    assert (status, headers["location"]) == (301, location)


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/static/../../secret.txt",
        "/.env",
        "/%2eenv",
        "//etc/passwd",
        "/index.html%00.js",
        "/..\\secret.txt",
        "/missing.js",
    ],
)
def test_nothing_outside_the_web_folder_can_be_reached(stack: LocalStack, path: str) -> None:
    status, body = get_exact(stack, path)
    assert status == 404
    assert SECRET.encode() not in body


# -- refusals -----------------------------------------------------------------------------


def test_unknown_routes_and_methods_get_json_errors(anonymous: LocalClient) -> None:
    missing = anonymous.request("POST", "/nowhere", body={})
    assert (missing.status, missing.json()["error"]) == (404, "not_found")
    wrong = anonymous.request("DELETE", "/plays")
    assert wrong.status == 405
    assert wrong.headers["allow"] == "POST"


def test_a_body_over_the_limit_is_refused_unread(stack: LocalStack) -> None:
    head = (
        f"POST /plays HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n"
    ).encode()
    status, body = raw_exchange(stack, head)
    assert (status, body["error"]) == (413, "payload_too_large")


def test_a_coupon_upload_larger_than_a_mebibyte_reaches_the_admin_function(
    admin: LocalClient,
) -> None:
    # 6 MiB: past the old 1 MiB gateway limit; the admin function's own 5 MiB limit answers
    reply = admin.request(
        "POST",
        "/admin/games/any-game/budgets/any-brand/coupons",
        raw=b"A" * (6 * 1024 * 1024),
        content_type="text/csv",
    )
    assert reply.status == 413
    assert "5242880" in reply.json()["message"]  # the function's limit, not the gateway's


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET /openapi.json HTTP/7.0\r\n\r\n", 505),
        (b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 120 + b"\r\n", 431),
        (b"POST /plays HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400),
        (b"POST /plays HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 426),  # not an upgrade: Upgrade Required
    ],
)
def test_malformed_http_gets_a_json_error_and_the_gateway_keeps_serving(
    stack: LocalStack, anonymous: LocalClient, request_bytes: bytes, status: int
) -> None:
    answered, body = raw_exchange(stack, request_bytes)
    assert answered == status
    assert isinstance(body.get("message"), str)
    assert anonymous.request("GET", "/openapi.json").status == 200


# -- the Management API callback ----------------------------------------------------------


@pytest.mark.parametrize("connection_id", ["Zm9yZ290dGVuIHNvY2s=", "a/b+c/d+ef/gh+i="])
def test_a_push_to_an_unknown_connection_is_410_gone(stack: LocalStack, connection_id: str) -> None:
    client = management_api(stack)
    with pytest.raises(ClientError) as gone:
        client.post_to_connection(ConnectionId=connection_id, Data=b"{}")
    assert is_gone(gone.value)
    assert gone.value.response["Error"]["Code"] == "GoneException"
    with pytest.raises(ClientError) as also_gone:
        client.get_connection(ConnectionId="Zm9yZ290dGVuIHNvY2s=")
    assert is_gone(also_gone.value)


def test_an_unsigned_push_is_refused(anonymous: LocalClient) -> None:
    reply = anonymous.request("POST", "/@connections/anything", raw=b"hello")
    assert reply.status == 403


def test_pushes_reach_an_open_socket_until_it_is_deleted(
    stack: LocalStack, anonymous: LocalClient
) -> None:
    client = management_api(stack)
    before = set(stack.connection_ids())
    with anonymous.as_user("pushed-player").open_socket() as socket_client:
        (connection_id,) = wait_for(
            lambda: set(stack.connection_ids()) - before, timeout=5, what="the new connection"
        )
        client.post_to_connection(ConnectionId=connection_id, Data=b'{"type":"hello"}')
        assert json.loads(socket_client.recv(timeout=5)) == {"type": "hello"}
        info = client.get_connection(ConnectionId=connection_id)
        assert info["Identity"]["SourceIp"] == "127.0.0.1"
        client.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed) as closed:
            socket_client.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1000
        with pytest.raises(ClientError) as gone:
            client.post_to_connection(ConnectionId=connection_id, Data=b"{}")
        assert is_gone(gone.value)


def test_the_functions_push_through_this_gateway(stack: LocalStack) -> None:
    callback = urlsplit(stack.settings.websocket_callback_url or "")
    assert (callback.scheme, callback.hostname, callback.port) == ("http", "127.0.0.1", stack.port)


def test_the_functions_call_moto_unsigned_and_the_management_api_signed(
    stack: LocalStack,
) -> None:
    """The handlers' clients come from boto3's default session, as the stack sets it:
    moto (which checks no signature) answers their unsigned calls, while the gateway
    serves only signed Management API calls."""
    session = boto3.DEFAULT_SESSION
    assert session is not None
    sent: list[tuple[int, bool]] = []

    def note(request: Any, **_: Any) -> None:
        sent.append((urlsplit(request.url).port or 0, "Authorization" in request.headers))

    db = session.client("dynamodb", endpoint_url=stack.moto_url)
    push = session.client(
        "apigatewaymanagementapi",
        endpoint_url=stack.base_url,
        config=Config(retries={"max_attempts": 1}),
    )
    for client in (db, push):
        client.meta.events.register("before-send", note)
    assert db.list_tables()["TableNames"]  # found by its target, unsigned
    with pytest.raises(ClientError) as refused:
        push.get_connection(ConnectionId="no-such-connection")
    assert is_gone(refused.value)  # served (a 410), not refused as unsigned (a 403)
    assert sent == [(urlsplit(stack.moto_url).port or 0, False), (stack.port, True)]
