"""Coupon codes and WebSocket tickets never reach X-Ray (invariant 6): Powertools' tracer
records a traced function's return value unless told not to, and the ingest function
answers `GET /plays/{id}` (a code) and `POST /ws-ticket` (a ticket)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRACING_DECORATORS = {"capture_lambda_handler", "capture_method"}
SOURCES = sorted(
    [*(ROOT / "functions").glob("*/*.py"), *(ROOT / "layers/common/python").rglob("*.py")]
)


def _tracing_uses(tree: ast.AST) -> list[ast.expr]:
    """Every `….capture_lambda_handler` / `….capture_method`, bare or called."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in TRACING_DECORATORS
    ]


def _responses_off(source: ast.AST, use: ast.expr) -> bool:
    for node in ast.walk(source):
        if isinstance(node, ast.Call) and node.func is use:
            return any(
                k.arg == "capture_response"
                and isinstance(k.value, ast.Constant)
                and k.value.value is False
                for k in node.keywords
            )
    return False  # used bare: the default captures the response


def test_the_functions_are_traced_at_all() -> None:
    handlers = [p for p in SOURCES if p.parts[-3] == "functions"]
    assert handlers and all(_tracing_uses(ast.parse(p.read_text())) for p in handlers)


def test_no_traced_function_records_its_response() -> None:
    leaking = []
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        leaking += [
            f"{path.relative_to(ROOT)}:{use.lineno}"
            for use in _tracing_uses(tree)
            if not _responses_off(tree, use)
        ]
    assert not leaking, f"traced with the response captured: {leaking}"


def _traced_methods(path: Path) -> set[str]:
    """The functions in `path` decorated with the tracer's `capture_method`."""
    return {
        node.name
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef)
        for decorator in node.decorator_list
        if "capture_method" in ast.unparse(decorator)
    }


def test_the_allocators_decision_and_claim_have_spans_of_their_own() -> None:
    runtime = ROOT / "layers/common/python/frolic"
    assert "_allocate" in _traced_methods(runtime / "allocate.py")
    assert "claim" in _traced_methods(runtime / "dal/allocation_store.py")
