"""What every Frolic REST API answers the same way: errors as JSON, by exception type,
and CORS headers for the pages' origin.

A client mistake is a 4xx with a JSON body that names the problem (and the fields, in
the client's camelCase); nothing a client sends can produce a stack trace or a 500.

The deployed pages live on CloudFront, another origin than the API: API Gateway answers
their preflights, and `resolve` names the caller's origin on every answer, when it is an
allowed one, whatever produced the answer (a route, an error handler, or the size and
media-type checks that run before routing). Otherwise the browser would hide the answer,
errors included, from the page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from frolic.auth import AuthenticationError, ForbiddenError
from frolic.models import FieldError, describe_errors
from frolic.settings import Settings


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


#: Response headers a page may read beyond the CORS-safelisted ones: the 429's wait.
EXPOSED_HEADERS: Final = ("Retry-After",)


@dataclass(frozen=True)
class CorsPolicy:
    """Which web origins' pages may read the answers. Tokens travel in `Authorization`,
    never in cookies, so no answer allows credentials."""

    allowed_origins: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> CorsPolicy:
        return cls(allowed_origins=settings.cors_allowed_origins)

    def headers_for(self, origin: str | None) -> dict[str, str]:
        """The CORS headers of an answer to a request from `origin`. With no origins
        configured (same-origin pages, the local stack) there are none; otherwise every
        answer varies by origin, and only an allowed one is named."""
        if not self.allowed_origins:
            return {}
        headers = {"Vary": "Origin"}
        if origin in self.allowed_origins:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
        return headers


#: Same-origin pages only: no CORS headers at all.
SAME_ORIGIN: Final = CorsPolicy()


def resolve(
    app: APIGatewayRestResolver,
    event: dict[str, Any],
    context: Any,
    limit: int = MAX_BODY_BYTES,
    cors: CorsPolicy = SAME_ORIGIN,
) -> dict[str, Any]:
    """Route the event, refusing an oversize body or an unreadable media type before
    anything parses it (Powertools validates bodies before any middleware runs); every
    answer gets the CORS headers `cors` gives the caller's origin."""
    return _with_headers(_answer(app, event, context, limit), cors.headers_for(_origin(event)))


def _answer(
    app: APIGatewayRestResolver, event: dict[str, Any], context: Any, limit: int
) -> dict[str, Any]:
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


def _origin(event: dict[str, Any]) -> str | None:
    """The request's `Origin` header, however API Gateway cased or listed it."""
    for name, value in (event.get("headers") or {}).items():
        if str(name).lower() == "origin" and value:
            return str(value)
    for name, values in (event.get("multiValueHeaders") or {}).items():
        if str(name).lower() == "origin" and values:
            return str(values[0])
    return None


def _with_headers(response: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
    """Set `headers` on a proxy response, replacing any of the same name in either of
    its header maps (API Gateway would otherwise send both values)."""
    if not headers:
        return response
    names = {name.lower() for name in headers}
    single = {k: v for k, v in (response.get("headers") or {}).items() if k.lower() not in names}
    multi = {
        k: v for k, v in (response.get("multiValueHeaders") or {}).items() if k.lower() not in names
    }
    multi.update({name: [value] for name, value in headers.items()})
    answer = {**response, "multiValueHeaders": multi}
    if "headers" in response:
        answer["headers"] = single
    return answer


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
