"""moto, patched for the local stack: faster, and its streams right. Installed by moto's
server process (`frolic_tools.local.moto_server`), never in the handlers' process or the
other tests' in-process moto. Each patch checks that moto's internals are what it
expects; if not, that patch is skipped (with a warning) and moto's own way stays.

In-place rollback for TransactWriteItems
----------------------------------------

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
failed attempt appended.

Query reads only the partition asked for
----------------------------------------
moto (5.2) answers a Query on a table's own key by sorting every item of the table and
then keeping those of the partition: O(table) per Query, where DynamoDB reads only the
partition. The allocator's budget Query then costs more with every coupon uploaded and
every player seen. moto keeps `table.items` by hash key (then range key), so the patch
hands moto's own query code just that partition, in the order it would have had: the
answer is the same item for item, paging and direction included
(tests/unit/test_moto_patches.py compares both on the same tables). A Query of a global
secondary index gets, the same way, only the items holding the index's partition key
value: moto would sort the whole table on every one, and the sweeper Queries 144
shards of the results table's sparse index a minute. Local secondary indexes and
anything unexpected go to moto unchanged.

DynamoDB attribute values, serialized without the search
--------------------------------------------------------
moto serializes every answer through one generic, model-driven serializer, which looks
for each member of each structure under half a dozen aliases. A DynamoDB attribute
value is a structure of ten members, so an item of thirty attributes costs hundreds of
searches. Where the value is a plain dict whose keys are all member names (how moto
holds items), the patch takes the members straight from the dict and lets the generic
code do the rest: the same bytes (tests/unit/test_moto_patches.py compares them).

More patches, registered here, live in `moto_dispatch` (the JSON-protocol requests
straight to their handlers without moto's Flask apps, request ids drawn in one call,
plain attribute values written as they are) and `moto_expressions` (each DynamoDB
expression parsed once).

moto's service list and its handlers' method names, read once
---------------------------------------------------------------
The server finds each request's backend by checking the host against the list of
moto's service packages, which it reads from the disk (a listdir and a stat per
package) on every request, and each request lists its response class's methods with
`inspect.getmembers`. Neither can change while the server runs, so each is read once.
"""

from __future__ import annotations

import copy
import inspect
import logging
import threading
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

from frolic_tools.local import moto_dispatch, moto_expressions

log = logging.getLogger("frolic_tools.local")

_lock = threading.Lock()
_installed: dict[str, Any] = {}
#: Undo functions of the other patches, by name.
_undo: dict[str, Callable[[], None]] = {}


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
    """Patch moto (idempotent); False when some patch found moto's internals not the
    expected ones (that one is then not applied)."""
    with _lock:
        applied = _install_transactions()
        for name, patch in _PATCHES.items():
            if name in _undo:
                continue
            undo = patch()
            if undo is None:
                log.warning("moto's internals changed: the %s patch is not applied", name)
                applied = False
            else:
                _undo[name] = undo
        return applied


def unapplied() -> list[str]:
    """The patches not in place after `install`: each names a moto internal that a new
    release changed (tests/unit/test_library_patches.py fails on any)."""
    with _lock:
        missing = [] if _installed else ["transactions"]
        return missing + [name for name in _PATCHES if name not in _undo]


def uninstall() -> None:
    with _lock:
        for undo in reversed(list(_undo.values())):
            undo()
        _undo.clear()
        _uninstall_transactions()


def _install_transactions() -> bool:
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


def _uninstall_transactions() -> None:
    if not _installed:
        return
    models = _installed["models"]
    models.DynamoDBBackend.transact_write_items = _installed["original"]
    setattr(models, "copy", copy)  # noqa: B010
    _installed.clear()


# -- Query by partition ---------------------------------------------------------------------


def _sort_key(item: Any) -> Any:
    """moto's Table.all_items order: by hash key, then range key."""
    return (item.hash_key, item.range_key) if item.range_key else item.hash_key


def partition_items(table: Any, hash_key: Any) -> list[Any]:
    """The items of one partition, in the order `Table.all_items` lists them."""
    stored = table.items.get(hash_key)  # .get: moto's defaultdict must not grow
    if stored is None:
        return []
    items = list(stored.values()) if table.range_key_attr else [stored]
    return sorted(items, key=_sort_key)


def index_partition_items(table: Any, conditions: list[tuple[str, Any]]) -> list[Any]:
    """The items in one partition of a global secondary index (those holding every
    partition key value asked for), in the order `Table.all_items` lists them."""
    if table.range_key_attr:
        items = [item for stored in table.items.values() for item in stored.values()]
    else:
        items = list(table.items.values())
    for name, wanted in conditions:
        items = [
            item for item in items if (held := item.attrs.get(name)) is not None and held == wanted
        ]
    return sorted(items, key=_sort_key)


def _global_index(table: Any, name: str) -> bool:
    return any(getattr(index, "name", None) == name for index in table.global_indexes or ())


def _patch_query() -> Callable[[], None] | None:
    try:
        from moto.dynamodb.models import table as table_module  # noqa: PLC0415
    except ImportError:
        return None
    table_type = getattr(table_module, "Table", None)
    original = getattr(table_type, "query", None)
    if table_type is None or not callable(original) or not callable(table_type.all_items):
        return None
    try:
        signature = inspect.signature(original)
    except (TypeError, ValueError):
        return None
    if not {"self", "hash_key", "index_name", "hash_key_conditions"} <= (
        signature.parameters.keys()
    ):
        return None

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            arguments = signature.bind(self, *args, **kwargs).arguments
        except TypeError:
            return original(self, *args, **kwargs)
        hash_key = arguments.get("hash_key")
        index_name = arguments.get("index_name")
        conditions = arguments.get("hash_key_conditions")
        if "all_items" in vars(self) or not isinstance(getattr(self, "items", None), dict):
            return original(self, *args, **kwargs)
        if index_name:
            if not conditions or not _global_index(self, index_name):
                return original(self, *args, **kwargs)
            partition = index_partition_items(self, list(conditions))
        elif hash_key is None:
            return original(self, *args, **kwargs)
        else:
            partition = partition_items(self, hash_key)
        # moto's query reads the table through all_items(): for this call, just the
        # partition (moto serves one request at a time, so no other call sees it).
        self.all_items = lambda: list(partition)
        try:
            return original(self, *args, **kwargs)
        finally:
            del self.all_items

    table_type.query = query

    def undo() -> None:
        table_type.query = original

    return undo


# -- the service list ------------------------------------------------------------------------


def _patch_module_list() -> Callable[[], None] | None:
    try:
        from moto import backends  # noqa: PLC0415
    except ImportError:
        return None
    original = getattr(backends, "list_of_moto_modules", None)
    if not callable(original):
        return None
    modules = tuple(original())

    def list_of_moto_modules() -> tuple[str, ...]:
        return modules

    backends.list_of_moto_modules = list_of_moto_modules

    def undo() -> None:
        backends.list_of_moto_modules = original

    return undo


# -- a response class's method names, listed once ----------------------------------------


def _patch_method_names() -> Callable[[], None] | None:
    try:
        from moto.core import responses  # noqa: PLC0415
    except ImportError:
        return None
    original = getattr(responses, "method_names_from_class", None)
    if not callable(original):
        return None
    known: dict[type, list[str]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        if not isinstance(clazz, type):
            return list(original(clazz))
        names = known.get(clazz)
        if names is None:
            names = known[clazz] = list(original(clazz))
        return list(names)

    setattr(responses, "method_names_from_class", method_names_from_class)  # noqa: B010

    def undo() -> None:
        setattr(responses, "method_names_from_class", original)  # noqa: B010

    return undo


# -- DynamoDB attribute values, picked straight from the dict ------------------------------


def _patch_attribute_values() -> Callable[[], None] | None:
    try:
        from moto.core import serialize  # noqa: PLC0415
    except ImportError:
        return None
    serializer = getattr(serialize, "BaseJSONSerializer", None)
    original = getattr(serializer, "_serialize_type_structure", None)
    providers = getattr(serialize, "DEFAULT_ALIAS_PROVIDERS", None)
    if serializer is None or not callable(original) or not isinstance(providers, list):
        return None

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        picker = getattr(self, "_value_picker", None)
        if (
            key
            and type(value) is dict
            and getattr(shape, "name", None) == "AttributeValue"
            and not getattr(shape, "is_document_type", True)
            and getattr(picker, "alias_providers", None) is providers
            and not getattr(picker, "response_transformers", None)
            and value.keys() <= shape.members.keys()
        ):
            # What the generic path does, less the attribute picker's search for each
            # of the ten members under every alias: with only member names as keys, it
            # finds value[member] for those present and nothing for the others.
            wrapper = self.MAP_TYPE()
            for member_key, member_shape in shape.members.items():
                member_value = value.get(member_key)
                if member_value is not None:
                    member_shape.parent = shape
                    self._serialize(wrapper, member_value, member_shape, member_key)
            self._default_serialize(serialized, wrapper, shape, key)
            return
        original(self, serialized, value, shape, key)

    setattr(serializer, "_serialize_type_structure", serialize_structure)  # noqa: B010

    def undo() -> None:
        setattr(serializer, "_serialize_type_structure", original)  # noqa: B010

    return undo


_PATCHES: dict[str, Callable[[], Callable[[], None] | None]] = {
    "query": _patch_query,
    "service list": _patch_module_list,
    "method names": _patch_method_names,
    "attribute values": _patch_attribute_values,
    "plain values": moto_dispatch.patch_plain_values,
    "direct dispatch": moto_dispatch.patch_dispatch,
    "request ids": moto_dispatch.patch_request_ids,
    "update expressions": moto_expressions.patch_update_expressions,
    "conditions": moto_expressions.patch_conditions,
    "tree walks": moto_expressions.patch_tree_walks,
}
