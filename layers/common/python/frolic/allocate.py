"""The allocator Lambda's work on one Kinesis batch.

Records are parsed first; a record that is not a valid play never blocks the shard: if
it names a play and its player, that play gets a `rejected` result, but only while it is
still pending under that very player (a decided result stands, and another player's
play is not theirs to end); otherwise it is logged (by sequence number, without its
content) and skipped. Valid plays are allocated per game;
if a game's allocation fails (throttling past retries, say), its records are reported
as failed through Powertools' partial batch response, so Kinesis retries from the
first of them. Everything before and after is safe to replay.
"""

from __future__ import annotations

import base64
import json
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
    KinesisStreamRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import TypeAdapter, ValidationError

from frolic.allocation.allocator import Allocator
from frolic.allocation.ports import Play
from frolic.models import Identifier, PlayEvent, PlayStatus
from frolic.observability import logger, logging_keys, metrics, tracer

MALFORMED = "malformed_play"
_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


def sleep_until(instant: float) -> float:
    """The allocator's wait at a window's close: a real pause, at most about a second."""
    delay = instant - time.time()
    if delay > 0:
        time.sleep(delay)
    return time.time()


class AllocationFailedError(Exception):
    """This record's game could not be allocated in this attempt; Kinesis will retry."""


class Rejections(Protocol):
    def reject_pending(self, owners: Mapping[str, str], reason: str, decided_at: float) -> int:
        """Reject each play (playId → userId) still pending under that user; how many
        were rejected."""
        ...


@dataclass
class _Parsed:
    plays: dict[str, Play] = field(default_factory=dict)  # by sequence number
    malformed: dict[str, str] = field(default_factory=dict)  # playId → userId
    skipped: int = 0


def play_from_event(event: PlayEvent) -> Play:
    return Play(
        play_id=event.play_id,
        user_id=event.user_id,
        game_id=event.game_id,
        arrival_ts=event.arrival_ts,
        fingerprint=event.payload_fingerprint(),
        connection_id=event.connection_id,
        game_status=event.game_status,
    )


def _named_play(body: Any) -> tuple[str, str] | None:
    """The play and player a malformed record names, when it says so clearly enough."""
    if not isinstance(body, dict):
        return None
    ids = [body.get(name) for name in ("playId", "userId")]
    if not all(isinstance(i, str) for i in ids):
        return None
    try:
        play_id, user_id = (_IDENTIFIER.validate_python(i) for i in ids)
    except ValidationError:
        return None
    return play_id, user_id


class StreamAllocator:
    def __init__(
        self,
        *,
        allocator: Allocator,
        store: Rejections,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._allocator = allocator
        self._store = store
        self._clock = clock

    def handle(
        self, event: Mapping[str, Any], context: LambdaContext | None
    ) -> PartialItemFailureResponse:
        now = self._clock()
        parsed = self._parse(event.get("Records", []))
        if parsed.malformed:
            self._store.reject_pending(parsed.malformed, MALFORMED, now)
        failed_games = self._allocate(parsed, now)

        def record_handler(record: KinesisStreamRecord) -> None:
            play = parsed.plays.get(record.kinesis.sequence_number)
            if play is not None and play.game_id in failed_games:
                raise AllocationFailedError(play.game_id)

        processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
        return process_partial_response(
            event=dict(event),
            record_handler=record_handler,
            processor=processor,
            context=context,
        )

    def _parse(self, records: list[Mapping[str, Any]]) -> _Parsed:
        parsed = _Parsed()
        for record in records:
            sequence = record["kinesis"]["sequenceNumber"]
            with logging_keys(sequence_number=sequence):
                self._parse_one(parsed, sequence, record)
        if parsed.skipped or parsed.malformed:
            metrics.add_metric(
                "MalformedRecords", MetricUnit.Count, parsed.skipped + len(parsed.malformed)
            )
        return parsed

    @staticmethod
    def _parse_one(parsed: _Parsed, sequence: str, record: Mapping[str, Any]) -> None:
        """A play, a malformed record that names its play (to be rejected), or neither
        (skipped and logged)."""
        try:
            body = json.loads(base64.b64decode(record["kinesis"]["data"]))
        except (ValueError, KeyError):
            body = None
        try:
            parsed.plays[sequence] = play_from_event(PlayEvent.model_validate(body))
            return
        except ValidationError:
            pass
        named = _named_play(body)
        if named is None:
            parsed.skipped += 1
            logger.error("unreadable record skipped")
        else:
            play_id, user_id = named
            parsed.malformed[play_id] = user_id

    @tracer.capture_method(capture_response=False)
    def _allocate(self, parsed: _Parsed, now: float) -> set[str]:
        by_game: dict[str, list[Play]] = defaultdict(list)
        for play in parsed.plays.values():
            by_game[play.game_id].append(play)
        failed: set[str] = set()
        for game_id, plays in by_game.items():
            try:
                with logging_keys(game_id=game_id):
                    outcomes = self._allocator.allocate(plays, now)
            except Exception:
                logger.exception(
                    "allocation failed; the game's records will be retried",
                    game_id=game_id,
                    plays=len(plays),
                )
                failed.add(game_id)
                continue
            won = sum(1 for o in outcomes if o.status is PlayStatus.WON)
            metrics.add_metric("PlaysAllocated", MetricUnit.Count, len(outcomes))
            metrics.add_metric("PlaysWon", MetricUnit.Count, won)
        return failed
