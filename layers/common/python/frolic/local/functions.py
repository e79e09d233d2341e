"""The six Lambda entry points, loaded from `functions/` as Lambda loads them, and run
one invocation at a time.

Why one at a time: in AWS every concurrent invocation has a process of its own, but
here they share one. Powertools' metrics and logger keep per-invocation state in module
globals, a handler's `@cache`d builders and boto3's default session are not meant for
concurrent first use, and moto itself is not thread-safe. One lock around every
invocation removes all of that at once; moto serializes its requests anyway, so the
lock costs no throughput. Nothing invoked may wait long while holding it: the expiry
mapping hands its function plays whose deadline has already passed (see `mappings`).
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from aws_lambda_powertools.utilities.typing import LambdaContext

from frolic.observability import metrics

log = logging.getLogger("frolic.local")

REGION: Final = "us-east-1"
ACCOUNT: Final = "123456789012"

#: Function name → (folder under functions/, module file): as infra/constructs deploys them.
ENTRY_POINTS: Final = {
    "ingest": ("ingest", "handler"),
    "allocate": ("allocate", "handler"),
    "ws_connect": ("ws_connect", "handler"),
    "deliver": ("deliver", "handler"),
    "expiry": ("deliver", "expiry_handler"),
    "admin": ("admin", "handler"),
}

_loads = itertools.count(1)


class FunctionError(Exception):
    """The function raised: what Lambda reports as an unhandled function error."""

    def __init__(self, function: str, cause: BaseException) -> None:
        super().__init__(f"{function} failed: {type(cause).__name__}")
        self.function = function


class InjectedFailureError(RuntimeError):
    """A failure a test asked for (`LocalFunctions.fail_next`)."""


def function_arn(function: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:frolic-local-{function}"


class LocalContext(LambdaContext):
    """The context object Lambda passes; Powertools' logger reads its names."""

    def __init__(self, function: str, request_id: str) -> None:
        self._function_name = f"frolic-local-{function}"
        self._function_version = "$LATEST"
        self._invoked_function_arn = function_arn(function)
        self._memory_limit_in_mb = 1024
        self._aws_request_id = request_id
        self._log_group_name = f"/aws/lambda/frolic-local-{function}"
        self._log_stream_name = "local"


def load_entry_point(path: Path) -> ModuleType:
    """A handler file as Lambda loads it: a top-level module, not part of a package.
    Each stack loads its own copy, so the handlers' cached clients start fresh."""
    name = f"frolic_local_{path.parent.name}_{path.stem}_{next(_loads)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


@dataclass
class FunctionStats:
    invocations: int = 0
    errors: int = 0


class LocalFunctions:
    def __init__(self, root: Path, *, clear_metrics: bool = True) -> None:
        self._lock = threading.Lock()
        self._clear_metrics = clear_metrics
        self._modules: dict[str, ModuleType] = {}
        self._handlers: dict[str, Callable[[dict[str, Any], LambdaContext], Any]] = {}
        for function, (folder, module) in ENTRY_POINTS.items():
            path = root / folder / f"{module}.py"
            if not path.is_file():
                raise FileNotFoundError(f"no {path}: is this a Frolic checkout?")
            loaded = load_entry_point(path)
            self._modules[function] = loaded
            self._handlers[function] = loaded.lambda_handler
        self._faults: dict[str, int] = {}
        self.stats = {function: FunctionStats() for function in ENTRY_POINTS}

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """Run the function on the event and return its answer, or FunctionError."""
        request_id = str(uuid.uuid4())
        with self._lock:
            stats = self.stats[function]
            stats.invocations += 1
            started = time.monotonic()
            try:
                if self._faults.get(function, 0) > 0:
                    self._faults[function] -= 1
                    raise InjectedFailureError(f"{function}: failure injected by a test")
                return self._handlers[function](event, LocalContext(function, request_id))
            except Exception as error:
                stats.errors += 1
                if isinstance(error, InjectedFailureError):
                    log.warning("%s", error)
                else:
                    log.exception("%s raised (request %s)", function, request_id)
                raise FunctionError(function, error) from error
            finally:
                if self._clear_metrics:
                    # Metrics are not published locally; drop them so they do not pile up.
                    metrics.clear_metrics()
                log.debug("%s took %.1f ms", function, 1000 * (time.monotonic() - started))

    def fail_next(self, function: str, count: int) -> None:
        """Make the function's next `count` invocations fail before its code runs: a
        test's way to see the event-source mapping retry."""
        if function not in ENTRY_POINTS:
            raise KeyError(function)
        with self._lock:
            self._faults[function] = self._faults.get(function, 0) + count

    def unload(self) -> None:
        for module in self._modules.values():
            sys.modules.pop(module.__name__, None)
        self._modules.clear()

    def summary(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {
                name: {"invocations": s.invocations, "errors": s.errors}
                for name, s in self.stats.items()
            }
