"""The stack's moto rolls a cancelled transaction back in place (frolic_tools.local.
moto_patches): the items it named are as they were, its writes never reach the stream,
and stream iterators taken before it still see what is written after it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from frolic_tools.local import LocalStack


@pytest.fixture(scope="module")
def scratch(stack: LocalStack) -> tuple[Any, Any, str, str]:
    """A table of its own, with a stream, so no mapping reads what these tests write."""
    session = stack.boto3_session()
    db = session.client("dynamodb", endpoint_url=stack.moto_url)
    streams = session.client("dynamodbstreams", endpoint_url=stack.moto_url)
    name = f"scratch-{uuid.uuid4().hex[:8]}"
    db.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    arn = db.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return db, streams, name, f"{arn}|{shard}"


def item(key: str, status: str) -> dict[str, Any]:
    return {"id": {"S": key}, "status": {"S": status}}


def test_a_cancelled_transaction_leaves_items_and_stream_as_they_were(
    scratch: tuple[Any, Any, str, str],
) -> None:
    db, streams, table, where = scratch
    arn, shard = where.split("|")
    db.put_item(TableName=table, Item=item("a", "pending"))
    db.put_item(TableName=table, Item=item("taken", "won"))
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    before = streams.get_records(ShardIterator=iterator)
    assert len(before["Records"]) == 2

    with pytest.raises(ClientError) as cancelled:
        db.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"id": {"S": "a"}},
                        "UpdateExpression": "SET #s = :won",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":won": {"S": "won"}},
                    }
                },
                {"Put": {"TableName": table, "Item": item("b", "won")}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": item("taken", "won"),
                        "ConditionExpression": "attribute_not_exists(id)",
                    }
                },
            ]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert db.get_item(TableName=table, Key={"id": {"S": "a"}})["Item"] == item("a", "pending")
    assert "Item" not in db.get_item(TableName=table, Key={"id": {"S": "b"}})

    db.put_item(TableName=table, Item=item("c", "lost"))
    after = streams.get_records(ShardIterator=before["NextShardIterator"])
    assert [(r["eventName"], r["dynamodb"]["Keys"]["id"]["S"]) for r in after["Records"]] == [
        ("INSERT", "c")
    ]


def test_a_committed_transaction_still_writes_everything(
    scratch: tuple[Any, Any, str, str],
) -> None:
    db, _, table, _ = scratch
    db.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": item("d", "won")}},
            {"Delete": {"TableName": table, "Key": {"id": {"S": "c"}}}},
        ]
    )
    assert db.get_item(TableName=table, Key={"id": {"S": "d"}})["Item"] == item("d", "won")
    assert "Item" not in db.get_item(TableName=table, Key={"id": {"S": "c"}})
