"""`make bench` (latency part): play latency and the throughput ceiling of the local stack.

A LocalStack on loopback in this process (and moto's server in the stack's child
process); a crowd (`frolic_tools.crowd`, every player on a WebSocket) in another child
process, so players and stack do not share one interpreter lock.
First it raises the rate in steps until a step no longer holds (p99 over 1 s, or a play
lost): the last step that held is the local stack's ceiling. Then it offers 20, 50 and
100 plays/s for 60 s each and records play-sent → result-received latency and the plays
that got no result.

One run can be unlucky (a sweeper run, a collector pause), so each ceiling step and the
target rate are judged by the median of three runs: a step holds when two of its runs
do (a third is run only when the first two disagree), and the target's p99 is the
median of three.

To say what bounds the ceiling, each run is metered: this process's CPU time (the
gateway, the handlers and the mappings are one Python process: whatever they do, one
core at a time under the GIL), how busy each function's execution environments were
(each runs one invocation at a time), moto's process as it reports itself (requests and
time per operation, answered one at a time, and its CPU time: `LocalStack.moto_stats`),
and the crowd's CPU time. The explanation names the resource closest to its limit.

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
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from readme import publish

from frolic_tools.crowd import Crowd, CrowdError, Schedule, create_campaign, overload_reason
from frolic_tools.local import LocalClient, LocalStack

RATES: Final = (20.0, 50.0, 100.0)
SUSTAIN_SECONDS: Final = 60.0
#: Players per play/s: each plays at most once per ~10.5 s (the game's rule, plus the
#: result), so 15 leaves a good third of them idle for the next arrival.
PLAYERS_PER_RATE: Final = 15
TARGET_RATE, TARGET_P99 = 50.0, 1.0
#: A step of the ceiling search holds at the target's p99.
P99_LIMIT: Final = TARGET_P99
#: Runs per judged rate: a step, or the target rate; the median decides.
TRIALS: Final = 3
STEP_SECONDS: Final = 15.0
CEILING_START: Final = 5.0
CEILING_FACTOR: Final = 1.25
CEILING_MAX: Final = 200.0
#: A fixed-rate run stops sending once a play has waited this long for its result;
#: a ceiling step (which must keep p99 under 2 s) gives up sooner.
SUSTAIN_PENDING_LIMIT: Final = 10.0
STEP_PENDING_LIMIT: Final = 3 * P99_LIMIT
DRAIN_TIMEOUT: Final = 120.0
QUIET_SECONDS: Final = 1.0
GAME_MINUTES: Final = 12.0
#: Pools the size of a real campaign's.
BRANDS: Final = (("Bench Alpha", 300), ("Bench Beta", 300))


# -- metering the stack (this process and moto's) -----------------------------------------


@dataclass(frozen=True)
class Usage:
    """What the stack spent during one run."""

    wall: float
    #: This process: the gateway, the handlers, the mappings (one interpreter, one GIL).
    cpu: float
    moto_requests: int
    #: Wall seconds moto spent answering (it answers one request at a time).
    moto_busy: float
    #: moto's server process, all of it (HTTP included).
    moto_cpu: float
    operations: Counter[str]
    op_seconds: Counter[str]
    invocations: int
    #: The function whose environments were busiest, and the share of their time.
    busiest: str = ""
    busiest_share: float = 0.0
    crowd_cpu: float = 0.0

    @property
    def cpu_share(self) -> float:
        return self.cpu / self.wall if self.wall > 0 else 0.0

    @property
    def moto_cpu_share(self) -> float:
        return self.moto_cpu / self.wall if self.wall > 0 else 0.0

    @property
    def moto_share(self) -> float:
        return self.moto_busy / self.wall if self.wall > 0 else 0.0

    @property
    def crowd_share(self) -> float:
        return self.crowd_cpu / self.wall if self.wall > 0 else 0.0


class StackMeter:
    """Meters a run: this process's CPU time, moto's process from what it reports
    (`LocalStack.moto_stats`: its requests, its time per operation, its CPU time), and
    the functions' invocation counts and lock time."""

    def __init__(self, stack: LocalStack) -> None:
        self._stack = stack

    def _functions(self) -> dict[str, dict[str, Any]]:
        functions: dict[str, dict[str, Any]] = self._stack.status()["functions"]
        return functions

    def measure(self, action: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], Usage]:
        moto0 = self._stack.moto_stats()
        functions0 = self._functions()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = action()
        wall, used = time.perf_counter() - wall0, time.process_time() - cpu0
        moto1 = self._stack.moto_stats()
        functions1 = self._functions()
        shares = {
            name: (f["seconds"] - functions0[name]["seconds"]) / (wall * f["environments"])
            for name, f in functions1.items()
        }
        busiest = max(shares, key=lambda name: shares[name])
        operations = Counter(moto1.operations)
        operations.subtract(moto0.operations)
        op_seconds = Counter(moto1.op_seconds)
        op_seconds.subtract(moto0.op_seconds)
        return result, Usage(
            wall=wall,
            cpu=used,
            moto_requests=moto1.requests - moto0.requests,
            moto_busy=moto1.busy - moto0.busy,
            moto_cpu=moto1.cpu - moto0.cpu,
            operations=+operations,
            op_seconds=+op_seconds,
            invocations=sum(
                f["invocations"] - functions0[name]["invocations"] for name, f in functions1.items()
            ),
            busiest=busiest,
            busiest_share=shares[busiest],
            crowd_cpu=float(result.get("crowd_cpu_s", 0.0)),
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
    #: Which of the runs at this rate (1 to `TRIALS`).
    trial: int = 1

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
            f"{self.trial}",
            f"{self.crowd['players']:,}",
            f"{min(self.crowd['duration'], ran):.0f}"
            + ("*" if self.crowd["stopped_early"] else ""),
            f"{self.crowd['sent']:,}",
            f"{self.crowd['answered_per_s']:.1f}",
            *(_ms(latency[k]) for k in ("p50", "p95", "p99", "max")),
            f"{self.lost}",
            f"{self.crowd['skipped_no_idle_player']:,}",
            f"{100 * usage.cpu_share:.0f} %",
            f"{100 * usage.busiest_share:.0f} % {usage.busiest}",
            f"{100 * usage.moto_cpu_share:.0f} %",
            f"{per_play:.1f}",
        ]


HEADER: Final = (
    "| offered plays/s | run | players | s | sent | results/s | p50 | p95 | p99 | max | lost "
    "| skipped | stack CPU | busiest function | moto CPU | moto req/result |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{1000 * value:,.0f} ms"


def median_run(runs: Sequence[Row]) -> Row:
    """The middle run by p99 (a run that lost a play or stopped early ranks last); of
    two, the worse."""
    ranked = sorted(runs, key=lambda r: (not r.good, r.p99 if r.p99 is not None else math.inf))
    return ranked[len(ranked) // 2]


def holds(runs: Sequence[Row]) -> bool:
    """Most of the runs held (`Row.good`)."""
    return 2 * sum(r.good for r in runs) > len(runs)


def _progress(row: Row) -> None:
    crowd = row.crowd
    note = f" (stopped early: {crowd['stopped_early']})" if crowd["stopped_early"] else ""
    print(
        f"  {row.rate:6.1f} plays/s #{row.trial}: {crowd['answered']:,} answered, p99 "
        f"{_ms(row.p99)}, lost {row.lost}, skipped {crowd['skipped_no_idle_player']}, "
        f"setup {crowd['setup_s']} s{note}",
        file=sys.stderr,
        flush=True,
    )


def bound_explanation(row: Row) -> str:
    """What held the stack back at `row`, from the meters: each resource that can only
    be used one at a time, how busy it was, and where moto's time went."""
    usage = row.usage
    plays = max(row.answered, 1)
    cores = os.cpu_count() or 1
    heaviest = sorted(usage.op_seconds.items(), key=lambda item: -item[1])[:3]
    heavy = ", ".join(
        f"{op} {100 * seconds / usage.moto_busy:.0f} % ({usage.operations[op] / plays:.1f} "
        f"per play, {1000 * seconds / usage.operations[op]:.1f} ms each)"
        for op, seconds in heaviest
        if usage.moto_busy > 0 and usage.operations[op]
    )
    per_request = 1000 * usage.moto_busy / usage.moto_requests if usage.moto_requests else 0.0
    machine = (usage.cpu + usage.moto_cpu + usage.crowd_cpu) / usage.wall if usage.wall else 0.0
    limits = {
        "the stack's process (one interpreter: at most one core, whatever its threads)": (
            usage.cpu_share
        ),
        f"{usage.busiest}'s execution environments": usage.busiest_share,
        "moto's process (one request at a time: at most one core)": usage.moto_cpu_share,
        f"the machine's {cores} cores": machine / cores,
    }
    tightest, share = max(limits.items(), key=lambda item: item[1])
    return (
        f"at {row.rate:g} plays/s the stack's process used {100 * usage.cpu_share:.0f} % of "
        f"a core ({1000 * usage.cpu / plays:.1f} ms of CPU per play: the handlers, the "
        f"gateway, the stream pollers, botocore; {usage.invocations / plays:.1f} "
        f"invocations per play; the busiest function, {usage.busiest}, kept its execution "
        f"environments busy {100 * usage.busiest_share:.0f} % of the time), moto's process used "
        f"{100 * usage.moto_cpu_share:.0f} % of a core ({1000 * usage.moto_cpu / plays:.1f} ms "
        f"per play; {usage.moto_requests / plays:.1f} requests per play, "
        f"{per_request:.1f} ms each; heaviest: {heavy}), and the crowd "
        f"{100 * usage.crowd_share:.0f} %: {machine:.2f} of the {cores} cores in all. "
        f"Closest to its limit: {tightest}, at {100 * share:.0f} %."
    )


def render(
    fixed: list[Row], steps: list[Row], ceiling: Row | None, elapsed: float, step_seconds: float
) -> str:
    target_rows = [r for r in fixed if r.rate == TARGET_RATE]
    lines = [
        f"`make bench`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. The local stack in two processes: moto's "
        "server in one, the local gateway, the handlers and the stream mappings in the "
        "other; a crowd of WebSocket players in a third. Latency is play sent → result "
        "pushed. Stack CPU and moto CPU: each process's CPU time over the run's wall time "
        "(100 % is one core); busiest function: the function whose execution environments "
        "were busiest, and for what share of the time. `*`: stopped sending early because "
        f"it was overloaded (a play lost, or one waiting over {SUSTAIN_PENDING_LIMIT:g} s).",
        "",
        HEADER,
        *("| " + " | ".join(r.cells()) + " |" for r in fixed),
        "",
        f"Ceiling search (run first, on a fresh stack): {step_seconds:g} s per step, rate "
        f"×{CEILING_FACTOR:g} per step from {CEILING_START:g} plays/s, until a step no "
        f"longer holds: a run holds with p99 ≤ {P99_LIMIT:g} s and no play lost, a step "
        f"when two of its runs do (up to {TRIALS}); `*` here: a play waited over "
        f"{STEP_PENDING_LIMIT:g} s.",
        "",
        HEADER,
        *("| " + " | ".join(r.cells()) + " |" for r in steps),
        "",
    ]
    if ceiling is not None:
        lines.append(
            f"- Ceiling: **{ceiling.rate:g} plays/s**, median p99 {_ms(ceiling.p99)} and no "
            "play lost (the last step that held)."
        )
        lines.append(f"- What bounds it: {bound_explanation(ceiling)}")
    else:
        lines.append(f"- Ceiling: below {CEILING_START:g} plays/s (no step held).")
        if steps:
            lines.append(f"- What bounds it: {bound_explanation(steps[0])}")
    if target_rows:
        row = median_run(target_rows)
        verdict = "met" if row.good and all(r.lost == 0 for r in target_rows) else "NOT met"
        p99s = ", ".join(_ms(r.p99) for r in target_rows)
        lines.append(
            f"- Target p99 ≤ {TARGET_P99:g} s at {TARGET_RATE:g} plays/s with none lost, the "
            f"median of {len(target_rows)} runs: {verdict} locally (median p99 "
            f"{_ms(row.p99)}; the runs' p99s {p99s}; "
            f"{sum(r.lost for r in target_rows)} lost in all)."
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
    parser.add_argument(
        "--no-ceiling",
        action="store_true",
        help="skip the ceiling search (quick A/B runs; not for the README)",
    )
    parser.add_argument("--worker", nargs=2, metavar=("API", "GAME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(*args.worker)
    rates = [float(r) for r in args.rates.split(",") if r]
    started = time.perf_counter()
    with LocalStack("127.0.0.1", 0, web_root=None) as stack:
        meter = StackMeter(stack)
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

            def run(rate: float, seconds: float, limit: float, trial: int = 1) -> Row:
                nonlocal previous
                overloaded = previous is not None and (
                    previous.lost > 0 or previous.crowd["stopped_early"] is not None
                )
                setup = crowd.prepare(rate)
                meter.settle(expiry=overloaded)
                answer, usage = meter.measure(lambda: crowd.run(rate, seconds, limit))
                answer["setup_s"] = round(setup, 1)
                previous = Row(rate, seconds, answer, usage, trial)
                _progress(previous)
                return previous

            # The ceiling first, on a fresh stack, and the fixed rates after it in rising
            # order: the heaviest run, which may leave a long backlog, comes last.
            print("bench latency: ceiling search", file=sys.stderr, flush=True)
            steps: list[Row] = []
            ceiling: Row | None = None
            rate = CEILING_START
            while rate <= CEILING_MAX and not args.no_ceiling:
                step: list[Row] = []
                # Two runs that agree decide the step; a third breaks a tie.
                while len(step) < TRIALS and (len(step) < 2 or len(set(r.good for r in step)) > 1):
                    step.append(
                        run(round(rate, 1), args.step_seconds, STEP_PENDING_LIMIT, len(step) + 1)
                    )
                steps += step
                if not holds(step):
                    break
                ceiling = median_run(step)
                rate *= CEILING_FACTOR
            print("bench latency: fixed rates", file=sys.stderr, flush=True)
            fixed = [
                run(rate, args.seconds, SUSTAIN_PENDING_LIMIT, trial)
                for rate in rates
                for trial in range(1, (TRIALS if rate == TARGET_RATE else 1) + 1)
            ]
        finally:
            crowd.close()
    text = render(fixed, steps, ceiling, time.perf_counter() - started, args.step_seconds)
    publish(text, title=None, out=args.out, readme=args.readme, section="latency")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
