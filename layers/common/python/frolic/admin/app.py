"""The admin API's resolver: its routers, the admin guard and the error mapping.

`build_app` takes the DynamoDB adapters, so tests hand it moto-backed ones and the
handler real ones. Two rules live here and nowhere else:

- **Who may call.** One global middleware admits every route but the public ones only
  for the admin group. Powertools validates a request before any middleware runs, so the
  400 and 415 handlers ask the same guard first: a caller who is not an admin learns
  nothing about the admin API, not even what a valid body looks like.
- **Which status.** Each exception type maps to one status and a JSON `ErrorBody`;
  nothing matches on error text, and a client's mistake is never a 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ResponseValidationError,
)
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from frolic.admin import (
    PRINCIPAL_CONTEXT_KEY,
    InvalidRequestError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    brands,
    budgets,
    campaigns,
    coupons,
    games,
)
from frolic.admin import reports as report_routes
from frolic.auth import AuthenticationError, ForbiddenError, principal_from_event
from frolic.dal.catalog import ConflictError, InvalidFieldError
from frolic.dal.catalog import NotFoundError as ItemNotFoundError
from frolic.dal.pools import BudgetBelowIssuedError, NoBudgetError, UploadConflictError
from frolic.http import ErrorBody
from frolic.models import FieldError, InvalidTransitionError, describe_errors
from frolic.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

    from frolic.dal.catalog import Catalog
    from frolic.dal.pools import CouponPools
    from frolic.dal.redemptions import Redemptions
    from frolic.dal.reports import GameReports

TITLE = "Frolic admin API"
API_VERSION = "1.0.0"
OPENAPI_PATH = "/openapi.json"
#: Paths anyone may read; every other path, known or not, needs the admin group.
PUBLIC_PATHS = frozenset({OPENAPI_PATH})
SECURITY_SCHEME = "cognito"


def build_app(
    catalog: Catalog,
    pools: CouponPools,
    reports: GameReports,
    redemptions: Redemptions,
) -> APIGatewayRestResolver:
    # debug=False: Powertools' debug mode prints whole events, and a redeem path holds
    # a coupon code.
    app = APIGatewayRestResolver(
        enable_validation=True,
        response_validation_error_http_code=HTTPStatus.INTERNAL_SERVER_ERROR,
        debug=False,
    )

    def authorize() -> None:
        if app.current_event.path in PUBLIC_PATHS:
            return
        principal = principal_from_event(app.current_event.raw_event).require_admin()
        app.context[PRINCIPAL_CONTEXT_KEY] = principal

    def admin_guard(
        resolver: APIGatewayRestResolver, next_middleware: NextMiddleware
    ) -> Response[str]:
        authorize()
        return next_middleware(resolver)

    def denied_first(respond: Callable[[], Response[str]]) -> Response[str]:
        """Answer a request Powertools refused before the guard ran, guard first."""
        try:
            authorize()
        except AuthenticationError as error:
            return _error(HTTPStatus.UNAUTHORIZED, "unauthorized", str(error))
        except ForbiddenError as error:
            return _error(HTTPStatus.FORBIDDEN, "forbidden", str(error))
        return respond()

    def invalid_request(error: RequestValidationError) -> Response[str]:
        return denied_first(
            lambda: _error(
                HTTPStatus.BAD_REQUEST,
                "invalid_request",
                "the request is not valid",
                fields=describe_errors(error.errors()),
            )
        )

    def unsupported_content(_: RequestUnsupportedContentType) -> Response[str]:
        return denied_first(
            lambda: _error(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            )
        )

    app.use(middlewares=[admin_guard])
    handlers: dict[type[Exception], Callable[[Any], Response[str]]] = {
        RequestValidationError: invalid_request,
        RequestUnsupportedContentType: unsupported_content,
        InvalidRequestError: _invalid_fields,
        InvalidFieldError: _invalid_field,
        UnicodeDecodeError: _not_utf8,
        AuthenticationError: _unauthorized,
        ForbiddenError: _forbidden,
        ItemNotFoundError: _item_not_found,
        RouteNotFoundError: _route_not_found,
        ConflictError: _conflict,
        InvalidTransitionError: _conflict,
        BudgetBelowIssuedError: _conflict,
        UploadConflictError: _conflict,
        NoBudgetError: _no_budget,
        PayloadTooLargeError: _too_large,
        UnsupportedMediaTypeError: _unsupported,
        ResponseValidationError: _server_error,
        Exception: _server_error,
    }
    for exception_type, handler in handlers.items():
        app.exception_handler(exception_type)(handler)

    app.include_router(campaigns.router(catalog))
    app.include_router(games.router(catalog))
    app.include_router(brands.router(catalog))
    app.include_router(budgets.router(catalog, pools))
    app.include_router(report_routes.router(catalog, reports))
    app.include_router(coupons.router(redemptions))

    document: dict[str, Any] = {}

    @app.get(
        OPENAPI_PATH,
        summary="This API's OpenAPI document",
        operation_id="getOpenApi",
        tags=["meta"],
        openapi_extensions={"security": []},
    )
    def openapi_json() -> dict[str, Any]:
        if not document:
            document.update(openapi_document(app))
        return document

    return app


def openapi_document(app: APIGatewayRestResolver) -> dict[str, Any]:
    """The spec as served and committed: Powertools' own, minus its 422 validation
    responses, which this API answers as 400 `ErrorBody` instead."""
    generated = app.get_openapi_json_schema(
        title=TITLE,
        version=API_VERSION,
        description=(
            "Campaigns, games, brands, coupon budgets and pools, reports and redemption. "
            "Every /admin route needs a Cognito token of the admin group. Errors are JSON "
            '`{"error", "message", "fields"}`; 400 names each camelCase field.'
        ),
        security_schemes={
            SECURITY_SCHEME: HTTPBearer(
                bearerFormat="JWT", description="Cognito ID token (API Gateway authorizer)"
            )
        },
        security=[{SECURITY_SCHEME: []}],
    )
    spec: dict[str, Any] = json.loads(generated)
    dropped = {"HTTPValidationError", "ResponseValidationError"}
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            operation["responses"] = {
                status: response
                for status, response in operation["responses"].items()
                if _schema_name(response) not in dropped
            }
    schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
    for name in (*dropped, "ValidationError"):
        schemas.pop(name, None)
    return spec


def _schema_name(response: dict[str, Any]) -> str | None:
    ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    return ref.rpartition("/")[2] if isinstance(ref, str) else None


def _error(
    status: HTTPStatus,
    code: str,
    message: str,
    fields: list[FieldError] | None = None,
) -> Response[str]:
    body = ErrorBody(error=code, message=message, fields=fields)
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(exclude_none=True),
    )


def _invalid_fields(error: InvalidRequestError) -> Response[str]:
    return _error(
        HTTPStatus.BAD_REQUEST, "invalid_request", "the request is not valid", error.fields
    )


def _invalid_field(error: InvalidFieldError) -> Response[str]:
    fields = [FieldError(field=error.field, message=error.message)]
    return _error(HTTPStatus.BAD_REQUEST, "invalid_request", "the request is not valid", fields)


def _not_utf8(_: UnicodeDecodeError) -> Response[str]:
    fields = [FieldError(field="body", message="the body must be UTF-8 text")]
    return _error(HTTPStatus.BAD_REQUEST, "invalid_request", "the request is not valid", fields)


def _unauthorized(error: AuthenticationError) -> Response[str]:
    return _error(HTTPStatus.UNAUTHORIZED, "unauthorized", str(error))


def _forbidden(error: ForbiddenError) -> Response[str]:
    return _error(HTTPStatus.FORBIDDEN, "forbidden", str(error))


def _item_not_found(error: ItemNotFoundError) -> Response[str]:
    return _error(HTTPStatus.NOT_FOUND, "not_found", str(error))


def _route_not_found(_: RouteNotFoundError) -> Response[str]:
    return _error(HTTPStatus.NOT_FOUND, "not_found", "no such route")


def _conflict(error: Exception) -> Response[str]:
    return _error(HTTPStatus.CONFLICT, "conflict", str(error))


def _no_budget(_: NoBudgetError) -> Response[str]:
    return _error(
        HTTPStatus.CONFLICT,
        "no_budget",
        "set this brand's budget for the game before adding coupons",
    )


def _too_large(error: PayloadTooLargeError) -> Response[str]:
    return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload_too_large", str(error))


def _unsupported(error: UnsupportedMediaTypeError) -> Response[str]:
    return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", str(error))


def _server_error(error: Exception) -> Response[str]:
    """Our fault, not the client's: logged with its trace here, never sent."""
    logger.exception("admin request failed", extra={"error_type": type(error).__name__})
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "something went wrong")
