"""frolic_tools.local.functions runs each function in a pool of execution environments: one
invocation per environment at a time, different functions side by side, waiting
invocations served in the order they asked, cold starts alone, and every log line
carrying its own invocation's Lambda context."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from frolic.observability import logger
from frolic_tools.local.functions import (
    ENTRY_POINTS,
    ColdStartGate,
    Environment,
    EnvironmentPool,
    FunctionError,
    FunctionsClosedError,
    LocalFunctions,
)
from tests.unit import local_probe

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

HANDLER = """
from frolic.observability import logger, metrics, tracer
from tests.unit import local_probe

@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    return local_probe.run(__name__, event)
"""


@pytest.fixture
def functions(tmp_path: Path) -> Iterator[LocalFunctions]:
    for folder, module in ENTRY_POINTS.values():
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / f"{module}.py").write_text(HANDLER)
    local_probe.reset()
    loaded = LocalFunctions(tmp_path, environments={"ingest": 3, "deliver": 1})
    try:
        yield loaded
    finally:
        loaded.close()
        loaded.unload()


def invoke_in_thread(functions: LocalFunctions, name: str, event: dict[str, Any]) -> Any:
    answers: list[Any] = []
    thread = threading.Thread(
        target=lambda: answers.append(functions.invoke(name, event)), daemon=True
    )
    thread.start()
    return thread, answers


def test_different_functions_and_environments_run_side_by_side(
    functions: LocalFunctions,
) -> None:
    # Warm every environment first: a cold start runs alone. Environments are taken in
    # turn, so three invocations in a row warm ingest's three.
    for name in ("ingest", "ingest", "ingest", "deliver", "allocate"):
        functions.invoke(name, {})
    together = threading.Barrier(4, timeout=20)
    events = [
        ("ingest", {"barrier": True}),
        ("ingest", {"barrier": True}),
        ("deliver", {"barrier": True}),
        ("allocate", {"barrier": True}),
    ]
    local_probe.barrier = together
    threads = [invoke_in_thread(functions, name, event)[0] for name, event in events]
    for thread in threads:
        thread.join(timeout=30)
    assert not together.broken, "the four invocations did not all run at once"
    assert local_probe.most_at_once["ingest"] >= 2


def test_an_environment_runs_one_invocation_at_a_time_in_the_order_asked(
    functions: LocalFunctions,
) -> None:
    functions.invoke("deliver", {})
    local_probe.hold = threading.Event()
    first, _ = invoke_in_thread(functions, "deliver", {"order": 0, "hold": True})
    assert local_probe.entered.wait(timeout=20)
    later = []
    for order in range(1, 6):
        thread, _ = invoke_in_thread(functions, "deliver", {"order": order})
        later.append(thread)
        # Each asks only once the one before it waits for the environment.
        assert local_probe.wait_for_waiters(functions, "deliver", order)
    local_probe.hold.set()
    for thread in [first, *later]:
        thread.join(timeout=30)
    assert local_probe.orders == [0, 1, 2, 3, 4, 5]
    assert local_probe.most_at_once["deliver"] == 1
    # One copy of the module per environment: ingest has three, deliver one.
    modules = {name for name, _ in local_probe.calls}
    assert len({m for m in modules if "_deliver_" in m}) == 1


def test_rest_invocations_never_overlap_even_across_functions(
    functions: LocalFunctions,
) -> None:
    # Powertools' resolvers share the request being routed: two at once could swap
    # callers. Given ingest routing a REST request and holding inside it
    for name in ("ingest", "ingest", "ingest", "admin"):
        functions.invoke(name, {})
    local_probe.hold = threading.Event()
    first, _ = invoke_in_thread(functions, "ingest", {"httpMethod": "GET", "hold": True})
    assert local_probe.entered.wait(timeout=20)
    # When admin and another ingest environment get REST requests, they wait their turn
    others = [
        invoke_in_thread(functions, name, {"httpMethod": "POST", "order": n})[0]
        for n, name in enumerate(("admin", "ingest"), start=1)
    ]
    assert local_probe.until(lambda: functions.routing_waiting() == 2)
    assert local_probe.orders == []
    # While a stream batch for ingest's third environment is not held up
    functions.invoke("ingest", {"Records": [], "order": 0})
    assert local_probe.orders == [0]
    local_probe.hold.set()
    for thread in [first, *others]:
        thread.join(timeout=30)
    assert sorted(local_probe.orders) == [0, 1, 2]


def test_a_cold_start_does_not_wait_for_a_long_warm_invocation(
    functions: LocalFunctions,
) -> None:
    # Given deliver warm and held inside an invocation (an export of minutes, say)
    functions.invoke("deliver", {})
    local_probe.hold = threading.Event()
    held, _ = invoke_in_thread(functions, "deliver", {"hold": True})
    assert local_probe.entered.wait(timeout=20)
    # When allocate starts cold, it runs at once
    functions.invoke("allocate", {"order": 1})
    assert local_probe.ran_allocate.is_set()
    local_probe.hold.set()
    held.join(timeout=30)


def test_cold_starts_run_one_at_a_time(functions: LocalFunctions) -> None:
    # Given deliver's first invocation held inside its cold start
    local_probe.hold = threading.Event()
    held, _ = invoke_in_thread(functions, "deliver", {"hold": True})
    assert local_probe.entered.wait(timeout=20)
    # When allocate starts cold, it waits for that cold start to end
    cold, _ = invoke_in_thread(functions, "allocate", {"order": 1})
    assert local_probe.until(lambda: functions.gate.waiting == 1)
    assert not local_probe.ran_allocate.is_set()
    local_probe.hold.set()
    held.join(timeout=30)
    cold.join(timeout=30)
    assert local_probe.ran_allocate.is_set()


def test_log_lines_carry_their_own_invocations_context(functions: LocalFunctions) -> None:
    for name in ("ingest", "ingest", "ingest", "deliver"):
        functions.invoke(name, {})
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(logger.registered_formatter)
    frolic_logging = logging.getLogger(logger.name)  # what Powertools logs through
    frolic_logging.addHandler(handler)
    try:
        local_probe.barrier = threading.Barrier(2, timeout=20)
        threads = [
            invoke_in_thread(functions, name, {"barrier": True, "log": name})[0]
            for name in ("ingest", "deliver")
        ]
        for thread in threads:
            thread.join(timeout=30)
    finally:
        frolic_logging.removeHandler(handler)
    lines = [json.loads(line) for line in written.getvalue().splitlines()]
    logged = {
        line["message"]: line["function_name"]
        for line in lines
        if str(line.get("message", "")).startswith("from ")
    }
    assert logged == {"from ingest": "frolic-local-ingest", "from deliver": "frolic-local-deliver"}


def test_unload_puts_the_shared_logger_back(tmp_path: Path) -> None:
    for folder, module in ENTRY_POINTS.values():
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / f"{module}.py").write_text(HANDLER)
    loaded = LocalFunctions(tmp_path)
    assert "append_keys" in vars(logger)
    loaded.unload()
    assert "append_keys" not in vars(logger)


def test_closed_functions_refuse_what_waits_and_what_comes(functions: LocalFunctions) -> None:
    functions.invoke("deliver", {})
    local_probe.hold = threading.Event()
    held, _ = invoke_in_thread(functions, "deliver", {"hold": True})
    assert local_probe.entered.wait(timeout=20)
    refused: list[BaseException] = []

    def wait_then_fail() -> None:
        try:
            functions.invoke("deliver", {})
        except FunctionError as error:
            refused.append(error)

    waiting = threading.Thread(target=wait_then_fail)
    waiting.start()
    assert local_probe.wait_for_waiters(functions, "deliver", 1)
    functions.close()
    waiting.join(timeout=20)
    assert len(refused) == 1 and isinstance(refused[0].__cause__, FunctionsClosedError)
    with pytest.raises(FunctionError):
        functions.invoke("ingest", {})
    local_probe.hold.set()
    held.join(timeout=20)  # the one under way finished


def test_a_pool_hands_environments_over_first_come_first_served() -> None:
    environments = [Environment(module=None, handler=None) for _ in range(2)]  # type: ignore[arg-type]
    pool = EnvironmentPool(environments)
    first, second = pool.take(), pool.take()
    # Which waiter got which environment: the order the threads record it in is theirs
    got: dict[int, Environment] = {}
    threads = []

    def taker(order: int) -> None:
        got[order] = pool.take()

    for order in range(3):
        thread = threading.Thread(target=taker, args=(order,))
        thread.start()
        threads.append(thread)
        waiting = order + 1
        assert local_probe.until(lambda: pool.waiting == waiting)  # noqa: B023
    pool.give_back(first)
    pool.give_back(second)
    # Then the two longest waiting get them, in the order they came
    assert local_probe.until(lambda: len(got) == 2)
    assert sorted(got) == [0, 1]
    assert got[0] is first and got[1] is second
    pool.give_back(first)
    for thread in threads:
        thread.join(timeout=20)
    assert got[2] is first


def test_the_gate_lets_one_cold_start_in_at_a_time() -> None:
    gate = ColdStartGate()
    inside: list[str] = []
    with gate.cold_start():
        entered = threading.Event()

        def second() -> None:
            with gate.cold_start():
                inside.append("second")
                entered.set()

        thread = threading.Thread(target=second)
        thread.start()
        assert local_probe.until(lambda: gate.waiting == 1)
        assert not entered.is_set()  # the first is still inside
    assert entered.wait(timeout=20)
    thread.join(timeout=20)
    assert inside == ["second"]
