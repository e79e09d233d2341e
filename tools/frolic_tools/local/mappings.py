"""Lambda's event-source mappings for streams, emulated: poll, filter, batch, invoke,
checkpoint, retry, bisect, give up onto an on-failure list.

The semantics are the documented ones, with the settings infra/constructs/stream.py
deploys (checked against it by tests/e2e/test_mapping_semantics.py):

- Each shard is read in order by its own poller thread, from TRIM_HORIZON.
- Records that do not match the mapping's filter are dropped (they count as done).
- A batch that succeeds is checkpointed whole. With ReportBatchItemFailures, a
  response naming failed records checkpoints before the lowest failed sequence number
  and retries from it; a failure entry that names no record of the batch makes the
  whole batch fail.
- A function error bisects the batch (splitting does not use up retries) until single
  records are retried on their own.
- Retries are bounded, and records older than the maximum record age are not sent
  again. Either way the records' coordinates (shard, first and last sequence numbers,
  never their content) go to the on-failure list, which keeps the last N entries, and
  the shard moves on: a poison record cannot hold it back.

Environments: a function has fewer execution environments here than AWS would give it
(allocate has one for its four shards, see `functions`). Its pollers take turns
(`Turns`): a poller reads its shard only once it has an environment to run the batch in,
so a batch holds everything that arrived while the others ran, and a busy function
gets fewer, larger batches (each costs moto and botocore the same few requests whatever
its size). A poller waiting out a retry's backoff lets the others have their turn.

The expiry mapping differs in one respect: it hands its function each pending play only
once the play's deadline has passed, instead of invoking at once and letting the
function sleep. The function's own wait is then zero, so it can share the single
invocation lock without blocking deliver or anyone else (see `functions`); what the
tables see is the same.

When to read: a poller with a `Doorbell`, which moto's server rings when a request added
records to that shard, reads when it rings (so a play is read within moments of being
written, and a batch forms from whatever arrived while the function ran), at once
after a full page (more may be waiting), or at the latest after its poll interval. A
read that came back short reached the shard's end, so after running its batch the
poller reads again only if the bell rang meanwhile: a read that would find nothing is
not made (each costs a request of moto and of botocore). A mapping without a doorbell
reads again at once after finding records, else on its interval. The expiry mapping
has none: its records are due seconds after they are written (AWS batches them for up
to 5 s), so it reads on a slower interval.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from botocore.exceptions import ClientError

from frolic.models import PlayStatus
from frolic_tools.local.events import dynamodb_record, kinesis_record
from frolic_tools.local.functions import FunctionError, function_arn

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient

log = logging.getLogger("frolic_tools.local")

FINAL_STATUSES: Final = tuple(status.value for status in PlayStatus if status.is_final)
#: How many on-failure entries are kept (the newest): memory stays flat.
FAILURES_KEPT: Final = 100
#: Records read ahead of the function per shard; polling pauses beyond it.
MAX_BACKLOG: Final = 10_000
#: How long a poller with a doorbell waits for it before it reads anyway.
DOORBELL_POLL_SECONDS: Final = 2.0


@dataclass(frozen=True, slots=True)
class MappingConfig:
    name: str
    function: str
    batch_size: int
    retries: int
    max_record_age_seconds: float
    bisect_on_error: bool = True
    report_batch_item_failures: bool = True
    #: A Lambda filter pattern: nested keys, lists of accepted values at the leaves.
    filter_pattern: Mapping[str, Any] | None = None
    poll_seconds: float = 0.2
    #: With deadlines: how long records may wait after they are due, for a fuller batch.
    batching_window_seconds: float = 0.0


#: infra/constructs/stream.py: batch 100, bisect, 3 retries, 60 s, partial responses.
ALLOCATE: Final = MappingConfig(
    name="allocate",
    function="allocate",
    batch_size=100,
    retries=3,
    max_record_age_seconds=60.0,
)
#: Only results whose new image is final.
DELIVER: Final = MappingConfig(
    name="deliver",
    function="deliver",
    batch_size=100,
    retries=10,
    max_record_age_seconds=3600.0,
    filter_pattern={"dynamodb": {"NewImage": {"status": {"S": list(FINAL_STATUSES)}}}},
)
#: Only INSERTs of pending plays. Each is due at the function at its deadline, so the
#: shard is read once a second and due plays are batched for a second (AWS batches
#: them for up to 5 s).
EXPIRY: Final = MappingConfig(
    name="expiry",
    function="expiry",
    batch_size=500,
    retries=10,
    max_record_age_seconds=3600.0,
    poll_seconds=1.0,
    batching_window_seconds=1.0,
    filter_pattern={
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"status": {"S": [PlayStatus.PENDING.value]}}},
    },
)


def matches(pattern: Mapping[str, Any], data: Any) -> bool:
    """Lambda event filtering for the subset the mappings use: every key of the pattern
    must be present, nested objects match recursively, and a list at a leaf lists the
    values accepted there."""
    if not isinstance(data, Mapping):
        return False
    for key, rule in pattern.items():
        if key not in data:
            return False
        value = data[key]
        if isinstance(rule, Mapping):
            if not matches(rule, value):
                return False
        elif value not in rule:
            return False
    return True


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One record as read: its sequence number, arrival time, and the Lambda event
    record built from it."""

    sequence: str
    arrival: float
    event: dict[str, Any]


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class FailureList:
    """The on-failure destination: the newest entries, each the coordinates of records
    given up on, in the shape Lambda sends to an SQS on-failure queue."""

    def __init__(self, kept: int = FAILURES_KEPT) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=kept)
        self.total = 0

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)
            self.total += 1

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)


@dataclass
class MappingStats:
    batches: int = 0
    records: int = 0
    filtered: int = 0
    function_errors: int = 0
    partial_failures: int = 0
    retries: int = 0
    bisections: int = 0
    records_failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, count in counts.items():
                setattr(self, name, getattr(self, name) + count)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_lock"}


@dataclass(frozen=True, slots=True)
class ShardCoordinates:
    kind: str  # "kinesis" or "dynamodb"
    stream_arn: str
    shard_id: str


def _backoff_seconds(attempt: int) -> float:
    return float(min(0.1 * 2**attempt, 2.0))


class BatchRunner:
    """One shard's batches through one function, with the mapping's retry semantics.

    `pause(seconds)` waits between retries and says False when the stack is stopping;
    the batch is then left unfinished, as a stopped mapping leaves it.
    """

    def __init__(
        self,
        config: MappingConfig,
        shard: ShardCoordinates,
        *,
        invoke: Callable[[dict[str, Any]], Any],
        failures: FailureList,
        stats: MappingStats,
        clock: Callable[[], float] = time.time,
        pause: Callable[[float], bool] = lambda seconds: True,
    ) -> None:
        self._config = config
        self._shard = shard
        self._invoke = invoke
        self._failures = failures
        self._stats = stats
        self._clock = clock
        self._pause = pause

    def run(self, records: Sequence[StreamRecord]) -> bool:
        """Process the records to the end (done or given up); False if interrupted."""
        work: deque[tuple[list[StreamRecord], int]] = deque([(list(records), 0)])
        while work:
            batch, attempts = work.popleft()
            batch = self._drop_expired(batch, attempts)
            if not batch:
                continue
            self._stats.add(batches=1, records=len(batch))
            function_error = False
            try:
                response = self._invoke({"Records": [copy.deepcopy(r.event) for r in batch]})
            except FunctionError:
                self._stats.add(function_errors=1)
                if self._config.bisect_on_error and len(batch) > 1:
                    middle = len(batch) // 2
                    work.appendleft((batch[middle:], attempts))
                    work.appendleft((batch[:middle], attempts))
                    self._stats.add(bisections=1)
                    continue
                retry_from, function_error = 0, True
            else:
                found = self._first_failed(batch, response)
                if found is None:
                    continue  # checkpointed whole
                self._stats.add(partial_failures=1)
                retry_from = found
            rest = batch[retry_from:]  # everything before it is checkpointed
            if attempts >= self._config.retries:
                self._give_up(rest, "RetryAttemptsExhausted", attempts + 1, function_error)
                continue
            self._stats.add(retries=1)
            if not self._pause(_backoff_seconds(attempts)):
                return False
            work.appendleft((rest, attempts + 1))
        return True

    def _first_failed(self, batch: list[StreamRecord], response: Any) -> int | None:
        """Where to retry from, or None when the response reports full success."""
        if not self._config.report_batch_item_failures or not isinstance(response, Mapping):
            return None
        failures = response.get("batchItemFailures")
        if not failures:
            return None
        if not isinstance(failures, list):
            return 0
        positions = {record.sequence: index for index, record in enumerate(batch)}
        found: list[int] = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
            if not isinstance(identifier, str) or identifier not in positions:
                return 0  # null, empty or unknown identifier: the whole batch failed
            found.append(positions[identifier])
        return min(found)

    def _drop_expired(self, batch: list[StreamRecord], attempts: int) -> list[StreamRecord]:
        oldest_allowed = self._clock() - self._config.max_record_age_seconds
        stale = [record for record in batch if record.arrival < oldest_allowed]
        if stale:
            self._give_up(stale, "RecordAgeExceeded", attempts, function_error=False)
            return [record for record in batch if record.arrival >= oldest_allowed]
        return batch

    def _give_up(
        self,
        records: list[StreamRecord],
        condition: str,
        invocations: int,
        function_error: bool,
    ) -> None:
        first, last = records[0], records[-1]
        info_key = "KinesisBatchInfo" if self._shard.kind == "kinesis" else "DDBStreamBatchInfo"
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if function_error:
            response_context["functionError"] = "Unhandled"
        self._failures.add(
            {
                "mapping": self._config.name,
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "functionArn": function_arn(self._config.function),
                    "condition": condition,
                    "approximateInvokeCount": invocations,
                },
                "responseContext": response_context,
                "version": "1.0",
                "timestamp": _iso(self._clock()),
                info_key: {
                    "shardId": self._shard.shard_id,
                    "startSequenceNumber": first.sequence,
                    "endSequenceNumber": last.sequence,
                    "approximateArrivalOfFirstRecord": _iso(first.arrival),
                    "approximateArrivalOfLastRecord": _iso(last.arrival),
                    "batchSize": len(records),
                    "streamArn": self._shard.stream_arn,
                },
            }
        )
        self._stats.add(records_failed=len(records))
        log.warning(
            "%s mapping gave up on %d record(s) of %s (%s, sequence %s to %s)",
            self._config.name,
            len(records),
            self._shard.shard_id,
            condition,
            first.sequence,
            last.sequence,
        )


# -- reading the streams ------------------------------------------------------------------


class Runner(Protocol):
    """A shard's batches through its function: a `BatchRunner`, or several at once."""

    def run(self, records: Sequence[StreamRecord]) -> bool: ...


class ShardSource(Protocol):
    coordinates: ShardCoordinates

    def fetch(self, limit: int) -> list[StreamRecord]:
        """The next records after those already returned (none when caught up)."""
        ...


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


class KinesisShard:
    def __init__(self, client: KinesisClient, *, stream_name: str, coordinates: ShardCoordinates):
        self.coordinates = coordinates
        self._client = client
        self._stream_name = stream_name
        self._iterator: str | None = None
        self._last_sequence: str | None = None

    def fetch(self, limit: int) -> list[StreamRecord]:
        if self._iterator is None:
            self._iterator = self._start()
        try:
            response = self._client.get_records(ShardIterator=self._iterator, Limit=limit)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ExpiredIteratorException":
                self._iterator = None
                return []
            raise
        self._iterator = response.get("NextShardIterator")
        records = [self._record(raw) for raw in response["Records"]]
        if records:
            self._last_sequence = records[-1].sequence
        return records

    def _start(self) -> str:
        shard_id = self.coordinates.shard_id
        if self._last_sequence is None:
            return self._client.get_shard_iterator(
                StreamName=self._stream_name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        return self._client.get_shard_iterator(
            StreamName=self._stream_name,
            ShardId=shard_id,
            ShardIteratorType="AFTER_SEQUENCE_NUMBER",
            StartingSequenceNumber=self._last_sequence,
        )["ShardIterator"]

    def _record(self, raw: Mapping[str, Any]) -> StreamRecord:
        arrival = _epoch(raw["ApproximateArrivalTimestamp"])
        event = kinesis_record(
            {**raw, "ApproximateArrivalTimestamp": arrival},
            shard_id=self.coordinates.shard_id,
            stream_arn=self.coordinates.stream_arn,
        )
        return StreamRecord(str(raw["SequenceNumber"]), arrival, event)


class DynamoStreamShard:
    """The results stream's shard.

    With `follow_iterators`, each poll uses the NextShardIterator of the one before (one
    request a poll, as Lambda reads), starting afresh from the last sequence number
    read when the iterator is older than `ITERATOR_SECONDS` (moto's server forgets
    iterators after a minute or two) or when moto refuses it.

    Without it, each poll takes a fresh iterator first. Following NextShardIterator is
    not safe on an unpatched moto (see moto_patches): a cancelled TransactWriteItems
    rolls its tables back by swapping in copies, and iterators bound to the old copy's
    stream see the cancelled writes (a phantom `won`) and never anything written after.
    GetShardIterator resolves the live table each time, and since moto serves one
    request at a time, a poll never falls between a write and its rollback; so this
    holds even if the patch could not be applied. The stack follows iterators only when
    moto's server says its transactions patch is in.
    """

    ITERATOR_SECONDS: Final = 20.0

    def __init__(
        self,
        client: Any,
        *,
        coordinates: ShardCoordinates,
        follow_iterators: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # No type stubs for the dynamodbstreams client in the dev set.
        self.coordinates = coordinates
        self._client = client
        self._follow = follow_iterators
        self._clock = clock
        self._last_sequence: str | None = None
        self._iterator: str | None = None
        self._iterator_at = 0.0

    def fetch(self, limit: int) -> list[StreamRecord]:
        iterator = self._iterator
        if iterator is None or self._clock() - self._iterator_at > self.ITERATOR_SECONDS:
            iterator = self._fresh_iterator()
        try:
            response = self._client.get_records(ShardIterator=iterator, Limit=limit)
        except ClientError:
            if iterator is not self._iterator:
                raise  # a fresh iterator failed: not the iterator's fault
            self._iterator = None  # forgotten or expired: start again from the position
            response = self._client.get_records(ShardIterator=self._fresh_iterator(), Limit=limit)
        records = [self._record(raw) for raw in response["Records"]]
        if records:
            self._last_sequence = records[-1].sequence
        if self._follow and response.get("NextShardIterator"):
            self._iterator = response["NextShardIterator"]
            self._iterator_at = self._clock()
        return records

    def _fresh_iterator(self) -> str:
        arguments: dict[str, str] = {
            "StreamArn": self.coordinates.stream_arn,
            "ShardId": self.coordinates.shard_id,
            "ShardIteratorType": "TRIM_HORIZON",
        }
        if self._last_sequence is not None:
            arguments["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            arguments["SequenceNumber"] = self._last_sequence
        iterator: str = self._client.get_shard_iterator(**arguments)["ShardIterator"]
        return iterator

    def _record(self, raw: Mapping[str, Any]) -> StreamRecord:
        body = dict(raw["dynamodb"])
        created = body.get("ApproximateCreationDateTime")
        arrival = _epoch(created) if created is not None else time.time()
        body["ApproximateCreationDateTime"] = arrival
        event = dynamodb_record({**raw, "dynamodb": body}, stream_arn=self.coordinates.stream_arn)
        return StreamRecord(str(body["SequenceNumber"]), arrival, event)


class SharedShard:
    """One reader of a shard for several mappings: each subscriber gets every record,
    in order, as if it read the shard itself, and a read for one fills them all. The
    results stream has two mappings (deliver and expiry) on one shard; reading it once
    halves the requests and the parsing. Reading pauses while any subscriber holds
    `max_held` records it has not taken."""

    def __init__(self, source: ShardSource, *, max_held: int = MAX_BACKLOG) -> None:
        self.coordinates = source.coordinates
        self._source = source
        self._max_held = max_held
        self._lock = threading.Lock()
        self._queues: list[deque[StreamRecord]] = []

    def subscribe(self) -> ShardSource:
        queue: deque[StreamRecord] = deque()
        with self._lock:
            self._queues.append(queue)
        return _Subscription(self, queue)

    def fetch_for(self, queue: deque[StreamRecord], limit: int) -> list[StreamRecord]:
        """Up to `limit` records: what the subscriber holds, topped up from the shard
        when that is short of a page, so a short page means the shard's end (see
        `ShardPoller`)."""
        with self._lock:
            if len(queue) < limit and all(len(q) < self._max_held for q in self._queues):
                records = self._source.fetch(limit)
                for subscriber in self._queues:
                    subscriber.extend(records)
            return [queue.popleft() for _ in range(min(limit, len(queue)))]


class _Subscription:
    def __init__(self, shared: SharedShard, queue: deque[StreamRecord]) -> None:
        self.coordinates = shared.coordinates
        self._shared = shared
        self._queue = queue

    def fetch(self, limit: int) -> list[StreamRecord]:
        return self._shared.fetch_for(self._queue, limit)


class Doorbell:
    """Rung each time a shard gets new records; a poller with nothing to do waits for
    the next ring. Counting rings (rather than setting a flag) means a ring between a
    poller's read and its wait is never missed."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._rings = 0
        self._closed = False

    @property
    def rings(self) -> int:
        with self._changed:
            return self._rings

    def ring(self) -> None:
        with self._changed:
            self._rings += 1
            self._changed.notify_all()

    def close(self) -> None:
        """Wake every waiter for good (the stack is stopping)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def wait(self, seen: int, timeout: float) -> bool:
        """Until a ring after `seen` rings, or `timeout`; True if it rang."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self._rings != seen or self._closed, timeout=max(0.0, timeout)
            )


class Turns:
    """The turns a mapping's pollers take at its function's environments: as many at a
    time as it has environments. `pause` waits between retries without a turn held."""

    def __init__(self, environments: int, stop: threading.Event) -> None:
        self._free = threading.Semaphore(environments)
        self._stop = stop

    def take(self) -> bool:
        """Wait for a turn; False (and no turn) once the stack is stopping."""
        while not self._free.acquire(timeout=0.5):
            if self._stop.is_set():
                return False
        return True

    def give_back(self) -> None:
        self._free.release()

    def pause(self, seconds: float) -> bool:
        """A turn holder's wait between retries, its turn lent to the others meanwhile;
        False when the stack is stopping."""
        self.give_back()
        stopping = self._stop.wait(seconds)
        self._free.acquire()  # the turn back (whoever has it gives it back, even stopping)
        return not stopping


class ShardPoller:
    """One mapping on one shard, in a thread of its own: fetch, filter, hold until due,
    run. An unexpected error is logged and the poller carries on after a pause."""

    def __init__(
        self,
        config: MappingConfig,
        source: ShardSource,
        runner: Runner,
        stats: MappingStats,
        stop: threading.Event,
        *,
        due_at: Callable[[StreamRecord], float] | None = None,
        max_backlog: int = MAX_BACKLOG,
        doorbell: Doorbell | None = None,
        turns: Turns | None = None,
    ) -> None:
        self.config = config
        self._source = source
        self._runner = runner
        self._stats = stats
        self._stop = stop
        self._due_at = due_at
        self._max_backlog = max_backlog
        self._doorbell = doorbell
        self._turns = turns
        self._pending: deque[StreamRecord] = deque()
        self._thread = threading.Thread(
            target=self._run,
            name=f"frolic-local-{config.name}-{source.coordinates.shard_id}",
            daemon=True,
        )

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        doorbell, turns = self._doorbell, self._turns
        while not self._stop.is_set():
            try:
                rang = doorbell.rings if doorbell is not None else 0
                if turns is not None and not turns.take():
                    return
                try:
                    full = self._fetch()
                    batch = self._take_due()
                    if batch and not self._runner.run(batch):
                        return
                finally:
                    if turns is not None:
                        turns.give_back()
                if full or (batch and (doorbell is None or self._pending)):
                    continue  # maybe more behind it: read on at once
                if doorbell is not None:
                    doorbell.wait(rang, self._idle_seconds())
                else:
                    self._stop.wait(self._idle_seconds())
            except Exception:
                log.exception(
                    "%s mapping on %s: polling failed; trying again",
                    self.config.name,
                    self._source.coordinates.shard_id,
                )
                self._stop.wait(1.0)

    def _fetch(self) -> bool:
        """Read the next page into the backlog; True when the page was full."""
        if len(self._pending) >= self._max_backlog:
            return False
        limit = min(self.config.batch_size, 1000)
        records = self._source.fetch(limit)
        pattern = self.config.filter_pattern
        kept = [r for r in records if pattern is None or matches(pattern, r.event)]
        if len(kept) < len(records):
            self._stats.add(filtered=len(records) - len(kept))
        self._pending.extend(kept)
        return len(records) >= limit

    def _take_due(self) -> list[StreamRecord]:
        """The next batch: the backlog's head, or with deadlines, the records due now,
        once the oldest has been due for the batching window (or a batch is full)."""
        pending = self._pending
        size = min(self.config.batch_size, len(pending))
        if self._due_at is not None:
            now = time.time()
            due = 0
            while due < size and self._due_at(pending[due]) <= now:
                due += 1
            window = self.config.batching_window_seconds
            if due < self.config.batch_size and due and self._due_at(pending[0]) + window > now:
                due = 0  # let the batch fill
            size = due
        return [pending.popleft() for _ in range(size)]

    def _idle_seconds(self) -> float:
        wait = self.config.poll_seconds
        if self._doorbell is not None:
            wait = max(wait, DOORBELL_POLL_SECONDS)
        if self._pending and self._due_at is not None:
            due = self._due_at(self._pending[0]) + self.config.batching_window_seconds
            wait = min(wait, due - time.time())
        return max(0.01, wait)


def play_deadline(expiry_seconds: float) -> Callable[[StreamRecord], float]:
    """When a pending play's record is due at the expiry function: arrival + reel +
    grace, read from the new image as the function reads it."""

    def due_at(record: StreamRecord) -> float:
        image = record.event.get("dynamodb", {}).get("NewImage", {})
        try:
            return float(image["arrivalTs"]["N"]) + expiry_seconds
        except (KeyError, TypeError, ValueError):
            return 0.0  # let the function judge the record

    return due_at
