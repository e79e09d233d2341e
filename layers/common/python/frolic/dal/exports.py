"""Exports in AWS: the job items, the coupon walk, the upload and the download link.

- A job is an item in the state table (`EXPORTS#<game>` / `EXPORT#<id>`), kept as long
  as its file (`EXPORT_DAYS`), so a game's exports are one Query, newest first.
- The admin API starts a job by invoking the export function asynchronously: a
  marketer never waits on a walk of 200,000 coupons inside API Gateway's 29 seconds.
- The walk reads every leased ordinal's coupon item, a hundred to a batch, eventually
  consistent (an export is a snapshot, not a decision), only the attributes a row
  shows; the keys are made as they are read, so nothing holds the whole game.
- The file goes to S3 by multipart upload, a part at a time; a failed upload is
  aborted so no half file is ever linked. The link is a pre-signed GET that names the
  file the browser saves, valid for `LINK_SECONDS`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from pydantic import AwareDatetime

from frolic.dal import codec
from frolic.dal.batches import batch_get_pages, query_partition
from frolic.dal.budgets import read_game_budgets
from frolic.dal.errors import ClientError, condition_failed
from frolic.dal.store import StateTableStore
from frolic.dal.tables import TTL_ATTRIBUTE, coupon_key
from frolic.exports import (
    CouponRow,
    ExportKind,
    ExportScope,
    ExportStatus,
    file_name,
    new_export_id,
)
from frolic.models import BoundaryModel, Identifier
from frolic.settings import Settings, SettingsError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

#: As long as the exports bucket keeps a file (infra/constructs/exports.py).
EXPORT_DAYS: Final = 7
LINK_SECONDS: Final = 15 * 60
EXPORTS_PREFIX: Final = "EXPORTS#"
EXPORT_PREFIX: Final = "EXPORT#"
CSV_TYPE: Final = "text/csv; charset=utf-8"
#: What a row needs of a coupon item; where it sits comes from its key.
COUPON_ATTRIBUTES: Final = (
    "pk",
    "code",
    "status",
    "playId",
    "userId",
    "issuedAt",
    "redeemedAt",
    "redeemedBy",
    "voidedAt",
)


def export_key(game_id: str, export_id: str) -> dict[str, str]:
    return {"pk": f"{EXPORTS_PREFIX}{game_id}", "sk": f"{EXPORT_PREFIX}{export_id}"}


class ExportJob(BoundaryModel):
    export_id: Identifier
    game_id: Identifier
    kind: ExportKind
    status: ExportStatus
    requested_at: AwareDatetime
    finished_at: AwareDatetime | None = None
    #: Rows in the file, once it is written.
    rows: int | None = None
    #: What the browser saves the file as.
    file_name: str
    #: A pre-signed GET of the file, valid for a quarter of an hour, once it is written.
    download_url: str | None = None
    error: str | None = None
    #: The brands the file covers, when a brand manager asked for it; absent: every brand.
    brands: list[Identifier] | None = None

    def shown_to(self, brands: frozenset[str] | None) -> bool:
        """Whether a caller who may see `brands` (None: every brand) may see this job."""
        return brands is None or (self.brands is not None and set(self.brands) <= brands)


class ExportJobs(StateTableStore):
    """The job items: created by the admin API, finished or failed by the exporter."""

    def create(
        self, game_id: str, kind: ExportKind, actor: str, brands: frozenset[str] | None = None
    ) -> ExportJob:
        now = self._clock()
        export_id = new_export_id(now, uuid.uuid4().hex[:8])
        item: dict[str, Any] = {
            **export_key(game_id, export_id),
            "gameId": game_id,
            "exportId": export_id,
            "kind": kind.value,
            "status": ExportStatus.RUNNING.value,
            "requestedAt": now,
            "requestedBy": actor,
            TTL_ATTRIBUTE: int(now) + EXPORT_DAYS * 86_400,
        }
        if brands is not None:
            item["brands"] = sorted(brands)
        self._db.put_item(
            TableName=self._state,
            Item=codec.dump(item),
            ConditionExpression="attribute_not_exists(pk)",
        )
        return _job(item)

    def get(self, game_id: str, export_id: str) -> ExportJob | None:
        item = self._item(game_id, export_id)
        return _job(item) if item else None

    def recent(self, game_id: str, limit: int = 20) -> list[ExportJob]:
        """The game's newest exports first."""
        jobs = query_partition(self._db, self._state, f"{EXPORTS_PREFIX}{game_id}", EXPORT_PREFIX)
        return sorted((_job(item) for item in jobs), key=lambda j: j.export_id, reverse=True)[
            :limit
        ]

    def scope_of(self, game_id: str, export_id: str) -> ExportScope | None:
        job = self.get(game_id, export_id)
        if job is None:
            return None
        return ExportScope(job.kind, None if job.brands is None else frozenset(job.brands))

    def finish(self, game_id: str, export_id: str, *, rows: int, key: str, now: float) -> None:
        self._settle(game_id, export_id, now, status=ExportStatus.DONE, rows=rows, objectKey=key)

    def fail(self, game_id: str, export_id: str, *, reason: str, now: float) -> None:
        """Only a job still running fails: a retry that already finished it stands."""
        self._settle(
            game_id,
            export_id,
            now,
            status=ExportStatus.FAILED,
            reason=reason,
            condition=ExportStatus.RUNNING,
        )

    def _settle(
        self,
        game_id: str,
        export_id: str,
        now: float,
        *,
        status: ExportStatus,
        condition: ExportStatus | None = None,
        **fields: Any,
    ) -> None:
        values = {":status": status.value, ":now": now}
        names = {"#status": "status"}
        sets = ["#status = :status", "finishedAt = :now"]
        for n, (name, value) in enumerate(sorted(fields.items())):
            sets.append(f"#f{n} = :f{n}")  # `rows` is one of DynamoDB's reserved words
            names[f"#f{n}"] = name
            values[f":f{n}"] = value
        request: dict[str, Any] = {
            "TableName": self._state,
            "Key": codec.dump(export_key(game_id, export_id)),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": names,
        }
        if condition is not None:
            request["ConditionExpression"] += " AND #status = :running"
            values[":running"] = condition.value
        request["ExpressionAttributeValues"] = codec.dump(values)
        try:
            self._db.update_item(**request)
        except ClientError as error:
            if not condition_failed(error):
                raise  # else gone (its TTL), or settled by another run of the job

    def _item(self, game_id: str, export_id: str) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self._state,
            Key=codec.dump(export_key(game_id, export_id)),
            ConsistentRead=True,
        )
        raw = response.get("Item")
        return codec.load(raw) if raw else None


def _moment(value: Any) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value is not None else None


def _job(item: dict[str, Any]) -> ExportJob:
    kind = ExportKind(item["kind"])
    requested_at = float(item["requestedAt"])
    return ExportJob(
        export_id=str(item["exportId"]),
        game_id=str(item["gameId"]),
        kind=kind,
        status=ExportStatus(item["status"]),
        requested_at=datetime.fromtimestamp(requested_at, UTC),
        finished_at=_moment(item.get("finishedAt")),
        rows=int(item["rows"]) if "rows" in item else None,
        file_name=file_name(str(item["gameId"]), kind, requested_at),
        error=item.get("reason"),
        brands=[str(b) for b in item["brands"]] if "brands" in item else None,
    )


class StateCoupons:
    """A game's leased coupons, brand by brand, counter by counter, in ordinal order."""

    def __init__(self, client: DynamoDBClient, settings: Settings) -> None:
        self._db = client
        self._state = settings.state_table

    def coupon_rows(
        self, game_id: str, brands: frozenset[str] | None = None
    ) -> Iterator[CouponRow]:
        for budget in read_game_budgets(self._db, self._state, game_id, brands):
            for counter in budget.counters:
                keys = (
                    codec.dump(coupon_key(game_id, budget.brand_id, ordinal, counter.sub))
                    for ordinal in range(1, counter.leased + 1)
                )
                pages = batch_get_pages(
                    self._db, self._state, keys, COUPON_ATTRIBUTES, consistent=False
                )
                for page in pages:
                    rows = [_row(item) for item in page]
                    yield from sorted(rows, key=lambda row: row.ordinal)


def _row(item: dict[str, Any]) -> CouponRow:
    # COUPON#<game>#<brand>#<sub>#<ordinal>: ids never hold '#' (frolic.models.Identifier)
    _, _, brand_id, sub, ordinal = str(item["pk"]).split("#")

    def number(name: str) -> float | None:
        value = item.get(name)
        return float(value) if value is not None else None

    return CouponRow(
        brand_id=brand_id,
        counter=int(sub),
        ordinal=int(ordinal),
        code=str(item.get("code", "")),
        status=str(item.get("status", "")),
        play_id=item.get("playId"),
        user_id=item.get("userId"),
        issued_at=number("issuedAt"),
        redeemed_at=number("redeemedAt"),
        redeemed_by=item.get("redeemedBy"),
        voided_at=number("voidedAt"),
    )


class ExportFiles:
    """The exports bucket: files written by multipart upload, read by pre-signed links."""

    def __init__(self, client: S3Client, settings: Settings) -> None:
        if settings.export_bucket is None:
            raise SettingsError("exports are written to a bucket: set EXPORT_BUCKET")
        self._s3 = client
        self._bucket = settings.export_bucket

    def upload(self, key: str, parts: Iterable[bytes]) -> None:
        upload_id = self._s3.create_multipart_upload(
            Bucket=self._bucket, Key=key, ContentType=CSV_TYPE
        )["UploadId"]
        try:
            done = [
                {
                    "PartNumber": number,
                    "ETag": self._s3.upload_part(
                        Bucket=self._bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=body,
                    )["ETag"],
                }
                for number, body in enumerate(parts, start=1)
            ]
            self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": done},  # type: ignore[typeddict-item]
            )
        except BaseException:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
            raise

    def link(self, key: str, name: str) -> str:
        return self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{name}"',
                "ResponseContentType": CSV_TYPE,
            },
            ExpiresIn=LINK_SECONDS,
        )


class ExportStarter:
    """Starts the export function on a job, asynchronously (Lambda retries it)."""

    def __init__(self, client: LambdaClient, settings: Settings) -> None:
        if settings.export_function is None:
            raise SettingsError("exports are written by a function: set EXPORT_FUNCTION")
        self._lambda = client
        self._function = settings.export_function

    def start(self, game_id: str, export_id: str) -> None:
        self._lambda.invoke(
            FunctionName=self._function,
            InvocationType="Event",
            Payload=json.dumps({"gameId": game_id, "exportId": export_id}).encode(),
        )
