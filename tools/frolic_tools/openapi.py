"""Print the REST API's OpenAPI document: `python -m frolic_tools.openapi > docs/openapi.json`.

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
from frolic.admin.exports import ExportDesk
from frolic.dal.catalog import Catalog
from frolic.dal.events import EventBus
from frolic.dal.exports import ExportFiles, ExportJobs, ExportStarter
from frolic.dal.offers import OfferStore
from frolic.dal.pools import CouponPools
from frolic.dal.rates import RateLimiter
from frolic.dal.redemptions import Redemptions
from frolic.dal.reports import GameReports
from frolic.dal.sessions import Sessions
from frolic.ingest import PlayIntake
from frolic.player_api import build_player_app
from frolic_tools.schema import local_settings
from frolic_tools.sim.memory import InMemoryGames

#: Any region will do: the client only exists to satisfy the adapters' constructors.
OFFLINE_REGION = "us-east-1"


def admin_document() -> dict[str, Any]:
    """The admin API's own contract, as its Lambda serves it at GET /openapi.json."""
    settings = local_settings()
    client = boto3.client("dynamodb", region_name=OFFLINE_REGION)
    return openapi_document(
        build_app(
            Catalog(client, settings),
            pools=CouponPools(client, settings),
            reports=GameReports(client, settings),
            redemptions=Redemptions(client, settings),
            limiter=RateLimiter(client, settings),
            events=EventBus(boto3.client("events", region_name=OFFLINE_REGION), settings),
            offers=OfferStore(client, settings),
            exports=ExportDesk(
                ExportJobs(client, settings),
                ExportStarter(boto3.client("lambda", region_name=OFFLINE_REGION), settings),
                ExportFiles(boto3.client("s3", region_name=OFFLINE_REGION), settings),
            ),
        )
    )


def generate() -> dict[str, Any]:
    """The whole REST contract: the admin API with the players' routes merged in."""
    settings = local_settings()
    client = boto3.client("dynamodb", region_name=OFFLINE_REGION)
    admin = admin_document()
    intake = PlayIntake(
        db=client,
        kinesis=boto3.client("kinesis", region_name=OFFLINE_REGION),
        settings=settings,
        games=InMemoryGames(),
    )
    players = openapi_document(
        build_player_app(
            intake=intake, db=client, settings=settings, sessions=Sessions(client, settings)
        )
    )
    admin["paths"] = {**players["paths"], **admin["paths"]}
    schemas = admin.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in players.get("components", {}).get("schemas", {}).items():
        if schemas.setdefault(name, schema) != schema:
            raise ValueError(f"two different schemas are both named {name}")
    admin["info"]["title"] = "Frolic API"
    return admin


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    sys.stdout.write(render(generate()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
