"""Virtual time: blocking code interleaves by virtual instants, deterministically."""

from __future__ import annotations

import pytest

from frolic_tools.sim.virtual_time import VirtualTime


def test_tasks_interleave_in_the_order_of_their_instants() -> None:
    # Given two tasks that each wait a different time between steps
    clock = VirtualTime(100.0)
    steps: list[tuple[str, float]] = []

    def walker(name: str, stride: float) -> None:
        for _ in range(3):
            steps.append((name, clock.now))
            clock.sleep(stride)

    clock.spawn(lambda: walker("slow", 0.3), 100.0)
    clock.spawn(lambda: walker("fast", 0.2), 100.1)
    # When the clock runs them
    clock.run()
    # Then every step happened at its virtual instant, in time order
    assert [name for name, _ in steps] == ["slow", "fast", "slow", "fast", "fast", "slow"]
    assert [at for _, at in steps] == pytest.approx([100.0, 100.1, 100.3, 100.3, 100.5, 100.6])
    assert clock.now == pytest.approx(100.9)


def test_a_wait_for_a_past_instant_resumes_at_once_and_time_never_runs_back() -> None:
    clock = VirtualTime(10.0)
    seen: list[float] = []

    def task() -> None:
        clock.sleep(5.0)
        seen.append(clock.wait_until(3.0))

    clock.spawn(task, 10.0)
    clock.run()
    assert seen == [15.0]


def test_a_failing_task_ends_the_run_with_its_error() -> None:
    clock = VirtualTime(0.0)

    def broken() -> None:
        clock.sleep(1.0)
        raise RuntimeError("boom")

    clock.spawn(broken, 0.0)
    with pytest.raises(RuntimeError, match="boom"):
        clock.run()


def test_waiting_outside_a_task_is_refused() -> None:
    with pytest.raises(RuntimeError):
        VirtualTime(0.0).wait_until(1.0)
