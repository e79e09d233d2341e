"""Events out in CDK: the bus, who may publish, and the CRM's rules and their bodies."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from frolic.events import DETAILS, EventType
from infra.constructs.events_out import CRM_KEY_HEADER, EventsOut
from tests.infra.conftest import CRM_ENDPOINT, Synth
from tests.infra.test_stack import actions_of, function_properties


def test_deliver_sweep_and_admin_publish_to_the_bus_and_nothing_else_does(synth: Synth) -> None:
    publishers = {
        name for name in synth.stack.functions.all if "events:PutEvents" in actions_of(synth, name)
    }
    assert publishers == {"deliver", "sweep", "admin"}
    bus = synth.stack.resolve(synth.stack.events_out.bus.event_bus_name)
    for name in publishers:
        assert function_properties(synth, name)["Environment"]["Variables"]["EVENT_BUS"] == bus


def test_the_crm_gets_every_event_type_through_an_api_destination_with_its_key(
    synth: Synth,
) -> None:
    (destination,) = synth.of_type("AWS::Events::ApiDestination").values()
    assert destination["Properties"]["InvocationEndpoint"] == CRM_ENDPOINT
    assert destination["Properties"]["HttpMethod"] == "POST"
    (connection,) = synth.of_type("AWS::Events::Connection").values()
    api_key = connection["Properties"]["AuthParameters"]["ApiKeyAuthParameters"]
    assert api_key["ApiKeyName"] == CRM_KEY_HEADER
    rules = synth.of_type("AWS::Events::Rule").values()
    crm_rules = [r for r in rules if "detail-type" in r["Properties"].get("EventPattern", {})]
    matched = {t for r in crm_rules for t in r["Properties"]["EventPattern"]["detail-type"]}
    assert matched == {t.value for t in EventType}
    for rule in crm_rules:
        (target,) = rule["Properties"]["Targets"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 185
        assert "DeadLetterConfig" in target


def _bodies(with_codes: bool) -> dict[str, Any]:
    stack = Stack(App(), "Bare")
    EventsOut(stack, "Out", crm_endpoint=CRM_ENDPOINT, crm_with_codes=with_codes)
    rules = Template.from_stack(stack).find_resources("AWS::Events::Rule")
    return {
        rule["Properties"]["EventPattern"]["detail-type"][0]: rule["Properties"]["Targets"][0][
            "InputTransformer"
        ]
        for rule in rules.values()
    }


@pytest.mark.parametrize("with_codes", [False, True])
def test_the_code_goes_to_the_crm_only_when_asked_for(with_codes: bool) -> None:
    bodies = _bodies(with_codes)
    assert set(bodies) == {t.value for t in DETAILS}
    for detail_type, transformer in bodies.items():
        paths = set(transformer["InputPathsMap"].values())
        carries_code = "$.detail.code" in paths
        coded = detail_type in (EventType.COUPON_ISSUED, EventType.COUPON_REDEEMED)
        assert carries_code == (with_codes and coded), detail_type
        assert "$.detail.eventId" in paths


def test_without_a_crm_there_is_the_bus_alone() -> None:
    stack = Stack(App(), "Bare")
    EventsOut(stack, "Out")
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Events::EventBus", 1)
    template.resource_count_is("AWS::Events::ApiDestination", 0)
    template.resource_count_is("AWS::Events::Rule", 0)
