"""The REST API fuzzed from its own OpenAPI document (schemathesis) on the local stack.

Every generated request, valid or hostile, must get a documented status code and never
a 5xx. A bounded run happens in `make test`; `make fuzz` runs many more examples
(FROLIC_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from frolic_tools.local.client import LocalClient
from frolic_tools.local.demo import DemoGame
from frolic_tools.local.stack import LocalStack

SPEC = Path(__file__).parents[2] / "docs" / "openapi.json"
EXAMPLES = int(os.environ.get("FROLIC_FUZZ_EXAMPLES", "15"))

schema = schemathesis.openapi.from_path(str(SPEC))


@pytest.fixture(scope="module")
def tokens(anonymous: LocalClient, game: DemoGame) -> dict[str, str]:
    return {
        "admin": anonymous.issue_token("fuzzing-marketer", admin=True),
        "player": anonymous.issue_token("fuzzing-player"),
    }


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error_or_an_undocumented_status(
    case: Any, stack: LocalStack, tokens: dict[str, str]
) -> None:
    who = "admin" if case.path.startswith("/admin") else "player"
    case.call_and_validate(
        base_url=stack.base_url,
        headers={"Authorization": f"Bearer {tokens[who]}"},
        checks=[not_a_server_error, status_code_conformance],
        timeout=30,
    )
