"""A play's random draw, derived from its id so that a replay draws the same number.

The hash is keyed with a server-side secret: players choose their own playIds, and
without the key they cannot tell a winning id from a losing one.
"""

from __future__ import annotations

import hashlib

_SCALE = 1.0 / 2**64


class KeyedDraw:
    """Uniform numbers in [0, 1), the same every time for the same key, play and brand."""

    __slots__ = ("_keyed",)

    def __init__(self, key: bytes) -> None:
        if not 16 <= len(key) <= 64:
            raise ValueError("the draw key must be 16 to 64 bytes")
        # Keying BLAKE2 costs as much as hashing a short id; copy a keyed state instead.
        self._keyed = hashlib.blake2b(key=key, digest_size=8)

    def __call__(self, play_id: str, brand_id: str) -> float:
        state = self._keyed.copy()
        state.update(f"{play_id}\x1f{brand_id}".encode())
        return int.from_bytes(state.digest(), "big") * _SCALE
