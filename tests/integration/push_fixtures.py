"""Shared by the WebSocket, deliver and expiry tests: events as API Gateway and the
DynamoDB stream hand them to Lambda, a clock that tests move, and a real Management API
client under botocore's Stubber.

moto accepts `post_to_connection` for any id and never answers 410 Gone, so the
Management API is the one client these tests stub (botocore's own test tool): it checks
each call's connection id, raises 410 or other errors on cue, and refuses any call it
was not told to expect.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config
from botocore.stub import ANY, Stubber

from frolic.dal.push import Push
from frolic.dal.sessions import Sessions
from frolic.observability import logger
from frolic_tools.local import events
from frolic_tools.local.events import Caller, SocketInfo
from tests.integration.world import START, World

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

REGION = "us-east-1"
API_ID = events.API_ID
DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
STAGE = events.STAGE
ENDPOINT = f"https://{DOMAIN}/{STAGE}"
STREAM_ARN = (
    f"arn:aws:dynamodb:{REGION}:123456789012:table/frolic-results/stream/2030-03-17T17:46:40.000"
)
FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


@dataclass
class ManualClock:
    """`clock` and `sleep` for code that waits: sleeping moves time, never the test."""

    now: float = START
    slept: list[float] = field(default_factory=list)
    #: Runs after each sleep: what the rest of the world does while the code waits.
    meanwhile: Callable[[], None] | None = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.meanwhile is not None:
            self.meanwhile()


class PushStub:
    """The API Gateway Management API client, stubbed; records what was posted."""

    def __init__(self) -> None:
        self.client: ApiGatewayManagementApiClient = boto3.client(
            "apigatewaymanagementapi", endpoint_url=ENDPOINT, region_name=REGION
        )
        self.stubber = Stubber(self.client)
        self.posted: list[tuple[str, dict[str, Any]]] = []
        self.client.meta.events.register(
            "before-parameter-build.apigatewaymanagementapi.PostToConnection", self._record
        )
        self.stubber.activate()

    def push(self) -> Push:
        return Push(self.client)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.posted.append((params["ConnectionId"], json.loads(params["Data"])))

    def expect_post(self, connection_id: str) -> None:
        self.stubber.add_response(
            "post_to_connection", {}, {"ConnectionId": connection_id, "Data": ANY}
        )

    def expect_gone(self, connection_id: str) -> None:
        self.expect_error(connection_id, "GoneException", 410)

    def expect_error(self, connection_id: str, code: str, status: int) -> None:
        self.stubber.add_client_error(
            "post_to_connection",
            service_error_code=code,
            service_message=f"{code} (stubbed)",
            http_status_code=status,
            expected_params={"ConnectionId": connection_id, "Data": ANY},
        )

    def messages_to(self, connection_id: str) -> list[dict[str, Any]]:
        return [message for target, message in self.posted if target == connection_id]

    def assert_all_used(self) -> None:
        self.stubber.assert_no_pending_responses()


# -- API Gateway WebSocket events (the local gateway's builders) ---------------------------

#: The one player socket these tests stand in for: a phone on a public address.
CALLER = Caller(source_ip="203.0.113.7", user_agent="Mozilla/5.0")


def _socket(connection_id: str) -> SocketInfo:
    return SocketInfo(
        connection_id=connection_id,
        connected_at_ms=int(START * 1000),
        caller=CALLER,
        domain=DOMAIN,
    )


def connect_event(connection_id: str, query: Mapping[str, str] | None = None) -> dict[str, Any]:
    headers = [
        ("Host", DOMAIN),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
        ("X-Forwarded-For", CALLER.source_ip),
    ]
    return events.connect_event(
        _socket(connection_id), headers=headers, query=list((query or {}).items())
    )


def disconnect_event(connection_id: str) -> dict[str, Any]:
    return events.disconnect_event(_socket(connection_id), status_code=1001, reason="Going away")


def message_event(
    connection_id: str, body: str | None, *, is_base64_encoded: bool = False
) -> dict[str, Any]:
    info = _socket(connection_id)
    event = events.message_event(
        info, route_key="$default", body=body or "", is_base64_encoded=is_base64_encoded
    )
    event["body"] = body  # some tests send no body at all, which a handler must survive
    return event


# -- DynamoDB Streams events --------------------------------------------------------------

_serializer = TypeSerializer()


def _for_dynamodb(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {k: _for_dynamodb(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_for_dynamodb(v) for v in value]
    return value


def image(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(_for_dynamodb(v)) for k, v in item.items() if v is not None}


@dataclass
class StreamRecords:
    """Results-stream records as the event source mapping hands them to Lambda."""

    sequence: int = 100_000_000_000_000_000_000

    def record(
        self,
        event_name: str,
        *,
        new: Mapping[str, Any] | None = None,
        old: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        self.sequence += 1
        play_id = (new or old or {})["playId"]
        body: dict[str, Any] = {
            "ApproximateCreationDateTime": START,
            "Keys": image({"playId": play_id}),
            "SequenceNumber": str(self.sequence),
            "SizeBytes": 256,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
        if new is not None:
            body["NewImage"] = image(new)
        if old is not None:
            body["OldImage"] = image(old)
        raw = {
            "eventID": f"{self.sequence:x}",
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": body,
        }
        return events.dynamodb_record(raw, stream_arn=STREAM_ARN)


def stream_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


class ResultsStream:
    """Reads the records moto's DynamoDB Streams holds for the results table, shaped as
    Lambda gets them: the real thing, to check the hand-built records against."""

    def __init__(self, world: World) -> None:
        # No type stubs for this client in the dev set; it is only read here.
        # moto serves the classic endpoint, not the account-based one botocore picks for ARNs.
        self._streams: Any = boto3.client(
            "dynamodbstreams",
            region_name=REGION,
            config=Config(account_id_endpoint_mode="disabled"),
        )
        table = world.db.describe_table(TableName=world.settings.results_table)["Table"]
        self._arn = table["LatestStreamArn"]
        shard = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"][0]
        self._iterator: str | None = self._streams.get_shard_iterator(
            StreamArn=self._arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def new_records(self) -> list[dict[str, Any]]:
        """Records written since the last call."""
        assert self._iterator is not None
        response = self._streams.get_records(ShardIterator=self._iterator)
        self._iterator = response.get("NextShardIterator")
        records: list[dict[str, Any]] = []
        for raw in response["Records"]:
            record: dict[str, Any] = json.loads(json.dumps(raw, default=str))
            created = raw["dynamodb"].get("ApproximateCreationDateTime")
            if created is not None:
                record["dynamodb"]["ApproximateCreationDateTime"] = created.timestamp()
            record["eventSourceARN"] = self._arn
            records.append(record)
        return records


def emitted_logs(caplog: pytest.LogCaptureFixture) -> str:
    """The log lines exactly as Powertools writes them, extra keys included (caplog's own
    text leaves those out, and the logger's stream was bound before capfd could swap it)."""
    return "\n".join(logger.registered_formatter.format(record) for record in caplog.records)


# -- Lambda -----------------------------------------------------------------------------


def load_handler(function: str, module: str = "handler") -> ModuleType:
    """A function's entry point as Lambda loads it: a file, not part of a package."""
    path = FUNCTIONS / function / f"{module}.py"
    spec = importlib.util.spec_from_file_location(f"{function}_{module}", path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(now=START)


@pytest.fixture
def push_stub(world: World) -> Iterator[PushStub]:
    stub = PushStub()
    yield stub
    stub.stubber.deactivate()


@pytest.fixture
def sessions(world: World, clock: ManualClock) -> Sessions:
    return Sessions(world.db, world.settings, clock=clock)
