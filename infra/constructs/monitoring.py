"""What an operator watches during a live game, and what wakes them.

The dashboard answers "is it flowing and is it paced": plays/s and wins/s (the code's
Powertools metrics), allocation latency, how far each stream consumer lags, errors and
throttles. Alarms fire on what breaks an invariant if left alone: a consumer falling
behind (plays expire), records given up on (failure queues), function errors and
throttles, DynamoDB throttling, coupon anomalies, and the sweeper having had to act
(a stream consumer gave up on plays or coupons). They notify an encrypted SNS topic
(optionally an e-mail address).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.functions import METRICS_NAMESPACE, SERVICE_NAME

MINUTE: Final = Duration.minutes(1)
FIVE_MINUTES: Final = Duration.minutes(5)
#: A play is decided within its reel; a consumer this far behind delays every result.
ALLOCATE_LAG_ALARM_MS: Final = 5_000
DELIVER_LAG_ALARM_MS: Final = 10_000
#: What the sweeper (frolic/sweep.py) emits only when a stream consumer left work
#: undone past its bound; any of it is worth a look.
SWEPT: Final = {
    "PlaysSweptExpired": "expired plays the expiry watcher left pending",
    "CouponsSweptIssued": "issued won coupons deliver left unissued",
    "CouponsReturned": "returned coupons a crashed batch leased and never gave",
}
#: DynamoDB operations whose throttling the alarm counts (all that the code issues).
DYNAMODB_OPERATIONS: Final = (
    dynamodb.Operation.GET_ITEM,
    dynamodb.Operation.BATCH_GET_ITEM,
    dynamodb.Operation.QUERY,
    dynamodb.Operation.SCAN,
    dynamodb.Operation.PUT_ITEM,
    dynamodb.Operation.UPDATE_ITEM,
    dynamodb.Operation.DELETE_ITEM,
    dynamodb.Operation.BATCH_WRITE_ITEM,
    dynamodb.Operation.TRANSACT_WRITE_ITEMS,
)


def app_metric(name: str, *, period: Duration = MINUTE) -> cloudwatch.Metric:
    """A metric the code emits through Powertools (EMF): namespace + service dimension."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE_NAME},
        statistic=cloudwatch.Stats.SUM,
        period=period,
    )


def per_second(name: str, label: str) -> cloudwatch.MathExpression:
    """A count per second; the metric id must differ between expressions on one graph."""
    metric_id = name.lower()
    return cloudwatch.MathExpression(
        expression=f"{metric_id} / PERIOD({metric_id})",
        using_metrics={metric_id: app_metric(name)},
        label=label,
        period=MINUTE,
    )


def throttled_requests(
    name: str, table: dynamodb.ITable, *, period: Duration
) -> cloudwatch.MathExpression:
    """DynamoDB's ThrottledRequests summed over the operations the code issues.

    (The table's own helper names its metric ids after the operations only, so two
    tables cannot share a graph; these ids carry the table's name.)
    """
    metrics = {
        f"{name}_{operation.value.lower()}": table.metric(
            "ThrottledRequests",
            dimensions_map={"TableName": table.table_name, "Operation": operation.value},
            statistic=cloudwatch.Stats.SUM,
            period=period,
        )
        for operation in DYNAMODB_OPERATIONS
    }
    return cloudwatch.MathExpression(
        expression=" + ".join(metrics),
        using_metrics=metrics,
        label=f"{name} throttled requests",
        period=period,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        stream_consumers: Mapping[str, tuple[lambda_.IFunction, int]],
        play_stream: kinesis.IStream,
        tables: Mapping[str, dynamodb.ITable],
        failure_queues: Mapping[str, sqs.IQueue],
        allocate: lambda_.IFunction,
        alarm_email: str | None = None,
    ) -> None:
        """`stream_consumers` maps a name to a function and the iterator age (ms)
        beyond which it counts as behind."""
        super().__init__(scope, construct_id)
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="Frolic alarm notifications",
            enable_key_rotation=True,
        )
        # CloudWatch publishes to an encrypted topic only with rights on its key.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []

        for name, (function, lag_ms) in stream_consumers.items():
            self._alarm(
                f"{name.title()}IteratorAge",
                function.metric("IteratorAge", statistic=cloudwatch.Stats.MAXIMUM, period=MINUTE),
                threshold=lag_ms,
                evaluation_periods=3,
                description=f"{name} is more than {lag_ms / 1000:g} s behind its stream",
            )
        for name, function in functions.items():
            self._alarm(
                f"{_title(name)}Errors",
                function.metric_errors(period=FIVE_MINUTES),
                threshold=1,
                description=f"the {name} function failed",
            )
            self._alarm(
                f"{_title(name)}Throttles",
                function.metric_throttles(period=FIVE_MINUTES),
                threshold=1,
                description=f"the {name} function was throttled",
            )
        for name, queue in failure_queues.items():
            self._alarm(
                f"{name.title()}FailureQueueDepth",
                queue.metric_approximate_number_of_messages_visible(
                    statistic=cloudwatch.Stats.MAXIMUM, period=MINUTE
                ),
                threshold=1,
                description=f"{name} gave up on stream records: see the queue's messages",
            )
        for name, table in tables.items():
            self._alarm(
                f"{name.title()}TableThrottles",
                throttled_requests(name, table, period=FIVE_MINUTES),
                threshold=1,
                description=f"DynamoDB throttled requests on the {name} table",
            )
        self._alarm(
            "CouponIssueAnomaly",
            app_metric("CouponIssueAnomaly", period=FIVE_MINUTES),
            threshold=1,
            description="a won coupon was not reserved for its play: data changed by hand?",
        )
        for metric, what in SWEPT.items():
            self._alarm(
                metric,
                app_metric(metric, period=FIVE_MINUTES),
                threshold=1,
                description=f"the sweeper {what}: see its log for the playIds",
            )

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Plays and wins per second",
                left=[
                    per_second("PlaysAllocated", "plays/s"),
                    per_second("PlaysWon", "wins/s"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Allocation latency (allocate Duration, ms)",
                left=[
                    allocate.metric_duration(statistic=stat, period=MINUTE, label=stat)
                    for stat in (cloudwatch.Stats.p(50), cloudwatch.Stats.p(99), "Maximum")
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Stream lag (ms)",
                left=[
                    play_stream.metric_get_records_iterator_age_milliseconds(
                        statistic=cloudwatch.Stats.MAXIMUM, period=MINUTE, label="play stream"
                    ),
                    *(
                        function.metric(
                            "IteratorAge",
                            statistic=cloudwatch.Stats.MAXIMUM,
                            period=MINUTE,
                            label=f"{name} iterator age",
                        )
                        for name, (function, _) in stream_consumers.items()
                    ),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Stream records given up on (failure queues)",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        statistic=cloudwatch.Stats.MAXIMUM, period=MINUTE, label=name
                    )
                    for name, queue in failure_queues.items()
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function errors",
                left=[f.metric_errors(period=MINUTE, label=name) for name, f in functions.items()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function throttles",
                left=[
                    f.metric_throttles(period=MINUTE, label=name) for name, f in functions.items()
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="DynamoDB throttled requests",
                left=[
                    throttled_requests(name, table, period=MINUTE) for name, table in tables.items()
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Done by the sweeper (stays at zero while the consumers keep up)",
                left=[app_metric(name).with_(label=name) for name in SWEPT],
                width=12,
            ),
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm


def _title(name: str) -> str:
    """ws_connect → WsConnect, for construct ids."""
    return "".join(part.title() for part in name.split("_"))
