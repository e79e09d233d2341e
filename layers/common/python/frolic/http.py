"""What every Frolic REST API answers the same way: errors as JSON, by exception type.

A client mistake is a 4xx with a JSON body that names the problem (and the fields, in
the client's camelCase); nothing a client sends can produce a stack trace or a 500.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from frolic.auth import AuthenticationError, ForbiddenError
from frolic.models import FieldError, describe_errors


class ErrorBody(BaseModel):
    """Every error the API answers: a stable code, and what to fix."""

    error: str
    message: str | None = None
    fields: list[FieldError] | None = None


def documented(
    status: int, description: str, errors: Mapping[int, str]
) -> dict[int, OpenAPIResponse]:
    """A route's OpenAPI responses: its success, and each error with its JSON body."""
    found: dict[int, Any] = {status: {"description": description}}
    for code, meaning in sorted(errors.items()):
        found[code] = {
            "description": meaning,
            "content": {"application/json": {"model": ErrorBody}},
        }
    return found


#: The largest request body any Frolic route reads, unless a route states its own.
MAX_BODY_BYTES = 16 * 1024


class PayloadTooLargeError(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is over the {limit:,}-byte limit")
        self.limit = limit


def error_response(
    status: int,
    code: str,
    message: str,
    fields: Sequence[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    body: dict[str, Any] = {"error": code, "message": message}
    if fields:
        body["fields"] = list(fields)
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=headers,
    )


def json_response(status: int, body: Any) -> Response[str]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body)
    )


def install_error_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[str]:
        fields = [f.model_dump() for f in describe_errors(error.errors())]
        return error_response(400, "invalid_request", "the request is not valid", fields)

    @app.exception_handler(UnicodeDecodeError)
    def not_text(_: UnicodeDecodeError) -> Response[str]:
        fields = [{"field": "body", "message": "the body must be UTF-8 text"}]
        return error_response(400, "invalid_request", "the request is not valid", fields)

    @app.exception_handler(AuthenticationError)
    def unauthenticated(error: AuthenticationError) -> Response[str]:
        return error_response(401, "unauthenticated", str(error))

    @app.exception_handler(ForbiddenError)
    def forbidden(error: ForbiddenError) -> Response[str]:
        return error_response(403, "forbidden", str(error))


def _body_size(event: dict[str, Any]) -> int:
    body = event.get("body") or ""
    return len(body.encode()) if isinstance(body, str) else len(body)


def resolve(
    app: APIGatewayRestResolver, event: dict[str, Any], context: Any, limit: int = MAX_BODY_BYTES
) -> dict[str, Any]:
    """Route the event, refusing an oversize body or an unreadable media type before
    anything parses it (Powertools validates bodies before any middleware runs)."""
    if _body_size(event) > limit:
        return _refusal(413, "payload_too_large", str(PayloadTooLargeError(limit)))
    media_type = _media_type(event)
    if event.get("body") and media_type and media_type not in READABLE_MEDIA_TYPES:
        return _refusal(
            415,
            "unsupported_media_type",
            f"send {' or '.join(sorted(READABLE_MEDIA_TYPES))}, not {media_type}",
        )
    response: dict[str, Any] = app.resolve(event, context)
    return response


#: What any Frolic route reads; anything else (multipart forms, XML) is refused up front
#: rather than left to a parser that would fail on it as a server error.
READABLE_MEDIA_TYPES = frozenset({"application/json", "text/csv"})


def _media_type(event: dict[str, Any]) -> str:
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _refusal(status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "multiValueHeaders": {},
        "body": json.dumps({"error": code, "message": message}),
        "isBase64Encoded": False,
    }
