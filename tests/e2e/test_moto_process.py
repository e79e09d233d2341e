"""moto's server in its own process (frolic_tools.local.moto_server): it serves boto3 over
kept-alive connections, hands moto one request at a time, shrugs off slow and broken
clients, reports what it served and each stream write, and never outlives the process
that started it, however that one ends."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError

from frolic_tools.local.moto_server import MotoServer
from tests.e2e.waiting import wait_for

REGION = "us-east-1"


class Writes:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.changed = threading.Condition()

    def __call__(self, arn: str, shard: str) -> None:
        with self.changed:
            self.seen.append((arn, shard))
            self.changed.notify_all()

    def wait_for_count(self, count: int) -> list[tuple[str, str]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.seen) >= count, timeout=20)
            return list(self.seen)


@pytest.fixture
def moto() -> Iterator[tuple[MotoServer, Writes]]:
    writes = Writes()
    server = MotoServer(on_stream_write=writes)
    server.start()
    try:
        yield server, writes
    finally:
        server.stop()


def client(server: MotoServer, service: str) -> Any:
    session: Any = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return session.client(service, endpoint_url=server.url)


def address(server: MotoServer) -> tuple[str, int]:
    parts = urlsplit(server.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


#: A DynamoDB ListTables by hand: moto picks the service from the credential's scope.
LIST_TABLES = {
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "Content-Type": "application/x-amz-json-1.0",
    "Authorization": (
        f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0"
    ),
}


def list_tables_over(sock: socket.socket, *, already_sent: int) -> list[str]:
    """Finish a ListTables on a raw socket whose first `already_sent` bytes were sent,
    and read the answer."""
    body = b"{}"
    head = "".join(f"{name}: {value}\r\n" for name, value in LIST_TABLES.items())
    request = (
        f"POST / HTTP/1.1\r\nHost: moto\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    sock.sendall(request[already_sent:])
    response = http.client.HTTPResponse(sock)
    response.begin()
    assert response.status == 200
    tables: list[str] = json.loads(response.read())["TableNames"]
    return tables


def gone(pid: int) -> bool:
    """The process has ended (a zombie waiting to be reaped counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_it_serves_boto3_and_reports_each_stream_write(
    moto: tuple[MotoServer, Writes],
) -> None:
    server, writes = moto
    assert server.patched
    db = client(server, "dynamodb")
    name = f"t-{uuid.uuid4().hex[:6]}"
    db.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    arn = db.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    streams = client(server, "dynamodbstreams")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    db.put_item(TableName=name, Item={"id": {"S": "a"}})
    with pytest.raises(ClientError):  # refused: nothing reaches the stream
        db.put_item(
            TableName=name,
            Item={"id": {"S": "a"}},
            ConditionExpression="attribute_not_exists(id)",
        )
    db.get_item(TableName=name, Key={"id": {"S": "a"}})
    db.put_item(TableName=name, Item={"id": {"S": "b"}})
    # Reports arrive in request order: a report of the refused write would come second.
    assert writes.wait_for_count(2) == [(arn, shard), (arn, shard)]

    kinesis = client(server, "kinesis")
    kinesis.create_stream(StreamName="plays", ShardCount=2)
    stream_arn = kinesis.describe_stream_summary(StreamName="plays")["StreamDescriptionSummary"][
        "StreamARN"
    ]
    put = kinesis.put_record(StreamName="plays", Data=b"{}", PartitionKey="p")
    assert writes.wait_for_count(3)[2] == (stream_arn, put["ShardId"])

    stats = server.stats()
    assert stats.pid == server.pid != os.getpid()
    assert stats.operations["DynamoDB PutItem"] == 3
    assert stats.operations["Kinesis PutRecord"] == 1
    assert stats.cpu > 0 and stats.busy > 0


def test_requests_share_one_kept_alive_connection(moto: tuple[MotoServer, Writes]) -> None:
    server, _ = moto
    connection = http.client.HTTPConnection(*address(server), timeout=10)
    sockets = []
    for _ in range(3):
        connection.request("POST", "/", body=b"{}", headers=LIST_TABLES)
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read()) == {"TableNames": []}
        assert response.getheader("Connection", "keep-alive").lower() != "close"
        sockets.append(connection.sock)
    connection.close()
    assert sockets[0] is not None and sockets == [sockets[0]] * 3  # never reconnected
    assert server.stats().operations["DynamoDB ListTables"] == 3


def test_moto_is_handed_one_request_at_a_time(moto: tuple[MotoServer, Writes]) -> None:
    server, _ = moto
    db = client(server, "dynamodb")
    db.create_table(
        TableName="busy",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    callers, calls = 6, 30
    failures: list[BaseException] = []

    def hammer(caller: int) -> None:
        own = client(server, "dynamodb")  # a client, and so connections, of its own
        try:
            for call in range(calls):
                own.put_item(TableName="busy", Item={"id": {"S": f"{caller}-{call}"}})
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=hammer, args=(caller,)) for caller in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    stats = server.stats()
    assert stats.operations["DynamoDB PutItem"] == callers * calls
    assert stats.most_at_once == 1
    assert db.scan(TableName="busy", Select="COUNT")["Count"] == callers * calls


def test_a_stalled_or_broken_client_holds_up_nobody(moto: tuple[MotoServer, Writes]) -> None:
    server, _ = moto
    db = client(server, "dynamodb")
    with socket.create_connection(address(server), timeout=10) as stalled:
        request_start = b"POST / HTTP/1.1\r\nHost: moto\r\n"
        stalled.sendall(request_start)  # and nothing more, for now
        with socket.create_connection(address(server), timeout=10) as broken:
            broken.sendall(b"NONSENSE\r\n\r\n")
            answer = http.client.HTTPResponse(broken)
            answer.begin()
            assert answer.status == 400 and answer.will_close
        assert db.list_tables()["TableNames"] == []  # served while the other waits
        assert list_tables_over(stalled, already_sent=len(request_start)) == []
    assert server.stats().operations["DynamoDB ListTables"] == 2


def test_stop_ends_the_process(moto: tuple[MotoServer, Writes]) -> None:
    server, _ = moto
    pid = server.pid
    assert pid is not None and not gone(pid)
    server.stop()
    assert gone(pid) and not server.running
    server.stop()  # twice is fine


def test_it_ignores_ctrl_c_and_ends_on_sigterm(moto: tuple[MotoServer, Writes]) -> None:
    server, _ = moto
    pid = server.pid
    assert pid is not None
    os.kill(pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group: ignored
    assert client(server, "dynamodb").list_tables()["TableNames"] == []
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: gone(pid), timeout=20, what="moto's process to end on SIGTERM")


PARENT = """
import sys
from frolic_tools.local.moto_server import MotoServer
server = MotoServer()
server.start()
print(server.pid, flush=True)
sys.stdin.read()
"""


def test_it_ends_when_the_process_that_started_it_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not gone(child)
        parent.kill()  # no chance to stop anything
        parent.wait(timeout=20)
        wait_for(lambda: gone(child), timeout=20, what="moto's process to end with its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
