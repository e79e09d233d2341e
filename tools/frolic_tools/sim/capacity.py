"""`frolic capacity`: size a game before it starts, by simulating it.

Runs the concurrent model (frolic_tools.sim.concurrent: one production allocator per shard,
racing in virtual time, each store call taking the time the latency model draws) on a
trace and reports what AWS must take at the peak, records a second per Kinesis shard
and write units a second on the hottest DynamoDB item, and what the races and the
round trips cost the players: decision latency, expired plays, conflicts, winners lost
to them. Without explicit shard and counter numbers it chooses the fewest that keep the
limits with headroom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from frolic.models import PlayEvent, PlayStatus
from frolic_tools.sim import pricing
from frolic_tools.sim.concurrent import ConcurrencyConfig, ConcurrencyStats, simulate_concurrently
from frolic_tools.sim.metrics import PacingReport, measure
from frolic_tools.sim.simulator import SimulationConfig, SimulationRun

SHARD_RECORDS_PER_SECOND = 1000
SHARD_MIB_PER_SECOND = 1.0
ITEM_WRITE_UNITS_PER_SECOND = 1000
#: Size for 80 % of a limit: traffic is bursty and shards split hash ranges unevenly.
HEADROOM = 0.8
MAX_SHARDS = 4096
MAX_SUB_BUDGETS = 256
ALLOCATOR_MEMORY_GB = 0.5
# Per play outside the allocator: ingest's pending put and play-rate slot, and its time.
INGEST_WRITE_UNITS = 2
INGEST_GB_SECONDS = 0.015
# The results table's keys-only sweep index. DynamoDB bills an index one write for an
# item entering or leaving it and two for a key that changes (its GSI throughput
# docs): a pending play enters and its decision takes it out; a winning play instead
# moves to the shards of coupons awaiting issue, and its issue takes it out.
SWEEP_INDEX_UNITS_PER_PLAY = 2
SWEEP_INDEX_UNITS_PER_WIN = 2
# The players' wallet index (won results only, its projection well under 1 KB): a win
# enters it once and stays until the result's TTL.
WALLET_INDEX_UNITS_PER_WIN = 1


def record_bytes() -> int:
    """One play on the stream, with realistically long ids (UUIDs, Cognito subs)."""
    event = PlayEvent(
        play_id="6f1c2e3a-8b4d-4f5e-9a7b-1c2d3e4f5a6b",
        user_id="a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
        game_id="0123456789abcdef",
        arrival_ts=1_900_000_000.123456,
        connection_id="Ab3dEf6hIj9lMn=",
    )
    return len(PlayEvent.model_validate(event.to_wire()).model_dump_json(by_alias=True))


@dataclass(frozen=True, slots=True)
class CapacityReport:
    pacing: PacingReport
    shards: int
    sub_budgets: int
    peak_records_per_shard_s: int
    peak_mib_per_shard_s: float
    peak_write_units_per_item_s: int
    parallelization_factor: int
    allocator_concurrency: int
    cost_usd_per_million_plays: float
    fits: bool
    #: Arrival to result written, over every play (s).
    decision_p50_s: float | None
    decision_p99_s: float | None
    #: Plays whose result landed after the reel stopped and the grace ran out.
    expired_pct: float
    #: Commits cancelled because another allocator moved first, % of commits tried.
    conflict_pct: float
    #: Plays that drew a win and lost it because every attempt lost a race.
    lost_to_conflict: int
    #: Every write unit the allocators consumed (cancelled commits included) per play.
    write_units_per_play: float
    peak_winners_per_counter_s: int
    #: How old a batch's last record is when the batch is done (CloudWatch IteratorAge).
    iterator_age_p99_s: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.pacing.to_json(),
            "shards": self.shards,
            "sub_budgets": self.sub_budgets,
            "peak_records_per_shard_s": self.peak_records_per_shard_s,
            "peak_mib_per_shard_s": round(self.peak_mib_per_shard_s, 4),
            "peak_write_units_per_item_s": self.peak_write_units_per_item_s,
            "parallelization_factor": self.parallelization_factor,
            "allocator_concurrency": self.allocator_concurrency,
            "cost_usd_per_million_plays": round(self.cost_usd_per_million_plays, 2),
            "fits": self.fits,
            "decision_p50_s": self.decision_p50_s,
            "decision_p99_s": self.decision_p99_s,
            "expired_pct": round(self.expired_pct, 4),
            "conflict_pct": round(self.conflict_pct, 3),
            "lost_to_conflict": self.lost_to_conflict,
            "write_units_per_play": round(self.write_units_per_play, 4),
            "peak_winners_per_counter_s": self.peak_winners_per_counter_s,
            "iterator_age_p99_s": self.iterator_age_p99_s,
        }


def plan_capacity(
    trace: Sequence[int],
    config: SimulationConfig,
    *,
    shards: int | None = None,
    sub_budgets: int | None = None,
    concurrency: ConcurrencyConfig | None = None,
) -> CapacityReport:
    """Simulate with the given (or the fewest fitting) shards and counters."""
    model = concurrency or ConcurrencyConfig()
    peak_plays = max(trace, default=0)
    chosen_shards = shards or _at_least(peak_plays, SHARD_RECORDS_PER_SECOND)
    chosen_subs = sub_budgets or 1
    while True:
        sized = replace(config, shards=chosen_shards, sub_budgets=chosen_subs)
        run = simulate_concurrently(trace, sized, model)
        report = _report(trace, run, model)
        more_shards = shards is None and not _shards_fit(report)
        more_subs = sub_budgets is None and report.peak_write_units_per_item_s > (
            ITEM_WRITE_UNITS_PER_SECOND * HEADROOM
        )
        if not (more_shards or more_subs):
            return report
        if more_shards:
            chosen_shards = min(
                MAX_SHARDS,
                _grow(chosen_shards, report.peak_records_per_shard_s, SHARD_RECORDS_PER_SECOND),
            )
        if more_subs:
            budget_peak = run.writes.peak("budget#")
            chosen_subs = min(
                MAX_SUB_BUDGETS, _grow(chosen_subs, budget_peak, ITEM_WRITE_UNITS_PER_SECOND)
            )
        if chosen_shards == MAX_SHARDS and chosen_subs == MAX_SUB_BUDGETS:
            return report


def _at_least(load: float, limit: float) -> int:
    return max(1, math.ceil(load / (limit * HEADROOM)))


def _grow(current: int, peak: float, limit: float) -> int:
    """Enough more to bring `peak` under the headroom line, and at least one more."""
    return max(current + 1, math.ceil(current * peak / (limit * HEADROOM)))


def _shards_fit(report: CapacityReport) -> bool:
    return (
        report.peak_records_per_shard_s <= SHARD_RECORDS_PER_SECOND * HEADROOM
        and report.peak_mib_per_shard_s <= SHARD_MIB_PER_SECOND * HEADROOM
    )


def _report(trace: Sequence[int], run: SimulationRun, model: ConcurrencyConfig) -> CapacityReport:
    pacing = measure(run)
    stats = run.concurrency
    if stats is None:
        raise ValueError("capacity is read from a concurrent run")
    config = run.config
    size = record_bytes()
    peak_records = run.peak_records_per_shard
    peak_item = run.writes.peak()
    plays = max(1, pacing.plays)
    expired_pct = 100 * stats.expired / plays
    fits = (
        peak_records <= SHARD_RECORDS_PER_SECOND
        and peak_records * size / 2**20 <= SHARD_MIB_PER_SECOND
        and peak_item <= ITEM_WRITE_UNITS_PER_SECOND
        and stats.expired == 0
    )
    return CapacityReport(
        pacing=pacing,
        shards=config.shards,
        sub_budgets=config.sub_budgets,
        peak_records_per_shard_s=peak_records,
        peak_mib_per_shard_s=peak_records * size / 2**20,
        peak_write_units_per_item_s=peak_item,
        parallelization_factor=model.parallelization,
        allocator_concurrency=config.shards * model.parallelization,
        cost_usd_per_million_plays=_cost_per_million(trace, run, pacing, stats),
        fits=fits,
        decision_p50_s=stats.decisions.quantile(0.50),
        decision_p99_s=stats.decisions.quantile(0.99),
        expired_pct=expired_pct,
        conflict_pct=100 * stats.conflicts / stats.commits if stats.commits else 0.0,
        lost_to_conflict=stats.lost_to_conflict,
        write_units_per_play=stats.write_units / plays,
        peak_winners_per_counter_s=stats.winners.peak(),
        iterator_age_p99_s=stats.iterator_ages.quantile(0.99),
    )


def _cost_per_million(
    trace: Sequence[int], run: SimulationRun, pacing: PacingReport, stats: ConcurrencyStats
) -> float:
    plays = max(1, pacing.plays)
    wins = run.outcomes_by_status.get(PlayStatus.WON, 0)
    index_units = (
        SWEEP_INDEX_UNITS_PER_PLAY * plays
        + (SWEEP_INDEX_UNITS_PER_WIN + WALLET_INDEX_UNITS_PER_WIN) * wins
    )
    per_play_units = INGEST_WRITE_UNITS + (stats.write_units + index_units) / plays
    shard_hours = run.config.shards * len(trace) / 3600
    allocator_gb_seconds = stats.busy_seconds * ALLOCATOR_MEMORY_GB
    total = (
        plays * per_play_units * pricing.DYNAMODB_WRITE_UNIT
        + shard_hours * pricing.KINESIS_SHARD_HOUR
        + plays * pricing.KINESIS_PUT_PAYLOAD_UNIT
        + plays * (pricing.LAMBDA_REQUEST + INGEST_GB_SECONDS * pricing.LAMBDA_ARM_GB_SECOND)
        + run.batches * pricing.LAMBDA_REQUEST
        + allocator_gb_seconds * pricing.LAMBDA_ARM_GB_SECOND
        + plays * (pricing.REST_API_REQUEST + pricing.WEBSOCKET_MESSAGE + pricing.WAF_REQUEST)
    )
    return total / plays * 1e6
