"""Runtime settings, read from the environment once per process and validated.

Nothing that names a resource has a default: a function deployed without its tables,
stream, callback URL or draw key would otherwise run against names it guessed. Each
function checks what it needs as its execution environment starts
(`settings_at_cold_start`) and refuses to start, saying which setting is missing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from frolic.observability import logger


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    results_table: str = Field(alias="RESULTS_TABLE", min_length=1)
    state_table: str = Field(alias="STATE_TABLE", min_length=1)
    sessions_table: str = Field(alias="SESSIONS_TABLE", min_length=1)
    #: Only ingest puts plays on the stream (FUNCTION_NEEDS says who needs what).
    play_stream: str | None = Field(alias="PLAY_STREAM", default=None)
    #: Keys the per-play draw; players must not know it (see frolic.pacing.draw). No
    #: default: a known key would let anyone pick winning playIds. The local stack
    #: sets a random one; a deployed allocator reads its secret instead.
    draw_key: SecretStr | None = Field(alias="DRAW_KEY", default=None)
    #: Where the deployed stack keeps the draw key (read once per cold start).
    draw_key_secret_arn: str | None = Field(alias="DRAW_KEY_SECRET_ARN", default=None)
    #: How long the reel spins: a play still pending after this plus the grace expires.
    reel_seconds: float = Field(alias="REEL_SECONDS", default=10.0, gt=0)
    expiry_grace_seconds: float = Field(alias="EXPIRY_GRACE_SECONDS", default=5.0, ge=0)
    #: Unconditional batched writes stop this long before a play may be expired. It is
    #: checked as each attempt is sent, so it must cover one attempt's duration
    #: (frolic.dal.clients.ATTEMPT_BOUND_SECONDS).
    batch_write_fence_seconds: float = Field(alias="BATCH_WRITE_FENCE_SECONDS", default=3.0, ge=0)
    #: A resend of a pending play puts it on the stream again (its first put may have
    #: died) at most this often; resends in between are answered without a put.
    play_reput_seconds: float = Field(alias="PLAY_REPUT_SECONDS", default=2.0, ge=0)
    #: The sweeper expires a play still pending this long after its deadline: by then
    #: the expiry watcher, whose lag alarm is at a minute past the deadline, has failed.
    sweep_margin_seconds: float = Field(alias="SWEEP_MARGIN_SECONDS", default=120.0, ge=0)
    #: A won coupon not ISSUED this long after the win is the sweeper's to issue, and
    #: drift for `frolic reconcile` (deliver normally issues it within a second or two).
    coupon_issue_bound_seconds: float = Field(
        alias="COUPON_ISSUE_BOUND_SECONDS", default=300.0, ge=0
    )
    game_cache_seconds: float = Field(alias="GAME_CACHE_SECONDS", default=5.0, ge=0)
    #: How late past its deadline a play may still be expired (the expiry watcher's lag,
    #: the sweeper's own period and run): a leased coupon still unbound this long after
    #: the deadline can no longer go to a play (frolic.dal.stranded).
    finality_margin_seconds: float = Field(alias="FINALITY_MARGIN_SECONDS", default=45.0, ge=0)
    #: Where marketers' CSV exports are written (frolic.dal.exports): admin and export.
    export_bucket: str | None = Field(alias="EXPORT_BUCKET", default=None)
    #: The function admin invokes, asynchronously, to write an export.
    export_function: str | None = Field(alias="EXPORT_FUNCTION", default=None)
    #: The EventBridge bus wins, issues, redeems and status changes go to (frolic.events):
    #: deliver, sweep and admin.
    event_bus: str | None = Field(alias="EVENT_BUS", default=None)
    #: Local stack only: where moto's server listens.
    aws_endpoint_url: str | None = Field(alias="AWS_ENDPOINT_URL", default=None)
    #: Local stack only: the local gateway, which runs an asynchronous Invoke itself
    #: (moto would need Docker to run a function).
    lambda_endpoint_url: str | None = Field(alias="LAMBDA_ENDPOINT_URL", default=None)
    #: Local stack only: where export links point, the local gateway's way to moto's S3
    #: (a browser reaches the gateway; S3 itself when deployed).
    export_link_endpoint_url: str | None = Field(alias="EXPORT_LINK_ENDPOINT_URL", default=None)
    websocket_callback_url: str | None = Field(alias="WEBSOCKET_CALLBACK_URL", default=None)
    #: Web origins (https://host[:port]) whose pages may read the REST API's answers: the
    #: deployed site's CloudFront origin and any the operator adds. Comma-separated in
    #: the environment; empty (the local stack) means same-origin pages only.
    cors_allowed_origins: frozenset[str] = Field(alias="CORS_ALLOWED_ORIGINS", default=frozenset())

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """Origins as browsers send them: no spaces, no trailing slash."""
        if isinstance(value, str):
            return frozenset(o.strip().rstrip("/") for o in value.split(",") if o.strip())
        return value

    @property
    def expiry_seconds(self) -> float:
        return self.reel_seconds + self.expiry_grace_seconds

    @property
    def stranded_after_seconds(self) -> float:
        """How long after a leased ordinal is first seen without a taker it may be
        returned to the budget: its play arrived before, and is final by then."""
        return self.expiry_seconds + self.finality_margin_seconds

    @property
    def batch_write_cutoff_seconds(self) -> float:
        """Age up to which a play's result may go out in an unconditional batch."""
        return max(0.0, self.expiry_seconds - self.batch_write_fence_seconds)


@cache
def settings() -> Settings:
    return Settings.model_validate(dict(os.environ))


#: Beyond the three tables every function reads: what each one cannot run without.
#: Each entry is a set of alternatives, one of which must be set.
FUNCTION_NEEDS: Final[Mapping[str, tuple[tuple[str, ...], ...]]] = {
    "ingest": (("PLAY_STREAM",), ("WEBSOCKET_CALLBACK_URL",)),
    "allocate": (("DRAW_KEY_SECRET_ARN", "DRAW_KEY"),),
    "deliver": (("WEBSOCKET_CALLBACK_URL",),),
    "expiry": (),
    "sweep": (),
    "ws_connect": (),
    "admin": (("EXPORT_BUCKET",), ("EXPORT_FUNCTION",)),
    "export": (("EXPORT_BUCKET",),),
}


class SettingsError(RuntimeError):
    """A function's settings are missing or invalid: it refuses to start."""


def settings_at_cold_start(function: str) -> Settings:
    """The function's settings, checked as its execution environment starts. Missing or
    invalid ones are logged by name (never by value) and the start fails, so a
    misconfigured deploy shows up as an init error, not as wrong answers later."""
    try:
        config = settings()
    except ValidationError as error:
        invalid = sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]})
        logger.error("settings invalid; refusing to start", function=function, settings=invalid)
        raise SettingsError(f"{function}: set {', '.join(invalid)}") from None
    fields = {field.alias: name for name, field in Settings.model_fields.items()}
    missing = [
        " or ".join(names)
        for names in FUNCTION_NEEDS[function]
        if not any(_is_set(getattr(config, fields[name])) for name in names)
    ]
    if missing:
        logger.error("settings missing; refusing to start", function=function, settings=missing)
        raise SettingsError(f"{function}: set {', '.join(missing)}")
    return config


def _is_set(value: object) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return bool(value)
