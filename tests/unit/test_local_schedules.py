"""frolic_tools.local.schedules: the local stack runs the sweeper on its schedule, as the
deployed EventBridge rule does, with Scheduled Events; a failed run does not stop the
next. The intervals are a stop event whose waits return at once, so nothing sleeps."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from frolic.sweep import EVERY_SECONDS
from frolic_tools.local.functions import ENTRY_POINTS, LocalFunctions
from frolic_tools.local.paths import FUNCTIONS_ROOT
from frolic_tools.local.schedules import SCHEDULES, SWEEP, ScheduledRule, rule_arn
from frolic_tools.local.stack import LocalStack
from tests.unit import local_probe
from tests.unit.test_local_functions import HANDLER

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


class Ticks(threading.Event):
    """A stop event for a rule: each wait is an interval gone by at once; after
    `intervals` of them the event is set, as when the stack stops."""

    def __init__(self, intervals: int) -> None:
        super().__init__()
        self.left = intervals
        self.waited: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waited.append(timeout)
        if self.left == 0:
            self.set()
        else:
            self.left -= 1
        return self.is_set()


@pytest.fixture
def functions(tmp_path: Path) -> Iterator[LocalFunctions]:
    for folder, module in ENTRY_POINTS.values():
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / f"{module}.py").write_text(HANDLER)
    local_probe.reset()
    loaded = LocalFunctions(tmp_path, environments=None)
    try:
        yield loaded
    finally:
        loaded.close()
        loaded.unload()


def sweep_events() -> list[dict[str, object]]:
    return [event for module, event in local_probe.calls if "_sweep_" in module]


def test_the_sweeper_is_a_function_of_its_own_on_the_deployed_schedule() -> None:
    assert ENTRY_POINTS["sweep"] == ("sweep", "handler")
    assert (FUNCTIONS_ROOT / "sweep" / "handler.py").is_file()
    assert SWEEP in SCHEDULES
    assert (SWEEP.function, SWEEP.every_seconds) == ("sweep", EVERY_SECONDS)
    assert all(config.function in ENTRY_POINTS for config in SCHEDULES)


def test_a_rule_invokes_its_function_once_per_interval_until_stopped(
    functions: LocalFunctions,
) -> None:
    stop = Ticks(3)
    rule = ScheduledRule(SWEEP, functions.invoke, stop, clock=lambda: 1_900_000_000.0)

    rule.run()

    assert stop.waited == [EVERY_SECONDS] * 4  # three intervals, then the stop
    events = sweep_events()
    assert len(events) == rule.runs == 3
    assert {e["detail-type"] for e in events} == {"Scheduled Event"}
    assert {e["source"] for e in events} == {"aws.events"}
    assert all(e["resources"] == [rule_arn("sweep")] for e in events)
    assert events[0]["time"] == "2030-03-17T17:46:40Z"
    assert len({e["id"] for e in events}) == 3


def test_a_failed_run_is_counted_and_the_next_one_still_runs(functions: LocalFunctions) -> None:
    functions.fail_next("sweep", 1)
    rule = ScheduledRule(SWEEP, functions.invoke, Ticks(2))

    rule.run()

    assert (rule.runs, rule.errors) == (2, 1)
    assert len(sweep_events()) == 1  # the failed run never reached the handler


def test_the_local_stack_runs_its_schedules_on_its_functions(
    functions: LocalFunctions, tmp_path: Path
) -> None:
    # Given a stack (not started: no moto, no gateway) with these functions, whose
    # pollers' stop event lets two intervals pass
    stack = LocalStack("127.0.0.1", 0, functions_root=tmp_path, web_root=None)
    stack._functions = functions
    stack._stop_polling = Ticks(2)
    # When it starts its schedules and they run until the stop
    stack._start_schedules()
    for rule in stack._schedules:
        rule.join(timeout=30)
    # Then the sweeper ran twice, and the stack's status says so
    assert len(sweep_events()) == 2
    assert stack.status()["schedules"] == {"sweep": {"runs": 2, "errors": 0}}
