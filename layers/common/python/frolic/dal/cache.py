"""Small reads kept for a while, so a busy function does not read them per call."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    """What `load` gave for a key, kept `ttl` seconds; a miss (None, say) is kept too, so
    an unknown key costs one read per `ttl`, not one per call."""

    def __init__(
        self, load: Callable[[K], V], ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._load = load
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V:
        now = self._clock()
        cached = self._entries.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        value = self._load(key)
        self._entries[key] = (now, value)
        return value

    def put(self, key: K, value: V) -> None:
        """Keep a value the caller read itself (a fresher one than kept)."""
        self._entries[key] = (self._clock(), value)
