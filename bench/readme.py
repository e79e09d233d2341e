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


def publish(
    text: str, *, title: str | None, out: Path | None, readme: Path | None, section: str
) -> None:
    """Print a bench's report, write it to its page under docs/ (headed by `title`)
    and into the README's section, so the three never disagree."""
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        heading = f"# {title}\n\n" if title else ""
        out.write_text(f"{heading}{text}\n")
    if readme is not None:
        refresh_section(readme, section, text)
