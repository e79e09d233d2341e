"""Log lines name the record (or the game) they were written for, however deep the code
that writes them, and only while that record is worked on."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from frolic.allocate import StreamAllocator
from frolic.allocation.allocator import Allocator
from frolic.allocation.ports import Outcome, Play
from frolic.models import PlayEvent
from frolic.observability import logger, logging_keys
from frolic.stream_records import each_stream_record


@pytest.fixture
def emitted() -> Iterator[list[dict[str, Any]]]:
    """The lines as Powertools formats them at the moment each is written."""
    lines: list[dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(logger.registered_formatter.format(record)))

    keep = Keep()
    logging.getLogger(logger.service).addHandler(keep)
    yield lines
    logging.getLogger(logger.service).removeHandler(keep)


def test_keys_hold_inside_the_block_and_go_after_it(emitted: list[dict[str, Any]]) -> None:
    with logging_keys(play_id="p-1"):
        logger.info("inside")
    logger.info("after")
    inside, after = emitted
    assert inside["play_id"] == "p-1"
    assert "play_id" not in after


def test_each_table_stream_record_logs_under_its_own_play(
    emitted: list[dict[str, Any]],
) -> None:
    # Given a batch of two result records, and a handler that logs without naming them
    event = {
        "Records": [
            {
                "eventID": str(n),
                "eventName": "MODIFY",
                "dynamodb": {"Keys": {"playId": {"S": f"p-{n}"}}, "SequenceNumber": str(n)},
            }
            for n in (1, 2)
        ]
    }

    def handle(_: DynamoDBRecord) -> None:
        logger.info("handled")

    # When the shared loop hands them on
    each_stream_record(event, cast("Any", None), handle)
    # Then each line names its record's play
    assert [line["play_id"] for line in emitted] == ["p-1", "p-2"]


class LoggingAllocator:
    """Decides nothing; logs as the real allocator's store would, deep inside."""

    def allocate(self, plays: Sequence[Play], now: float) -> list[Outcome]:
        logger.info("deciding", plays=len(plays))
        return []


class NoRejections:
    def reject_pending(self, owners: Any, reason: str, decided_at: float) -> int:
        return 0


def kinesis_record(sequence: str, body: Any) -> dict[str, Any]:
    data = base64.b64encode(json.dumps(body).encode()).decode()
    return {
        "eventID": f"shardId-000:{sequence}",
        "eventSource": "aws:kinesis",
        "kinesis": {"sequenceNumber": sequence, "data": data, "partitionKey": "k"},
    }


def test_a_games_decision_logs_under_the_game_and_a_bad_record_under_its_sequence(
    emitted: list[dict[str, Any]],
) -> None:
    play = PlayEvent(play_id="p-1", user_id="u-1", game_id="g-1", arrival_ts=1.0)
    stream = StreamAllocator(
        allocator=cast("Allocator", LoggingAllocator()), store=NoRejections(), clock=lambda: 2.0
    )
    stream.handle(
        {"Records": [kinesis_record("1", play.to_wire()), kinesis_record("2", "not a play")]},
        None,
    )
    lines = {line["message"]: line for line in emitted}
    assert lines["deciding"]["game_id"] == "g-1"
    assert lines["unreadable record skipped"]["sequence_number"] == "2"
    assert "game_id" not in lines["unreadable record skipped"]
