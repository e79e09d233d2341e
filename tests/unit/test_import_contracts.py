"""The import contracts in pyproject.toml hold for the tree, and they bite.

Each case copies both packages, plants one forbidden import and runs `lint-imports`
on the copy: a contract that kept the planted import would keep anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
RUNTIME = ROOT / "layers" / "common" / "python" / "frolic"
TOOLING = ROOT / "tools" / "frolic_tools"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run the contracts on the packages under `tree` (runtime/frolic, tools/frolic_tools)."""
    path = os.pathsep.join([str(tree / "runtime"), str(tree / "tools")])
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def copy_of_the_tree(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(RUNTIME, tmp_path / "runtime" / "frolic", ignore=ignore)
    shutil.copytree(TOOLING, tmp_path / "tools" / "frolic_tools", ignore=ignore)
    return tmp_path


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    result = lint_imports(copy_of_the_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("models.py", "import frolic_tools.chart", "The runtime never imports the tooling"),
        ("pacing/policy.py", "import moto", "The runtime never imports the tooling"),
        ("ingest.py", "import botocore.exceptions", "Only the DAL talks to AWS"),
        ("allocation/allocator.py", "import boto3", "Only the DAL talks to AWS"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, planted: str, contract: str
) -> None:
    # Given a copy of the tree where one runtime module plants a forbidden import
    tree = copy_of_the_tree(tmp_path)
    target = tree / "runtime" / "frolic" / module
    target.write_text(f"{target.read_text()}\n{planted}  # planted by the test\n")
    # When the contracts run on it
    result = lint_imports(tree)
    # Then the run fails and names the contract
    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout


def test_every_runtime_module_outside_the_dal_is_held_to_the_dal_contract() -> None:
    # A module added beside the others is covered only if the contract lists it
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (dal_contract,) = (c for c in config["contracts"] if c["name"] == "Only the DAL talks to AWS")
    top_level = {
        f"frolic.{path.stem if path.is_file() else path.name}"
        for path in RUNTIME.iterdir()
        if (path.suffix == ".py" and path.name != "__init__.py")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert set(dal_contract["source_modules"]) == top_level - {"frolic.dal"}
