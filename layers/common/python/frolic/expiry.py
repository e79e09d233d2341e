"""No lost play (invariant 4): a play still pending when the reel has stopped expires.

Fed by the results stream's INSERTs of pending plays. Each play is held until
`arrivalTs + expiry_seconds`, then expired by a write conditioned on the item still
being pending, so the allocator's result and the expiry race safely: whichever write
lands first stands and the other is refused.

Almost every play is decided long before its deadline, so a consistent read comes
first: it costs a fraction of the write unit that even a refused conditional write
consumes, and write units dominate the bill.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from frolic.dal.pending import end_pending
from frolic.dal.plays import result_status
from frolic.deliver import images
from frolic.models import PlayStatus
from frolic.observability import logger, metrics
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EXPIRED_REASON: Final = "no_result_before_reel_stopped"


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

    def handle(self, record: DynamoDBRecord) -> Expiry:
        _, new = images(record)
        if (
            record.event_name is not DynamoDBRecordEventName.INSERT
            or new.get("status") != PlayStatus.PENDING.value
            or not isinstance(new.get("playId"), str)
            or not isinstance(new.get("arrivalTs"), int | float)
        ):
            return Expiry.SKIPPED
        play_id: str = new["playId"]
        self.wait_until(float(new["arrivalTs"]) + self._expiry_seconds)
        outcome = Expiry.EXPIRED if self.expire(play_id) else Expiry.DECIDED
        logger.info("play deadline passed", play_id=play_id, outcome=outcome)
        return outcome

    def wait_until(self, deadline: float) -> None:
        """Sleep only as long as needed: a batch's plays arrived in order, so after the
        first wait the later deadlines are mostly close or already past."""
        while (remaining := deadline - self._clock()) > 0:
            self._sleep(remaining)

    def expire(self, play_id: str) -> bool:
        """Expire the play if it is still pending; False when a result is already there."""
        if result_status(self._db, self._results, play_id) != PlayStatus.PENDING.value:
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
