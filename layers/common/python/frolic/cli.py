"""The `frolic` command."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from frolic import pricing
from frolic.chart import Series, render_line_chart
from frolic.dal.reconcile import reconcile
from frolic.models import GameConfig
from frolic.pacing.policy import POLICIES
from frolic.settings import settings
from frolic.sim.capacity import plan_capacity
from frolic.sim.metrics import PacingReport, measure
from frolic.sim.simulator import SimulationConfig, simulate
from frolic.sim.traffic import TraceError, read_trace

EXIT_USAGE = 2


class UsageError(Exception):
    """A mistake in the command line or its inputs; reported in one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low:,}..{high:,}")
        return value

    return parse


def _curve(text: str) -> tuple[float, ...]:
    try:
        weights = tuple(float(part) for part in text.split(","))
        checked = GameConfig(release_curve=weights).release_curve
    except ValueError as error:
        reason = error.errors()[0]["msg"] if isinstance(error, ValidationError) else "not numbers"
        raise argparse.ArgumentTypeError(f"{text!r}: {reason}") from None
    assert checked is not None
    return checked


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="frolic", description="Paced coupon jackpots for timed games.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sim = commands.add_parser(
        "simulate",
        help="run the allocator on a traffic trace in virtual time",
        description=(
            "Run the production allocator against an in-memory store on a traffic trace "
            "(one integer a line: plays arriving in that second) and measure its pacing."
        ),
    )
    _add_trace_arguments(sim)
    sim.add_argument("--shards", type=_bounded_int(1, 4096), default=1, metavar="S")
    sim.add_argument("--policy", choices=sorted(POLICIES), default="frolic")
    sim.add_argument(
        "--players",
        type=_bounded_int(1, 1_000_000_000),
        default=None,
        metavar="N",
        help="draw plays from N players (default: every play from a new player)",
    )
    sim.add_argument(
        "--curve",
        type=_curve,
        default=None,
        metavar="W,W,...",
        help="release curve: weights of equal parts of the window (default: straight line)",
    )
    sim.add_argument("--json", action="store_true", help="print one JSON object")
    sim.add_argument(
        "--chart",
        type=Path,
        default=None,
        metavar="PNG",
        help="where to write the chart (default: simulate-<trace>-<policy>.png)",
    )
    sim.set_defaults(handler=_simulate)

    cap = commands.add_parser(
        "capacity",
        help="size a game: shards, budget counters, concurrency and cost at its peak",
        description=(
            "Simulate a game on a trace and report the peak records/s per Kinesis shard, "
            "write units/s on the hottest DynamoDB item, allocator concurrency and an "
            "estimated cost. Without --shards/--sub-budgets, the fewest that fit."
        ),
    )
    _add_trace_arguments(cap)
    cap.add_argument("--shards", type=_bounded_int(1, 4096), default=None, metavar="S")
    cap.add_argument("--sub-budgets", type=_bounded_int(1, 256), default=None, metavar="K")
    cap.add_argument("--json", action="store_true", help="print one JSON object")
    cap.set_defaults(handler=_capacity)

    rec = commands.add_parser(
        "reconcile",
        help="check that counters, coupons and results of a game agree",
        description=(
            "Read a game's budgets, coupon pools and results and check they tell the same "
            "story. Exits 0 when clean, 1 on any drift."
        ),
    )
    rec.add_argument("--game", required=True, metavar="ID")
    rec.add_argument(
        "--endpoint",
        default=None,
        metavar="URL",
        help="DynamoDB endpoint (the local stack's); default: AWS",
    )
    rec.set_defaults(handler=_reconcile)

    local = commands.add_parser(
        "local",
        help="run the whole system on this machine (moto, a local gateway, the mappings)",
        description=(
            "Run the Lambda functions unchanged against moto's server, behind a local "
            "gateway that serves the REST API, the WebSocket API, the Management API "
            "callback and the web pages, with the stream mappings polling Kinesis and the "
            "results stream. Stops on Ctrl-C or SIGTERM."
        ),
    )
    local.add_argument("--host", default="127.0.0.1", help="address to listen on")
    local.add_argument(
        "--port", type=_bounded_int(0, 65535), default=8000, help="0 picks a free port"
    )
    local.add_argument(
        "--demo", action="store_true", help="create a live 3-minute game with three brands"
    )
    local.add_argument("--verbose", action="store_true", help="show the functions' INFO logs")
    local.set_defaults(handler=_local)
    return parser


EXIT_DRIFT = 1


def _reconcile(args: argparse.Namespace) -> int:
    config = settings()
    client = boto3.client("dynamodb", endpoint_url=args.endpoint or config.aws_endpoint_url)
    try:
        report = reconcile(client, config, args.game)
    except (BotoCoreError, ClientError) as error:
        raise UsageError(f"frolic reconcile: cannot read the tables: {error}") from None
    print(report.render())
    return 0 if report.clean else EXIT_DRIFT


def _add_trace_arguments(parser: argparse.ArgumentParser) -> None:
    """What every command that simulates a game needs to know of it."""
    parser.add_argument("--traffic", type=Path, required=True, metavar="FILE")
    parser.add_argument("--budget", type=_bounded_int(1, 100_000_000), required=True, metavar="N")
    parser.add_argument("--brands", type=_bounded_int(1, 1000), default=1, metavar="K")
    parser.add_argument("--batch", type=_bounded_int(1, 10_000), default=100, metavar="B")
    parser.add_argument("--seed", type=_bounded_int(0, 2**63 - 1), default=0, metavar="X")


def _read_game(args: argparse.Namespace, command: str) -> list[int]:
    try:
        trace = read_trace(args.traffic)
    except TraceError as error:
        raise UsageError(f"frolic {command}: {error}") from None
    if args.brands > args.budget:
        raise UsageError(f"frolic {command}: --brands cannot exceed --budget")
    return trace


def _capacity(args: argparse.Namespace) -> int:
    trace = _read_game(args, "capacity")
    config = SimulationConfig(
        budget=args.budget, brands=args.brands, batch=args.batch, seed=args.seed
    )
    report = plan_capacity(trace, config, shards=args.shards, sub_budgets=args.sub_budgets)
    if args.json:
        print(json.dumps({**report.to_json(), **_run_facts(config), "shards": report.shards}))
        return 0
    pacing = report.pacing
    verdict = "fits AWS's limits" if report.fits else "does NOT fit: raise shards or counters"
    print(
        "\n".join(
            [
                f"frolic capacity: {args.traffic.name}, peak {max(trace):,} plays/s, "
                f"{pacing.plays:,} plays, budget {pacing.budget:,}: {verdict}",
                f"  kinesis shards         {report.shards} "
                f"(peak {report.peak_records_per_shard_s:,} records/s and "
                f"{report.peak_mib_per_shard_s:.2f} MiB/s per shard; limits 1,000 and 1)",
                f"  budget counters        {report.sub_budgets} per brand "
                f"(hottest item {report.peak_write_units_per_item_s:,} write units/s; "
                "limit 1,000)",
                f"  allocators at once     {report.allocator_concurrency} "
                f"(parallelization factor {report.parallelization_factor})",
                f"  pacing                 max deviation {pacing.max_deviation_pct:.2f} %, "
                f"leftover {pacing.leftover_pct:.2f} %, overspend {pacing.overspend}",
                f"  cost                   ${report.cost_usd_per_million_plays:.2f} per million "
                f"plays ({pricing.REGION} list prices)",
            ]
        )
    )
    return 0


def _local(args: argparse.Namespace) -> int:
    try:
        # Imported here: the local stack needs moto[server], a dev dependency.
        from frolic.local import LocalStackError  # noqa: PLC0415
        from frolic.local.run import run  # noqa: PLC0415
    except ImportError as error:
        raise UsageError(
            f"frolic local: {error.name or 'a dependency'} is missing; "
            "install the dev extras (pip install -e '.[dev]')"
        ) from None
    try:
        return run(host=args.host, port=args.port, demo=args.demo, verbose=args.verbose)
    except LocalStackError as error:
        raise UsageError(f"frolic local: {error}") from None


def _simulate(args: argparse.Namespace) -> int:
    trace = _read_game(args, "simulate")
    config = SimulationConfig(
        budget=args.budget,
        brands=args.brands,
        shards=args.shards,
        batch=args.batch,
        seed=args.seed,
        policy=args.policy,
        players=args.players,
        release_curve=args.curve,
    )
    show_progress = not args.json and sys.stderr.isatty()
    started = time.perf_counter()
    run = simulate(trace, config, progress=_progress_line if show_progress else None)
    elapsed = time.perf_counter() - started
    if show_progress:
        sys.stderr.write("\r\033[K")
    report = measure(run)
    if args.json:
        print(json.dumps({**report.to_json(), **_run_facts(config)}))
        return 0
    chart = args.chart or Path(f"simulate-{args.traffic.stem}-{args.policy}.png")
    _write_chart(report, chart, title=f"{args.traffic.name}: {args.policy} pacing")
    print(
        _summary(
            report,
            trace=args.traffic,
            config=config,
            seconds=len(trace),
            elapsed=elapsed,
            chart=chart,
        )
    )
    return 0


def _progress_line(done: int, total: int) -> None:
    sys.stderr.write(f"\rsimulating… {100 * done // total:3d} % of the window")
    sys.stderr.flush()


def _run_facts(config: SimulationConfig) -> dict[str, object]:
    return {
        "brands": config.brands,
        "shards": config.shards,
        "batch": config.batch,
        "seed": config.seed,
    }


def _write_chart(report: PacingReport, path: Path, *, title: str) -> None:
    minutes = [(s + 1) / 60 for s in range(len(report.issued_curve))]
    png = render_line_chart(
        [
            Series(
                "release schedule",
                list(zip(minutes, report.schedule_curve, strict=True)),
                (150, 150, 150),
                dashed=True,
            ),
            Series("issued", list(zip(minutes, report.issued_curve, strict=True)), (220, 60, 40)),
        ],
        title=title,
        x_label="minutes into the game",
        y_label="coupons issued",
    )
    try:
        path.write_bytes(png)
    except OSError as error:
        raise UsageError(f"frolic simulate: cannot write {path}: {error.strerror}") from None


def _summary(
    report: PacingReport,
    *,
    trace: Path,
    config: SimulationConfig,
    seconds: int,
    elapsed: float,
    chart: Path,
) -> str:
    spread = report.decile_win_rate_spread
    position = report.winner_position_mean
    exhausted = report.exhausted_at_pct
    brands = f"{config.brands} brand{'s' if config.brands > 1 else ''}"
    lines = [
        f"frolic simulate: {trace.name}, {seconds:,} s, {report.plays:,} plays; "
        f"policy {report.policy}; budget {report.budget:,} ({brands}); "
        f"{config.shards} shard{'s' if config.shards > 1 else ''}, batches of {config.batch}",
        f"  issued            {report.issued:,} of {report.budget:,} to {report.wins:,} plays "
        f"(leftover {report.leftover_pct:.2f} %, overspend {report.overspend})",
        f"  max deviation     {report.max_deviation_pct:.2f} % of budget from the schedule",
        "  exhausted at      "
        + ("never" if exhausted is None else f"{exhausted:.2f} % of the window"),
        "  decile win rates  max/min "
        + ("infinite (a tenth with plays had no winner)" if spread is None else f"{spread:.3f}"),
        "  winner position   "
        + ("no winners" if position is None else f"{position:.3f} (0.5 = unbiased in a second)"),
        f"  speed             {report.plays / max(elapsed, 1e-9):,.0f} simulated plays/s "
        f"({elapsed:.1f} s)",
        f"  chart             {chart}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except UsageError as error:
        print(f"{error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("frolic: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
