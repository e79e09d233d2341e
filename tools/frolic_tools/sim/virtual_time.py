"""Concurrent tasks in virtual time, so that unchanged blocking code can race.

Each task is a thread, but only one runs at a time: it runs until it waits for a
virtual instant, then hands control back to the loop, which wakes whichever task is
due next (ties in the order they began to wait). The run is deterministic, and code
that blocks (the allocator, its store, a backoff) needs only a `wait_until` to take
virtual time instead of real time.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable


class _Task:
    __slots__ = ("body", "go", "thread")

    def __init__(self, body: Callable[[], None]) -> None:
        self.body = body
        #: Held while the task waits; the loop releases it to let the task run.
        self.go = threading.Lock()
        self.go.acquire()
        self.thread: threading.Thread | None = None


class VirtualTime:
    def __init__(self, start: float) -> None:
        self.now = start
        self._due: list[tuple[float, int, _Task]] = []
        self._order = itertools.count()
        self._running: _Task | None = None
        #: Held while a task runs; the task releases it when it waits or ends.
        self._back = threading.Lock()
        self._back.acquire()
        self._failure: BaseException | None = None

    def spawn(self, body: Callable[[], None], at: float) -> None:
        """Run `body` as a task from instant `at`."""
        self._schedule(_Task(body), at)

    def wait_until(self, instant: float) -> float:
        """From a task: pause it until `instant` (or now, if that is past)."""
        task = self._running
        if task is None:
            raise RuntimeError("wait_until is for tasks started by spawn")
        self._schedule(task, instant)
        self._back.release()
        task.go.acquire()
        return self.now

    def sleep(self, seconds: float) -> None:
        self.wait_until(self.now + seconds)

    def run(self) -> None:
        """Run every task to its end; a task's exception ends the run and is raised."""
        while self._due:
            instant, _, task = heapq.heappop(self._due)
            self.now = max(self.now, instant)
            self._running = task
            if task.thread is None:
                task.thread = threading.Thread(target=self._body, args=(task,), daemon=True)
                task.thread.start()
            else:
                task.go.release()
            self._back.acquire()
            self._running = None
            if self._failure is not None:
                raise self._failure

    def _schedule(self, task: _Task, instant: float) -> None:
        heapq.heappush(self._due, (max(instant, self.now), next(self._order), task))

    def _body(self, task: _Task) -> None:
        try:
            task.body()
        except BaseException as error:  # handed to run(), which raises it
            self._failure = error
        finally:
            self._back.release()
