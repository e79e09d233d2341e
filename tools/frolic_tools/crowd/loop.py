"""The crowd's event loop, in a thread of its own, so `Crowd`'s API stays blocking.

The loop runs for as long as the crowd is open: the players' sockets live on it and are
read between runs too (a socket the gateway closes is noticed when it closes, not at
the next run). The caller's thread hands it coroutines and waits for their outcome;
if that wait is interrupted (Ctrl-C), the coroutine is cancelled rather than left
running behind the caller's back.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """One event loop running in a daemon thread until `stop`."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
            self._loop.close()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on the loop and wait for its result (or its exception)."""
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # a no-op when it is over; else the caller gave up on it
            raise

    def stop(self) -> None:
        """Stop the loop and wait for its thread. Every task should be over by now."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
