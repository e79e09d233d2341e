"""AWS list prices used for cost estimates: one place, with where they come from.

us-east-1 on-demand list prices. DynamoDB's on-demand price has applied since
2024-11-01; the rest are the standard published prices. Check AWS's pricing pages
before quoting a bill.
"""

from __future__ import annotations

from typing import Final

REGION: Final = "us-east-1"
DYNAMODB_WRITE_UNIT: Final = 0.625 / 1e6
DYNAMODB_READ_UNIT: Final = 0.125 / 1e6
KINESIS_SHARD_HOUR: Final = 0.015
KINESIS_PUT_PAYLOAD_UNIT: Final = 0.014 / 1e6  # per 25 KB of a record
LAMBDA_REQUEST: Final = 0.20 / 1e6
LAMBDA_ARM_GB_SECOND: Final = 0.0000133334
REST_API_REQUEST: Final = 3.50 / 1e6
WEBSOCKET_MESSAGE: Final = 1.00 / 1e6
WAF_REQUEST: Final = 0.60 / 1e6
