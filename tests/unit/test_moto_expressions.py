"""frolic_tools.local.moto_expressions: moto answers a run of updates, conditional puts
and refusals exactly as it does unpatched, while parsing each expression once."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.parsing.tokens import ExpressionTokenizer

from frolic_tools.local import moto_patches

TABLE = "state"


def _client() -> Any:
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def _lease(client: Any, counter: str, k: int, most: int) -> Any:
    """The allocator's lease, as it sends it: the same expression, new values each time."""
    return client.update_item(
        TableName=TABLE,
        Key={"pk": {"S": counter}},
        UpdateExpression="ADD issued :k SET #seen = list_append(if_not_exists(#seen, :none), :k1)",
        ConditionExpression="attribute_not_exists(issued) OR issued <= :most",
        ExpressionAttributeNames={"#seen": "seen"},
        ExpressionAttributeValues={
            ":k": {"N": str(k)},
            ":k1": {"L": [{"N": str(k)}]},
            ":none": {"L": []},
            ":most": {"N": str(most - k)},
        },
        ReturnValues="UPDATED_NEW",
    )


def _script(client: Any) -> list[Any]:
    """What the calls answer, refusals included (by their codes and messages)."""
    answers: list[Any] = []

    def record(call: Any) -> None:
        try:
            response = call()
        except ClientError as error:
            answers.append((error.response["Error"]["Code"], error.response["Error"]["Message"]))
        except ValueError as error:  # moto fails on some malformed conditions
            answers.append((type(error).__name__, str(error)))
        else:
            response.pop("ResponseMetadata", None)
            answers.append(response)

    for k in (3, 3, 2, 5, 1):  # 5 finds no room (refused), 1 still does
        record(lambda k=k: _lease(client, "budget#1", k, most=10))
    for _ in range(2):  # the second put finds the item: refused
        record(
            lambda: client.put_item(
                TableName=TABLE,
                Item={"pk": {"S": "play#1"}, "status": {"S": "pending"}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        )
    for _ in range(2):  # a malformed expression is refused every time, never remembered
        record(
            lambda: client.update_item(
                TableName=TABLE,
                Key={"pk": {"S": "play#1"}},
                UpdateExpression="SET status = = :x",
                ExpressionAttributeValues={":x": {"S": "won"}},
            )
        )
        record(
            lambda: client.put_item(
                TableName=TABLE,
                Item={"pk": {"S": "x"}},
                ConditionExpression="pk = = :v",
                ExpressionAttributeValues={":v": {"S": "x"}},
            )
        )
    for name in ("#n", "#unused"):  # names a condition does not use are refused
        record(
            lambda name=name: client.update_item(
                TableName=TABLE,
                Key={"pk": {"S": "play#1"}},
                UpdateExpression="SET #s = :won",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status", name: "other"}
                if name == "#unused"
                else {"#s": "status"},
                ExpressionAttributeValues={":won": {"S": "won"}, ":pending": {"S": "pending"}},
            )
        )
    record(lambda: client.scan(TableName=TABLE))
    return answers


@pytest.mark.usefixtures("moto_unpatched")
def test_moto_answers_as_it_does_unpatched_parsing_each_expression_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parses: list[str] = []
    tokenized: list[str] = []
    original_parse = ConditionExpressionParser.parse
    original_tokens = ExpressionTokenizer.make_list

    def counted_parse(self: ConditionExpressionParser) -> Any:
        parses.append(str(self.condition_expression))
        return original_parse(self)

    def counted_tokens(expression: str) -> Any:
        tokenized.append(expression)
        return original_tokens(expression)

    monkeypatch.setattr(ConditionExpressionParser, "parse", counted_parse)
    monkeypatch.setattr(ExpressionTokenizer, "make_list", staticmethod(counted_tokens))
    with mock_aws():
        unpatched = _script(_client())
    unpatched_parses, unpatched_tokenized = len(parses), len(tokenized)
    parses.clear()
    tokenized.clear()

    assert moto_patches.install()
    with mock_aws():
        patched = _script(_client())

    assert patched == unpatched
    codes = [answer[0] for answer in unpatched if isinstance(answer, tuple)]
    assert codes.count("ConditionalCheckFailedException") == 2
    assert codes.count("ValidationException") == 3
    assert codes.count("ValueError") == 2
    # Each lease's values differ, so its condition is parsed once a lease (not twice);
    # its update expression is parsed once in all; the bad ones every time.
    assert len(parses) < unpatched_parses
    assert tokenized.count("SET status = = :x") == 2
    assert unpatched_tokenized > len(tokenized)
