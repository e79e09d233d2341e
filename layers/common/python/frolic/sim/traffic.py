"""Arrival traces: one non-negative integer a line, the plays arriving in that second."""

from __future__ import annotations

from pathlib import Path


class TraceError(ValueError):
    """A trace file that cannot be used, with a message fit for one line."""


MAX_TRACE_SECONDS = 7 * 24 * 3600
MAX_PLAYS_PER_SECOND = 10_000_000


def parse_trace(text: str, source: str = "trace") -> list[int]:
    counts: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            raise TraceError(f"{source} line {number}: empty line (write 0 for a quiet second)")
        if not line.isdigit():
            raise TraceError(f"{source} line {number}: {line[:20]!r} is not a non-negative integer")
        value = int(line)
        if value > MAX_PLAYS_PER_SECOND:
            raise TraceError(f"{source} line {number}: {value} plays in a second is over the limit")
        counts.append(value)
        if len(counts) > MAX_TRACE_SECONDS:
            raise TraceError(f"{source}: longer than {MAX_TRACE_SECONDS} seconds")
    if not counts:
        raise TraceError(f"{source}: no lines; a trace needs one line per second of the window")
    return counts


def read_trace(path: Path) -> list[int]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TraceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TraceError(f"{path}: is a directory, not a trace file") from None
    except UnicodeDecodeError:
        raise TraceError(f"{path}: not a text file") from None
    except OSError as error:
        raise TraceError(f"{path}: {error.strerror or error}") from None
    return parse_trace(text, source=str(path))
