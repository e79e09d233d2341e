"""`make bench` (capacity): one hot game under the concurrent model (frolic capacity).

The scenarios of the hot-game targets: a steady 10,000 plays/s on 64 shards, a burst of
50,000 plays/s, and the steady game on a store three times slower. Traces are synthetic
flat Poisson, 10 % of plays can win. `--seconds` shortens every window (the design
before batch leases took hours of virtual time to drain a full one)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from readme import publish

from frolic_tools.sim.capacity import CapacityReport, plan_capacity
from frolic_tools.sim.concurrent import ConcurrencyConfig
from frolic_tools.sim.latency import LatencyModel
from frolic_tools.sim.simulator import SimulationConfig
from frolic_tools.sim.traffic import generate_trace

WIN_RATE = 0.10
SHARDS = 64
CASES = (  # name, plays/s, seconds, latency scale
    ("steady", 10_000, 300, 1.0),
    ("burst", 50_000, 30, 1.0),
    ("slower store", 10_000, 300, 3.0),
)


def _row(name: str, rate: int, seconds: int, scale: float, report: CapacityReport) -> str:
    pacing = report.pacing

    def seconds_text(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    return (
        f"| {name} | {rate:,} | {seconds} s | ×{scale:g} | {pacing.plays:,} | {pacing.budget:,} "
        f"| {report.shards} | {report.sub_budgets} "
        f"| {seconds_text(report.decision_p50_s)} | {seconds_text(report.decision_p99_s)} "
        f"| {report.expired_pct:.1f} | {report.conflict_pct:.1f} | {report.lost_to_conflict:,} "
        f"| {report.write_units_per_play:.2f} | {report.peak_winners_per_counter_s:,} "
        f"| {report.peak_write_units_per_item_s:,} | {report.peak_records_per_shard_s:,} "
        f"| {seconds_text(report.iterator_age_p99_s)} | {pacing.max_deviation_pct:.2f} "
        f"| {pacing.overspend} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--readme", type=Path)
    parser.add_argument("--seconds", type=int, default=None, help="shorten every window")
    parser.add_argument("--section", default="capacity", help="README section to refresh")
    args = parser.parse_args()
    lines = [
        "| scenario | plays/s | window | latency | plays | budget | shards | counters "
        "| decision p50 s | decision p99 s | expired % | conflict % | winners lost to races "
        "| write units per play | peak winners/s per counter | peak write units/s per item "
        "| peak records/s per shard | iterator age p99 s | max dev % | overspend |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    print(lines[0], flush=True)
    for name, rate, full_seconds, scale in CASES:
        seconds = min(full_seconds, args.seconds or full_seconds)
        started = time.perf_counter()
        trace = generate_trace("flat", seconds=seconds, rate=rate, seed=7)
        budget = round(sum(trace) * WIN_RATE)
        model = ConcurrencyConfig(latency=LatencyModel(scale=scale))
        report = plan_capacity(
            trace, SimulationConfig(budget=budget), shards=SHARDS, concurrency=model
        )
        line = _row(name, rate, seconds, scale, report)
        lines.append(line)
        print(f"{line}  ({time.perf_counter() - started:.0f} s to model)", flush=True)
    text = "\n".join(
        [
            "`make bench` (bench/capacity.py): `frolic capacity --shards 64 --json` under the "
            f"concurrent model, synthetic flat Poisson traces, {WIN_RATE:.0%} of plays win, "
            "latencies of frolic_tools/sim/latency.py times the scale shown.",
            "",
            *lines,
        ]
    )
    publish(
        text, title="Capacity benchmark", out=args.out, readme=args.readme, section=args.section
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
