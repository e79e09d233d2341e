"""A faster, in-place rollback for moto's TransactWriteItems, while the local stack runs.

moto (5.x) backs up every table a transaction touches with `copy.deepcopy` of the whole
table, and undoes a cancelled transaction by swapping those copies in. Two problems
for the local stack, where every winning play is a transaction:

- cost: each transaction copies the results and state tables whole, so a winner takes
  O(plays so far) — about a second per winner after a few thousand plays, which would
  starve every other request moto serializes;
- streams: after a swap, the shard iterators still point at the discarded table's
  stream, which holds records of the cancelled writes (a phantom `won`) and never
  receives another record.

The replacement backs up only the items the transaction names and the length of each
table's stream, lets moto run the transaction on the live tables (its table copies made
no-ops), and on any failure puts those items back and drops the stream records the
failed attempt appended. Installed by the stack on start and removed on stop; if moto's
internals are not what this expects, nothing is patched and moto's own way stays.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

log = logging.getLogger("frolic.local")

_lock = threading.Lock()
_installed: dict[str, Any] = {}


def _models() -> ModuleType | None:
    try:
        from moto.dynamodb import models  # noqa: PLC0415  (moto is a dev dependency)
    except ImportError:
        return None
    backend = getattr(models, "DynamoDBBackend", None)
    expected = (
        backend is not None
        and callable(getattr(backend, "transact_write_items", None))
        and getattr(models, "copy", None) is copy
        and hasattr(models, "Table")
        and hasattr(models, "DynamoType")
    )
    return models if expected else None


class _Backup:
    """The items a transaction names, as they were, and each stream's length."""

    def __init__(self, backend: Any, transact_items: Any, dynamo_type: type[Any]) -> None:
        self._items: list[tuple[Any, Any, Any, Any]] = []
        self._streams: dict[int, tuple[Any, int]] = {}
        for entry in transact_items if isinstance(transact_items, list) else []:
            if not isinstance(entry, dict) or len(entry) != 1:
                continue
            ((_, op),) = entry.items()
            table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue
            source = op.get("Key") or op.get("Item") or {}
            try:
                hash_key = dynamo_type(source[table.hash_key_attr])
                range_key = (
                    dynamo_type(source[table.range_key_attr]) if table.range_key_attr else None
                )
                current = table.get_item(hash_key, range_key)
            except Exception:  # malformed: moto refuses it before writing anything
                continue
            self._items.append((table, hash_key, range_key, copy.deepcopy(current)))
            shard = getattr(table, "stream_shard", None)
            if shard is not None:
                self._streams.setdefault(id(table), (shard, len(shard.items)))

    def restore(self) -> None:
        for table, hash_key, range_key, item in reversed(self._items):
            if range_key is None:
                if item is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = item
            elif item is None:
                table.items.get(hash_key, {}).pop(range_key, None)
            else:
                table.items[hash_key][range_key] = item
        for shard, length in self._streams.values():
            del shard.items[length:]


def install() -> bool:
    """Patch moto (idempotent); False when its internals are not the expected ones."""
    with _lock:
        if _installed:
            return True
        models = _models()
        if models is None:
            log.warning("moto's DynamoDB internals changed: transactions copy whole tables")
            return False
        backend = models.DynamoDBBackend
        table_type = models.Table
        original: Callable[[Any, Any], None] = backend.transact_write_items
        dynamo_type = models.DynamoType

        def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
            """What moto.dynamodb.models sees as copy.deepcopy: tables are not copied."""
            return value if isinstance(value, table_type) else copy.deepcopy(value, memo)

        def transact_write_items(self: Any, transact_items: Any) -> None:
            backup = _Backup(self, transact_items, dynamo_type)
            try:
                original(self, transact_items)
            except BaseException:
                backup.restore()
                raise

        _installed.update(models=models, original=original)
        public = {name: getattr(copy, name) for name in dir(copy) if not name.startswith("_")}
        setattr(models, "copy", SimpleNamespace(**{**public, "deepcopy": deepcopy}))  # noqa: B010
        backend.transact_write_items = transact_write_items
        return True


def uninstall() -> None:
    with _lock:
        if not _installed:
            return
        models = _installed["models"]
        models.DynamoDBBackend.transact_write_items = _installed["original"]
        setattr(models, "copy", copy)  # noqa: B010
        _installed.clear()
