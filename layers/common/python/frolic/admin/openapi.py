"""Print the admin API's OpenAPI document: `python -m frolic.admin.openapi > docs/openapi.json`.

The document comes from the same `build_app` the Lambda serves, so the committed copy
can be checked against the code (tests/integration/test_admin_api.py does). Building
the app needs adapters, not AWS: boto3 makes a client without credentials or network,
and nothing here calls it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import boto3

from frolic.admin.app import build_app, openapi_document
from frolic.dal.catalog import Catalog
from frolic.dal.pools import CouponPools
from frolic.dal.redemptions import Redemptions
from frolic.dal.reports import GameReports
from frolic.settings import Settings

#: Any region will do: the client only exists to satisfy the adapters' constructors.
OFFLINE_REGION = "us-east-1"


def generate() -> dict[str, Any]:
    settings = Settings()
    client = boto3.client("dynamodb", region_name=OFFLINE_REGION)
    app = build_app(
        Catalog(client, settings),
        CouponPools(client, settings),
        GameReports(client, settings),
        Redemptions(client, settings),
    )
    return openapi_document(app)


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    sys.stdout.write(render(generate()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
