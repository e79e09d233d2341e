"""The admin API on moto: API Gateway REST proxy events in, parsed replies out."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from frolic.admin.app import build_app
from frolic.admin.exports import ExportDesk
from frolic.dal import codec
from frolic.dal.catalog import Catalog, new_id
from frolic.dal.clients import s3_client
from frolic.dal.exports import ExportFiles, ExportJobs, StateCoupons
from frolic.dal.offers import OfferStore
from frolic.dal.pools import CouponPools
from frolic.dal.rates import RateLimiter
from frolic.dal.redemptions import Redemptions
from frolic.dal.reports import GameReports
from frolic.exports import Exporter
from frolic.settings import Settings
from tests.integration.apigw import API_DOMAIN, api_request
from tests.integration.world import EventTap

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ADMIN = "marketer-1"
PLAYER = "player-1"


@dataclass
class TickingClock:
    """Moves one second per reading, so audit entries made in one test never share a
    millisecond, without sleeping."""

    now: float = 1_900_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def rest_event(
    method: str,
    path: str,
    body: str | bytes | None = None,
    *,
    content_type: str | None = "application/json",
    claims: dict[str, str] | None = None,
    is_base64: bool = False,
    extra_headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What API Gateway (REST, Lambda proxy, Cognito authorizer) hands the function.
    With `is_base64`, `body` is the event's body field verbatim, already base64 (or not
    base64 at all, which API Gateway never sends)."""
    headers = {
        "Accept": "application/json",
        "Host": API_DOMAIN,
        "User-Agent": "pytest",
        "X-Forwarded-Proto": "https",
        **({"Content-Type": content_type} if content_type else {}),
        **(extra_headers or {}),
    }
    raw = body.encode() if isinstance(body, str) else body or b""
    event = api_request(
        method, path, headers=headers, body=b"" if is_base64 else raw, query=query, claims=claims
    )
    if is_base64:
        assert isinstance(body, str), "a base64 body field is text"
        event["body"], event["isBase64Encoded"] = body, True
    return event


def admin_claims(user: str = ADMIN) -> dict[str, str]:
    return {"sub": user, "cognito:groups": "admin", "email": f"{user}@example.com"}


def player_claims(user: str = PLAYER) -> dict[str, str]:
    return {"sub": user, "cognito:groups": "players", "email": f"{user}@example.com"}


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, list[str]]


@dataclass(frozen=True)
class InvocationContext:
    """The parts of Lambda's context object the handler's decorators read."""

    function_name: str = "frolic-admin"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:frolic-admin"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def reply(response: dict[str, Any]) -> Reply:
    raw = response.get("body") or ""
    return Reply(
        status=int(response["statusCode"]),
        body=json.loads(raw) if raw else None,
        headers={k: list(v) for k, v in (response.get("multiValueHeaders") or {}).items()},
    )


@dataclass
class InlineExports:
    """Runs an export as soon as it is started, in the test, over moto's S3 and
    DynamoDB; in AWS the admin function invokes the export function instead."""

    exporter: Exporter

    def start(self, game_id: str, export_id: str) -> None:
        self.exporter.run(game_id, export_id)


def export_desk(db: DynamoDBClient, settings: Settings, clock: Callable[[], float]) -> ExportDesk:
    """Exports over moto (inside `mock_aws`), the bucket made if it is not there yet."""
    s3 = s3_client(None)
    assert settings.export_bucket is not None
    s3.create_bucket(Bucket=settings.export_bucket)
    jobs = ExportJobs(db, settings, clock=clock)
    files = ExportFiles(s3, settings)
    exporter = Exporter(coupons=StateCoupons(db, settings), sink=files, jobs=jobs, clock=clock)
    return ExportDesk(jobs, InlineExports(exporter), files)


@dataclass
class AdminApi:
    """The resolver built by `build_app` over moto, and the table for seeding."""

    db: DynamoDBClient
    settings: Settings
    clock: TickingClock = field(default_factory=TickingClock)
    new_id: Callable[[], str] = new_id
    app: APIGatewayRestResolver = field(init=False)
    events: EventTap = field(init=False)

    def __post_init__(self) -> None:
        self.events = EventTap.on_moto(self.settings)
        self.app = build_app(
            Catalog(self.db, self.settings, new_id=self.new_id),
            pools=CouponPools(self.db, self.settings, clock=self.clock),
            reports=GameReports(self.db, self.settings),
            redemptions=Redemptions(self.db, self.settings, clock=self.clock),
            limiter=RateLimiter(self.db, self.settings, clock=self.clock),
            events=self.events.bus,
            offers=OfferStore(self.db, self.settings, clock=self.clock),
            exports=export_desk(self.db, self.settings, self.clock),
        )

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        claims: dict[str, str] | None = None,
        anonymous: bool = False,
        raw: str | bytes | None = None,
        content_type: str | None = "application/json",
        is_base64: bool = False,
        query: dict[str, str] | None = None,
    ) -> Reply:
        """JSON `body`, or `raw` as it is: text, or bytes (sent base64-encoded when they
        are not UTF-8, as the local gateway sends them)."""
        event = rest_event(
            method,
            path,
            raw if raw is not None else (json.dumps(body) if body is not None else None),
            content_type=content_type,
            claims=None if anonymous else (claims or admin_claims()),
            is_base64=is_base64,
            query=query,
        )
        return reply(self.app.resolve(event, InvocationContext()))  # type: ignore[arg-type]

    # -- seeding and reading the table directly ---------------------------------------
    def put(self, item: dict[str, Any]) -> None:
        self.db.put_item(TableName=self.settings.state_table, Item=codec.dump(item))

    def item(self, key: dict[str, str]) -> dict[str, Any] | None:
        found = self.db.get_item(
            TableName=self.settings.state_table, Key=codec.dump(key), ConsistentRead=True
        ).get("Item")
        return codec.load(found) if found else None

    def partition(self, pk: str) -> list[dict[str, Any]]:
        response = self.db.query(
            TableName=self.settings.state_table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ConsistentRead=True,
        )
        return [codec.load(raw) for raw in response["Items"]]
