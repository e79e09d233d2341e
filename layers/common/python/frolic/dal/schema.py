"""Table definitions for moto and the local stack, from the same key constants as CDK."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from frolic.dal.tables import (
    PENDING_INDEX,
    PENDING_SHARD,
    PENDING_SORT,
    RESULTS_KEY,
    SESSIONS_KEY,
    STATE_PARTITION_KEY,
    STATE_SORT_KEY,
    TTL_ATTRIBUTE,
    UNISSUED_INDEX,
    UNISSUED_SHARD,
    UNISSUED_SORT,
)
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


#: The results table's sparse indexes: (name, partition key, sort key), all numbers,
#: keys only (the sweeper reads the item itself, consistently, before acting).
RESULTS_INDEXES: Final = (
    (PENDING_INDEX, PENDING_SHARD, PENDING_SORT),
    (UNISSUED_INDEX, UNISSUED_SHARD, UNISSUED_SORT),
)


def table_definitions(settings: Settings) -> list[dict[str, Any]]:
    def string_keys(*names: str) -> list[dict[str, str]]:
        return [{"AttributeName": name, "AttributeType": "S"} for name in names]

    def number_keys(*names: str) -> list[dict[str, str]]:
        return [{"AttributeName": name, "AttributeType": "N"} for name in names]

    return [
        {
            "TableName": settings.results_table,
            "KeySchema": [{"AttributeName": RESULTS_KEY, "KeyType": "HASH"}],
            "AttributeDefinitions": string_keys(RESULTS_KEY)
            + number_keys(*(key for _, *keys in RESULTS_INDEXES for key in keys)),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": name,
                    "KeySchema": [
                        {"AttributeName": partition, "KeyType": "HASH"},
                        {"AttributeName": sort, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
                for name, partition, sort in RESULTS_INDEXES
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


def create_tables(client: DynamoDBClient, settings: Settings) -> None:
    for definition in table_definitions(settings):
        client.create_table(**definition)
        client.get_waiter("table_exists").wait(TableName=definition["TableName"])
        client.update_time_to_live(
            TableName=definition["TableName"],
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
