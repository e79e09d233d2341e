"""Table definitions for moto and the local stack, from the same key constants as CDK,
and the names the local stack, tests and benches give their tables, stream, exports
bucket and export function (the runtime has no default names: a deployed function is
told its own)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final

from frolic.dal.tables import (
    RESULTS_KEY,
    SESSIONS_KEY,
    STATE_PARTITION_KEY,
    STATE_SORT_KEY,
    SWEEP_INDEX,
    SWEEP_PARTITION,
    SWEEP_SORT,
    TTL_ATTRIBUTE,
    WALLET_INDEX,
    WALLET_PARTITION,
    WALLET_PROJECTION,
    WALLET_SORT,
)
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient


#: The local stack's resource names, as environment variables.
LOCAL_RESOURCES: Final = {
    "RESULTS_TABLE": "frolic-results",
    "STATE_TABLE": "frolic-state",
    "SESSIONS_TABLE": "frolic-sessions",
    "PLAY_STREAM": "frolic-plays",
    "EXPORT_BUCKET": "frolic-exports",
    "EXPORT_FUNCTION": "export",
    "EVENT_BUS": "frolic-events",
}
LOCAL_STREAM: Final = LOCAL_RESOURCES["PLAY_STREAM"]


def local_settings(**overrides: str) -> Settings:
    """Settings naming the local resources; `overrides` by environment name."""
    return Settings.model_validate({**LOCAL_RESOURCES, **overrides})


def table_definitions(settings: Settings) -> list[dict[str, Any]]:
    def string_keys(*names: str) -> list[dict[str, str]]:
        return [{"AttributeName": name, "AttributeType": "S"} for name in names]

    return [
        {
            "TableName": settings.results_table,
            "KeySchema": [{"AttributeName": RESULTS_KEY, "KeyType": "HASH"}],
            "AttributeDefinitions": [
                *string_keys(RESULTS_KEY, SWEEP_PARTITION, WALLET_PARTITION),
                {"AttributeName": SWEEP_SORT, "AttributeType": "N"},
                {"AttributeName": WALLET_SORT, "AttributeType": "N"},
            ],
            # Sparse, keys only: the sweeper reads the item itself before acting.
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": SWEEP_INDEX,
                    "KeySchema": [
                        {"AttributeName": SWEEP_PARTITION, "KeyType": "HASH"},
                        {"AttributeName": SWEEP_SORT, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                },
                # Sparse: won results by their winner, with what a wallet shows.
                {
                    "IndexName": WALLET_INDEX,
                    "KeySchema": [
                        {"AttributeName": WALLET_PARTITION, "KeyType": "HASH"},
                        {"AttributeName": WALLET_SORT, "KeyType": "RANGE"},
                    ],
                    "Projection": {
                        "ProjectionType": "INCLUDE",
                        "NonKeyAttributes": list(WALLET_PROJECTION),
                    },
                },
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        },
        {
            "TableName": settings.state_table,
            "KeySchema": [
                {"AttributeName": STATE_PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": STATE_SORT_KEY, "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": string_keys(STATE_PARTITION_KEY, STATE_SORT_KEY),
            "BillingMode": "PAY_PER_REQUEST",
        },
        {
            "TableName": settings.sessions_table,
            "KeySchema": [{"AttributeName": SESSIONS_KEY, "KeyType": "HASH"}],
            "AttributeDefinitions": string_keys(SESSIONS_KEY),
            "BillingMode": "PAY_PER_REQUEST",
        },
    ]


def create_event_bus(client: EventBridgeClient, settings: Settings) -> None:
    """The bus events go out on (a stack of its own's, in AWS: infra/constructs)."""
    assert settings.event_bus is not None
    # An earlier call on this account (moto's, in tests) may have made it.
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_event_bus(Name=settings.event_bus)


def create_tables(client: DynamoDBClient, settings: Settings) -> None:
    for definition in table_definitions(settings):
        client.create_table(**definition)
        client.get_waiter("table_exists").wait(TableName=definition["TableName"])
        client.update_time_to_live(
            TableName=definition["TableName"],
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
