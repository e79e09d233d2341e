"""Events out: Frolic's EventBridge bus, and the marketer's CRM behind an API destination.

Deliver and the sweeper put each win and its coupons on the bus, admin each redemption
and game status change (frolic.events; the schema is docs/events.json). Anyone in the
account may add rules to the bus. With the `crmEndpoint` context, this construct adds
one: every Frolic event goes to that HTTPS endpoint through an API destination, whose
connection sends the CRM's key (a Secrets Manager secret an operator sets) as a header.
The body is `{"id", "type", "time", "detail"}`, as `frolic local --events-to` posts it.
The detail leaves the coupon code out unless `crmWithCodes` is true: each detail type
gets its own rule, whose input names the type's fields, code or no code. EventBridge
retries a refused event for a day; what it gives up on goes to a dead-letter queue.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from frolic.events import CODE_FIELD, DETAILS, EVENT_SOURCE, OutEvent

#: The header the CRM's key travels in.
CRM_KEY_HEADER: Final = "x-api-key"
#: EventBridge's own bounds: it retries for up to a day, up to 185 times.
RETRY_ATTEMPTS: Final = 185
MAX_EVENT_AGE: Final = Duration.hours(24)
#: Calls a second to the CRM at most; EventBridge queues the rest.
CRM_CALLS_PER_SECOND: Final = 50


def detail_fields(model: type[OutEvent], *, with_codes: bool) -> list[str]:
    """The camelCase fields of a detail type that go to a target."""
    names = list(model.model_json_schema(by_alias=True, mode="serialization")["properties"])
    return [name for name in names if with_codes or name != CODE_FIELD]


def target_body(model: type[OutEvent], *, with_codes: bool) -> events.RuleTargetInput:
    return events.RuleTargetInput.from_object(
        {
            "id": events.EventField.from_path("$.detail.eventId"),
            "type": events.EventField.detail_type,
            "time": events.EventField.time,
            "detail": {
                name: events.EventField.from_path(f"$.detail.{name}")
                for name in detail_fields(model, with_codes=with_codes)
            },
        }
    )


class EventsOut(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        crm_endpoint: str | None = None,
        crm_with_codes: bool = False,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self._removal_policy = removal_policy
        self.bus = events.EventBus(self, "Bus")
        self.crm_key: secretsmanager.Secret | None = None
        self.dead_letters: sqs.Queue | None = None
        if crm_endpoint is not None:
            self._connect_crm(crm_endpoint, with_codes=crm_with_codes)

    def grant_publish(self, function: iam.IGrantable) -> None:
        self.bus.grant_put_events_to(function)

    def _connect_crm(self, endpoint: str, *, with_codes: bool) -> None:
        self.crm_key = secretsmanager.Secret(
            self,
            "CrmKey",
            description="The key the CRM expects in x-api-key: set it to the CRM's own",
            removal_policy=self._removal_policy,
        )
        connection = events.Connection(
            self,
            "CrmConnection",
            authorization=events.Authorization.api_key(CRM_KEY_HEADER, self.crm_key.secret_value),
            description="Frolic events to the marketer's CRM",
        )
        destination = events.ApiDestination(
            self,
            "Crm",
            connection=connection,
            endpoint=endpoint,
            http_method=events.HttpMethod.POST,
            rate_limit_per_second=CRM_CALLS_PER_SECOND,
        )
        self.dead_letters = sqs.Queue(
            self,
            "CrmDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        for event_type, model in DETAILS.items():
            rule = events.Rule(
                self,
                "Crm" + event_type.value.title().replace(" ", ""),
                event_bus=self.bus,
                event_pattern=events.EventPattern(
                    source=[EVENT_SOURCE], detail_type=[event_type.value]
                ),
            )
            rule.add_target(
                targets.ApiDestination(
                    destination,
                    event=target_body(model, with_codes=with_codes),
                    dead_letter_queue=self.dead_letters,
                    retry_attempts=RETRY_ATTEMPTS,
                    max_event_age=MAX_EVENT_AGE,
                )
            )
        NagSuppressions.add_resource_suppressions(
            self.crm_key,
            [
                NagPackSuppression(
                    id="AwsSolutions-SMG4",
                    reason=(
                        "The CRM issues this key; it is rotated when the CRM's owner "
                        "rotates it, by setting the secret's value, not by a Lambda here."
                    ),
                )
            ],
        )
        NagSuppressions.add_resource_suppressions(
            self.dead_letters,
            [
                NagPackSuppression(
                    id="AwsSolutions-SQS3",
                    reason="This queue is the dead-letter queue of the CRM's rules.",
                )
            ],
        )
