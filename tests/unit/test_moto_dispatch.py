"""frolic_tools.local.moto_dispatch: moto's server answers the local stack's requests the
same with the patches as without (the same statuses, headers and bodies, successes and
errors), while the JSON-protocol requests no longer pass through moto's Flask apps; its
request ids keep their form; and attribute values are written the same way."""

from __future__ import annotations

import io
import json
import string
from typing import Any

import pytest
from moto.core.responses import BaseResponse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from frolic_tools.local import moto_dispatch, moto_patches

AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, "
    "SignedHeaders=host, Signature=0"
)
#: Differ from one answer to the next whatever answers: ids, clocks, the length and the
#: checksum of bodies holding them (the length is checked against the body instead).
VOLATILE_HEADERS = {"x-amzn-requestid", "x-amz-crc32", "date", "content-length"}
VOLATILE_FIELDS = (
    "Timestamp",
    "DateTime",
    "ShardIterator",
    "SizeBytes",
    "eventID",
    "StreamLabel",
    "StreamArn",
    "TableId",
)
TABLE = {
    "TableName": "plays",
    "KeySchema": [{"AttributeName": "playId", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "playId", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
}
ITEM = {
    "playId": {"S": "p-1"},
    "status": {"S": "pending"},
    "arrivalTs": {"N": "1700000000.5"},
    "coupons": {"L": [{"M": {"code": {"S": "C-1"}, "raw": {"B": "AAEC"}}}]},
    "tags": {"SS": ["a", "b"]},
    "flag": {"BOOL": True},
}
#: (X-Amz-Target, body): what the local stack sends, and what moto refuses.
SCRIPT: list[tuple[str, dict[str, Any]]] = [
    ("DynamoDB_20120810.CreateTable", TABLE),
    ("DynamoDB_20120810.PutItem", {"TableName": "plays", "Item": ITEM}),
    (
        "DynamoDB_20120810.PutItem",
        {
            "TableName": "plays",
            "Item": ITEM,
            "ConditionExpression": "attribute_not_exists(playId)",
        },
    ),
    (
        "DynamoDB_20120810.UpdateItem",
        {
            "TableName": "plays",
            "Key": {"playId": {"S": "p-1"}},
            "UpdateExpression": "SET #s = :won ADD tries :one",
            "ConditionExpression": "#s = :pending",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {
                ":won": {"S": "won"},
                ":pending": {"S": "pending"},
                ":one": {"N": "1"},
            },
            "ReturnValues": "ALL_NEW",
        },
    ),
    ("DynamoDB_20120810.GetItem", {"TableName": "plays", "Key": {"playId": {"S": "p-1"}}}),
    ("DynamoDB_20120810.GetItem", {"TableName": "nowhere", "Key": {"playId": {"S": "p"}}}),
    (
        "DynamoDB_20120810.BatchGetItem",
        {"RequestItems": {"plays": {"Keys": [{"playId": {"S": "p-1"}}, {"playId": {"S": "x"}}]}}},
    ),
    ("DynamoDB_20120810.NoSuchOperation", {}),
    ("Kinesis_20131202.CreateStream", {"StreamName": "s", "ShardCount": 1}),
    (
        "Kinesis_20131202.PutRecord",
        {"StreamName": "s", "Data": "eyJhIjoxfQ==", "PartitionKey": "k"},
    ),
    ("Kinesis_20131202.DescribeStream", {"StreamName": "s"}),
    ("Kinesis_20131202.DescribeStream", {"StreamName": "no-such-stream"}),
    ("DynamoDBStreams_20120810.ListStreams", {"TableName": "plays"}),
]


def _service(target: str) -> str:
    return "kinesis" if target.startswith("Kinesis") else "dynamodb"


def _environ(method: str, path: str, target: str | None, body: bytes) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "5000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "CONTENT_TYPE": "application/x-amz-json-1.0",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1:5000",
    }
    if target is not None:
        environ["HTTP_X_AMZ_TARGET"] = target
        environ["HTTP_AUTHORIZATION"] = AUTH.format(service=_service(target))
    return environ


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        answer["status"], answer["headers"] = status, headers

    body = b"".join(app(environ, start_response))
    return answer["status"], {k.lower(): v for k, v in answer["headers"]}, body


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "*" if any(v in k for v in VOLATILE_FIELDS) else _masked(item)
            for k, item in value.items()
        }
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _run_script() -> list[tuple[str, dict[str, str], Any]]:
    """The script on a fresh moto: each answer, less what differs every time."""
    app = DomainDispatcherApplication(create_backend_app)
    assert _call(app, _environ("POST", "/moto-api/reset", None, b""))[0] == "200 OK"
    answers: list[tuple[str, dict[str, str], Any]] = []
    for target, body in SCRIPT:
        environ = _environ("POST", "/", target, json.dumps(body).encode())
        try:
            status, headers, raw = _call(app, environ)
        except Exception as error:  # what the server's loop turns into a 500
            answers.append(("raised", {}, type(error).__name__))
            continue
        assert int(headers["content-length"]) == len(raw)
        kept = {k: v for k, v in headers.items() if k not in VOLATILE_HEADERS}
        answers.append((status, kept, _masked(json.loads(raw)) if raw else raw))
    return answers


@pytest.mark.usefixtures("moto_unpatched")
def test_the_direct_route_answers_as_motos_apps_do(monkeypatch: pytest.MonkeyPatch) -> None:
    through_flask = _run_script()
    assert moto_patches.install()
    from flask import Flask

    dispatched: list[str] = []
    original = Flask.wsgi_app

    def note(self: Flask, environ: dict[str, Any], start_response: Any) -> Any:
        dispatched.append(str(environ.get("HTTP_X_AMZ_TARGET")))
        return original(self, environ, start_response)

    monkeypatch.setattr(Flask, "wsgi_app", note)
    direct = _run_script()
    # Only the reset (no target) went through a Flask app.
    assert dispatched == ["None"]
    # CORS headers, for browsers, come from moto's Flask apps only: nothing in a browser
    # calls moto's server.
    for status, headers, _ in through_flask:
        if status != "raised":
            assert headers.pop("access-control-allow-origin") == "*"
    assert direct == through_flask
    statuses = {status for status, _, _ in direct}
    assert statuses >= {"200 OK", "400 BAD REQUEST", "raised"}  # answers, refusals, failures


@pytest.mark.usefixtures("moto_unpatched")
def test_request_ids_keep_their_form_and_xml_bodies_still_carry_theirs() -> None:
    assert moto_patches.install()
    headers: dict[str, str] = {}
    _, body = BaseResponse._enrich_response(headers, "{}")
    request_id = headers["x-amzn-requestid"]
    assert body == "{}"
    assert len(request_id) == moto_dispatch.REQUEST_ID_LENGTH
    assert set(request_id) <= set(string.ascii_letters + string.digits)
    xml = "<Response><RequestId>old</RequestId></Response>"
    headers = {"status": 200}  # type: ignore[dict-item]
    _, body = BaseResponse._enrich_response(headers, xml)
    assert body == f"<Response><RequestId>{headers['x-amzn-requestid']}</RequestId></Response>"
    assert headers["status"] == "200"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ({"S": ""}, {"S": ""}),
        ({"N": "1.50"}, {"N": "1.50"}),
        ({"NULL": True}, {"NULL": True}),
        ({"SS": ["a"]}, {"SS": ["a"]}),
        (
            {"M": {"l": {"L": [{"BOOL": False}, {"NS": ["1"]}]}, "e": {"M": {}}}},
            {"M": {"l": {"L": [{"BOOL": False}, {"NS": ["1"]}]}, "e": {"M": {}}}},
        ),
        ({"B": "AAEC"}, None),  # binary: moto encodes it
        ({"S": None}, None),  # moto drops the member
        ({"M": {"x": None}}, None),
        ({"L": [{"B": b"x"}]}, None),
        ({"s": "lower"}, None),  # not a member name
        ({"S": "a", "N": "1"}, None),
        ({"N": 1}, None),
    ],
)
def test_plain_attribute_values_are_recognised(value: Any, written: Any) -> None:
    assert moto_dispatch.plain_attribute_value(value) == written
