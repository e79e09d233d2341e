"""`frolic local`: the whole system on one machine, with the handlers run unchanged.

moto's server stands in for DynamoDB and Kinesis, a local gateway for API Gateway (REST,
WebSocket and the Management API callback), and pollers for Lambda's event-source
mappings. See ARCHITECTURE §5 and `stack.LocalStack`.
"""

from frolic.local.client import ApiError, LocalClient, Reply
from frolic.local.demo import DemoGame, create_demo_game
from frolic.local.stack import LocalStack, LocalStackError

__all__ = [
    "ApiError",
    "DemoGame",
    "LocalClient",
    "LocalStack",
    "LocalStackError",
    "Reply",
    "create_demo_game",
]
