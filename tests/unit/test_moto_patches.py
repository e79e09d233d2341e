"""frolic_tools.local.moto_patches' Query patch answers exactly what moto answers: the same
items in the same order, page by page, for every kind of key condition, on tables with
and without a range key, and on global secondary indexes, sparse ones included. None of
them has moto sort the whole table."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.table import Table

from frolic_tools.local import moto_patches

REGION = "us-east-1"


@pytest.fixture
def db() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client(
            "dynamodb",
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        _fill(client)
        yield client
    moto_patches.uninstall()


def _fill(client: Any) -> None:
    client.create_table(
        TableName="ranged",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "kind", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-kind",
                "KeySchema": [
                    {"AttributeName": "kind", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.create_table(
        TableName="numbered",
        KeySchema=[
            {"AttributeName": "n", "KeyType": "HASH"},
            {"AttributeName": "r", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "n", "AttributeType": "N"},
            {"AttributeName": "r", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.create_table(
        TableName="flat",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    rng = random.Random(7)
    for index in range(400):
        partition = f"game#{rng.randrange(6)}"
        prefix = rng.choice(["budget#", "coupon#", "code#", "pace#"])
        client.put_item(
            TableName="ranged",
            Item={
                "pk": {"S": partition},
                "sk": {"S": f"{prefix}{rng.randrange(10_000):05d}"},
                "kind": {"S": prefix.rstrip("#")},
                "size": {"N": str(rng.randrange(100))},
                "blob": {"S": "x" * rng.randrange(2_000)},
                "index": {"N": str(index)},
            },
        )
    for index in range(60):
        client.put_item(
            TableName="numbered",
            Item={"n": {"N": str(index % 4)}, "r": {"N": str(rng.uniform(-5, 5))}},
        )
    for index in range(30):
        client.put_item(TableName="flat", Item={"id": {"S": f"id-{index}"}, "v": {"N": "1"}})
    # Like the results table: a sparse numeric index, most items without its keys.
    client.create_table(
        TableName="sparse",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "shard", "AttributeType": "N"},
            {"AttributeName": "at", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-shard",
                "KeySchema": [
                    {"AttributeName": "shard", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for index in range(200):
        item = {"id": {"S": f"play-{index}"}, "at": {"N": str(rng.uniform(0, 100))}}
        if index % 3 == 0:
            item["shard"] = {"N": str(index % 4)}
        client.put_item(TableName="sparse", Item=item)


def _all_pages(client: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    arguments = dict(request)
    while True:
        response = client.query(**arguments)
        response.pop("ResponseMetadata", None)
        pages.append(response)
        if "LastEvaluatedKey" not in response:
            return pages
        arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _values(values: dict[str, Any]) -> dict[str, Any]:
    return {":" + name: value for name, value in values.items()}


QUERIES: list[dict[str, Any]] = [
    {
        "TableName": "ranged",
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": _values({"pk": {"S": "game#1"}}),
    },
    {
        "TableName": "ranged",
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": _values({"pk": {"S": "game#2"}, "prefix": {"S": "budget#"}}),
        "ConsistentRead": True,
    },
    {
        "TableName": "ranged",
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
        "ExpressionAttributeValues": _values(
            {"pk": {"S": "game#3"}, "low": {"S": "code#02000"}, "high": {"S": "coupon#06000"}}
        ),
        "ScanIndexForward": False,
        "Limit": 7,
    },
    {
        "TableName": "ranged",
        "KeyConditionExpression": "pk = :pk AND sk > :after",
        "FilterExpression": "#size < :size",
        "ProjectionExpression": "pk, sk, #size",
        "ExpressionAttributeNames": {"#size": "size"},
        "ExpressionAttributeValues": _values(
            {"pk": {"S": "game#0"}, "after": {"S": "coupon#"}, "size": {"N": "50"}}
        ),
        "Limit": 5,
    },
    {
        "TableName": "ranged",
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": _values({"pk": {"S": "game#4"}}),
        "Select": "COUNT",
    },
    {
        # Pages that end on the 1 MB limit rather than on Limit.
        "TableName": "ranged",
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": _values({"pk": {"S": "game#5"}}),
    },
    {
        "TableName": "ranged",
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": _values({"pk": {"S": "no such game"}}),
    },
    {
        "TableName": "ranged",
        "IndexName": "by-kind",
        "KeyConditionExpression": "kind = :kind AND sk < :before",
        "ExpressionAttributeValues": _values(
            {"kind": {"S": "coupon"}, "before": {"S": "coupon#05"}}
        ),
        "Limit": 9,
    },
    {
        # 2 and 2.0 are one number: the same partition either way.
        "TableName": "numbered",
        "KeyConditionExpression": "n = :n AND r >= :r",
        "ExpressionAttributeValues": _values({"n": {"N": "2.0"}, "r": {"N": "-1.5"}}),
        "Limit": 4,
    },
    {
        "TableName": "sparse",
        "IndexName": "by-shard",
        "KeyConditionExpression": "shard = :shard AND #at < :before",
        "ExpressionAttributeNames": {"#at": "at"},
        "ExpressionAttributeValues": _values({"shard": {"N": "1"}, "before": {"N": "60"}}),
        "ProjectionExpression": "id",
        "Limit": 6,
    },
    {
        "TableName": "sparse",
        "IndexName": "by-shard",
        "KeyConditionExpression": "shard = :shard",
        "ExpressionAttributeValues": _values({"shard": {"N": "7"}}),
    },
    {
        "TableName": "flat",
        "KeyConditionExpression": "id = :id",
        "ExpressionAttributeValues": _values({"id": {"S": "id-12"}}),
    },
    {
        "TableName": "flat",
        "KeyConditionExpression": "id = :id",
        "ExpressionAttributeValues": _values({"id": {"S": "id-missing"}}),
    },
]


def test_a_patched_query_answers_exactly_as_moto_does(db: Any) -> None:
    unpatched = [_all_pages(db, query) for query in QUERIES]
    assert moto_patches.install()
    patched = [_all_pages(db, query) for query in QUERIES]
    assert patched == unpatched
    # The cases are not vacuous: several pages, items found, and none found.
    assert any(len(pages) > 2 for pages in unpatched)
    assert any(pages[0].get("Count", 0) > 0 for pages in unpatched)
    assert any(pages[0].get("Count") == 0 for pages in unpatched)


def test_no_query_sorts_the_whole_table(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = Table.all_items

    def counting(self: Table) -> list[Any]:
        calls.append(self.name)
        return original(self)

    monkeypatch.setattr(Table, "all_items", counting)
    _all_pages(db, QUERIES[7])  # by-kind, unpatched: moto sorts the table
    assert set(calls) == {"ranged"}  # once per page
    calls.clear()
    assert moto_patches.install()
    for query in QUERIES:
        _all_pages(db, query)
    assert calls == []


def test_uninstall_puts_moto_back(db: Any) -> None:
    original = Table.query
    assert moto_patches.install()
    assert Table.query is not original
    moto_patches.uninstall()
    assert Table.query is original
    assert _all_pages(db, QUERIES[0])[0]["Count"] > 0


# -- attribute values -----------------------------------------------------------------------

NESTED: dict[str, Any] = {
    "s": {"S": "text"},
    "empty": {"S": ""},
    "n": {"N": "12.50"},
    "b": {"B": b"\x00\x01raw"},
    "b64": {"B": "AAEC"},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"x", b"y"]},
    "null": {"NULL": True},
    "flag": {"BOOL": False},
    "list": {"L": [{"S": "in list"}, {"M": {"deep": {"N": "1"}}}, {"L": []}]},
    "map": {"M": {"inner": {"SS": ["z"]}, "none": None, "alias": {"s": "lower-case key"}}},
    "nothing": {"S": None},
}

RESULTS: list[tuple[str, str, dict[str, Any]]] = [
    ("dynamodb", "GetItem", {"Item": NESTED}),
    ("dynamodb", "Query", {"Items": [NESTED, {"pk": {"S": "p"}}], "Count": 2, "ScannedCount": 2}),
    (
        "dynamodb",
        "BatchGetItem",
        {"Responses": {"t": [NESTED]}, "UnprocessedKeys": {}},
    ),
    (
        "dynamodbstreams",
        "GetRecords",
        {
            "Records": [
                {
                    "eventID": "1",
                    "eventName": "MODIFY",
                    "dynamodb": {
                        "Keys": {"pk": {"S": "p"}},
                        "NewImage": NESTED,
                        "OldImage": {"pk": {"S": "p"}, "n": {"N": "1"}},
                        "SequenceNumber": "100",
                        "SizeBytes": 10,
                        "StreamViewType": "NEW_AND_OLD_IMAGES",
                    },
                }
            ],
            "NextShardIterator": "next",
        },
    ),
]


def _serialized(service: str, operation: str, result: dict[str, Any]) -> str:
    from moto.core.serialize import XFormedAttributePicker, get_serializer_class
    from moto.core.utils import get_service_model

    model = get_service_model(service)
    serializer = get_serializer_class(service, model.protocol)(
        operation_model=model.operation_model(operation),
        pretty_print=False,
        value_picker=XFormedAttributePicker(response_transformers=None),
    )
    return str(serializer.serialize(result)["body"])


def test_attribute_values_are_serialized_to_the_same_bytes() -> None:
    moto_patches.uninstall()
    unpatched = [_serialized(*case) for case in RESULTS]
    assert moto_patches.install()
    try:
        patched = [_serialized(*case) for case in RESULTS]
    finally:
        moto_patches.uninstall()
    assert patched == unpatched
    assert '"s": "lower-case key"' not in unpatched[0]  # moto drops a key it does not know
    assert '"BS": ["eA==", "eQ=="]' in unpatched[0]


def test_items_read_back_the_same_through_the_patched_serializer(db: Any) -> None:
    item = {k: v for k, v in NESTED.items() if k not in ("nothing", "b64", "map")}
    item["pk"], item["sk"] = {"S": "game#9"}, {"S": "budget#1"}
    item["map"] = {"M": {"inner": {"SS": ["z"]}}}
    db.put_item(TableName="ranged", Item=item)
    key = {"pk": item["pk"], "sk": item["sk"]}
    unpatched = db.get_item(TableName="ranged", Key=key)["Item"]
    assert moto_patches.install()
    patched = db.get_item(TableName="ranged", Key=key)["Item"]
    assert patched == unpatched == item
