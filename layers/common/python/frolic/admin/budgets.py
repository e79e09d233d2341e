"""Budget and coupon-pool routes.

Both go through `CouponPools`, which keeps what the allocator relies on: budget changes
are audited in the same transaction, pool ordinals stay dense, and a code is unique
across Frolic. Uploads are bounded (`MAX_UPLOAD_BYTES`, `MAX_UPLOAD_LINES`) so one
request stays within what a Lambda behind API Gateway can write; codes never appear in
logs, metrics or error messages, only their counts.
"""

import base64
import binascii
import csv
import json
from dataclasses import dataclass
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import Field, TypeAdapter, ValidationError

from frolic.admin import BrandIdPath, GameIdPath, caller, new_router, responses
from frolic.dal.catalog import Catalog
from frolic.dal.catalog import NotFoundError as ItemNotFoundError
from frolic.dal.offers import OfferStore
from frolic.dal.pools import MAX_COUNTERS, CouponPools, generate_codes
from frolic.http import InvalidRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from frolic.models import (
    BoundaryModel,
    CouponCode,
    FieldError,
    Identifier,
    Offer,
    field_errors,
)
from frolic.observability import logger, metrics

TAGS = ["budgets"]
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_LINES = 100_000
MAX_GENERATE = 100_000
CSV_HEADER = "code"
CSV_TYPE = "text/csv"
JSON_TYPE = "application/json"

_coupon_code: TypeAdapter[str] = TypeAdapter(CouponCode)


class BudgetIn(BoundaryModel):
    budget: int = Field(
        ge=0,
        le=100_000_000,
        description="Coupons of this brand the game may hand out; takes effect at once.",
    )
    counters: int | None = Field(
        default=None,
        ge=1,
        le=MAX_COUNTERS,
        description=(
            "Counters the budget is split over, for a game hotter than one counter takes "
            "(about 500 winners/s each; `frolic capacity` says how many). Omitted: as it "
            "is, or 1 for a new budget. Fixed once codes are uploaded (409)."
        ),
    )


class BudgetOut(BoundaryModel):
    game_id: str
    brand_id: str
    budget: int
    previous: int | None = Field(description="The budget before this change; null if none.")
    issued: int = Field(description="Coupons already issued when the budget changed.")
    counters: int = Field(description="Counters the budget is split over.")


class GenerateIn(BoundaryModel):
    generate: int = Field(ge=1, le=MAX_GENERATE, description="How many codes Frolic makes up.")


UploadIdQuery = Annotated[
    Identifier | None,
    Query(
        alias="uploadId",
        description=(
            "Names this upload, so a retry is answered as the upload was. Omitted: the "
            "upload is named by its game, brand and codes (then the same codes sent again "
            "are taken for a retry). A `generate` request makes new codes each time, so "
            "retrying one adds more."
        ),
    ),
]


class UploadOut(BoundaryModel):
    added: int = Field(
        description="Codes this upload put in the pool, on this attempt or an earlier one."
    )
    duplicates: int = Field(
        description="Codes already in the file, or anywhere in Frolic by another upload."
    )
    invalid: int = Field(description="Lines that are not a valid coupon code.")
    pool_size: int


@dataclass(frozen=True, slots=True)
class ParsedCodes:
    codes: list[str]
    invalid: int


_UPLOAD_BODY = {
    "required": True,
    "description": (
        f"Either `{CSV_TYPE}`: one code per line, an optional first line `{CSV_HEADER}`, "
        "blank lines ignored, lines that are not a valid code counted as `invalid`; or "
        f'`{JSON_TYPE}` `{{"generate": N}}`: Frolic makes N unguessable codes. At most '
        f"{MAX_UPLOAD_BYTES} bytes and {MAX_UPLOAD_LINES} lines (413 beyond)."
    ),
    "content": {
        CSV_TYPE: {"schema": {"type": "string"}},
        JSON_TYPE: {"schema": GenerateIn.model_json_schema(by_alias=True)},
    },
}


def parse_code_lines(text: str) -> ParsedCodes:
    """Codes from a one-column CSV; a bad line is counted, never fatal."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_UPLOAD_LINES:
        raise PayloadTooLargeError(f"upload at most {MAX_UPLOAD_LINES} codes per request")
    codes: list[str] = []
    invalid = 0
    for index, line in enumerate(lines):
        try:
            fields = next(csv.reader([line], strict=True))
        except csv.Error:
            invalid += 1
            continue
        if index == 0 and len(fields) == 1 and fields[0].strip().casefold() == CSV_HEADER:
            continue
        if len(fields) != 1:
            invalid += 1
            continue
        try:
            codes.append(_coupon_code.validate_python(fields[0]))
        except ValidationError:
            invalid += 1
    return ParsedCodes(codes, invalid)


def body_bytes(body: str | None, is_base64: bool) -> bytes:
    """The request body, size-checked before and after base64 decoding."""
    if not body:
        return b""
    if is_base64:
        if len(body) > (MAX_UPLOAD_BYTES + 2) // 3 * 4:
            raise PayloadTooLargeError(f"the body may be at most {MAX_UPLOAD_BYTES} bytes")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestError(
                [FieldError(field="body", message="isBase64Encoded is set but the body is not")]
            ) from None
    else:
        raw = body.encode()
    if len(raw) > MAX_UPLOAD_BYTES:
        raise PayloadTooLargeError(f"the body may be at most {MAX_UPLOAD_BYTES} bytes")
    return raw


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")  # spreadsheets often start their CSV with a BOM
    except UnicodeDecodeError:
        raise InvalidRequestError(
            [FieldError(field="body", message="the body must be UTF-8 text")]
        ) from None


def _generate_request(raw: bytes) -> GenerateIn:
    try:
        return GenerateIn.model_validate(json.loads(_text(raw) or "null"))
    except json.JSONDecodeError:
        raise InvalidRequestError(
            [FieldError(field="body", message="the body is not valid JSON")]
        ) from None
    except ValidationError as error:
        raise InvalidRequestError(field_errors(error)) from None


def router(catalog: Catalog, pools: CouponPools, offers: OfferStore) -> Router:
    routes = new_router()

    @routes.put(
        "/admin/games/<gameId>/budgets/<brandId>/offer",
        summary="Set what a game-brand's coupons are worth",
        description=(
            "The winner sees the offer with their code: in the push, on GET /plays/{playId}. "
            "A till refuses a coupon after `validUntil` (409). Winners see an edit within "
            "a minute. The budget must exist first (409)."
        ),
        operation_id="setOffer",
        tags=TAGS,
        responses=responses(200, "The offer in force", 404, 409, 415),
    )
    def set_offer(game_id: GameIdPath, brand_id: BrandIdPath, body: Offer) -> Offer:
        catalog.get_game(game_id)
        catalog.get_brand(brand_id)
        stored = offers.put(game_id, brand_id, body, actor=caller(routes).user_id)
        logger.info("offer set", extra={"game_id": game_id, "brand_id": brand_id})
        return stored

    @routes.get(
        "/admin/games/<gameId>/budgets/<brandId>/offer",
        summary="Read a game-brand's offer",
        operation_id="getOffer",
        tags=TAGS,
        responses=responses(200, "The offer in force", 404),
    )
    def get_offer(game_id: GameIdPath, brand_id: BrandIdPath) -> Offer:
        offer = offers.get(game_id, brand_id)
        if offer is None:
            raise ItemNotFoundError("this game-brand has no offer")
        return offer

    @routes.put(
        "/admin/games/<gameId>/budgets/<brandId>",
        summary="Set a brand's coupon budget in a game",
        description="Audited (who, when, previous and new budget) in the same transaction.",
        operation_id="setBudget",
        tags=TAGS,
        responses=responses(200, "The budget in force and the one it replaced", 404, 409, 415),
    )
    def set_budget(game_id: GameIdPath, brand_id: BrandIdPath, body: BudgetIn) -> BudgetOut:
        catalog.get_game(game_id)
        catalog.get_brand(brand_id)
        actor = caller(routes).user_id
        change = pools.set_budget(
            game_id, brand_id, body.budget, actor=actor, counters=body.counters
        )
        logger.info(
            "budget set",
            extra={
                "game_id": game_id,
                "brand_id": brand_id,
                "budget": change.budget,
                "previous": change.previous,
                "counters": change.counters,
                "actor": actor,
            },
        )
        metrics.add_metric(name="BudgetsSet", unit=MetricUnit.Count, value=1)
        return BudgetOut(
            game_id=game_id,
            brand_id=brand_id,
            budget=change.budget,
            previous=change.previous,
            issued=change.issued,
            counters=change.counters,
        )

    @routes.post(
        "/admin/games/<gameId>/budgets/<brandId>/coupons",
        summary="Add coupon codes to a game-brand pool",
        description=(
            "The game-brand needs a budget first (409 otherwise). Safe to retry: a retry "
            "of an upload (same `uploadId`, or the same codes) gets the upload's answer."
        ),
        operation_id="uploadCoupons",
        tags=TAGS,
        responses=responses(200, "What was added, and the pool's size", 404, 409, 413, 415),
        openapi_extensions={"requestBody": _UPLOAD_BODY},
    )
    def upload_coupons(
        game_id: GameIdPath, brand_id: BrandIdPath, upload_id: UploadIdQuery = None
    ) -> UploadOut:
        event = routes.current_event
        media_type = (event.headers.get("content-type") or "").partition(";")[0].strip().lower()
        if media_type not in (CSV_TYPE, JSON_TYPE, ""):
            raise UnsupportedMediaTypeError(f"send {CSV_TYPE} or {JSON_TYPE}")
        raw = body_bytes(event.body, bool(event.is_base64_encoded))
        if media_type == CSV_TYPE:
            text = _text(raw)
            if not text.strip():
                raise InvalidRequestError(
                    [FieldError(field="body", message="the body is empty: send one code per line")]
                )
            parsed = parse_code_lines(text)
        else:
            parsed = ParsedCodes(generate_codes(_generate_request(raw).generate), 0)
        catalog.get_game(game_id)
        catalog.get_brand(brand_id)
        addition = pools.add_codes(game_id, brand_id, parsed.codes, upload_id)
        logger.info(
            "coupons added",
            extra={
                "game_id": game_id,
                "brand_id": brand_id,
                "added": addition.added,
                "duplicates": addition.duplicates,
                "invalid": parsed.invalid,
                "pool_size": addition.pool_size,
            },
        )
        metrics.add_metric(name="CouponsAdded", unit=MetricUnit.Count, value=addition.added)
        return UploadOut(
            added=addition.added,
            duplicates=addition.duplicates,
            invalid=parsed.invalid,
            pool_size=addition.pool_size,
        )

    return routes
