"""Keeps the README's benchmark sections equal to the last `make bench` run."""

from __future__ import annotations

from pathlib import Path


def refresh_section(readme: Path, name: str, body: str) -> None:
    """Replace what stands between `<!-- bench:NAME:start -->` and its end marker."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    text = readme.read_text()
    head, found, rest = text.partition(start)
    _, found_end, tail = rest.partition(end)
    if not (found and found_end):
        raise SystemExit(f"bench: {readme} lacks the {start} ... {end} markers")
    readme.write_text(f"{head}{start}\n{body}\n{end}{tail}")
