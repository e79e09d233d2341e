"""The event-source-mapping semantics of frolic_tools.local.mappings, with a scripted function
instead of a stack: checkpoints, partial responses, bisection, bounded retries, record
age, filters, and the settings they must share with infra/constructs/stream.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from frolic_tools.local.functions import FunctionError
from frolic_tools.local.mappings import (
    ALLOCATE,
    DELIVER,
    EXPIRY,
    FINAL_STATUSES,
    BatchRunner,
    FailureList,
    MappingStats,
    ShardCoordinates,
    StreamRecord,
    matches,
    play_deadline,
)

NOW = 2_000_000_000.0
SHARD = ShardCoordinates("kinesis", "arn:aws:kinesis:us-east-1:123:stream/plays", "shardId-0")

Script = Callable[[list[str]], Any]


def records(count: int, *, age: float = 1.0) -> list[StreamRecord]:
    return [
        StreamRecord(str(100 + n), NOW - age, {"kinesis": {"sequenceNumber": str(100 + n)}})
        for n in range(count)
    ]


class Harness:
    """Runs batches through a scripted function and records what it was handed."""

    def __init__(self, script: Script, *, pause: Callable[[float], bool] = lambda s: True):
        self.calls: list[list[str]] = []
        self.failures = FailureList(kept=3)
        self.stats = MappingStats()

        def invoke(event: dict[str, Any]) -> Any:
            sequences = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
            self.calls.append(sequences)
            return script(sequences)

        self.runner = BatchRunner(
            ALLOCATE,
            SHARD,
            invoke=invoke,
            failures=self.failures,
            stats=self.stats,
            clock=lambda: NOW,
            pause=pause,
        )

    def run(self, batch: Sequence[StreamRecord]) -> bool:
        return self.runner.run(batch)


def error() -> FunctionError:
    return FunctionError("allocate", RuntimeError("boom"))


def partial(*failed: str) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}


def test_a_successful_batch_is_one_invocation() -> None:
    harness = Harness(lambda seqs: {"batchItemFailures": []})
    assert harness.run(records(5))
    assert harness.calls == [["100", "101", "102", "103", "104"]]
    assert harness.failures.total == 0


def test_a_partial_failure_retries_from_the_lowest_failed_record() -> None:
    answers = iter([partial("104", "102"), partial(), partial()])
    harness = Harness(lambda seqs: next(answers))
    assert harness.run(records(6))
    assert harness.calls == [
        ["100", "101", "102", "103", "104", "105"],
        ["102", "103", "104", "105"],  # checkpointed before 102
    ]
    assert harness.stats.snapshot()["retries"] == 1


def test_a_failure_naming_no_record_of_the_batch_fails_it_whole() -> None:
    answers = iter([partial("999"), {"batchItemFailures": [{"itemIdentifier": ""}]}, None])
    harness = Harness(lambda seqs: next(answers))
    assert harness.run(records(2))
    assert harness.calls == [["100", "101"]] * 3


def test_a_poison_record_is_bisected_out_without_using_up_retries() -> None:
    def script(sequences: list[str]) -> Any:
        if "102" in sequences:
            raise error()
        return None

    harness = Harness(script)
    assert harness.run(records(4))
    # 4 → 2 + 2 → the bad half to singles → the single retried 3 times → given up.
    assert harness.calls == [
        ["100", "101", "102", "103"],
        ["100", "101"],
        ["102", "103"],
        ["102"],
        ["102"],
        ["102"],
        ["102"],
        ["103"],
    ]
    (entry,) = harness.failures.entries()
    assert entry["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert entry["requestContext"]["approximateInvokeCount"] == ALLOCATE.retries + 1
    assert entry["responseContext"]["functionError"] == "Unhandled"
    info = entry["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        "102",
        "102",
        1,
    )
    assert info["streamArn"] == SHARD.stream_arn and info["shardId"] == SHARD.shard_id


def test_partial_failures_are_retried_a_bounded_number_of_times() -> None:
    harness = Harness(lambda seqs: partial(seqs[-1]))
    assert harness.run(records(3))
    assert len(harness.calls) == ALLOCATE.retries + 1
    assert harness.calls[1:] == [["102"]] * ALLOCATE.retries
    (entry,) = harness.failures.entries()
    assert "functionError" not in entry["responseContext"]
    assert harness.stats.snapshot()["records_failed"] == 1


def test_records_past_the_maximum_age_are_not_sent_again() -> None:
    harness = Harness(lambda seqs: None)
    old = records(2, age=ALLOCATE.max_record_age_seconds + 1)
    assert harness.run(old)
    assert harness.calls == []
    (entry,) = harness.failures.entries()
    assert entry["requestContext"]["condition"] == "RecordAgeExceeded"


def test_a_stopping_mapping_leaves_its_retry_unfinished() -> None:
    harness = Harness(lambda seqs: partial(seqs[0]), pause=lambda seconds: False)
    assert not harness.run(records(2))
    assert len(harness.calls) == 1


def test_the_failure_list_keeps_only_the_newest_entries() -> None:
    harness = Harness(lambda seqs: None)
    for _ in range(5):
        harness.run(records(1, age=ALLOCATE.max_record_age_seconds + 1))
    assert harness.failures.total == 5
    assert len(harness.failures.entries()) == 3


# -- filters and deadlines ----------------------------------------------------------------


def stream_record(event_name: str, status: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"Keys": {"playId": {"S": "p"}}}
    if status is not None:
        body["NewImage"] = {"playId": {"S": "p"}, "status": {"S": status}}
    return {"eventName": event_name, "dynamodb": body}


@pytest.mark.parametrize(
    ("event_name", "status", "to_deliver", "to_expiry"),
    [
        ("INSERT", "pending", False, True),
        ("MODIFY", "pending", False, False),
        ("MODIFY", "won", True, False),
        ("INSERT", "rejected", True, False),
        ("MODIFY", "expired", True, False),
        ("REMOVE", None, False, False),
    ],
)
def test_filters_pass_what_the_deployed_mappings_pass(
    event_name: str, status: str | None, to_deliver: bool, to_expiry: bool
) -> None:
    record = stream_record(event_name, status)
    assert DELIVER.filter_pattern is not None and EXPIRY.filter_pattern is not None
    assert matches(DELIVER.filter_pattern, record) is to_deliver
    assert matches(EXPIRY.filter_pattern, record) is to_expiry


def test_a_pending_play_is_due_at_the_expiry_function_at_its_deadline() -> None:
    due_at = play_deadline(15.0)
    record = StreamRecord("1", NOW, {"dynamodb": {"NewImage": {"arrivalTs": {"N": str(NOW)}}}})
    assert due_at(record) == NOW + 15.0
    assert due_at(StreamRecord("2", NOW, {"dynamodb": {}})) == 0.0


def test_the_settings_are_those_infra_deploys() -> None:
    from infra.constructs import stream

    assert ALLOCATE.batch_size == stream.ALLOCATE_BATCH_SIZE
    assert ALLOCATE.retries == stream.ALLOCATE_RETRIES
    assert ALLOCATE.max_record_age_seconds == stream.ALLOCATE_MAX_RECORD_AGE.to_seconds()
    assert ALLOCATE.bisect_on_error and ALLOCATE.report_batch_item_failures
    assert sorted(FINAL_STATUSES) == sorted(stream.FINAL_STATUSES)
