"""moto's server in its own process (frolic_tools.local.moto_server): it serves boto3, reports
what it served and each stream write, and never outlives the process that started it,
however that one ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

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
