"""DynamoDB request rules that AWS enforces and moto does not, checked on every call.

moto accepts a transaction whose expressions leave a value placeholder unused, or that
touches one item twice; DynamoDB rejects both with a ValidationException. The check runs
on the request the code really sends, before moto answers it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

#: Expression parameters of one DynamoDB operation or transaction element.
_EXPRESSIONS = (
    "UpdateExpression",
    "ConditionExpression",
    "KeyConditionExpression",
    "FilterExpression",
    "ProjectionExpression",
)
_PLACEHOLDER = re.compile(r"[:#][A-Za-z0-9_]+")
MAX_TRANSACTION_ITEMS = 100


class DynamoRuleError(AssertionError):
    """A request real DynamoDB would refuse."""


def check(operation: str, params: Mapping[str, Any]) -> None:
    if operation == "TransactWriteItems":
        elements = params.get("TransactItems", [])
        if len(elements) > MAX_TRANSACTION_ITEMS:
            raise DynamoRuleError(f"a transaction of {len(elements)} items")
        seen: set[str] = set()
        for element in elements:
            ((kind, body),) = element.items()
            _check_placeholders(f"{operation}.{kind}", body)
            target = _target(body)
            if target in seen:
                raise DynamoRuleError(f"one transaction touches {target} twice")
            seen.add(target)
    elif any(name in params for name in _EXPRESSIONS):
        _check_placeholders(operation, params)


def _check_placeholders(where: str, body: Mapping[str, Any]) -> None:
    used = set(_used(body))
    for given, prefix in (("ExpressionAttributeValues", ":"), ("ExpressionAttributeNames", "#")):
        for name in body.get(given) or {}:
            if name.startswith(prefix) and name not in used:
                raise DynamoRuleError(f"{where}: {given} {name} is never used")


def _used(body: Mapping[str, Any]) -> Iterator[str]:
    for name in _EXPRESSIONS:
        yield from _PLACEHOLDER.findall(str(body.get(name) or ""))


def _target(body: Mapping[str, Any]) -> str:
    key = body.get("Key") or {
        name: value
        for name, value in (body.get("Item") or {}).items()
        if name in {"pk", "sk", "playId"}
    }
    return f"{body.get('TableName')}:{json.dumps(key, sort_keys=True)}"
