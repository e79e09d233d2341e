"""The production allocator, one per shard, racing in virtual time.

The sequential simulator (frolic_tools.sim.simulator) decides batches one after another
against a store that answers at once; that measures pacing, not what concurrency does
to a hot game. Here every allocator runs at the same time, as Lambda runs one per shard
(or `parallelization` per shard), and every call to the store takes the time the
latency model (frolic_tools.sim.latency) draws for it. The allocators are the real
`Allocator`, each with its own connection to shared in-memory tables that stand in for
DynamoDB call for call and run the same claim protocol as the DynamoDB store
(frolic.allocation.claims): a commit is judged at the instant it lands, against the
tables as they are then, and a cancelled one backs off in virtual time.

The Kinesis mapping is modelled by its documented rules: records reach their shard
after ingest's put; each shard is polled once a second while it is empty and at once
again while it has records; a batch takes at most `batch` records; with a
parallelization factor P, a shard's records are spread over P queues by partition key,
each processed in order; a batch is handed to the function after an invocation delay.
"""

from __future__ import annotations

import hashlib
import logging
import random
from array import array
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from frolic.allocation.allocator import Allocator
from frolic.allocation.ports import Outcome, Play
from frolic.models import PlayStatus
from frolic.observability import logger
from frolic.pacing.policy import POLICIES
from frolic_tools.schema import local_settings
from frolic_tools.sim.latency import LatencyModel
from frolic_tools.sim.memory import InMemoryGames, InMemoryStore, WriteMeter
from frolic_tools.sim.simulator import (
    EPOCH,
    GAME_ID,
    OUTCOME_RETENTION_SECONDS,
    SimulationConfig,
    SimulationRun,
    draw_key,
    finish,
    game_rules,
    new_run,
    plays_of_second,
    record_outcome,
    stock,
)
from frolic_tools.sim.virtual_time import VirtualTime

#: The deployed defaults: when a pending play expires (reel and grace), and up to what
#: age its result may still go out in a batch.
EXPIRY_SECONDS = local_settings().expiry_seconds
BATCH_WRITE_CUTOFF_SECONDS = local_settings().batch_write_cutoff_seconds
#: The mapping polls an empty shard once a second (AWS Lambda docs, Kinesis).
POLL_INTERVAL_SECONDS = 1.0
MAX_PARALLELIZATION = 10


@dataclass(frozen=True, slots=True)
class ConcurrencyConfig:
    latency: LatencyModel = field(default_factory=LatencyModel)
    parallelization: int = 1
    poll_interval_s: float = POLL_INTERVAL_SECONDS
    expiry_s: float = EXPIRY_SECONDS

    def __post_init__(self) -> None:
        if not 1 <= self.parallelization <= MAX_PARALLELIZATION:
            raise ValueError(f"the parallelization factor is 1..{MAX_PARALLELIZATION}")


class Durations:
    """A histogram of durations in milliseconds: percentiles without keeping each one."""

    def __init__(self) -> None:
        self._counts: array[int] = array("q")
        self.count = 0

    def add(self, seconds: float) -> None:
        bucket = max(0, int(seconds * 1000))
        if bucket >= len(self._counts):
            self._counts.extend([0] * (bucket + 1 - len(self._counts)))
        self._counts[bucket] += 1
        self.count += 1

    def quantile(self, q: float) -> float | None:
        """The duration (s) that a share `q` of the durations do not exceed."""
        if not self.count:
            return None
        rank = q * self.count
        running = 0
        for bucket, n in enumerate(self._counts):
            running += n
            if running >= rank:
                return (bucket + 1) / 1000
        return len(self._counts) / 1000


@dataclass
class ConcurrencyStats:
    """What racing allocators did, as `frolic capacity` reports it: round trips and races."""

    decisions: Durations = field(default_factory=Durations)
    iterator_ages: Durations = field(default_factory=Durations)
    expired: int = 0
    lost_to_conflict: int = 0
    commits: int = 0
    conflicts: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    write_units: int = 0
    #: Coupons each counter hands out per second (one unit each).
    winners: WriteMeter = field(default_factory=WriteMeter)
    #: Time the allocators spent on batches, invocation included (Lambda's billed time).
    busy_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class _Record:
    visible_at: float
    play: Play


def simulate_concurrently(
    trace: Sequence[int],
    config: SimulationConfig,
    concurrency: ConcurrencyConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationRun:
    """Run the trace with every shard's allocators at once; `run.concurrency` holds
    what the races cost. `progress(second, seconds)` hears of each 1 % of the trace."""
    model = concurrency or ConcurrencyConfig()
    latency = model.latency
    duration = len(trace)
    rng = random.Random(config.seed)
    timing = random.Random(config.seed + 1)
    clock = VirtualTime(EPOCH)
    stats = ConcurrencyStats()
    meter = WriteMeter()
    rules = game_rules(config, duration)
    run = new_run(config, trace, rules.schedule, meter)
    run.concurrency = stats

    def landed(outcomes: Sequence[Outcome]) -> None:
        now = clock.now
        for outcome in outcomes:
            play = outcome.play
            waited = now - play.arrival_ts
            stats.decisions.add(waited)
            if waited > model.expiry_s:
                stats.expired += 1
            if (
                outcome.status is not PlayStatus.WON
                and outcome.reason is None
                and play.play_id in store.raced_out
            ):
                stats.lost_to_conflict += 1

    def call(operation: str, *, items: int = 1, write_units: int = 0, parallel: int = 1) -> None:
        stats.calls[operation] += parallel
        stats.write_units += write_units
        clock.sleep(max(latency.call(operation, timing) for _ in range(parallel)))

    store = InMemoryStore(
        meter,
        outcome_retention_seconds=OUTCOME_RETENTION_SECONDS,
        batch_write_cutoff_seconds=BATCH_WRITE_CUTOFF_SECONDS,
        results_written=landed,
        clock=lambda: clock.now,
        winners=stats.winners,
    )
    stock(store, config)
    games = InMemoryGames({GAME_ID: rules})
    slots = model.parallelization
    queues: list[deque[_Record]] = [deque() for _ in range(config.shards * slots)]
    fed = [False]

    def feed() -> None:
        report_every = max(1, duration // 100)
        for second, count in enumerate(trace):
            clock.wait_until(EPOCH + second)
            per_shard = [0] * config.shards
            arriving: list[list[_Record]] = [[] for _ in queues]
            for play, shard in plays_of_second(second, count, rng, config):
                per_shard[shard] += 1
                index = shard * slots + (_slot(play.play_id, slots) if slots > 1 else 0)
                visible = play.arrival_ts + latency.put(timing)
                arriving[index].append(_Record(visible, play))
            for queue, records in zip(queues, arriving, strict=True):
                queue.extend(sorted(records, key=lambda r: r.visible_at))
            run.peak_records_per_shard = max(run.peak_records_per_shard, *per_shard)
            if progress is not None and second % report_every == 0:
                progress(second, duration)
        fed[0] = True

    def worker(queue: deque[_Record], first_poll: float) -> Callable[[], None]:
        allocator = Allocator(
            store=store.connect(calls=call),
            games=games,
            policy=POLICIES[config.policy],
            draw_key=draw_key(config),
            wait_until=clock.wait_until,
        )

        def poll_until_drained() -> None:
            clock.wait_until(first_poll)
            while not (fed[0] and not queue):
                while queue and queue[0].visible_at <= clock.now:
                    batch: list[Play] = []
                    while queue and len(batch) < config.batch and queue[0].visible_at <= clock.now:
                        batch.append(queue.popleft().play)
                    started = clock.now
                    clock.sleep(latency.invocation(timing))
                    run.batches += 1
                    for outcome in allocator.allocate(batch, clock.now):
                        record_outcome(run, outcome)
                    stats.busy_seconds += clock.now - started
                    stats.iterator_ages.add(clock.now - batch[-1].arrival_ts)
                clock.sleep(model.poll_interval_s)

        return poll_until_drained

    clock.spawn(feed, EPOCH)
    for shard in range(config.shards):
        phase = rng.random() * model.poll_interval_s
        for slot in range(slots):
            clock.spawn(worker(queues[shard * slots + slot], EPOCH + phase), EPOCH)
    # Each claim that loses every race logs a warning, as it should in Lambda; a model
    # of a hot game would print thousands of them over its figures.
    level = logger.log_level
    logger.setLevel(logging.ERROR)
    try:
        clock.run()
    finally:
        logger.setLevel(level)
    finish(run, store)
    claims = store.claim_stats
    stats.commits, stats.conflicts = claims.commits, claims.races
    return run


def _slot(play_id: str, slots: int) -> int:
    """Which of a shard's P concurrent batches a record joins: by its partition key."""
    digest = hashlib.blake2b(play_id.encode(), digest_size=4, person=b"slot").digest()
    return int.from_bytes(digest, "big") % slots
