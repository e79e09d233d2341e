"""API Gateway REST proxy events, as the Cognito-authorized API hands them to Lambda,
built by the local gateway's own builder (frolic_tools.local.events.rest_event), so the
tests and the local stack send the functions one shape."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from aws_lambda_powertools.utilities.typing import LambdaContext

from frolic_tools.local import events
from frolic_tools.local.routes import RestMatch, match_rest

#: The tests' caller (a documentation address) and the deployed API's domain.
CALLER: Final = events.Caller("203.0.113.7", "pytest")
API_DOMAIN: Final = "abc123.execute-api.us-east-1.amazonaws.com"


def api_request(
    method: str,
    path: str,
    *,
    headers: Mapping[str, str],
    body: bytes = b"",
    query: Mapping[str, str] | None = None,
    claims: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The event for a request to the deployed REST API: the resource and path
    parameters of the route it reaches (the resources infra declares), as the local
    gateway passes them; a path no route takes keeps itself as its resource."""
    match = match_rest(method, path)
    return events.rest_event(
        method=method,
        path=path,
        resource=match.route.resource if isinstance(match, RestMatch) else path,
        path_parameters=match.path_parameters if isinstance(match, RestMatch) else None,
        query=list((query or {}).items()),
        headers=list(headers.items()),
        body=body,
        claims=claims,
        caller=CALLER,
        domain=API_DOMAIN,
    )


def rest_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    user: str | None = "player-1",
    admin: bool = False,
    headers: dict[str, str] | None = None,
    raw_body: str | None = None,
    query: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A player's request: `body` as JSON, or `raw_body` as it is."""
    claims = None
    if user is not None:
        claims = {"sub": user, **({"cognito:groups": "admin"} if admin else {})}
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    return api_request(
        method,
        path,
        headers={"Content-Type": "application/json", **(headers or {})},
        body=(text or "").encode(),
        query=query,
        claims=claims,
    )


class FakeContext(LambdaContext):
    """Lambda's context object: Powertools reads its names when it logs."""

    _function_name = "test"
    _memory_limit_in_mb = 128
    _invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    _aws_request_id = "request-1"


def json_body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
