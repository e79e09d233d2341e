"""`make bench` (model check): is the concurrent model faithful to the real store code?

The same small race, twice. Real: N threads, each an allocator with its own
`DynamoAllocationStore` and boto3 client, against moto's server (a process of its own,
on loopback); botocore's `before-call` hook delays every DynamoDB call by a latency
drawn from the model, less what moto itself takes for that operation (measured first),
so the call lands about when the model would land it. Model: the same allocators as
tasks in virtual time (frolic_tools.sim.virtual_time) on in-memory tables, every call taking
a drawn latency. Each allocator reads the budgets once a second, as a batch does, and
claims one coupon for each winner that reaches it (win slot, lease, code), every
winner on one counter. The budget is three quarters of the winners, so the last
leases find the room taken by the other allocators.

Compared: wins, leases, the share refused by a race, winners lost to races, and the
time from a winner's arrival to its claim's end.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from readme import publish

from frolic.allocation.claims import ClaimStats
from frolic.allocation.ports import AllocationStore, Play, Route, Wish
from frolic.dal import codec
from frolic.dal.allocation_store import DynamoAllocationStore
from frolic.dal.items import model_item
from frolic.dal.pools import CouponPools
from frolic.dal.tables import game_key
from frolic.models import Game, GameStatus
from frolic.observability import logger
from frolic.settings import Settings
from frolic_tools.local.moto_server import MotoServer
from frolic_tools.schema import create_tables, local_settings
from frolic_tools.sim.latency import LatencyModel
from frolic_tools.sim.memory import InMemoryStore, numbered_codes
from frolic_tools.sim.virtual_time import VirtualTime

GAME = "model-check"
BRAND = "brand-a"
CALIBRATION_BRAND = "brand-calibration"
CALIBRATION_CLAIMS = 50
MAX_WINS = 1_000_000


@dataclass(frozen=True)
class Scenario:
    allocators: int
    winners_per_second: float
    seconds: int = 20
    seed: int = 3

    def arrivals(self, allocator: int) -> list[float]:
        """Each allocator's winners, as offsets from the start: a Poisson stream."""
        rng = random.Random(self.seed * 1000 + allocator)
        times: list[float] = []
        at = 0.0
        while True:
            at += rng.expovariate(self.winners_per_second)
            if at >= self.seconds:
                return times
            times.append(at)


#: A calm race and one near saturation, where queues amplify every difference.
SCENARIOS = (Scenario(allocators=4, winners_per_second=2.0), Scenario(4, 6.0))


@dataclass
class Outcome:
    wins: int = 0
    decisions: list[float] = field(default_factory=list)
    stats: ClaimStats = field(default_factory=ClaimStats)


def _drive(
    scenario: Scenario,
    allocator: int,
    *,
    store: AllocationStore,
    now: Callable[[], float],
    wait_until: Callable[[float], object],
    start: float,
    result: Outcome,
) -> None:
    """One allocator: budgets once a second, then a claim per winner as it arrives."""
    read_at = -1
    for index, offset in enumerate(scenario.arrivals(allocator)):
        wait_until(start + offset)
        if int(offset) != read_at:
            store.budgets(GAME)
            read_at = int(offset)
        play = Play(f"a{allocator}w{index}", f"u{allocator}w{index}", GAME, start + offset)
        claimed = store.claim(GAME, [_wish(play, BRAND)], MAX_WINS, now(), game_start=start)
        result.decisions.append(now() - (start + offset))
        result.wins += bool(claimed.grants)


def _wish(play: Play, brand: str) -> Wish:
    """A winner of `brand` on its one counter, with a cap that never binds."""
    return Wish(play, (Route(brand, ((0, 10**9),)),), strength=0.0)


def run_model(scenario: Scenario, latency: LatencyModel) -> Outcome:
    result = Outcome()
    clock = VirtualTime(0.0)
    timing = random.Random(scenario.seed)
    tables = InMemoryStore()
    budget = _budget(scenario)
    tables.set_budget(GAME, BRAND, budget)
    tables.generate_coupons(GAME, BRAND, numbered_codes(BRAND))

    def call(operation: str, *, items: int = 1, write_units: int = 0, parallel: int = 1) -> None:
        clock.sleep(max(latency.call(operation, timing) for _ in range(parallel)))

    for allocator in range(scenario.allocators):
        store = tables.connect(calls=call)
        clock.spawn(
            lambda a=allocator, s=store: _drive(  # type: ignore[misc]
                scenario,
                a,
                store=s,
                now=lambda: clock.now,
                wait_until=clock.wait_until,
                start=0.0,
                result=result,
            ),
            0.0,
        )
    clock.run()
    result.stats = tables.claim_stats
    return result


def run_real(scenario: Scenario, latency: LatencyModel) -> Outcome:
    server = MotoServer()
    server.start()
    try:
        settings = local_settings(AWS_ENDPOINT_URL=server.url)
        admin = _client(server.url)
        create_tables(admin, settings)
        _live_game(admin, settings)
        pools = CouponPools(admin, settings)
        budget = _budget(scenario)
        for brand in (BRAND, CALIBRATION_BRAND):
            pools.set_budget(GAME, brand, budget, actor="bench")
            pools.add_codes(GAME, brand, [f"{brand}-{n:06d}" for n in range(1, budget + 1)])
        service = _service_seconds(server, DynamoAllocationStore(admin, settings))
        result = Outcome()
        timing = random.Random(scenario.seed)
        lock = threading.Lock()
        stores = []
        for _ in range(scenario.allocators):
            client = _client(server.url)
            client.meta.events.register(
                "before-call.dynamodb", _delay(latency, timing, lock, service)
            )
            stores.append(DynamoAllocationStore(client, settings))
        start = time.time() + 0.5
        threads = [
            threading.Thread(
                target=_drive,
                args=(scenario, a),
                kwargs={
                    "store": store,
                    "now": time.time,
                    "wait_until": _sleep_until,
                    "start": start,
                    "result": result,
                },
            )
            for a, store in enumerate(stores)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for store in stores:
            claims = store.claim_stats
            result.stats.commits += claims.commits
            result.stats.races += claims.races
            result.stats.gave_up += claims.gave_up
        return result
    finally:
        server.stop()


def _budget(scenario: Scenario) -> int:
    return int(scenario.allocators * scenario.winners_per_second * scenario.seconds * 3 / 4)


def _client(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # moto's, not a secret
    )


def _live_game(client: Any, settings: Settings) -> None:
    game = Game(
        game_id=GAME,
        campaign_id="campaign-check",
        name="Model check",
        start_time=datetime.now(UTC),
        end_time=datetime.fromtimestamp(time.time() + 3600, UTC),
        status=GameStatus.LIVE,
    )
    client.put_item(
        TableName=settings.state_table, Item=codec.dump(model_item(game, game_key(GAME), "game"))
    )


def _service_seconds(server: MotoServer, store: DynamoAllocationStore) -> dict[str, float]:
    """moto's own mean time per operation, over claims like the scenario's, undelayed."""
    before = server.stats()
    for index in range(CALIBRATION_CLAIMS):
        store.budgets(GAME)
        play = Play(f"calibration-{index}", f"calibration-{index}", GAME, time.time())
        store.claim(GAME, [_wish(play, CALIBRATION_BRAND)], MAX_WINS, time.time(), game_start=0.0)
    after = server.stats()
    return {
        operation.removeprefix("DynamoDB "): (seconds - before.op_seconds[operation])
        / max(1, after.operations[operation] - before.operations[operation])
        for operation, seconds in after.op_seconds.items()
    }


def _delay(
    latency: LatencyModel,
    timing: random.Random,
    lock: threading.Lock,
    service: dict[str, float],
) -> Callable[..., None]:
    def before_call(model: Any, **_: Any) -> None:
        with lock:  # one random stream for every thread
            drawn = latency.call(model.name, timing)
        time.sleep(max(0.0, drawn - service.get(model.name, 0.0)))

    return before_call


def _sleep_until(instant: float) -> None:
    time.sleep(max(0.0, instant - time.time()))


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _comparison(model: Outcome, real: Outcome) -> list[str]:
    def conflict_pct(outcome: Outcome) -> float:
        return 100 * outcome.stats.races / max(1, outcome.stats.commits)

    rows = [
        ("wins", model.wins, real.wins, "{:,}"),
        ("leases tried", model.stats.commits, real.stats.commits, "{:,}"),
        ("refused for a race, % of leases", conflict_pct(model), conflict_pct(real), "{:.1f}"),
        ("winners lost to races", model.stats.gave_up, real.stats.gave_up, "{:,}"),
        (
            "claim time p50 (ms)",
            1000 * statistics.median(model.decisions),
            1000 * statistics.median(real.decisions),
            "{:.0f}",
        ),
        (
            "claim time p99 (ms)",
            1000 * _quantile(model.decisions, 0.99),
            1000 * _quantile(real.decisions, 0.99),
            "{:.0f}",
        ),
    ]
    lines = [
        "| measure | model (virtual time) | real store on moto (threads) | real / model |",
        "|---|---:|---:|---:|",
    ]
    for name, modelled, measured, form in rows:
        ratio = f"{measured / modelled:.2f}" if modelled else "n/a"
        lines.append(f"| {name} | {form.format(modelled)} | {form.format(measured)} | {ratio} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--readme", type=Path)
    args = parser.parse_args()
    # A claim that loses every race logs a warning; here that is the point of the run.
    logger.setLevel(logging.ERROR)
    latency = LatencyModel()
    sections: list[str] = []
    for scenario in SCENARIOS:
        model = run_model(scenario, latency)
        real = run_real(scenario, latency)
        sections += [
            f"{scenario.allocators} allocators, {scenario.winners_per_second:g} winners/s "
            f"each for {scenario.seconds} s, one counter:",
            "",
            *_comparison(model, real),
            "",
        ]
    text = "\n".join(
        [
            "`make bench` (bench/model_check.py): the same race in the model and on the real "
            "store code, with the same latency model on both sides.",
            "",
            *sections,
        ]
    ).rstrip()
    publish(text, title="Model check", out=args.out, readme=args.readme, section="model-check")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
