"""`make bench` (pacing part): Frolic's pacing beside the seed rule and beside the
least leftover and shortfall possible (greedy under the schedule cap) on every trace.

Runs the simulator (the production allocator on an in-memory store) with budgets 1,000
and 20,000 for each trace in the traffic folder, with 1 and 4 shards, prints the table
as it goes and writes it as Markdown for the README. The seed rule runs at budget 1,000
only: it runs out early at any budget, and the overnight trace's 1.6 million plays make
each run count. A synthetic 1.8-million-play trace measures the simulator's speed
against the 100,000 plays/s target.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from readme import refresh_section

from frolic_tools.chart import write_png
from frolic_tools.sim.metrics import PacingReport, measure, pacing_chart
from frolic_tools.sim.simulator import SimulationConfig, simulate
from frolic_tools.sim.traffic import generate_trace, read_trace

BUDGETS = (1_000, 20_000)
SEED_BUDGET = 1_000
SPEED_TRACE_RATE = 500  # plays/s for an hour: 1.8 million plays


@dataclass(frozen=True)
class Row:
    trace: str
    policy: str
    budget: int
    shards: int
    report: PacingReport
    seconds: float

    @property
    def plays_per_second(self) -> float:
        return self.report.plays / self.seconds if self.seconds else 0.0


def _run(trace_name: str, trace: list[int], policy: str, budget: int, shards: int) -> Row:
    started = time.perf_counter()
    run = simulate(trace, SimulationConfig(budget=budget, shards=shards, policy=policy))
    seconds = time.perf_counter() - started
    return Row(trace_name, policy, budget, shards, measure(run), seconds)


def _cell(value: float | None, digits: int = 2) -> str:
    return "∞ / none" if value is None else f"{value:.{digits}f}"


HEADER = (
    "| trace | policy | budget | shards | plays | overspend | max dev % | max shortfall % "
    "| leftover % | least max shortfall % | least leftover % | excess shortfall "
    "| excess leftover | exhausted at % | decile spread | winner pos | sim plays/s |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _line(row: Row) -> str:
    r = row.report
    exhausted = "never" if r.exhausted_at_pct is None else f"{r.exhausted_at_pct:.1f}"
    spread = "∞" if r.decile_win_rate_spread is None else f"{r.decile_win_rate_spread:.3f}"
    return (
        f"| {row.trace} | {row.policy} | {row.budget:,} | {row.shards} | {r.plays:,} "
        f"| {r.overspend} | {r.max_deviation_pct:.2f} | {r.max_shortfall_pct:.2f} "
        f"| {r.leftover_pct:.2f} | {r.least_max_shortfall_pct:.2f} | {r.least_leftover_pct:.2f} "
        f"| {r.excess_shortfall_pct:+.2f} | {r.excess_leftover_pct:+.2f} | {exhausted} "
        f"| {spread} | {_cell(r.winner_position_mean, 3)} | {row.plays_per_second:,.0f} |"
    )


def _comparison(trace: str, frolic: Row, seed: Row) -> str:
    f, s = frolic.report, seed.report
    ratio = s.max_deviation_pct / f.max_deviation_pct if f.max_deviation_pct else float("inf")
    seed_out = (
        "never runs out"
        if s.exhausted_at_pct is None
        else f"runs out at {s.exhausted_at_pct:.1f} % of the window"
    )
    return (
        f"- {trace}: max deviation {f.max_deviation_pct:.2f} % (frolic) vs "
        f"{s.max_deviation_pct:.2f} % (seed), {ratio:,.0f}x smaller; the seed rule {seed_out}."
    )


def _chart(path: Path, trace: str, frolic: PacingReport, seed: PacingReport) -> None:
    chart = pacing_chart(
        f"{trace}: coupons issued, budget {frolic.budget:,}",
        frolic.schedule_curve,
        {"frolic": frolic.issued_curve, "seed rule": seed.issued_curve},
        bound=frolic.bound_curve,
    )
    write_png(chart, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--traffic-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, help="write the Markdown table here")
    parser.add_argument("--readme", type=Path, help="refresh the table between bench markers")
    parser.add_argument("--charts", type=Path, help="write one PNG per trace here")
    parser.add_argument("--quick", action="store_true", help="one shard only, no speed run")
    args = parser.parse_args()

    traces = sorted(args.traffic_dir.glob("*.txt"))
    if not traces:
        print(f"bench: no *.txt traces in {args.traffic_dir}", file=sys.stderr)
        return 2
    if args.charts:
        args.charts.mkdir(parents=True, exist_ok=True)
    shard_counts = (1,) if args.quick else (1, 4)
    print(HEADER, flush=True)
    rows: list[Row] = []
    notes: list[str] = []
    for path in traces:
        trace = read_trace(path)
        by_policy: dict[tuple[str, int, int], Row] = {}
        for budget in BUDGETS:
            for shards in shard_counts:
                for policy in ("frolic", "seed") if budget == SEED_BUDGET else ("frolic",):
                    row = _run(path.stem, trace, policy, budget, shards)
                    by_policy[(policy, budget, shards)] = row
                    rows.append(row)
                    print(_line(row), flush=True)
        frolic, seed = by_policy[("frolic", SEED_BUDGET, 1)], by_policy[("seed", SEED_BUDGET, 1)]
        notes.append(_comparison(path.stem, frolic, seed))
        if args.charts:
            chart = args.charts / f"{path.stem}.png"
            _chart(chart, path.stem, frolic.report, seed.report)
            notes.append(f"  chart: {chart}")
    print("\n" + "\n".join(notes))

    speed_line = ""
    if not args.quick:
        big = generate_trace("flat", seconds=3600, rate=SPEED_TRACE_RATE, seed=1)
        row = _run("synthetic 500/s", big, "frolic", BUDGETS[0], 1)
        speed_line = (
            f"Speed: {row.report.plays:,} plays (synthetic flat trace, 500 plays/s for an "
            f"hour) simulated in {row.seconds:.1f} s = {row.plays_per_second:,.0f} plays/s "
            f"({row.plays_per_second / 100_000:.2f}x the 100,000 plays/s target)."
        )
        print("\n" + speed_line)

    if args.out:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        machine = f"{os.cpu_count()} cores, Python {platform.python_version()}"
        body = [
            "# Pacing benchmark",
            "",
            f"`make bench`, {stamp}, {machine}. Budgets "
            f"{' and '.join(f'{b:,}' for b in BUDGETS)} (the seed rule at {SEED_BUDGET:,}), "
            "seed 0, batches of 100. Least leftover and shortfall: greedy under the "
            "schedule cap, which no allocator held to the cap can beat; excess: the "
            "policy's figure less that.",
            "",
            HEADER,
            *(_line(row) for row in rows),
            "",
            *notes,
            "",
            speed_line,
            "",
        ]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(body))
        print(f"\nwrote {args.out}")
        if args.readme:
            refresh_section(args.readme, "pacing", "\n".join(body[2:]).strip())
            print(f"refreshed the benchmark section of {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
