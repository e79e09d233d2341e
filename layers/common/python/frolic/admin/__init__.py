"""The marketers' admin API: Powertools routers over the catalog, pools and reports.

This module holds what every router shares: camelCase path parameters, the end-time
check that names `endTime`, the OpenAPI description of error responses, and the caller
the admin guard put in the context. The errors and their bodies are `frolic.http`'s,
shared with the player API.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import AfterValidator, AwareDatetime, ValidationInfo

from frolic.auth import AuthenticationError, Principal
from frolic.http import documented
from frolic.models import Identifier

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

#: Where the admin guard leaves the verified caller for the routes.
PRINCIPAL_CONTEXT_KEY = "principal"

CampaignIdPath = Annotated[Identifier, Path(alias="campaignId", description="A campaign's id")]
GameIdPath = Annotated[Identifier, Path(alias="gameId", description="A game's id")]
BrandIdPath = Annotated[Identifier, Path(alias="brandId", description="A brand's id")]


def _after_start(end: datetime, info: ValidationInfo) -> datetime:
    """On the end field, so a window the wrong way round is reported as `endTime`."""
    start = info.data.get("start_time")
    if isinstance(start, datetime) and end <= start:
        raise ValueError("endTime must be after startTime")
    return end


#: A request's end time; declare it after `start_time`, which it is checked against.
EndTime = Annotated[AwareDatetime, AfterValidator(_after_start)]


_ERROR_DESCRIPTIONS = {
    400: "Invalid request: `fields` names each camelCase field and what is wrong with it",
    401: "No verified identity on the request",
    403: "The caller's role (admin, brand manager, till) or brands do not allow this",
    404: "The campaign, game, brand or coupon does not exist",
    409: "The request conflicts with the stored state",
    413: "The body is over the stated limit",
    415: "The Content-Type is not one this route reads",
    429: "Too many requests from this caller: wait the Retry-After seconds",
}


def responses(status: int, description: str, *errors: int) -> dict[int, OpenAPIResponse]:
    """OpenAPI responses of an admin route: its success, the auth errors and `errors`."""
    codes = sorted({400, 401, 403, *errors})
    return documented(status, description, {code: _ERROR_DESCRIPTIONS[code] for code in codes})


def new_router() -> Router:
    """A fresh router per app: Powertools binds a router to the one app including it."""
    return Router()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated


def caller(resolver: BaseRouter) -> Principal:
    """The admin the guard let through; a route without one is a wiring mistake."""
    principal = resolver.context.get(PRINCIPAL_CONTEXT_KEY)
    if not isinstance(principal, Principal):
        raise AuthenticationError("sign in first: no verified identity on this request")
    return principal
