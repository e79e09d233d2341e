"""The `frolic` command."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from frolic.models import GameConfig
from frolic.pacing.policy import POLICIES
from frolic.settings import settings
from frolic_tools.chart import write_png
from frolic_tools.reconcile import reconcile
from frolic_tools.sim import pricing
from frolic_tools.sim.capacity import plan_capacity
from frolic_tools.sim.concurrent import MAX_PARALLELIZATION, ConcurrencyConfig
from frolic_tools.sim.latency import LatencyModel
from frolic_tools.sim.metrics import PacingReport, measure, pacing_chart
from frolic_tools.sim.simulator import SimulationConfig, simulate
from frolic_tools.sim.traffic import TraceError, read_trace
from frolic_tools.wallet_backfill import backfill_wallet

if TYPE_CHECKING:
    from frolic_tools.local.events_out import EventsOut

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
    cap.add_argument(
        "--parallelization",
        type=_bounded_int(1, MAX_PARALLELIZATION),
        default=1,
        metavar="P",
        help="concurrent batches per shard (the mapping's ParallelizationFactor)",
    )
    cap.add_argument(
        "--latency-scale",
        type=_positive_float,
        default=1.0,
        metavar="X",
        help="multiply every figure of the latency model (frolic_tools/sim/latency.py)",
    )
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
    _add_endpoint_argument(rec)
    rec.set_defaults(handler=_reconcile)

    wallet = commands.add_parser(
        "wallet-backfill",
        help="add wins decided before the wallet index to their players' wallets",
        description=(
            "Scan the results table once for won plays without wonBy and set it to their "
            "player, so GET /me/coupons lists them. Safe beside live traffic and to rerun."
        ),
    )
    _add_endpoint_argument(wallet)
    wallet.set_defaults(handler=_wallet_backfill)

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
    local.add_argument(
        "--events-to",
        metavar="URL",
        default=None,
        help="POST every event on the bus here, HMAC-signed, retried (a copy stays in out/)",
    )
    local.add_argument(
        "--events-with-codes",
        action="store_true",
        help="send coupon codes in the events (held back by default)",
    )
    local.set_defaults(handler=_local)
    _add_crowd_parser(commands)
    _add_demo_parser(commands)
    return parser


EXIT_DRIFT = 1


def _add_endpoint_argument(parser: argparse.ArgumentParser) -> None:
    """The operator commands' DynamoDB: AWS's, or the local stack's moto."""
    parser.add_argument(
        "--endpoint",
        default=None,
        metavar="URL",
        help="DynamoDB endpoint (the local stack's); default: AWS",
    )


def _reconcile(args: argparse.Namespace) -> int:
    config = settings()
    client = boto3.client("dynamodb", endpoint_url=args.endpoint or config.aws_endpoint_url)
    try:
        report = reconcile(client, config, args.game)
    except (BotoCoreError, ClientError) as error:
        raise UsageError(f"frolic reconcile: cannot read the tables: {error}") from None
    print(report.render())
    return 0 if report.clean else EXIT_DRIFT


def _wallet_backfill(args: argparse.Namespace) -> int:
    config = settings()
    client = boto3.client("dynamodb", endpoint_url=args.endpoint or config.aws_endpoint_url)
    try:
        counts = backfill_wallet(client, config)
    except (BotoCoreError, ClientError) as error:
        raise UsageError(f"frolic wallet-backfill: cannot update the table: {error}") from None
    print(counts.render())
    return 0


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
    concurrency = ConcurrencyConfig(
        latency=LatencyModel(scale=args.latency_scale), parallelization=args.parallelization
    )
    report = plan_capacity(
        trace,
        config,
        shards=args.shards,
        sub_budgets=args.sub_budgets,
        concurrency=concurrency,
    )
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
                f"  decisions              p50 {_seconds(report.decision_p50_s)}, "
                f"p99 {_seconds(report.decision_p99_s)} from arrival to result; "
                f"{report.expired_pct:.2f} % expired; iterator age p99 "
                f"{_seconds(report.iterator_age_p99_s)}",
                f"  races                  {report.conflict_pct:.1f} % of commits cancelled, "
                f"{report.lost_to_conflict:,} winners lost to them; busiest counter "
                f"{report.peak_winners_per_counter_s:,} winners/s",
                f"  writes                 {report.write_units_per_play:.3f} write units "
                "per play (allocators)",
                f"  pacing                 max deviation {pacing.max_deviation_pct:.2f} %, "
                f"leftover {pacing.leftover_pct:.2f} %, overspend {pacing.overspend}",
                f"  cost                   ${report.cost_usd_per_million_plays:.2f} per million "
                f"plays ({pricing.REGION} list prices)",
            ]
        )
    )
    return 0


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def _local(args: argparse.Namespace) -> int:
    try:
        # Imported here: the local stack needs moto[server], a dev dependency.
        from frolic_tools.local import LocalStackError  # noqa: PLC0415
        from frolic_tools.local.run import run  # noqa: PLC0415
    except ImportError as error:
        raise UsageError(
            f"frolic local: {error.name or 'a dependency'} is missing; "
            "install the dev extras (pip install -e '.[dev]')"
        ) from None
    try:
        return run(
            host=args.host,
            port=args.port,
            demo=args.demo,
            verbose=args.verbose,
            events=_events_out(args),
        )
    except LocalStackError as error:
        raise UsageError(f"frolic local: {error}") from None


#: Where `frolic local` keeps its copy of the events, and where the signing secret comes
#: from: the environment, so it stays out of shell history and `ps`.
EVENTS_OUT_DIR = Path("out")
EVENTS_SECRET_VARIABLE = "FROLIC_EVENTS_SECRET"


def _events_out(args: argparse.Namespace) -> EventsOut:
    from frolic_tools.local.events_out import EventsOut  # noqa: PLC0415

    target = args.events_to
    if target is not None and urlsplit(target).scheme not in ("http", "https"):
        raise UsageError("frolic local: --events-to needs an http:// or https:// URL")
    secret = os.environ.get(EVENTS_SECRET_VARIABLE, "")
    if target is not None and not secret:
        raise UsageError(
            f"frolic local: set {EVENTS_SECRET_VARIABLE} to the secret the receiver checks "
            "the events' signatures with"
        )
    return EventsOut(
        out_dir=EVENTS_OUT_DIR,
        target=target,
        secret=secret.encode(),
        with_codes=args.events_with_codes,
    )


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
    chart = pacing_chart(
        title, report.schedule_curve, {"issued": report.issued_curve}, bound=report.bound_curve
    )
    try:
        write_png(chart, path)
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
        f"  max deviation     {report.max_deviation_pct:.2f} % of budget from the schedule "
        f"(max shortfall {report.max_shortfall_pct:.2f} %)",
        f"  least possible    leftover {report.least_leftover_pct:.2f} %, max shortfall "
        f"{report.least_max_shortfall_pct:.2f} % (greedy under the schedule cap)",
        f"  excess            leftover {report.excess_leftover_pct:+.2f} %, max shortfall "
        f"{report.excess_shortfall_pct:+.2f} % over the least possible",
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


# -- frolic crowd and frolic demo ---------------------------------------------------------


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1")
    return value


def _rush(text: str) -> tuple[float, float]:
    multiplier, sep, seconds = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: write MULTIPLIER:SECONDS, e.g. 3:20")
    return _positive_float(multiplier), _positive_float(seconds)


def _add_crowd_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    crowd = commands.add_parser(
        "crowd",
        help="send simulated players at a running API over WebSockets and REST",
        description=(
            "Simulated players spin one game: plays arrive as a Poisson process, each given "
            "to an idle player (one play per player per the game's interval), over a "
            "WebSocket or REST with polling; some are resent. Reports every play's fate and "
            "the latency from play sent to result received. Exits 0 when every play was "
            "answered once and consistently, 1 otherwise, 2 on usage errors."
        ),
    )
    crowd.add_argument("--api", required=True, metavar="URL", help="the REST API's base URL")
    crowd.add_argument("--game", required=True, metavar="ID")
    crowd.add_argument(
        "--players",
        type=_bounded_int(1, 100_000),
        default=None,
        metavar="N",
        help="simulated players (default with --tokens: one per token)",
    )
    crowd.add_argument("--rate", type=_positive_float, required=True, metavar="R", help="plays/s")
    crowd.add_argument(
        "--duration", type=_positive_float, required=True, metavar="S", help="seconds of arrivals"
    )
    crowd.add_argument(
        "--rush",
        type=_rush,
        default=None,
        metavar="MULTIPLIER:SECONDS",
        help="arrivals MULTIPLIER times faster for the first SECONDS",
    )
    crowd.add_argument(
        "--ws-share",
        type=_share,
        default=0.8,
        metavar="F",
        help="share of players on WebSockets (default 0.8); the rest use REST and poll",
    )
    crowd.add_argument("--seed", type=_bounded_int(0, 2**63 - 1), default=None, metavar="X")
    crowd.add_argument("--json", action="store_true", help="print one JSON object")
    crowd.add_argument(
        "--chart",
        type=Path,
        default=None,
        metavar="PNG",
        help="write issued vs schedule here, and the latency CDF beside it (-latency.png)",
    )
    crowd.add_argument(
        "--tokens",
        type=Path,
        default=None,
        metavar="FILE",
        help="one player JWT per line (a deployed stack); default: the local dev issuer",
    )
    crowd.add_argument(
        "--admin-token",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --tokens: an admin JWT, for the game check and issued vs schedule",
    )
    crowd.add_argument(
        "--ws", default=None, metavar="URL", help="the WebSocket API (default: the API host's /ws)"
    )
    crowd.set_defaults(handler=_crowd)


def _add_demo_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="make demo: the local stack, a 3-minute campaign and a crowd, then reconcile",
        description=(
            "Start the local stack on loopback, create a LIVE 3-minute game with three "
            "brands over the admin API (coupon pools uploaded as CSV), send a crowd with an "
            "opening rush for the whole window, then report latency, plays without a result "
            "and reconcile the tables. Exits 0 only if no play was lost and reconcile is "
            "clean."
        ),
    )
    demo.add_argument(
        "--port", type=_bounded_int(0, 65535), default=8000, help="0 picks a free port"
    )
    demo.add_argument(
        "--players",
        type=_bounded_int(1, 5000),
        default=None,
        metavar="N",
        help="simulated players (default: enough for the rate under the 10-s rule)",
    )
    demo.add_argument(
        "--rate",
        type=_positive_float,
        default=None,
        metavar="R",
        help="base plays/s, tripled for the first 20 s (default 5, or what --players sustain)",
    )
    demo.add_argument("--minutes", type=_positive_float, default=3.0, help=argparse.SUPPRESS)
    demo.add_argument("--seed", type=_bounded_int(0, 2**63 - 1), default=None, metavar="X")
    demo.add_argument("--out", type=Path, default=Path("out/demo"), metavar="DIR")
    demo.set_defaults(handler=_demo)


def _crowd(args: argparse.Namespace) -> int:
    try:
        # Imported here: the crowd's client lives beside the local stack (dev extras).
        from frolic_tools import crowd as crowds  # noqa: PLC0415
    except ImportError as error:
        raise UsageError(
            f"frolic crowd: {error.name or 'a dependency'} is missing; "
            "install the dev extras (pip install -e '.[dev]')"
        ) from None
    try:
        return _run_crowd(args)
    except crowds.CrowdError as error:
        raise UsageError(f"frolic crowd: {error}") from None


def _run_crowd(args: argparse.Namespace) -> int:
    from frolic_tools import crowd as crowds  # noqa: PLC0415

    api = crowds.check_api_url(args.api)
    tokens = crowds.read_tokens(args.tokens) if args.tokens is not None else None
    if args.admin_token is not None and tokens is None:
        raise UsageError("frolic crowd: --admin-token goes with --tokens")
    if tokens is None and args.players is None:
        raise UsageError("frolic crowd: give --players N (or --tokens FILE)")
    players = args.players if args.players is not None else len(tokens or [])
    admin_token = crowds.read_tokens(args.admin_token)[0] if args.admin_token else None
    multiplier, rush_seconds = args.rush if args.rush is not None else (1.0, 0.0)
    schedule = crowds.Schedule(
        rate=args.rate,
        duration=args.duration,
        rush_multiplier=multiplier,
        rush_seconds=rush_seconds,
        seed=args.seed,
    )
    crowd = crowds.Crowd(
        api,
        players=players,
        ws_share=args.ws_share,
        tokens=tokens,
        admin_token=admin_token,
        ws_url=args.ws,
    )
    if tokens is None:
        crowd.issue_admin_token()
    game = crowd.game_info(args.game)
    if game is not None:
        if game.status != "LIVE":
            raise UsageError(f"frolic crowd: game {args.game} is {game.status}, not LIVE")
        if game.end <= time.time():
            raise UsageError(f"frolic crowd: game {args.game} has ended")
    interval = game.min_seconds_between_plays if game is not None else 10.0
    sustainable = players / (interval + 0.5) if interval > 0 else float("inf")
    if schedule.peak_rate > sustainable and not args.json:
        print(
            f"frolic crowd: note: {players} players sustain about {sustainable:.1f} plays/s "
            f"under the game's {interval:g}-s rule; arrivals beyond that are counted as "
            "skipped",
            file=sys.stderr,
        )
    show_progress = not args.json and sys.stderr.isatty()
    printer = crowds.ProgressPrinter(sys.stderr) if show_progress else None
    with crowd:
        try:
            report = crowd.run(args.game, schedule, game=game, progress=printer)
        finally:
            if printer is not None:
                printer.finish()
    charts: list[Path] = []
    if args.chart is not None:
        latency_chart = args.chart.with_name(f"{args.chart.stem}-latency{args.chart.suffix}")
        charts = crowds.write_charts(report, args.chart, latency_chart)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(report.render(charts=[str(c) for c in charts]))
    return 0 if report.ok else EXIT_DRIFT


def _demo(args: argparse.Namespace) -> int:
    try:
        # Imported here: the local stack needs moto[server], a dev dependency.
        from frolic_tools import crowd as crowds  # noqa: PLC0415
        from frolic_tools.local import LocalStackError  # noqa: PLC0415
    except ImportError as error:
        raise UsageError(
            f"frolic demo: {error.name or 'a dependency'} is missing; "
            "install the dev extras (pip install -e '.[dev]')"
        ) from None
    multiplier, _ = crowds.DEMO_RUSH
    if args.players is None:
        rate = args.rate if args.rate is not None else crowds.DEMO_RATE
        players = math.ceil(rate * multiplier * crowds.PLAYERS_PER_PEAK_RATE)
    else:
        players = args.players
        rate = args.rate if args.rate is not None else crowds.demo_rate(players, multiplier)
    try:
        outcome = crowds.run_demo(
            port=args.port,
            players=players,
            rate=rate,
            out=args.out,
            minutes=args.minutes,
            seed=args.seed,
            show_progress=sys.stderr.isatty(),
            stdout=sys.stdout,
            stderr=sys.stderr,
        )
    except (crowds.CrowdError, LocalStackError) as error:
        raise UsageError(f"frolic demo: {error}") from None
    if outcome.failure is not None:
        print(f"frolic demo: FAILED: {outcome.failure}", file=sys.stderr)
        return outcome.exit_code
    print("frolic demo: ok: every play answered, reconcile clean")
    return 0


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
