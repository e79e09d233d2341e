"""Where the local stack finds what it serves and runs, in a checkout of the repository.

The package is installed in editable mode (`make install`), so these resolve to the
working tree: the Lambda entry points are run from `functions/` exactly as deployed,
and the pages from `web/`. LocalStack takes other roots for tests and odd layouts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

#: tools/frolic_tools/local/paths.py → the repository root.
REPO_ROOT: Final = Path(__file__).resolve().parents[3]
FUNCTIONS_ROOT: Final = REPO_ROOT / "functions"
WEB_ROOT: Final = REPO_ROOT / "web"
