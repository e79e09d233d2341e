"""The request rules the integration tests hold every DynamoDB call to."""

import pytest

from tests.integration.dynamo_rules import DynamoRuleError, check


def _update(key: str, **extra: object) -> dict[str, object]:
    return {
        "Update": {
            "TableName": "state",
            "Key": {"pk": {"S": key}, "sk": {"S": "B"}},
            "UpdateExpression": "SET #n = :v",
            "ExpressionAttributeNames": {"#n": "issued"},
            "ExpressionAttributeValues": {":v": {"N": "1"}},
            **extra,
        }
    }


def test_a_transaction_real_dynamodb_accepts_passes() -> None:
    check("TransactWriteItems", {"TransactItems": [_update("a"), _update("b")]})


def test_an_unused_value_in_a_transaction_is_refused() -> None:
    element = _update("a", ExpressionAttributeValues={":v": {"N": "1"}, ":spare": {"N": "2"}})
    with pytest.raises(DynamoRuleError, match=":spare"):
        check("TransactWriteItems", {"TransactItems": [element]})


def test_an_unused_name_is_refused_outside_transactions_too() -> None:
    params = dict(_update("a")["Update"])  # type: ignore[call-overload]
    params["ExpressionAttributeNames"] = {"#n": "issued", "#x": "other"}
    with pytest.raises(DynamoRuleError, match="#x"):
        check("UpdateItem", params)


def test_one_item_twice_in_a_transaction_is_refused() -> None:
    with pytest.raises(DynamoRuleError, match="twice"):
        check("TransactWriteItems", {"TransactItems": [_update("a"), _update("a")]})


def test_more_than_a_hundred_items_is_refused() -> None:
    items = [_update(f"k{n}") for n in range(101)]
    with pytest.raises(DynamoRuleError, match="101"):
        check("TransactWriteItems", {"TransactItems": items})
