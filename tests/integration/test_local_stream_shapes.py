"""The batches the local mappings hand allocate, deliver and expiry, read from moto's
Kinesis stream and DynamoDB stream, have the shapes Lambda's event source mappings
send: each batch parses with Powertools' model, and what it reads back is what was
written."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import (
    DynamoDBStreamModel,
    KinesisDataStreamModel,
)
from botocore.config import Config
from moto import mock_aws

from frolic.dal.tables import RESULTS_KEY
from frolic_tools.local import mappings
from frolic_tools.local.mappings import ALLOCATE, DELIVER, MappingConfig, ShardCoordinates
from frolic_tools.schema import LOCAL_STREAM, create_tables, local_settings

REGION = "us-east-1"


@pytest.fixture
def aws(aws_env: None) -> Iterator[None]:
    with mock_aws():
        yield


def batches_of(config: MappingConfig, source: mappings.ShardSource) -> list[dict[str, Any]]:
    """Every batch the mapping's runner hands its function for what the shard holds."""
    handed: list[dict[str, Any]] = []
    runner = mappings.BatchRunner(
        config,
        source.coordinates,
        invoke=handed.append,
        failures=mappings.FailureList(),
        stats=mappings.MappingStats(),
    )
    assert runner.run(source.fetch(config.batch_size))
    return handed


def test_kinesis_batches_are_what_lambda_hands_allocate(aws: None) -> None:
    kinesis = boto3.client("kinesis", region_name=REGION)
    kinesis.create_stream(StreamName=LOCAL_STREAM, ShardCount=1)
    description = kinesis.describe_stream(StreamName=LOCAL_STREAM)["StreamDescription"]
    shard_id = description["Shards"][0]["ShardId"]
    sent = [(f"user-{n}", json.dumps({"playId": f"p-{n}"}).encode()) for n in range(3)]
    sent.append(("user-x", b"\x00\xffnot json"))  # a poison record travels as it is
    before = time.time()
    sequences = [
        kinesis.put_record(StreamName=LOCAL_STREAM, Data=data, PartitionKey=key)["SequenceNumber"]
        for key, data in sent
    ]
    source = mappings.KinesisShard(
        kinesis,
        stream_name=LOCAL_STREAM,
        coordinates=ShardCoordinates("kinesis", description["StreamARN"], shard_id),
    )

    [batch] = batches_of(ALLOCATE, source)
    records = KinesisDataStreamModel.model_validate(batch).Records
    assert [(r.kinesis.partitionKey, r.kinesis.data) for r in records] == sent
    assert [r.kinesis.sequenceNumber for r in records] == sequences
    for record in records:
        assert record.eventSourceARN == description["StreamARN"]
        assert record.eventID == f"{shard_id}:{record.kinesis.sequenceNumber}"
        assert record.awsRegion == REGION
        assert before - 1 <= record.kinesis.approximateArrivalTimestamp <= time.time() + 1


def test_results_stream_batches_are_what_lambda_hands_deliver_and_expiry(aws: None) -> None:
    settings = local_settings()
    db = boto3.client("dynamodb", region_name=REGION)
    create_tables(db, settings)
    table = settings.results_table
    proof = b"\x00\x01\xfe"
    won: dict[str, Any] = {
        RESULTS_KEY: {"S": "p-1"},
        "status": {"S": "won"},
        "arrivalTs": {"N": "1900000000.25"},
        "proof": {"B": proof},
        "brands": {"SS": ["brand-a", "brand-b"]},
    }
    db.put_item(TableName=table, Item={**won, "status": {"S": "pending"}})
    db.put_item(TableName=table, Item=won)
    db.delete_item(TableName=table, Key={RESULTS_KEY: {"S": "p-1"}})
    streams = boto3.client(
        "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
    )
    stream_arn = db.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard_id = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0][
        "ShardId"
    ]
    source = mappings.DynamoStreamShard(
        streams, coordinates=ShardCoordinates("dynamodb", stream_arn, shard_id)
    )

    [batch] = batches_of(DELIVER, source)
    records = DynamoDBStreamModel.model_validate(batch).Records
    assert [r.eventName for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    inserted, modified, removed = (r.dynamodb for r in records)
    assert inserted.OldImage is None and removed.NewImage is None
    assert modified.OldImage == inserted.NewImage
    assert modified.NewImage == removed.OldImage
    image = modified.NewImage
    assert isinstance(image, dict)
    assert image["status"] == "won"
    assert str(image["arrivalTs"]) == "1900000000.25"
    assert image["proof"] == base64.b64encode(proof).decode()  # binary as Lambda's JSON has it
    assert image["brands"] == {"brand-a", "brand-b"}
    assert all(r.dynamodb.Keys == {RESULTS_KEY: "p-1"} for r in records)
    assert all(r.eventSourceARN == stream_arn and r.awsRegion == REGION for r in records)
    sequences = [int(r.dynamodb.SequenceNumber) for r in records]
    assert sequences == sorted(set(sequences))
    # the filters the mappings deploy read these records as Lambda's filters would
    assert [mappings.matches(DELIVER.filter_pattern or {}, r) for r in batch["Records"]] == [
        False,
        True,
        False,
    ]
