"""Hooks for the whole run. This file is loaded by the pytest-xdist controller too,
which never imports the test packages' own conftest files."""

from typing import Any

from hypothesis import settings

from tests.integration.crashes import FAULTS, injected_point

# Properties are checked for what they compute, never for how fast: a deadline would
# make a correctness test fail on a busy machine (timing goals live in make bench).
settings.register_profile("frolic", deadline=None)
settings.load_profile("frolic")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The crash-point harness's size and score, in the run's own summary."""
    ran = {
        outcome: [
            r.nodeid
            for r in terminalreporter.stats.get(outcome, [])
            if getattr(r, "when", "call") == "call" and injected_point(r.nodeid)
        ]
        for outcome in ("passed", "failed")
    }
    injections = ran["passed"] + ran["failed"]
    if not injections:
        return
    points = {injected_point(i) for i in injections}
    terminalreporter.write_sep(
        "-",
        f"crash points: {len(points)} AWS calls x {len(FAULTS)} faults = "
        f"{len(injections)} injections; {len(ran['passed'])} passed, "
        f"{len(ran['failed'])} failed",
    )
