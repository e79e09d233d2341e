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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ResponseValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, Field

from frolic.auth import AuthenticationError, ForbiddenError
from frolic.models import FieldError, describe_errors
from frolic.observability import logger
from frolic.settings import Settings

#: The codes both APIs share; a route's own refusals (a game not live, a budget missing)
#: carry their codes on their exceptions.
INVALID_REQUEST: Final = "invalid_request"
UNAUTHENTICATED: Final = "unauthenticated"
FORBIDDEN: Final = "forbidden"
NOT_FOUND: Final = "not_found"
CONFLICT: Final = "conflict"
PAYLOAD_TOO_LARGE: Final = "payload_too_large"
UNSUPPORTED_MEDIA_TYPE: Final = "unsupported_media_type"
INTERNAL_ERROR: Final = "internal_error"
#: Each shared code's status, as OpenAPI documents them.
SHARED_CODES: Final = {
    INVALID_REQUEST: 400,
    UNAUTHENTICATED: 401,
    FORBIDDEN: 403,
    NOT_FOUND: 404,
    CONFLICT: 409,
    PAYLOAD_TOO_LARGE: 413,
    UNSUPPORTED_MEDIA_TYPE: 415,
    INTERNAL_ERROR: 500,
}


class ErrorBody(BaseModel):
    """Every error either API answers: a stable code, and what to fix."""

    error: str = Field(
        description="A stable code: "
        + ", ".join(f"{code} ({status})" for code, status in SHARED_CODES.items())
        + ", or a route's own refusal named in its responses"
    )
    message: str | None = None
    fields: list[FieldError] | None = None


ErrorHandler = Callable[[Any], Response[str]]
#: Every route may answer this; documented on each.
SERVER_ERROR: Final = "Our failure: logged with its trace, answered without detail"


def documented(
    status: int, description: str, errors: Mapping[int, str]
) -> dict[int, OpenAPIResponse]:
    """A route's OpenAPI responses: its success, and each error with its JSON body."""
    found: dict[int, Any] = {status: {"description": description}}
    for code, meaning in sorted({**errors, 500: SERVER_ERROR}.items()):
        found[code] = {
            "description": meaning,
            "content": {"application/json": {"model": ErrorBody}},
        }
    return found


#: The largest request body any Frolic route reads, unless a route states its own.
MAX_BODY_BYTES = 16 * 1024


class InvalidRequestError(ValueError):
    """A body or parameter a route parses itself (not through Powertools) is wrong: 400."""

    def __init__(self, fields: list[FieldError]) -> None:
        super().__init__("invalid request")
        self.fields = fields


class PayloadTooLargeError(ValueError):
    """The body is over a stated limit: 413."""


class UnsupportedMediaTypeError(ValueError):
    """A Content-Type the route does not read: 415."""


def error_body(code: str, message: str, fields: Sequence[FieldError] | None = None) -> str:
    """The one JSON shape of an error, whoever answers it."""
    body = ErrorBody(error=code, message=message, fields=list(fields) if fields else None)
    return body.model_dump_json(exclude_none=True)


def error_response(
    status: int,
    code: str,
    message: str,
    fields: Sequence[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=error_body(code, message, fields),
        headers=headers,
    )


def invalid_request_response(fields: Sequence[FieldError]) -> Response[str]:
    """A 400 naming each field the client got wrong."""
    return error_response(400, INVALID_REQUEST, "the request is not valid", fields)


def json_response(status: int, body: Any) -> Response[str]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body)
    )


def _not_asked() -> None:
    return None


def install_error_handlers(
    app: APIGatewayRestResolver, *, admit: Callable[[], None] = _not_asked
) -> None:
    """The errors both APIs answer alike, each exception type to one status, and a
    catch-all that logs our own failures and answers 500 without detail.

    Powertools refuses an invalid or unreadable body before any middleware runs; an API
    whose middleware checks the caller passes that check as `admit`, so a caller it would
    refuse gets its 401 or 403 first and learns nothing of what a valid body looks like.
    """

    def admitted_first(respond: Callable[[], Response[str]]) -> Response[str]:
        try:
            admit()
        except AuthenticationError as error:
            return unauthenticated(error)
        except ForbiddenError as error:
            return forbidden(error)
        return respond()

    def invalid_request(error: RequestValidationError) -> Response[str]:
        return admitted_first(lambda: invalid_request_response(describe_errors(error.errors())))

    def unsupported_content(_: RequestUnsupportedContentType) -> Response[str]:
        return admitted_first(
            lambda: error_response(415, UNSUPPORTED_MEDIA_TYPE, "send the body as application/json")
        )

    def invalid_fields(error: InvalidRequestError) -> Response[str]:
        return invalid_request_response(error.fields)

    def not_text(_: UnicodeDecodeError) -> Response[str]:
        return invalid_request_response(
            [FieldError(field="body", message="the body must be UTF-8 text")]
        )

    def unauthenticated(error: AuthenticationError) -> Response[str]:
        return error_response(401, UNAUTHENTICATED, str(error))

    def forbidden(error: ForbiddenError) -> Response[str]:
        return error_response(403, FORBIDDEN, str(error))

    def no_route(_: RouteNotFoundError) -> Response[str]:
        return error_response(404, NOT_FOUND, "no such route")

    def too_large(error: PayloadTooLargeError) -> Response[str]:
        return error_response(413, PAYLOAD_TOO_LARGE, str(error))

    def unsupported(error: UnsupportedMediaTypeError) -> Response[str]:
        return error_response(415, UNSUPPORTED_MEDIA_TYPE, str(error))

    def server_error(error: Exception) -> Response[str]:
        """Our fault, not the client's: logged with its trace here, never sent."""
        logger.exception("request failed", extra={"error_type": type(error).__name__})
        return error_response(500, INTERNAL_ERROR, "something went wrong")

    answer_errors(
        app,
        {
            RequestValidationError: invalid_request,
            RequestUnsupportedContentType: unsupported_content,
            InvalidRequestError: invalid_fields,
            UnicodeDecodeError: not_text,
            AuthenticationError: unauthenticated,
            ForbiddenError: forbidden,
            RouteNotFoundError: no_route,
            PayloadTooLargeError: too_large,
            UnsupportedMediaTypeError: unsupported,
            ResponseValidationError: server_error,
            Exception: server_error,
        },
    )


def answer_errors(
    app: APIGatewayRestResolver, handlers: Mapping[type[Exception], ErrorHandler]
) -> None:
    """Each exception type to the handler that answers it (Powertools picks the most
    specific one a raised error is an instance of)."""
    for exception_type, handler in handlers.items():
        app.exception_handler(exception_type)(handler)


def new_resolver() -> APIGatewayRestResolver:
    """Both APIs' resolver: requests validated from the routes' types, a response that
    fails its own model is our 500, and debug off (Powertools' debug mode prints whole
    events, and a redeem path or a result holds a coupon code)."""
    return APIGatewayRestResolver(
        enable_validation=True,
        response_validation_error_http_code=HTTPStatus.INTERNAL_SERVER_ERROR,
        debug=False,
    )


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
        message = f"the request body is over the {limit:,}-byte limit"
        return _refusal(413, PAYLOAD_TOO_LARGE, message)
    media_type = _media_type(event)
    if event.get("body") and media_type and media_type not in READABLE_MEDIA_TYPES:
        return _refusal(
            415,
            UNSUPPORTED_MEDIA_TYPE,
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
        "body": error_body(code, message),
        "isBase64Encoded": False,
    }
