"""Putting a patch in place of a library's attribute, with the way back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def swap(owner: Any, name: str, value: Any) -> Callable[[], None]:
    """Set `owner.name` to `value`; returns what undoes it (the attribute the owner had
    itself comes back, or the inherited one shows through again)."""
    own = vars(owner)
    had, original = name in own, own.get(name)
    setattr(owner, name, value)

    def undo() -> None:
        if had:
            setattr(owner, name, original)
        else:
            delattr(owner, name)

    return undo
