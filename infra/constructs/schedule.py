"""What runs on a clock rather than on a stream: the sweeper, every minute.

The stream consumers give up on a record in the end (bounded retries and record age);
the sweeper is the backstop that finds, through the results table's sparse index,
what they left undone (frolic/sweep.py). An EventBridge rule is enough: a missed or
failed run is covered by the next one a minute later.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from frolic.sweep import EVERY_SECONDS

SWEEP_EVERY: Final = Duration.seconds(EVERY_SECONDS)


class Schedule(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, sweep: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        self.sweep_rule = events.Rule(
            self,
            "Sweep",
            description="Frolic sweeper: stuck pending plays and stuck won coupons",
            schedule=events.Schedule.rate(SWEEP_EVERY),
            # An event older than the next run is not worth delivering late.
            targets=[targets.LambdaFunction(sweep, max_event_age=SWEEP_EVERY, retry_attempts=0)],
        )
