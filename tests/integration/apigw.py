"""API Gateway REST proxy events, as the Cognito-authorized API hands them to Lambda."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext


def rest_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    user: str | None = "player-1",
    admin: bool = False,
    headers: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    claims = None
    if user is not None:
        claims = {"sub": user, **({"cognito:groups": "admin"} if admin else {})}
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "request-1",
            "authorizer": {"claims": claims} if claims else None,
        },
        "body": text,
        "isBase64Encoded": False,
    }


class FakeContext(LambdaContext):
    """Lambda's context object: Powertools reads its names when it logs."""

    _function_name = "test"
    _memory_limit_in_mb = 128
    _invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    _aws_request_id = "request-1"


def json_body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
