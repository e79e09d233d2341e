"""`make bench` (latency part): play latency and the throughput ceiling of the local stack.

A LocalStack on loopback in this process; a crowd (`frolic.crowd`, every player on a
WebSocket) in a child process, so players and stack do not share one interpreter lock.
First it raises the rate in steps until p99 passes 2 s or a play is lost: the last good
step is the local stack's ceiling. Then it offers 20, 50 and 100 plays/s for 60 s each
and records play-sent → result-received latency and the plays that got no result.

To say what bounds the ceiling, this process meters itself while each run lasts: its
CPU time (the stack is one Python process: whatever it does, one core at a time under
the GIL) and the time spent inside moto's server, whose requests are serialized. moto's
time is metered by wrapping the WSGI app that `frolic.local.moto_server.SerializedApp`
runs under its lock, so only a request's own work is counted, never its wait for the
lock.

A run that is clearly overloaded (a play lost, or one waiting past a limit) stops
sending early; its row says so. Its backlog is drained before the next run starts, so
one run's overload never bleeds into the next one's numbers.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from readme import refresh_section

from frolic.crowd import Crowd, CrowdError, Schedule, create_campaign, overload_reason
from frolic.local import LocalClient, LocalStack, moto_server

RATES: Final = (20.0, 50.0, 100.0)
SUSTAIN_SECONDS: Final = 60.0
#: Players per play/s: each plays at most once per ~10.5 s (the game's rule, plus the
#: result), so 15 leaves a good third of them idle for the next arrival.
PLAYERS_PER_RATE: Final = 15
P99_LIMIT: Final = 2.0
TARGET_RATE, TARGET_P99 = 50.0, 1.0
STEP_SECONDS: Final = 15.0
CEILING_START: Final = 5.0
CEILING_FACTOR: Final = 1.25
CEILING_MAX: Final = 200.0
#: A fixed-rate run stops sending once a play has waited this long for its result;
#: a ceiling step (which must keep p99 under 2 s) gives up sooner.
SUSTAIN_PENDING_LIMIT: Final = 10.0
STEP_PENDING_LIMIT: Final = 2 * P99_LIMIT
DRAIN_TIMEOUT: Final = 120.0
QUIET_SECONDS: Final = 1.0
GAME_MINUTES: Final = 12.0
#: Pools the size of a real campaign's: moto's Query reads the whole table, so much
#: larger pools would slow every allocator batch here in a way DynamoDB would not.
BRANDS: Final = (("Bench Alpha", 300), ("Bench Beta", 300))


# -- metering the stack (this process) ----------------------------------------------------


@dataclass
class MotoMeter:
    """Requests served by moto and the time spent serving them (wall and CPU)."""

    requests: int = 0
    busy: float = 0.0
    cpu: float = 0.0
    operations: Counter[str] = field(default_factory=Counter)
    #: Seconds of moto's time per operation (a Counter of floats).
    op_seconds: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self) -> None:
        """Wrap the app every SerializedApp runs (one request at a time, under its
        lock) so that the time counted is moto's own work only."""
        original = moto_server.SerializedApp.__init__
        meter = self

        def metered_init(app_self: moto_server.SerializedApp, app: moto_server.WSGIApp) -> None:
            original(app_self, meter.wrap(app))

        moto_server.SerializedApp.__init__ = metered_init  # type: ignore[method-assign,assignment]

    def wrap(self, app: moto_server.WSGIApp) -> moto_server.WSGIApp:
        def metered(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                result = app(environ, start_response)
                try:
                    return [b"".join(result)]
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
            finally:
                target = str(environ.get("HTTP_X_AMZ_TARGET") or environ.get("PATH_INFO", "?"))
                operation = target.rpartition(".")[2] or target
                spent = time.perf_counter() - started
                with self.lock:
                    self.requests += 1
                    self.busy += spent
                    self.cpu += time.thread_time() - cpu
                    self.operations[operation] += 1
                    self.op_seconds[operation] += spent  # type: ignore[assignment]

        return metered

    def snapshot(self) -> tuple[int, float, float, Counter[str], Counter[str]]:
        with self.lock:
            return (
                self.requests,
                self.busy,
                self.cpu,
                Counter(self.operations),
                Counter(self.op_seconds),
            )


@dataclass(frozen=True)
class Usage:
    """What the stack spent during one run."""

    wall: float
    cpu: float
    moto_requests: int
    moto_busy: float
    moto_cpu: float
    operations: Counter[str]
    op_seconds: Counter[str]
    invocations: int

    @property
    def cpu_share(self) -> float:
        return self.cpu / self.wall if self.wall > 0 else 0.0

    @property
    def moto_share(self) -> float:
        return self.moto_busy / self.wall if self.wall > 0 else 0.0


class StackMeter:
    def __init__(self, stack: LocalStack, moto: MotoMeter) -> None:
        self._stack = stack
        self._moto = moto

    def _invocations(self) -> int:
        functions = self._stack.status()["functions"]
        return sum(int(f["invocations"]) for f in functions.values())

    def measure(self, action: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], Usage]:
        requests, busy, cpu, operations, op_seconds = self._moto.snapshot()
        invocations = self._invocations()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = action()
        wall, used = time.perf_counter() - wall0, time.process_time() - cpu0
        requests1, busy1, cpu1, operations1, op_seconds1 = self._moto.snapshot()
        operations1.subtract(operations)
        op_seconds1.subtract(op_seconds)
        return result, Usage(
            wall=wall,
            cpu=used,
            moto_requests=requests1 - requests,
            moto_busy=busy1 - busy,
            moto_cpu=cpu1 - cpu,
            operations=+operations1,
            op_seconds=+op_seconds1,
            invocations=self._invocations() - invocations,
        )

    def settle(self, *, expiry: bool, timeout: float = DRAIN_TIMEOUT) -> None:
        """Wait until the mappings have nothing left to do: no records held and none
        processed for a second. The play stream's unread records are not counted as a
        backlog (a poller fetches only what it is about to run), hence the quiet second.

        After a clean run that is at once. After an overloaded one the allocator works
        through what is still on the stream, and (`expiry`) the expiry watcher expires
        the plays nobody decided, 15 s after they arrived; the next run must not pay
        for that."""
        names = ("allocate", "deliver", "expiry") if expiry else ("allocate", "deliver")
        deadline = time.monotonic() + timeout
        seen: tuple[int, ...] | None = None
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            mappings = self._stack.status()["mappings"]
            counters = tuple(
                int(mappings.get(name, {}).get(key, 0))
                for name in names
                for key in ("records", "filtered", "backlog")
            )
            now = time.monotonic()
            held = any(mappings.get(name, {}).get("backlog", 0) for name in names)
            if counters != seen or held:
                seen, quiet_since = counters, now
            elif now - quiet_since >= QUIET_SECONDS:
                return
            time.sleep(0.2)


# -- the crowd (a child process) ----------------------------------------------------------


def worker(api: str, game_id: str) -> int:
    """Run crowds on request: one JSON command a line on stdin, one JSON answer a line on
    stdout. `{"players": N}` makes sure there are N players with open sockets (growing
    the crowd at least twofold, so a rising rate seldom waits for sockets); a command
    with a `rate` runs one schedule. Players are kept between runs."""
    crowd: Crowd | None = None
    try:
        for line in sys.stdin:
            command = json.loads(line)
            if "rate" not in command:
                players = int(command["players"])
                started = time.perf_counter()
                if crowd is None or crowd.players < players:
                    size = max(players, 2 * crowd.players if crowd is not None else 0)
                    if crowd is not None:
                        crowd.close()
                    crowd = Crowd(api, players=size, ws_share=1.0).open()
                    crowd.issue_admin_token()
                answer = {"players": crowd.players, "setup_s": time.perf_counter() - started}
                print(json.dumps(answer), flush=True)
                continue
            if crowd is None:
                raise CrowdError("no players yet")
            limit = float(command["pending_limit"])
            cpu = time.process_time()
            report = crowd.run(
                game_id,
                Schedule(
                    rate=float(command["rate"]),
                    duration=float(command["seconds"]),
                    duplicate_share=0.0,
                    seed=int(command["seed"]),
                ),
                game=crowd.game_info(game_id),
                abort=functools.partial(overload_reason, pending_limit=limit),
            )
            answer = {k: v for k, v in report.to_json().items() if k != "issued_curve"}
            answer["crowd_cpu_s"] = round(time.process_time() - cpu, 2)
            print(json.dumps(answer), flush=True)
    except CrowdError as error:
        print(json.dumps({"error": str(error)}), flush=True)
        return 2
    finally:
        if crowd is not None:
            crowd.close()
    return 0


class CrowdProcess:
    def __init__(self, api: str, game_id: str) -> None:
        self._process = subprocess.Popen(
            [sys.executable, __file__, "--worker", api, game_id],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._seed = 0

    def prepare(self, rate: float) -> float:
        """Enough players for `rate`, sockets open; the seconds that took."""
        answer = self._ask({"players": math.ceil(rate * PLAYERS_PER_RATE)})
        return float(answer["setup_s"])

    def run(self, rate: float, seconds: float, pending_limit: float) -> dict[str, Any]:
        self._seed += 1
        command = {
            "rate": rate,
            "seconds": seconds,
            "pending_limit": pending_limit,
            "seed": self._seed,
        }
        return self._ask(command)

    def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        stdin, stdout = self._pipes()
        stdin.write(json.dumps(command) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise SystemExit(f"bench: the crowd process ended (exit {self._process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise SystemExit(f"bench: the crowd failed: {answer['error']}")
        return answer

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self._process.stdin is not None and self._process.stdout is not None
        return self._process.stdin, self._process.stdout

    def close(self) -> None:
        stdin, _ = self._pipes()
        stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


# -- runs and the table -------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    rate: float
    seconds: float
    crowd: dict[str, Any]
    usage: Usage
    #: Items in the state table when the run ended (moto's Query cost grows with it).
    state_items: int = 0

    @property
    def lost(self) -> int:
        return int(self.crowd["no_result"])

    @property
    def p99(self) -> float | None:
        value = self.crowd["latency_s"]["p99"]
        return None if value is None else float(value)

    @property
    def good(self) -> bool:
        """Held the rate: no play lost, p99 within the limit, not stopped early, and
        (nearly) every arrival found an idle player."""
        return (
            self.lost == 0
            and self.p99 is not None
            and self.p99 <= P99_LIMIT
            and self.crowd["stopped_early"] is None
            and self.crowd["skipped_no_idle_player"] <= 0.01 * self.crowd["arrivals"]
        )

    @property
    def answered(self) -> int:
        return int(self.crowd["answered"])

    def cells(self) -> list[str]:
        latency = self.crowd["latency_s"]
        usage = self.usage
        per_play = usage.moto_requests / self.answered if self.answered else float("nan")
        ran = self.crowd["sending_s"]
        return [
            f"{self.rate:g}",
            f"{self.crowd['players']:,}",
            f"{min(self.crowd['duration'], ran):.0f}"
            + ("*" if self.crowd["stopped_early"] else ""),
            f"{self.crowd['sent']:,}",
            f"{self.crowd['answered_per_s']:.1f}",
            *(_ms(latency[k]) for k in ("p50", "p95", "p99", "max")),
            f"{self.lost}",
            f"{self.crowd['skipped_no_idle_player']:,}",
            f"{100 * usage.cpu_share:.0f} %",
            f"{100 * usage.moto_share:.0f} %",
            f"{per_play:.1f}",
        ]


HEADER: Final = (
    "| offered plays/s | players | s | sent | results/s | p50 | p95 | p99 | max | lost "
    "| skipped | stack CPU | moto busy | moto req/result |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{1000 * value:,.0f} ms"


def _progress(row: Row) -> None:
    crowd = row.crowd
    note = f" (stopped early: {crowd['stopped_early']})" if crowd["stopped_early"] else ""
    print(
        f"  {row.rate:6.1f} plays/s: {crowd['answered']:,} answered, p99 "
        f"{_ms(row.p99)}, lost {row.lost}, skipped {crowd['skipped_no_idle_player']}, "
        f"setup {crowd['setup_s']} s{note}",
        file=sys.stderr,
        flush=True,
    )


def bound_explanation(row: Row) -> str:
    """What held the stack back at `row`, from the meters."""
    usage = row.usage
    plays = max(row.answered, 1)
    heaviest = sorted(usage.op_seconds.items(), key=lambda item: -item[1])[:3]
    heavy = ", ".join(
        f"{op} {100 * seconds / usage.moto_busy:.0f} % ({usage.operations[op] / plays:.1f} "
        f"per play, {1000 * seconds / usage.operations[op]:.1f} ms each)"
        for op, seconds in heaviest
        if usage.moto_busy > 0 and usage.operations[op]
    )
    per_request = 1000 * usage.moto_busy / usage.moto_requests if usage.moto_requests else 0.0
    other = max(0.0, usage.cpu - usage.moto_cpu)
    moto_part = 100 * usage.moto_cpu / usage.cpu if usage.cpu else 0.0
    return (
        f"at {row.rate:g} plays/s the stack's process used {100 * usage.cpu_share:.0f} % of "
        f"one core ({os.cpu_count()} cores here, the crowd in its own process). It is one "
        "Python interpreter, so the GIL holds it to about one core whatever its threads. "
        f"moto's server took {moto_part:.0f} % of that CPU: "
        f"{usage.moto_requests / plays:.1f} requests per play, one at a time, "
        f"{per_request:.1f} ms each, busy {100 * usage.moto_share:.0f} % of the wall time. "
        f"Its heaviest requests: {heavy}. The handlers, the gateway, the stream pollers and "
        f"botocore took the rest, {1000 * other / plays:.1f} ms of CPU per play."
        + (
            " moto answers a Query by reading every item of the table, not just the "
            f"partition asked for, and the state table then held {row.state_items:,} items "
            "(coupons, their code index, each player's last play): the allocator's one "
            "budget Query per batch costs here what DynamoDB would charge for a few items."
            if any(op == "Query" for op, _ in heaviest)
            else ""
        )
    )


def render(
    fixed: list[Row], steps: list[Row], ceiling: Row | None, elapsed: float, step_seconds: float
) -> str:
    target_rows = [r for r in fixed if r.rate == TARGET_RATE]
    lines = [
        f"`make bench`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. The local stack (moto, the local gateway, "
        "the handlers, the stream mappings) in one process; a crowd of WebSocket players "
        "in another. Latency is play sent → result pushed. `*`: stopped sending early "
        "because it was overloaded (a play lost, or one waiting over "
        f"{SUSTAIN_PENDING_LIMIT:g} s).",
        "",
        HEADER,
        *("| " + " | ".join(r.cells()) + " |" for r in fixed),
        "",
        f"Ceiling search (run first, on a fresh stack): {step_seconds:g} s per step, rate "
        f"×{CEILING_FACTOR:g} per step from {CEILING_START:g} plays/s, until p99 > "
        f"{P99_LIMIT:g} s or a play is lost; `*` here: a play waited over "
        f"{STEP_PENDING_LIMIT:g} s.",
        "",
        HEADER,
        *("| " + " | ".join(r.cells()) + " |" for r in steps),
        "",
    ]
    if ceiling is not None:
        lines.append(
            f"- Ceiling: **{ceiling.rate:g} plays/s** with p99 {_ms(ceiling.p99)} and no play "
            "lost (the last good step)."
        )
        lines.append(f"- What bounds it: {bound_explanation(ceiling)}")
    else:
        lines.append(f"- Ceiling: below {CEILING_START:g} plays/s (no step held).")
        if steps:
            lines.append(f"- What bounds it: {bound_explanation(steps[0])}")
    if target_rows:
        row = target_rows[0]
        verdict = "met" if row.good and (row.p99 or math.inf) <= TARGET_P99 else "NOT met"
        lines.append(
            f"- Target p99 ≤ {TARGET_P99:g} s at {TARGET_RATE:g} plays/s: {verdict} locally "
            f"(p99 {_ms(row.p99)}, {row.lost} lost, {row.crowd['answered_per_s']:.1f} "
            "results/s)."
        )
    lines.append(f"- Bench runtime {elapsed / 60:.1f} min.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown here")
    parser.add_argument("--readme", type=Path, default=None, help="refresh its latency section")
    parser.add_argument("--seconds", type=float, default=SUSTAIN_SECONDS)
    parser.add_argument("--step-seconds", type=float, default=STEP_SECONDS)
    parser.add_argument("--rates", default=",".join(f"{r:g}" for r in RATES))
    parser.add_argument("--worker", nargs=2, metavar=("API", "GAME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(*args.worker)
    rates = [float(r) for r in args.rates.split(",") if r]
    started = time.perf_counter()
    moto = MotoMeter()
    moto.install()
    with LocalStack("127.0.0.1", 0, web_root=None) as stack:
        meter = StackMeter(stack, moto)
        dynamodb = stack.boto3_session().client("dynamodb", endpoint_url=stack.moto_url)

        def state_items() -> int:
            table = dynamodb.describe_table(TableName=stack.settings.state_table)["Table"]
            return int(table.get("ItemCount", 0))

        admin = LocalClient(stack.base_url).as_user("bench-admin", admin=True)
        campaign = create_campaign(
            admin,
            minutes=GAME_MINUTES,
            brands=BRANDS,
            config={"maxWinsPerUser": 5},
            name="Frolic latency bench",
        )
        crowd = CrowdProcess(stack.base_url, campaign.game_id)
        previous: Row | None = None
        try:

            def run(rate: float, seconds: float, limit: float) -> Row:
                nonlocal previous
                overloaded = previous is not None and (
                    previous.lost > 0 or previous.crowd["stopped_early"] is not None
                )
                setup = crowd.prepare(rate)
                meter.settle(expiry=overloaded)
                answer, usage = meter.measure(lambda: crowd.run(rate, seconds, limit))
                answer["setup_s"] = round(setup, 1)
                previous = Row(rate, seconds, answer, usage, state_items())
                _progress(previous)
                return previous

            # The ceiling first, on a fresh stack, and the fixed rates after it in rising
            # order: the heaviest run, which may leave a long backlog, comes last.
            print("bench latency: ceiling search", file=sys.stderr, flush=True)
            steps: list[Row] = []
            ceiling: Row | None = None
            rate = CEILING_START
            while rate <= CEILING_MAX:
                row = run(round(rate, 1), args.step_seconds, STEP_PENDING_LIMIT)
                steps.append(row)
                if not row.good:
                    break
                ceiling = row
                rate *= CEILING_FACTOR
            print("bench latency: fixed rates", file=sys.stderr, flush=True)
            fixed = [run(rate, args.seconds, SUSTAIN_PENDING_LIMIT) for rate in rates]
        finally:
            crowd.close()
    text = render(fixed, steps, ceiling, time.perf_counter() - started, args.step_seconds)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    if args.readme is not None:
        refresh_section(args.readme, "latency", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
