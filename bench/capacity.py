"""`make bench` (capacity): one hot game at 1k, 10k and 50k plays/s, sized by
`frolic capacity` on synthetic Poisson traces like the recorded ones, 10 % winners."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from readme import refresh_section

from frolic import pricing
from frolic.sim.capacity import plan_capacity
from frolic.sim.simulator import SimulationConfig
from frolic.sim.traffic import generate_trace

WIN_RATE = 0.10
CASES = (  # plays/s, seconds
    (1_000, 600),
    (10_000, 600),
    (50_000, 60),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--readme", type=Path)
    args = parser.parse_args()
    lines = [
        "| plays/s | window | plays | budget | shards | counters per brand "
        "| peak records/s per shard | peak MiB/s per shard | peak write units/s per item "
        "| allocators at once | max dev % | leftover % | $ per million plays |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    print(lines[0], flush=True)
    for rate, seconds in CASES:
        started = time.perf_counter()
        trace = generate_trace("flat", seconds=seconds, rate=rate, seed=7)
        budget = round(sum(trace) * WIN_RATE)
        report = plan_capacity(trace, SimulationConfig(budget=budget))
        pacing = report.pacing
        line = (
            f"| {rate:,} | {seconds} s | {pacing.plays:,} | {budget:,} | {report.shards} "
            f"| {report.sub_budgets} | {report.peak_records_per_shard_s:,} "
            f"| {report.peak_mib_per_shard_s:.2f} | {report.peak_write_units_per_item_s:,} "
            f"| {report.allocator_concurrency} | {pacing.max_deviation_pct:.3f} "
            f"| {pacing.leftover_pct:.3f} | {report.cost_usd_per_million_plays:.2f} |"
        )
        lines.append(line)
        print(f"{line}  ({time.perf_counter() - started:.0f} s to size)", flush=True)
    text = "\n".join(
        [
            f"`make bench` (bench/capacity.py): `frolic capacity` on synthetic flat Poisson "
            f"traces, {WIN_RATE:.0%} of plays win, limits with 20 % headroom, cost at "
            f"{pricing.REGION} list prices (frolic/pricing.py).",
            "",
            *lines,
        ]
    )
    if args.out:
        args.out.write_text(f"# Capacity benchmark\n\n{text}\n")
    if args.readme:
        refresh_section(args.readme, "capacity", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
