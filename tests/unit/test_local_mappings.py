"""How the local stream mappings read their shards: a poller waits for its doorbell and
reads the moment it rings, two mappings share one reader of a shard without losing or
reordering a record, the results stream is read by following iterators, and the expiry
mapping batches the plays that come due."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from frolic_tools.local.mappings import (
    EXPIRY,
    BatchRunner,
    Doorbell,
    DynamoStreamShard,
    FailureList,
    MappingConfig,
    MappingStats,
    ShardCoordinates,
    ShardPoller,
    SharedShard,
    StreamRecord,
)

SHARD = ShardCoordinates("dynamodb", "arn:aws:dynamodb:us-east-1:1:table/r/stream/x", "shard-1")


def record(sequence: int, arrival: float = 0.0) -> StreamRecord:
    return StreamRecord(str(sequence), arrival, {"sequence": sequence})


class ListSource:
    """A shard whose records a test appends; counts the reads."""

    def __init__(self) -> None:
        self.coordinates = SHARD
        self.records: list[StreamRecord] = []
        self.position = 0
        self.reads = 0
        self.lock = threading.Lock()
        self.read = threading.Event()

    def fetch(self, limit: int) -> list[StreamRecord]:
        with self.lock:
            self.reads += 1
            self.read.set()
            page = self.records[self.position : self.position + limit]
            self.position += len(page)
            return page


def test_a_ring_is_not_missed_between_a_read_and_the_wait() -> None:
    bell = Doorbell()
    seen = bell.rings
    bell.ring()  # lands after the poller read, before it waits
    started = time.monotonic()
    assert bell.wait(seen, timeout=30.0)
    assert time.monotonic() - started < 5.0
    assert not bell.wait(bell.rings, timeout=0.05)


def test_a_poller_reads_as_soon_as_its_doorbell_rings() -> None:
    source = ListSource()
    bell = Doorbell()
    stop = threading.Event()
    ran: list[list[str]] = []
    done = threading.Event()

    def invoke(event: dict[str, Any]) -> Any:
        ran.append([str(r["sequence"]) for r in event["Records"]])
        done.set()
        return None

    # An interval far longer than the test may take: only the ring can wake it.
    slow = MappingConfig(
        name="allocate",
        function="allocate",
        batch_size=100,
        retries=0,
        max_record_age_seconds=3600.0,
        poll_seconds=600.0,
    )
    stats = MappingStats()
    runner = BatchRunner(slow, SHARD, invoke=invoke, failures=FailureList(), stats=stats)
    poller = ShardPoller(slow, source, runner, stats, stop, doorbell=bell)
    poller.start()
    try:
        assert source.read.wait(timeout=20.0), "the poller never read"
        with source.lock:
            source.records += [record(1, time.time()), record(2, time.time())]
        bell.ring()
        assert done.wait(timeout=20.0), "a ring did not wake the poller"
        assert ran == [["1", "2"]]
    finally:
        stop.set()
        bell.close()
        poller.join(timeout=10)


class WatchedDoorbell(Doorbell):
    """A doorbell that says when a poller starts waiting for it."""

    def __init__(self) -> None:
        super().__init__()
        self.waited = threading.Event()

    def wait(self, seen: int, timeout: float) -> bool:
        self.waited.set()
        return super().wait(seen, timeout)


def test_after_a_short_page_a_poller_reads_again_only_when_its_doorbell_rings() -> None:
    source = ListSource()
    source.records = [record(1, time.time()), record(2, time.time())]
    bell = WatchedDoorbell()
    stop = threading.Event()
    batches: list[list[str]] = []
    done = threading.Event()

    def invoke(event: dict[str, Any]) -> Any:
        batches.append([str(r["sequence"]) for r in event["Records"]])
        if len(batches) == 1:
            # Written while the batch runs, but the ring for it comes later: a poller
            # that read again at once would take it now.
            with source.lock:
                source.records.append(record(3, time.time()))
        else:
            done.set()
        return None

    slow = MappingConfig(
        name="allocate",
        function="allocate",
        batch_size=100,
        retries=0,
        max_record_age_seconds=3600.0,
        poll_seconds=600.0,
    )
    stats = MappingStats()
    runner = BatchRunner(slow, SHARD, invoke=invoke, failures=FailureList(), stats=stats)
    poller = ShardPoller(slow, source, runner, stats, stop, doorbell=bell)
    poller.start()
    try:
        assert bell.waited.wait(timeout=20.0), "the poller never waited for its bell"
        # The first page was short: the shard's end. One read so far, one batch.
        assert (source.reads, batches) == (1, [["1", "2"]])
        bell.ring()
        assert done.wait(timeout=20.0), "a ring did not wake the poller"
        assert batches == [["1", "2"], ["3"]]
        assert source.reads == 2
    finally:
        stop.set()
        bell.close()
        poller.join(timeout=10)


def test_two_subscribers_of_a_shared_shard_each_get_every_record_in_order() -> None:
    source = ListSource()
    source.records = [record(n) for n in range(10)]
    shared = SharedShard(source, max_held=100)
    first, second = shared.subscribe(), shared.subscribe()

    taken_first = first.fetch(100)
    taken_second = second.fetch(4)
    assert source.reads == 1  # one read filled both
    taken_second += second.fetch(100)  # what it holds is short of a page: topped up
    assert source.reads == 2
    source.records += [record(n) for n in range(10, 13)]
    taken_second += second.fetch(100)
    taken_first += first.fetch(100)

    expected = [str(n) for n in range(13)]
    assert [r.sequence for r in taken_first] == expected
    assert [r.sequence for r in taken_second] == expected


def test_a_shared_shard_stops_reading_while_a_subscriber_is_full() -> None:
    source = ListSource()
    source.records = [record(n) for n in range(6)]
    shared = SharedShard(source, max_held=3)
    eager, lagging = shared.subscribe(), shared.subscribe()
    assert len(eager.fetch(2)) == 2  # both now hold 6 - the eager one took 2
    assert len(eager.fetch(100)) == 4
    source.records += [record(6)]
    assert eager.fetch(100) == []  # the lagging one holds 6 ≥ 3: no more reading
    assert len(lagging.fetch(100)) == 6
    assert [r.sequence for r in eager.fetch(100)] == ["6"]


class StreamsClient:
    """dynamodbstreams as the shard reader sees it: iterators name a position."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.records: list[dict[str, Any]] = [
            {"dynamodb": {"SequenceNumber": str(n), "ApproximateCreationDateTime": 1.0}}
            for n in range(1, 8)
        ]
        self.calls: list[str] = []
        self.refuse = refuse or set()

    def get_shard_iterator(self, **arguments: str) -> dict[str, str]:
        self.calls.append("GetShardIterator")
        after = int(arguments.get("SequenceNumber", "0"))
        return {"ShardIterator": f"fresh-{after}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803
        self.calls.append("GetRecords")
        if ShardIterator in self.refuse:
            raise ClientError({"Error": {"Code": "ExpiredIteratorException"}}, "GetRecords")
        after = int(ShardIterator.rpartition("-")[2])
        page = [r for r in self.records if int(r["dynamodb"]["SequenceNumber"]) > after][:Limit]
        last = int(page[-1]["dynamodb"]["SequenceNumber"]) if page else after
        return {"Records": page, "NextShardIterator": f"next-{last}"}


def test_the_results_stream_is_read_by_following_iterators() -> None:
    client = StreamsClient()
    now = [0.0]
    shard = DynamoStreamShard(
        client, coordinates=SHARD, follow_iterators=True, clock=lambda: now[0]
    )
    assert [r.sequence for r in shard.fetch(3)] == ["1", "2", "3"]
    assert [r.sequence for r in shard.fetch(3)] == ["4", "5", "6"]
    assert client.calls == ["GetShardIterator", "GetRecords", "GetRecords"]
    now[0] += DynamoStreamShard.ITERATOR_SECONDS + 1  # an old iterator is not trusted
    assert [r.sequence for r in shard.fetch(3)] == ["7"]
    assert client.calls[-2:] == ["GetShardIterator", "GetRecords"]


def test_a_refused_iterator_is_replaced_from_the_last_position() -> None:
    client = StreamsClient(refuse={"next-3"})
    shard = DynamoStreamShard(client, coordinates=SHARD, follow_iterators=True)
    assert [r.sequence for r in shard.fetch(3)] == ["1", "2", "3"]
    assert [r.sequence for r in shard.fetch(3)] == ["4", "5", "6"]
    assert client.calls == [
        *("GetShardIterator", "GetRecords", "GetRecords"),
        *("GetShardIterator", "GetRecords"),  # the refused one, replaced
    ]


def test_without_following_every_read_takes_a_fresh_iterator() -> None:
    client = StreamsClient()
    shard = DynamoStreamShard(client, coordinates=SHARD)
    shard.fetch(2)
    shard.fetch(2)
    assert client.calls == ["GetShardIterator", "GetRecords"] * 2


def expiry_poller(due: Sequence[float]) -> ShardPoller:
    source = ListSource()
    stats = MappingStats()
    runner = BatchRunner(
        EXPIRY, SHARD, invoke=lambda event: None, failures=FailureList(), stats=stats
    )
    poller = ShardPoller(
        EXPIRY,
        source,
        runner,
        stats,
        threading.Event(),
        due_at=lambda r: due[int(r.sequence)],
    )
    poller._pending = deque(record(n) for n in range(len(due)))
    return poller


def test_due_plays_wait_out_the_batching_window_then_go_together() -> None:
    now = time.time()
    window = EXPIRY.batching_window_seconds
    # The oldest came due just now: the batch may still fill.
    assert expiry_poller([now - 0.1, now - 0.05, now + 60])._take_due() == []
    # The oldest has been due for longer than the window: every due play goes.
    batch = expiry_poller([now - window - 1, now - 0.05, now + 60])._take_due()
    assert [r.sequence for r in batch] == ["0", "1"]
    # None due yet: nothing goes.
    assert expiry_poller([now + 30])._take_due() == []
