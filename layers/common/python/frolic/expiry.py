"""No lost play (invariant 4): a play still pending when the reel has stopped expires.

Fed by the results stream's INSERTs of pending plays. Each play is held until
`arrivalTs + expiry_seconds`, then expired by a write conditioned on the item still
being pending, so the allocator's result and the expiry race safely: whichever write
lands first stands and the other is refused.

Almost every play is decided long before its deadline, so a consistent read comes
first: it costs a fraction of the write unit that even a refused conditional write
consumes, and write units dominate the bill. A batch's plays are read together: when
one needs its read, every play of the batch already past its deadline is read in the
same BatchGetItem (the same read units as one GetItem each, a request per hundred).
A status read early is still safe to act on: a final status never changes, and a
pending one only leads to the conditional write, which checks it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from frolic.dal.pending import end_pending
from frolic.dal.plays import result_status, result_statuses
from frolic.deliver import images
from frolic.models import PlayStatus
from frolic.observability import logger, metrics
from frolic.settings import Settings
from frolic.stream_records import each_stream_record

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EXPIRED_REASON: Final = "no_result_before_reel_stopped"


class BatchedStatusReads:
    """A batch's plays' statuses, read after their deadlines: the first play that asks
    has every play of the batch then past its deadline read with it. A play whose group
    read failed is read alone when it asks, so one bad play fails only its own record."""

    def __init__(
        self,
        read: Callable[[list[str]], dict[str, str | None]],
        deadlines: Mapping[str, float],
        clock: Callable[[], float],
    ) -> None:
        self._read = read
        self._deadlines = deadlines
        self._clock = clock
        self._known: dict[str, str | None] = {}
        self._tried: set[str] = set()

    def status(self, play_id: str) -> str | None:
        if play_id not in self._known:
            now = self._clock()
            group = [play_id] + [
                p
                for p, at in self._deadlines.items()
                if at <= now and p != play_id and p not in self._known and p not in self._tried
            ]
            self._tried.update(group)
            self._known.update(self._read(group))
        return self._known.get(play_id)


class Expiry(StrEnum):
    SKIPPED = "skipped"  # not a pending play's INSERT (the event filter should drop these)
    DECIDED = "decided"  # a result landed before the deadline
    EXPIRED = "expired"


class ExpiryWatcher:
    def __init__(
        self,
        client: DynamoDBClient,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._db = client
        self._results = settings.results_table
        self._expiry_seconds = settings.expiry_seconds
        self._clock = clock
        self._sleep = sleep

    def handle_batch(
        self, event: dict[str, Any], context: LambdaContext
    ) -> PartialItemFailureResponse:
        """Every record of a batch, their status reads shared (see the module)."""
        deadlines = {
            play_id: deadline
            for play_id, deadline in map(self._due, (DynamoDBRecord(r) for r in event["Records"]))
            if play_id is not None
        }
        reads = BatchedStatusReads(
            lambda ids: result_statuses(self._db, self._results, ids), deadlines, self._clock
        )
        return each_stream_record(event, context, lambda record: self.handle(record, reads))

    def handle(self, record: DynamoDBRecord, reads: BatchedStatusReads | None = None) -> Expiry:
        play_id, deadline = self._due(record)
        if play_id is None:
            return Expiry.SKIPPED
        self.wait_until(deadline)
        pending = reads.status(play_id) == PlayStatus.PENDING.value if reads else None
        outcome = Expiry.EXPIRED if self.expire(play_id, pending=pending) else Expiry.DECIDED
        logger.info("play deadline passed", play_id=play_id, outcome=outcome)
        return outcome

    def _due(self, record: DynamoDBRecord) -> tuple[str | None, float]:
        """The pending play a record announces and its deadline; None if it is not a
        pending play's INSERT (the event filter should drop those)."""
        _, new = images(record)
        if (
            record.event_name is not DynamoDBRecordEventName.INSERT
            or new.get("status") != PlayStatus.PENDING.value
            or not isinstance(new.get("playId"), str)
            or not isinstance(new.get("arrivalTs"), int | float)
        ):
            return None, 0.0
        return str(new["playId"]), float(new["arrivalTs"]) + self._expiry_seconds

    def wait_until(self, deadline: float) -> None:
        """Sleep only as long as needed: a batch's plays arrived in order, so after the
        first wait the later deadlines are mostly close or already past."""
        while (remaining := deadline - self._clock()) > 0:
            self._sleep(remaining)

    def expire(self, play_id: str, *, pending: bool | None = None) -> bool:
        """Expire the play if it is still pending; False when a result is already there.
        `pending`: what a consistent read after the deadline found, if one was made."""
        if pending is None:
            pending = result_status(self._db, self._results, play_id) == PlayStatus.PENDING.value
        if not pending:
            return False
        ended = end_pending(
            self._db,
            self._results,
            play_id,
            status=PlayStatus.EXPIRED,
            reason=EXPIRED_REASON,
            decided_at=self._clock(),
        )
        if not ended:
            return False  # the allocator landed between the read and the write
        metrics.add_metric(name="PlaysExpired", unit=MetricUnit.Count, value=1)
        return True
