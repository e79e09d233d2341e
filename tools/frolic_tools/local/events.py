"""The events Lambda hands Frolic's functions, built from local traffic: API Gateway's
from HTTP and WebSocket requests, and the event source mappings' records from what
Kinesis and DynamoDB Streams return. The local stack and the tests build every event
here (tests check them against Powertools' models of the real ones).

The handlers must not be able to tell the local gateway from API Gateway, so these are
the proxy-integration shapes AWS documents: a REST API's `resource` / `path` /
`pathParameters` / `requestContext.authorizer.claims`, and a WebSocket API's
`requestContext` with `routeKey`, `eventType` and `connectionId`.
"""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from frolic_tools.local.functions import ACCOUNT, REGION

STAGE: Final = "local"
API_ID: Final = "frolocal01"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is on the other end of a request, as API Gateway's `identity` reports it."""

    source_ip: str
    user_agent: str


def new_connection_id() -> str:
    """Sixteen characters ending in '=', like API Gateway's connection ids (so a
    connection id that needs URL-encoding is exercised, as in AWS)."""
    return base64.b64encode(secrets.token_bytes(11)).decode()


def new_request_id() -> str:
    return base64.b64encode(secrets.token_bytes(11)).decode()


def _request_time(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _single_and_multi(
    pairs: Sequence[tuple[str, str]],
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """API Gateway's two views of repeated names: the last value, and all of them."""
    if not pairs:
        return None, None
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    return {name: values[-1] for name, values in multi.items()}, multi


def body_field(body: bytes) -> tuple[str | None, bool]:
    """(body, isBase64Encoded): text as text, anything else base64, no body as null."""
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True


def rest_event(
    *,
    method: str,
    path: str,
    resource: str,
    path_parameters: Mapping[str, str] | None,
    query: Sequence[tuple[str, str]],
    headers: Sequence[tuple[str, str]],
    body: bytes,
    claims: Mapping[str, str] | None,
    caller: Caller,
    domain: str,
) -> dict[str, Any]:
    now = time.time()
    single_headers, multi_headers = _single_and_multi(headers)
    single_query, multi_query = _single_and_multi(query)
    text, is_base64 = body_field(body)
    single_headers, multi_headers = single_headers or {}, multi_headers or {}
    request_id = str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": new_request_id(),
            "requestTime": _request_time(now),
            "path": f"/{STAGE}{path}",
            "accountId": ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": domain.partition(".")[0],
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {"sourceIp": caller.source_ip, "userAgent": caller.user_agent},
            "domainName": domain,
            "apiId": API_ID,
            "authorizer": {"claims": dict(claims)} if claims else None,
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


@dataclass(frozen=True, slots=True)
class SocketInfo:
    """What every event of one WebSocket connection repeats."""

    connection_id: str
    connected_at_ms: int
    caller: Caller
    domain: str


def _websocket_context(
    info: SocketInfo, route_key: str, event_type: str, now: float
) -> dict[str, Any]:
    request_id = new_request_id()
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": _request_time(now),
        "messageDirection": "IN",
        "stage": STAGE,
        "connectedAt": info.connected_at_ms,
        "requestTimeEpoch": int(now * 1000),
        "identity": {"sourceIp": info.caller.source_ip, "userAgent": info.caller.user_agent},
        "requestId": request_id,
        "domainName": info.domain,
        "connectionId": info.connection_id,
        "apiId": API_ID,
    }


def connect_event(
    info: SocketInfo, *, headers: Sequence[tuple[str, str]], query: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    single_headers, multi_headers = _single_and_multi(headers)
    single_query, multi_query = _single_and_multi(query)
    single_headers, multi_headers = single_headers or {}, multi_headers or {}
    return {
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "requestContext": _websocket_context(info, "$connect", "CONNECT", time.time()),
        "isBase64Encoded": False,
    }


def message_event(
    info: SocketInfo, *, route_key: str, body: str, is_base64_encoded: bool
) -> dict[str, Any]:
    context = _websocket_context(info, route_key, "MESSAGE", time.time())
    context["messageId"] = new_request_id()
    return {"requestContext": context, "body": body, "isBase64Encoded": is_base64_encoded}


def disconnect_event(info: SocketInfo, *, status_code: int, reason: str) -> dict[str, Any]:
    context = _websocket_context(info, "$disconnect", "DISCONNECT", time.time())
    context |= {"disconnectStatusCode": status_code, "disconnectReason": reason}
    headers = {"Host": info.domain, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    return {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }


# -- stream records, as an event source mapping hands them to Lambda -------------------------


def kinesis_record(raw: Mapping[str, Any], *, shard_id: str, stream_arn: str) -> dict[str, Any]:
    """A record of Kinesis GetRecords (`SequenceNumber`, `ApproximateArrivalTimestamp` in
    epoch seconds, `PartitionKey`, `Data` as bytes) in the mapping's shape."""
    sequence = str(raw["SequenceNumber"])
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": raw["PartitionKey"],
            "sequenceNumber": sequence,
            "data": base64.b64encode(raw["Data"]).decode(),
            "approximateArrivalTimestamp": raw["ApproximateArrivalTimestamp"],
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/frolic-local-allocate",
        "awsRegion": REGION,
        "eventSourceARN": stream_arn,
    }


def dynamodb_record(raw: Mapping[str, Any], *, stream_arn: str) -> dict[str, Any]:
    """A record of DynamoDB Streams GetRecords (`eventName`, and `dynamodb` with
    `ApproximateCreationDateTime` in epoch seconds) in the mapping's shape: binary
    attributes in base64, as Lambda's JSON has them."""
    event: dict[str, Any] = _json_ready(dict(raw))
    event.pop("ResponseMetadata", None)
    event["eventSourceARN"] = stream_arn
    return event


def _json_ready(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, Mapping):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_ready(item) for item in value]
    return value
