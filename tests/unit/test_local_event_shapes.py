"""The events the local gateway and mappings hand the functions have API Gateway's and
Lambda's real shapes: each parses with Powertools' model of the event AWS sends, and
what the model reads back is what the request carried.

The stream records read from moto are checked in tests/integration/test_local_stream_shapes.py.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
    DynamoDBStreamLambdaOnFailureDestinationModel,
)

from frolic_tools.local import events, gateway
from frolic_tools.local.events import Caller, SocketInfo
from frolic_tools.local.functions import FunctionError, function_arn
from frolic_tools.local.mappings import (
    DELIVER,
    BatchRunner,
    FailureList,
    MappingStats,
    ShardCoordinates,
    StreamRecord,
)

CALLER = Caller("127.0.0.1", "pytest-agent")
IPV6_CALLER = Caller("::1", "pytest-agent")
DOMAIN = "localhost:3000"
CLAIMS = {"sub": "ann", "cognito:groups": "admin", "exp": "1900000000"}


def _ms(instant: datetime) -> int:
    return round(instant.timestamp() * 1000)


def _rest(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "method": "GET",
        "path": "/plays/p-1",
        "resource": "/plays/{playId}",
        "path_parameters": {"playId": "p-1"},
        "query": [],
        "headers": [("Host", DOMAIN)],
        "body": b"",
        "claims": CLAIMS,
        "caller": CALLER,
        "domain": DOMAIN,
    }
    return events.rest_event(**(arguments | overrides))


# -- REST -------------------------------------------------------------------------------


def test_a_rest_event_reads_back_as_the_request_was_made() -> None:
    before = time.time()
    event = _rest(
        method="POST",
        path="/admin/games/g-1/budgets",
        resource="/admin/{proxy+}",
        path_parameters={"proxy": "games/g-1/budgets"},
        query=[("tag", "a"), ("tag", "b"), ("empty", "")],
        headers=[("Host", DOMAIN), ("Accept", "text/csv"), ("Accept", "application/json")],
        body=b'{"budget": 5}',
    )
    after = time.time()
    parsed = APIGatewayProxyEventModel.model_validate(event)
    assert (parsed.httpMethod, parsed.path, parsed.resource) == (
        "POST",
        "/admin/games/g-1/budgets",
        "/admin/{proxy+}",
    )
    assert parsed.pathParameters == {"proxy": "games/g-1/budgets"}
    # API Gateway's two views of a repeated name: the last value, and all of them
    assert parsed.queryStringParameters == {"tag": "b", "empty": ""}
    assert parsed.multiValueQueryStringParameters == {"tag": ["a", "b"], "empty": [""]}
    assert parsed.headers["Accept"] == "application/json"
    assert parsed.multiValueHeaders["Accept"] == ["text/csv", "application/json"]
    assert (parsed.body, parsed.isBase64Encoded) == ('{"budget": 5}', False)
    context = parsed.requestContext
    assert context.authorizer is not None and context.authorizer.claims == CLAIMS
    assert context.resourcePath == parsed.resource
    assert context.httpMethod == parsed.httpMethod
    assert context.path.endswith(parsed.path)
    assert str(context.identity.sourceIp) == f"{CALLER.source_ip}/32"
    assert context.identity.userAgent == CALLER.user_agent
    assert context.domainName == DOMAIN
    assert _ms(context.requestTimeEpoch) in range(int(before * 1000), int(after * 1000) + 1)


def test_a_rest_event_without_a_body_query_or_caller_identity_parses() -> None:
    parsed = APIGatewayProxyEventModel.model_validate(
        _rest(path="/openapi.json", resource="/openapi.json", path_parameters=None, claims=None)
    )
    assert parsed.body is None
    assert parsed.queryStringParameters is None
    assert parsed.multiValueQueryStringParameters is None
    assert parsed.pathParameters is None
    assert parsed.requestContext.authorizer is None


def test_a_binary_body_is_passed_base64_encoded() -> None:
    raw = b"\xff\xfecode\n"
    parsed = APIGatewayProxyEventModel.model_validate(_rest(method="POST", body=raw))
    assert parsed.isBase64Encoded is True
    assert isinstance(parsed.body, str) and base64.b64decode(parsed.body) == raw


def _methods_the_gateway_serves() -> list[str]:
    handler = gateway._Handler  # the methods it answers are what matters
    return sorted(name.removeprefix("do_") for name in dir(handler) if name.startswith("do_"))


@pytest.mark.parametrize("method", _methods_the_gateway_serves())
def test_every_method_the_gateway_serves_is_one_a_rest_api_passes_on(method: str) -> None:
    parsed = APIGatewayProxyEventModel.model_validate(_rest(method=method))
    assert parsed.httpMethod == parsed.requestContext.httpMethod == method


# -- WebSocket --------------------------------------------------------------------------


@pytest.fixture(params=[CALLER, IPV6_CALLER], ids=["ipv4", "ipv6"])
def socket(request: pytest.FixtureRequest) -> SocketInfo:
    return SocketInfo(events.new_connection_id(), int(time.time() * 1000), request.param, DOMAIN)


def _assert_socket_event(context: Any, socket: SocketInfo, route: str, kind: str) -> None:
    """Route and type as API Gateway names them, and the connection's own details."""
    assert (context.route_key, context.event_type, context.message_direction) == (route, kind, "IN")
    assert context.connection_id == socket.connection_id
    assert _ms(context.connected_at) == socket.connected_at_ms
    assert context.connected_at.tzinfo == UTC
    assert context.identity.source_ip.network_address.compressed == socket.caller.source_ip
    assert context.identity.user_agent == socket.caller.user_agent
    assert context.domain_name == socket.domain
    assert _ms(context.request_time_epoch) >= socket.connected_at_ms


def test_a_connect_event_reads_back_as_the_handshake_was_made(socket: SocketInfo) -> None:
    event = events.connect_event(
        socket,
        headers=[
            ("Host", DOMAIN),
            ("Sec-WebSocket-Protocol", "a"),
            ("Sec-WebSocket-Protocol", "b"),
        ],
        query=[("ticket", "t-1")],
    )
    parsed = APIGatewayWebSocketConnectEventModel.model_validate(event)
    context = parsed.request_context
    _assert_socket_event(context, socket, "$connect", "CONNECT")
    assert parsed.headers["Sec-WebSocket-Protocol"] == "b"
    assert parsed.multi_value_headers["Sec-WebSocket-Protocol"] == ["a", "b"]
    assert event["queryStringParameters"] == {"ticket": "t-1"}
    assert parsed.is_base64_encoded is False


@pytest.mark.parametrize(("body", "encoded"), [('{"action":"ping"}', False), ("AAE=", True)])
def test_a_message_event_carries_its_route_body_and_a_message_id(
    socket: SocketInfo, body: str, encoded: bool
) -> None:
    event = events.message_event(socket, route_key="$default", body=body, is_base64_encoded=encoded)
    parsed = APIGatewayWebSocketMessageEventModel.model_validate(event)
    context = parsed.request_context
    assert context.message_id
    _assert_socket_event(context, socket, "$default", "MESSAGE")
    assert (parsed.body, parsed.is_base64_encoded) == (body, encoded)


def test_a_disconnect_event_carries_the_close_code_and_reason(socket: SocketInfo) -> None:
    event = events.disconnect_event(socket, status_code=1001, reason="Going away")
    parsed = APIGatewayWebSocketDisconnectEventModel.model_validate(event)
    context = parsed.request_context
    assert (context.disconnect_status_code, context.disconnect_reason) == (1001, "Going away")
    _assert_socket_event(context, socket, "$disconnect", "DISCONNECT")
    assert parsed.headers["Host"] == DOMAIN


def test_only_a_message_event_has_a_message_id(socket: SocketInfo) -> None:
    """API Gateway's rule, which the REST model also enforces on WebSocket contexts."""
    by_kind = {
        "CONNECT": events.connect_event(socket, headers=[("Host", DOMAIN)], query=[]),
        "MESSAGE": events.message_event(
            socket, route_key="$default", body="x", is_base64_encoded=False
        ),
        "DISCONNECT": events.disconnect_event(socket, status_code=1000, reason=""),
    }
    with_id = {kind for kind, event in by_kind.items() if "messageId" in event["requestContext"]}
    assert with_id == {"MESSAGE"}


# -- the on-failure destination ---------------------------------------------------------


def test_a_given_up_stream_batch_is_recorded_as_lambda_sends_it_on_failure() -> None:
    shard = ShardCoordinates(
        "dynamodb", "arn:aws:dynamodb:us-east-1:1:table/results/stream/x", "shardId-1"
    )
    arrival = 1_900_000_000.0
    records = [StreamRecord(str(100 + n), arrival + n, {"n": n}) for n in range(3)]

    def failing(event: dict[str, Any]) -> Any:
        raise FunctionError(DELIVER.function, RuntimeError("unhandled"))

    failures = FailureList()
    runner = BatchRunner(
        DELIVER,
        shard,
        invoke=failing,
        failures=failures,
        stats=MappingStats(),
        clock=lambda: arrival + 10,
    )
    assert runner.run(records)
    given_up = [
        DynamoDBStreamLambdaOnFailureDestinationModel.model_validate(entry)
        for entry in failures.entries()
    ]
    assert sum(entry.ddb_stream_batch_info.batch_size for entry in given_up) == len(records)
    for entry in given_up:
        info = entry.ddb_stream_batch_info
        assert (info.shard_id, info.stream_arn) == (shard.shard_id, shard.stream_arn)
        assert int(info.start_sequence_number) <= int(info.end_sequence_number)
        assert info.approximate_arrival_of_first_record.timestamp() >= arrival
        assert entry.request_context.condition == "RetryAttemptsExhausted"
        assert entry.request_context.function_arn == function_arn(DELIVER.function)
        assert entry.request_context.approximate_invoke_count == DELIVER.retries + 1
        assert entry.response_context.function_error == "Unhandled"
