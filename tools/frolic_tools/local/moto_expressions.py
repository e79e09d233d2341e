"""moto's server, patched to parse each DynamoDB expression once, not on every request.

Installed with the other patches by `moto_patches.install` (moto's server process only).
Each patch checks that moto's internals are what it expects, and is skipped otherwise.

The local stack sends the same few expressions all day (a play slot's stamp, a lease,
a pending put's `attribute_not_exists(playId)`), and moto parses each one afresh,
twice per request: once in the handler to check it, once in the backend to apply it.

- Update expressions: moto's parser turns the expression text alone into a syntax tree,
  which moto never changes afterwards (its validator works on a deep copy). The patch
  keeps the trees of the last few hundred expressions.
- Condition expressions: the parser's answer (the operator tree, and the names and
  values it found) depends on the expression and on its names and values, and moto only
  evaluates the tree. The patch keeps the last few hundred answers, keyed by all three.
- Both validate and apply an update by walking its tree ten times, and each walk asks
  for its table of node types at every node. The patch asks once per walk.

tests/unit/test_moto_expressions.py checks that moto answers the same with and without
the patches.
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

from frolic_tools.local.patching import swap

#: Parsed expressions kept, of each kind.
EXPRESSIONS_KEPT: Final = 512


def patch_update_expressions() -> Callable[[], None] | None:
    try:
        from moto.dynamodb.parsing import expressions  # noqa: PLC0415
    except ImportError:
        return None
    parser = getattr(expressions, "UpdateExpressionParser", None)
    original = vars(parser).get("make") if parser is not None else None
    if not isinstance(original, classmethod):
        return None
    make: Any = functools.lru_cache(maxsize=EXPRESSIONS_KEPT)(original.__func__)
    return swap(parser, "make", classmethod(make))


def _frozen(value: Any) -> str | None:
    """A key for names or values as the request gave them (JSON types only)."""
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


def patch_conditions() -> Callable[[], None] | None:
    try:
        from moto.dynamodb.comparisons import ConditionExpressionParser  # noqa: PLC0415
    except ImportError:
        return None
    original = getattr(ConditionExpressionParser, "parse", None)
    if not callable(original):
        return None
    parsed: OrderedDict[tuple[Any, ...], tuple[Any, tuple[str, ...], tuple[str, ...]]]
    parsed = OrderedDict()

    def parse(self: Any) -> Any:
        try:
            key = (
                self.condition_expression,
                _frozen(self.expression_attribute_names),
                _frozen(self.expression_attribute_values),
            )
            names, values = self.expr_attr_names_found, self.expr_attr_values_found
        except (AttributeError, TypeError, ValueError):
            return original(self)
        known = parsed.get(key)
        if known is None:
            had_names, had_values = len(names), len(values)
            tree = original(self)  # raises for a bad expression: nothing kept
            known = (tree, tuple(names[had_names:]), tuple(values[had_values:]))
            parsed[key] = known
            if len(parsed) > EXPRESSIONS_KEPT:
                parsed.popitem(last=False)
            return tree
        parsed.move_to_end(key)
        names.extend(known[1])
        values.extend(known[2])
        return known[0]

    return swap(ConditionExpressionParser, "parse", parse)


def patch_tree_walks() -> Callable[[], None] | None:
    try:
        from moto.dynamodb.parsing import ast_nodes  # noqa: PLC0415
    except ImportError:
        return None
    walker = getattr(ast_nodes, "DepthFirstTraverser", None)
    node_type = getattr(ast_nodes, "Node", None)
    if walker is None or node_type is None:
        return None
    original = getattr(walker, "traverse", None)
    recursive = getattr(walker, "traverse_node_recursively", None)
    kinds_of = getattr(walker, "nodes_to_be_processed", None)
    if not (callable(original) and callable(recursive) and callable(kinds_of)):
        return None

    def traverse(self: Any, node: Any) -> Any:
        walker_type = type(self)
        if (
            walker_type.traverse_node_recursively is not recursive
            or walker_type.nodes_to_be_processed is not kinds_of
        ):
            return original(self, node)
        kinds = self.nodes_to_be_processed()  # what moto asks for at every node

        def visit(current: Any, child_id: int) -> Any:
            # moto's traverse_node_recursively, step for step.
            if isinstance(current, node_type):
                parent = current.parent
                if current.children is not None:
                    for index, child in enumerate(current.children):
                        self.pre_processing_of_child(current, index)
                        visit(child, index)
                if isinstance(current, kinds):
                    current = self.process(current)
                    current.parent = parent
                    if parent:
                        parent.children[child_id] = current
            return current

        return visit(node, -1)

    return swap(walker, "traverse", traverse)
