"""requirements.lock decides every version: it pins everything pyproject.toml asks for
(the runtime, the dev tools and the build system) within the ranges asked, and this
environment was installed from it (make install). A requirement changed without
`make lock` fails here, by name."""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"


def pins() -> dict[str, Version]:
    """The lock's pins that apply to this interpreter (a universal lock may pin one
    package twice, for different Pythons)."""
    pinned: dict[str, Version] = {}
    for line in LOCK.read_text().splitlines():
        if not line or line.startswith((" ", "#", "-")):
            continue
        requirement, _, marker = line.partition(";")
        name, _, pinned_version = requirement.strip().partition("==")
        if marker.strip() and not Marker(marker.strip()).evaluate():
            continue
        pinned[canonicalize_name(name)] = Version(pinned_version)
    return pinned


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    texts = [
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["dev"],
        *project["build-system"]["requires"],
    ]
    return [Requirement(text) for text in texts]


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_the_lock_pins_what_pyproject_asks_for(requirement: Requirement) -> None:
    pinned = pins().get(canonicalize_name(requirement.name))
    assert pinned is not None, f"{requirement.name} is not in requirements.lock: run make lock"
    assert requirement.specifier.contains(pinned, prereleases=True), (
        f"requirements.lock pins {requirement.name} {pinned}, outside {requirement.specifier}: "
        "run make lock"
    )


def test_this_environment_was_installed_from_the_lock() -> None:
    differing: dict[str, tuple[Version, Version | None]] = {}
    for name, pinned in pins().items():
        try:
            installed = Version(version(name))
        except PackageNotFoundError:
            differing[name] = (pinned, None)
            continue
        if installed != pinned:
            differing[name] = (pinned, installed)
    assert differing == {}, "installed versions differ from requirements.lock (make install)"
