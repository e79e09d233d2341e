"""Coupon routes: a brand's till redeems a code it was shown."""

import time
import uuid
from typing import Annotated, Final
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import TypeAdapter, ValidationError

from frolic.admin import caller, new_router, responses
from frolic.dal.rates import RateLimit, RateLimiter
from frolic.dal.redemptions import Redemption, Redemptions
from frolic.events import CouponRedeemed, EventSink, OutEvent, moment
from frolic.http import InvalidRequestError
from frolic.models import CouponCode, FieldError
from frolic.observability import logger, metrics

TAGS = ["coupons"]

_coupon_code: TypeAdapter[str] = TypeAdapter(CouponCode)

CodePath = Annotated[
    str,
    Path(
        alias="code",
        description="The coupon code, percent-encoded where it has reserved characters",
    ),
]


#: A till serves a customer in seconds, so this is far above its pace and far below
#: what guessing codes would need.
REDEEM_LIMIT: Final = RateLimit("redeem", uses=30, window_seconds=60)


def router(redemptions: Redemptions, limiter: RateLimiter, events: EventSink) -> Router:
    routes = new_router()

    @routes.post(
        "/admin/coupons/<code>/redeem",
        summary="Redeem an issued coupon",
        description=(
            "Only an ISSUED coupon can be redeemed, once: 409 if it is already redeemed or "
            "its offer has ended. A till redeems its own brands' coupons only: a code that "
            "does not exist, one of another brand and one not yet issued all answer the "
            f"same 404. Each caller may try {REDEEM_LIMIT.uses} codes a minute; past that, "
            "429 with Retry-After. Errors never repeat the code."
        ),
        operation_id="redeemCoupon",
        tags=TAGS,
        responses=responses(200, "The coupon, now REDEEMED", 404, 409, 429),
    )
    def redeem_coupon(code: CodePath) -> Redemption:
        principal = caller(routes)
        limiter.take(REDEEM_LIMIT, principal.user_id)
        # REST APIs pass the path still percent-encoded.
        try:
            plain = _coupon_code.validate_python(unquote(code))
        except ValidationError:
            raise InvalidRequestError(
                [FieldError(field="code", message="not a valid coupon code")]
            ) from None
        redemption = redemptions.redeem(plain, principal.user_id, principal.tills)
        logger.info(
            "coupon redeemed",
            extra={"game_id": redemption.game_id, "brand_id": redemption.brand_id},
        )
        metrics.add_metric(name="CouponsRedeemed", unit=MetricUnit.Count, value=1)
        events.publish([redemption_event(redemption, principal.user_id)])
        return redemption

    return routes


def redemption_event(redemption: Redemption, actor: str) -> OutEvent:
    """Published once, after the coupon is stored REDEEMED (frolic.events: a crash
    between the two loses the event, not the redemption)."""
    return CouponRedeemed(
        event_id=f"redeemed:{uuid.uuid4().hex}",
        game_id=redemption.game_id,
        brand_id=redemption.brand_id,
        code=redemption.code,
        redeemed_at=moment(time.time()),
        redeemed_by=actor,
    )
