"""A Lambda that dies mid-batch, and Kinesis handing the batch to a fresh one: shared by
the fault tests of the allocator and of the stranded-ordinal repair."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

from tests.doubles import GreedyPacing
from tests.integration.world import World

#: What the crash-point harness injects at each AWS call (test_crash_points).
FAULTS = ("crash-before", "crash-after", "late")
HARNESS_TEST = "test_one_fault_at_one_point_breaks_no_invariant"


def injected_point(node_id: str) -> str | None:
    """The AWS call a harness test's id names (`...[<function>:<call>#<n>-<fault>]`),
    read from the id alone: the pytest-xdist controller never imports the harness."""
    if f"{HARNESS_TEST}[" not in node_id:
        return None
    injection = node_id.split("[", 1)[1].rstrip("]")
    return next(injection.removesuffix(f"-{f}") for f in FAULTS if injection.endswith(f"-{f}"))


class Crash(BaseException):
    """The Lambda process dying: not an Exception, so no handler code can catch it."""


def crash_then_replay(
    world: World, records: list[dict[str, Any]], arm: Callable[[Any], None]
) -> PartialItemFailureResponse:
    """The batch on a Lambda whose client `arm` rigs to die (a `Crash`), then the same
    batch again on a fresh Lambda, as Kinesis retries it; the retry's response."""
    crashing = boto3.client("dynamodb", region_name="us-east-1")
    arm(crashing)
    doomed = World(crashing, world.settings, world.clock, events=world.events)
    with pytest.raises(Crash):
        doomed.stream_allocator(GreedyPacing()).handle({"Records": records}, None)
    return world.stream_allocator(GreedyPacing()).handle({"Records": records}, None)


def die_after_the_lease(client: Any) -> None:
    """Rig `client` to die right after a lease (`ADD issued`) has landed."""
    leasing = {"now": False}

    def note_a_lease(params: dict[str, Any], **_: Any) -> None:
        leasing["now"] = str(params.get("UpdateExpression", "")).startswith("ADD issued :count")

    def die(**_: Any) -> None:
        if leasing["now"]:
            raise Crash("lease")

    client.meta.events.register("provide-client-params.dynamodb.UpdateItem", note_a_lease)
    client.meta.events.register("after-call.dynamodb.UpdateItem", die)


def die_sending_results(client: Any) -> None:
    """Rig `client` to die as it sends a batch's results (BatchWriteItem)."""

    def die(**_: Any) -> None:
        raise Crash("results")

    client.meta.events.register("before-call.dynamodb.BatchWriteItem", die)
