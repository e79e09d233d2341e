"""The admin API's resolver: its routers, the admin guard and its own errors.

`build_app` takes the DynamoDB adapters, so tests hand it moto-backed ones and the
handler real ones.

- **Who may call.** One global middleware admits every route but the public ones only
  for the admin group, or for the brand staff `frolic.admin.access` opens it to.
  Powertools validates a request before any middleware runs, so the 400 and 415
  handlers ask the same guard first (`install_error_handlers(admit=...)`): a caller who
  may not call a route learns nothing about it, not even what a valid body looks like.
- **Which status.** The errors both APIs share are `frolic.http`'s; the catalog's and
  pools' refusals map here, each type to one status and the same `ErrorBody`. Nothing
  matches on error text, and a client's mistake is never a 500.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from frolic.admin import (
    PRINCIPAL_CONTEXT_KEY,
    brands,
    budgets,
    campaigns,
    coupons,
    games,
)
from frolic.admin import exports as export_routes
from frolic.admin import reports as report_routes
from frolic.admin.access import admit
from frolic.auth import principal_from_event
from frolic.dal.catalog import ConflictError, InvalidFieldError
from frolic.dal.catalog import NotFoundError as ItemNotFoundError
from frolic.dal.pools import BudgetBelowIssuedError, NoBudgetError, UploadConflictError
from frolic.dal.rates import RateLimitedError
from frolic.http import (
    CONFLICT,
    NOT_FOUND,
    SERVER_ERROR,
    answer_errors,
    error_response,
    install_error_handlers,
    invalid_request_response,
    new_resolver,
)
from frolic.models import FieldError, InvalidTransitionError

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

    from frolic.admin.exports import ExportDesk
    from frolic.dal.catalog import Catalog
    from frolic.dal.offers import OfferStore
    from frolic.dal.pools import CouponPools
    from frolic.dal.rates import RateLimiter
    from frolic.dal.redemptions import Redemptions
    from frolic.dal.reports import GameReports
    from frolic.events import EventSink

TITLE = "Frolic admin API"
API_VERSION = "1.0.0"
OPENAPI_PATH = "/openapi.json"
#: Paths anyone may read; every other path, known or not, needs a staff role.
PUBLIC_PATHS = frozenset({OPENAPI_PATH})
SECURITY_SCHEME = "cognito"


def build_app(
    catalog: Catalog,
    *,
    pools: CouponPools,
    reports: GameReports,
    redemptions: Redemptions,
    limiter: RateLimiter,
    events: EventSink,
    offers: OfferStore,
    exports: ExportDesk,
) -> APIGatewayRestResolver:
    app = new_resolver()

    def authorize() -> None:
        if app.current_event.path in PUBLIC_PATHS:
            return
        event = app.current_event
        principal = principal_from_event(event.raw_event)
        admit(principal, event.http_method, event.path)
        app.context[PRINCIPAL_CONTEXT_KEY] = principal

    def admin_guard(
        resolver: APIGatewayRestResolver, next_middleware: NextMiddleware
    ) -> Response[str]:
        authorize()
        return next_middleware(resolver)

    app.use(middlewares=[admin_guard])
    install_error_handlers(app, admit=authorize)
    answer_errors(
        app,
        {
            InvalidFieldError: _invalid_field,
            ItemNotFoundError: _item_not_found,
            ConflictError: _conflict,
            InvalidTransitionError: _conflict,
            BudgetBelowIssuedError: _conflict,
            UploadConflictError: _conflict,
            NoBudgetError: _no_budget,
            RateLimitedError: _rate_limited,
        },
    )

    app.include_router(campaigns.router(catalog))
    app.include_router(games.router(catalog, events))
    app.include_router(brands.router(catalog))
    app.include_router(budgets.router(catalog, pools, offers))
    app.include_router(report_routes.router(catalog, reports))
    app.include_router(coupons.router(redemptions, limiter, events))
    app.include_router(export_routes.router(catalog, exports))

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
    responses, which this API answers as 400 `ErrorBody` instead, and with its 500 (a
    response that fails its own model) as the `ErrorBody` every failure answers."""
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
    server_error = {
        "description": SERVER_ERROR,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            operation["responses"] = {
                status: response
                for status, response in operation["responses"].items()
                if _schema_name(response) not in dropped
            }
            operation["responses"]["500"] = server_error
    schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
    for name in (*dropped, "ValidationError"):
        schemas.pop(name, None)
    return spec


def _schema_name(response: dict[str, Any]) -> str | None:
    ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    return ref.rpartition("/")[2] if isinstance(ref, str) else None


def _invalid_field(error: InvalidFieldError) -> Response[str]:
    return invalid_request_response([FieldError(field=error.field, message=error.message)])


def _item_not_found(error: ItemNotFoundError) -> Response[str]:
    return error_response(404, NOT_FOUND, str(error))


def _conflict(error: Exception) -> Response[str]:
    return error_response(409, CONFLICT, str(error))


def _no_budget(_: NoBudgetError) -> Response[str]:
    return error_response(
        409, "no_budget", "set this brand's budget for the game before adding coupons"
    )


def _rate_limited(error: RateLimitedError) -> Response[str]:
    return error_response(
        429, "too_many_requests", str(error), headers={"Retry-After": str(error.retry_after)}
    )
