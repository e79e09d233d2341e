"""Build the dependencies layer for Lambda (arm64, CPython 3.12) with pip alone.

No Docker: pip downloads the manylinux aarch64 wheels for the Lambda Python version
whatever machine runs it, so `make layers` works on a laptop, in CI and offline from a
warm pip cache. The requirements come from pyproject.toml (one list to keep), at the
versions requirements.lock pins (the lock `make install` installs from, so the layer
ships what the tests ran); the packages the Lambda runtime already ships (boto3 and
its dependencies) are removed so that the layer never shadows them.

Usage: python infra/build_layer.py [--out build/layers/deps]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
#: The asset folder the stack uses: Lambda adds `python/` inside a layer to sys.path.
DEPS_LAYER_DIR: Final = ROOT / "build" / "layers" / "deps"
#: Must match the functions' runtime (infra/constructs/functions.py): wheels with
#: compiled code (pydantic-core) are built for one CPython version.
PYTHON_VERSION: Final = "3.12"
PLATFORM: Final = "manylinux2014_aarch64"
#: Provided by the Lambda Python runtime; a second copy in a layer would take precedence.
RUNTIME_PROVIDED: Final = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
)
#: The top-level modules those distributions install.
RUNTIME_MODULES: Final = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six"}
)
#: Every version, resolved once for every platform (`make lock`).
LOCK: Final = ROOT / "requirements.lock"


def _name(requirement: str) -> str:
    """The normalized distribution name of a PEP 508 requirement string."""
    match = re.match(r"\s*([A-Za-z0-9_][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"cannot read a package name from {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The runtime dependencies the functions import, minus what the runtime ships."""
    declared: list[str] = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return [r for r in declared if _name(r) not in RUNTIME_PROVIDED]


def _prune(site: Path) -> None:
    """Drop runtime-provided packages pulled in as dependencies, console scripts (no
    use in a layer) and bytecode caches."""
    shutil.rmtree(site / "bin", ignore_errors=True)
    for entry in site.iterdir():
        if entry.name.endswith(".dist-info"):
            provided = _name(entry.name.split("-")[0]) in RUNTIME_PROVIDED
        else:
            provided = (entry.stem if entry.is_file() else entry.name) in RUNTIME_MODULES
        if provided:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def pip_command(site: Path, lock: Path = LOCK) -> list[str]:
    """pip, asked for the runtime requirements for Lambda's platform, held to the lock."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--platform",
        PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "--constraint",
        str(lock),
        "--target",
        str(site),
        *requirements(),
    ]


def build(out: Path = DEPS_LAYER_DIR) -> Path:
    site = out / "python"
    shutil.rmtree(out, ignore_errors=True)
    site.mkdir(parents=True)
    subprocess.run(pip_command(site), check=True)
    _prune(site)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEPS_LAYER_DIR)
    args = parser.parse_args(argv)
    out = build(args.out)
    print(f"dependencies layer for python{PYTHON_VERSION} arm64 in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
