"""The play stream, and the event-source mappings that turn streams into work.

At-least-once everywhere (docs/architecture.md § Replay safety): a failed record is retried
a bounded number of times, bisected out of its batch, and finally sent, by its
coordinates (shard, sequence numbers), to an on-failure queue, so a poison record can
never hold a shard back and never vanishes without trace.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from frolic.models import PlayStatus

#: Plays are decided within the reel's ~10 s; one older than this will have expired, so
#: retrying it only delays the plays queued behind it.
ALLOCATE_MAX_RECORD_AGE = Duration.seconds(60)
ALLOCATE_RETRIES = 3
ALLOCATE_BATCH_SIZE = 100
#: The failure queues keep records' coordinates as long as SQS allows.
FAILURE_RETENTION = Duration.days(14)
FINAL_STATUSES = tuple(
    s.value for s in (PlayStatus.WON, PlayStatus.LOST, PlayStatus.REJECTED, PlayStatus.EXPIRED)
)


class PlayStream(Construct):
    """Kinesis between ingest and the allocator: encrypted with the AWS-managed key,
    on demand unless a shard count is given (docs/architecture.md § Limits: 1,000 records/s per
    shard; each play's playId is its own key, so a game spreads over every shard)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, shard_count: int | None = None
    ) -> None:
        super().__init__(scope, construct_id)
        self.stream = kinesis.Stream(
            self,
            "Plays",
            encryption=kinesis.StreamEncryption.MANAGED,
            stream_mode=(
                kinesis.StreamMode.ON_DEMAND
                if shard_count is None
                else kinesis.StreamMode.PROVISIONED
            ),
            shard_count=shard_count,
            retention_period=Duration.hours(24),
        )


@dataclass(frozen=True, kw_only=True)
class Consumers:
    allocate: lambda_.IFunction
    deliver: lambda_.IFunction
    expiry: lambda_.IFunction


class StreamProcessing(Construct):
    """The three mappings and their on-failure queues.

    - play stream → allocate: ReportBatchItemFailures, bisect, 3 retries, 60 s age.
    - results stream → deliver, only records whose new image is final.
    - results stream → expiry, only INSERTs of pending plays; it holds each play until
      its deadline, so its batches wait a few seconds to fill.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        play_stream: kinesis.IStream,
        results_table: dynamodb.ITable,
        consumers: Consumers,
        parallelization_factor: int = 1,
        expiry_parallelization_factor: int = 10,
    ) -> None:
        super().__init__(scope, construct_id)
        self.allocate_failures = self._failure_queue("AllocateFailures")
        self.deliver_failures = self._failure_queue("DeliverFailures")
        self.expiry_failures = self._failure_queue("ExpiryFailures")

        consumers.allocate.add_event_source(
            sources.KinesisEventSource(
                play_stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=ALLOCATE_BATCH_SIZE,
                max_batching_window=Duration.seconds(0),
                bisect_batch_on_error=True,
                retry_attempts=ALLOCATE_RETRIES,
                max_record_age=ALLOCATE_MAX_RECORD_AGE,
                report_batch_item_failures=True,
                parallelization_factor=parallelization_factor,
                on_failure=sources.SqsDlq(self.allocate_failures),
            )
        )
        consumers.deliver.add_event_source(
            sources.DynamoEventSource(
                results_table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=100,
                bisect_batch_on_error=True,
                retry_attempts=10,
                # A push is a hint: after an hour the player has read the result over
                # REST; the failure queue still holds the record for coupon repair.
                max_record_age=Duration.hours(1),
                report_batch_item_failures=True,
                parallelization_factor=parallelization_factor,
                filters=[
                    lambda_.FilterCriteria.filter(
                        {
                            "dynamodb": {
                                "NewImage": {
                                    "status": {"S": lambda_.FilterRule.or_(*FINAL_STATUSES)}
                                }
                            }
                        }
                    )
                ],
                on_failure=sources.SqsDlq(self.deliver_failures),
            )
        )
        consumers.expiry.add_event_source(
            sources.DynamoEventSource(
                results_table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=500,
                max_batching_window=Duration.seconds(5),
                bisect_batch_on_error=True,
                retry_attempts=10,
                max_record_age=Duration.hours(1),
                report_batch_item_failures=True,
                # Invocations mostly sleep until a deadline: let several run per shard
                # so a busy shard's backlog stays at about one reel.
                parallelization_factor=expiry_parallelization_factor,
                filters=[
                    lambda_.FilterCriteria.filter(
                        {
                            "eventName": lambda_.FilterRule.is_equal("INSERT"),
                            "dynamodb": {
                                "NewImage": {
                                    "status": {
                                        "S": lambda_.FilterRule.is_equal(PlayStatus.PENDING.value)
                                    }
                                }
                            },
                        }
                    )
                ],
                on_failure=sources.SqsDlq(self.expiry_failures),
            )
        )

    @property
    def failure_queues(self) -> dict[str, sqs.IQueue]:
        return {
            "allocate": self.allocate_failures,
            "deliver": self.deliver_failures,
            "expiry": self.expiry_failures,
        }

    def _failure_queue(self, construct_id: str) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            construct_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=FAILURE_RETENTION,
        )
        NagSuppressions.add_resource_suppressions(
            queue,
            [
                NagPackSuppression(
                    id="AwsSolutions-SQS3",
                    reason=(
                        "This queue is itself the on-failure destination of a Lambda "
                        "event-source mapping (a dead-letter queue that cdk-nag does not "
                        "recognise as one); its messages are read by an operator."
                    ),
                )
            ],
        )
        return queue
