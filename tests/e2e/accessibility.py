"""axe-core in the browser tests: the pages' accessibility, checked where they are in use.

axe-core comes from npm, pinned by package-lock.json and installed by `make test` (never
at run time). A missing copy fails the check with the command that installs it: a skip
would hide the check behind a green run.
"""

from __future__ import annotations

from typing import Any, Final

from playwright.sync_api import Page

from frolic_tools.local.paths import REPO_ROOT

AXE_SCRIPT: Final = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: The impacts the pages must never have (axe-core's two highest).
BLOCKING: Final = frozenset({"serious", "critical"})


class AxeMissingError(RuntimeError):
    """axe-core is not installed beside the repository."""


def blocking_violations(page: Page) -> list[str]:
    """One line per serious or critical violation on the page as it stands now: the
    rule, its impact, and the elements it names."""
    if not AXE_SCRIPT.is_file():
        raise AxeMissingError(f"{AXE_SCRIPT} is missing: run `make test`, or `npm ci`")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + ", ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in found
        if v.get("impact") in BLOCKING
    ]
