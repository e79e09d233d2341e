"""`frolic local`: the whole system on one machine, with the handlers run unchanged.

moto's server stands in for DynamoDB and Kinesis, a local gateway for API Gateway (REST,
WebSocket and the Management API callback), and pollers for Lambda's event-source
mappings. See docs/architecture.md § Local stack and `stack.LocalStack`.

The names below are imported on first use, so that moto's server process, which runs
`frolic_tools.local.moto_server`, does not load the stack, boto3 and the handlers' libraries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from frolic_tools.local.client import ApiError, LocalClient, Reply
    from frolic_tools.local.demo import DemoGame, create_demo_game
    from frolic_tools.local.stack import LocalStack, LocalStackError

_WHERE = {
    "ApiError": "frolic_tools.local.client",
    "LocalClient": "frolic_tools.local.client",
    "Reply": "frolic_tools.local.client",
    "DemoGame": "frolic_tools.local.demo",
    "create_demo_game": "frolic_tools.local.demo",
    "LocalStack": "frolic_tools.local.stack",
    "LocalStackError": "frolic_tools.local.stack",
}

__all__ = [
    "ApiError",
    "DemoGame",
    "LocalClient",
    "LocalStack",
    "LocalStackError",
    "Reply",
    "create_demo_game",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
