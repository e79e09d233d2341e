"""The eight Lambda entry points, loaded from `functions/` as Lambda loads them, and run
one invocation at a time per function.

In AWS every concurrent invocation has an execution environment of its own. Here an
environment is a copy of the function's handler module, loaded as Lambda loads it,
with its own module state (`@cache`d builders, batch processor, REST resolver). Each
function has a fixed pool of them (`ENVIRONMENTS`): an invocation takes a free one, or
waits for one in the order it asked, so a function runs at most that many invocations
at once and different functions run side by side. Most of an invocation is spent
waiting for moto, which answers from a process of its own; the pools let those waits
overlap instead of queueing every invocation behind every other. Ingest, which every
play goes through, gets several environments, and deliver one per lane of the results
stream (see `lanes`); the other stream functions one each: their
mappings' pollers take turns at it, each reading its shard when its turn comes, so
allocate's batches grow while its one environment is busy, which spares moto and
botocore per-batch work (see `mappings`).

What the environments share in this process is made safe for that:
- an environment's module state is only touched by one invocation at a time;
- cold starts (each environment's first invocation, which builds its clients and
  caches) run one at a time (`ColdStartGate`), beside warm invocations, which never
  wait for them: a warm one may run for minutes (an export). Clients come from boto3's
  default session, which is not safe for concurrent use, so the stack's builds one
  client at a time (`SerialClientSession`); clients themselves are;
- Powertools' logger keeps the Lambda context of an invocation (function name, request
  id) in keys every log line carries; while the functions are loaded those keys are
  kept per thread, so a line logged by one invocation never carries another's;
- Powertools' metrics are one store for all functions; its methods are serialized.
  Locally nothing is published, and the store is cleared after each invocation.
- Powertools' REST resolver keeps the request being routed on its base class
  (`BaseRouter.current_event`), one slot for every resolver in the process, where a
  Lambda process only ever routes one request. So REST invocations (ingest's and
  admin's) run one at a time, or a route could read another caller's request and act
  as that player. Socket and stream events do not route and keep their concurrency.

Nothing invoked may wait long while holding its lane: the expiry mapping hands its
function plays whose deadline has already passed (see `mappings`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import logging
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from frolic.observability import logger, metrics

log = logging.getLogger("frolic_tools.local")

REGION: Final = "us-east-1"
ACCOUNT: Final = "123456789012"

#: Function name → (folder under functions/, module file): as infra/constructs deploys them.
ENTRY_POINTS: Final = {
    "ingest": ("ingest", "handler"),
    "allocate": ("allocate", "handler"),
    "ws_connect": ("ws_connect", "handler"),
    "deliver": ("deliver", "handler"),
    "expiry": ("expiry", "handler"),
    "sweep": ("sweep", "handler"),
    "admin": ("admin", "handler"),
    "export": ("export", "handler"),
}

#: Execution environments per function (see the module's docstring).
ENVIRONMENTS: Final = {
    "ingest": 4,
    "allocate": 1,
    "ws_connect": 2,
    "deliver": 4,
    "expiry": 1,
    "sweep": 1,
    "admin": 2,
    "export": 1,
}

_loads = itertools.count(1)


class FunctionError(Exception):
    """The function raised: what Lambda reports as an unhandled function error."""

    def __init__(self, function: str, cause: BaseException) -> None:
        super().__init__(f"{function} failed: {type(cause).__name__}")
        self.function = function


class InjectedFailureError(RuntimeError):
    """A failure a test asked for (`LocalFunctions.fail_next`)."""


class FunctionsClosedError(RuntimeError):
    """The stack is stopping: nothing more is invoked."""


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


@dataclass(eq=False)
class Environment:
    """One loaded copy of a function's handler module."""

    module: ModuleType
    handler: Callable[[dict[str, Any], LambdaContext], Any]
    warm: bool = False


class EnvironmentPool:
    """A function's environments: `take` hands out a free one, or the next one given
    back, in the order the takers asked."""

    def __init__(self, environments: list[Environment]) -> None:
        self.environments = environments
        self._guard = threading.Lock()
        self._free: deque[Environment] = deque(environments)
        self._waiters: deque[tuple[threading.Lock, list[Environment]]] = deque()
        self._closed = False

    def take(self) -> Environment:
        """A free environment; FunctionsClosedError once the pool is closed."""
        with self._guard:
            if self._closed:
                raise FunctionsClosedError("the local stack is stopping")
            if self._free:
                return self._free.popleft()
            ready = threading.Lock()
            ready.acquire()
            slot: list[Environment] = []
            self._waiters.append((ready, slot))
        ready.acquire()  # released by `give_back` (the slot then holds one) or `close`
        if not slot:
            raise FunctionsClosedError("the local stack is stopping")
        return slot[0]

    @property
    def waiting(self) -> int:
        """How many invocations wait for an environment."""
        with self._guard:
            return len(self._waiters)

    def close(self) -> None:
        """Refuse every waiting and later `take`; invocations under way finish."""
        with self._guard:
            self._closed = True
            while self._waiters:
                self._waiters.popleft()[0].release()

    def give_back(self, environment: Environment) -> None:
        with self._guard:
            if self._waiters:
                ready, slot = self._waiters.popleft()
                slot.append(environment)
                ready.release()
            else:
                self._free.append(environment)


class ColdStartGate:
    """Cold starts one at a time: a function's first invocation builds its caches, and
    two at once could build the same process-wide one. Warm invocations never wait here,
    so a long one (an export of minutes) holds up nobody's cold start."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._busy = False
        self._waiting = 0

    @property
    def waiting(self) -> int:
        with self._changed:
            return self._waiting

    @contextmanager
    def cold_start(self) -> Iterator[None]:
        with self._changed:
            self._waiting += 1
            self._changed.wait_for(lambda: not self._busy)
            self._waiting -= 1
            self._busy = True
        try:
            yield
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()


class SerialClientSession(boto3.session.Session):
    """boto3's default session for the functions, building one client at a time: a
    session is not safe for concurrent use, its clients are, and a cold start builds
    clients while warm invocations run (one may build a client of its own the first
    time it needs one)."""

    _building = threading.Lock()

    def client(self, *args: Any, **kwargs: Any) -> Any:
        with self._building:
            return super().client(*args, **kwargs)

    def resource(self, *args: Any, **kwargs: Any) -> Any:
        with self._building:
            return super().resource(*args, **kwargs)


class PowertoolsChangedError(RuntimeError):
    """A Powertools release without an internal the local stack relies on."""


class SharedPowertools:
    """Powertools' logger keys per thread and its metrics methods serialized, while the
    functions are loaded (see the module's docstring); `restore` undoes both."""

    _METRICS_METHODS = (
        "add_metric",
        "add_dimension",
        "add_metadata",
        "serialize_metric_set",
        "flush_metrics",
        "clear_metrics",
    )

    _LOGGER_METHODS = ("thread_safe_append_keys", "thread_safe_remove_keys")

    def __init__(self) -> None:
        missing = self.missing()
        if missing:
            # Without them one invocation's log keys or metrics would reach another's.
            raise PowertoolsChangedError(
                "aws-lambda-powertools no longer has " + ", ".join(missing) + ": pin it "
                "below this release in pyproject.toml or update frolic_tools.local.functions"
            )
        logger.append_keys = logger.thread_safe_append_keys  # type: ignore[method-assign]
        logger.remove_keys = logger.thread_safe_remove_keys  # type: ignore[method-assign]
        self._logger_patched = True
        provider = metrics.provider
        guard = threading.RLock()
        self._metrics_patched: list[str] = []
        for name in self._METRICS_METHODS:
            setattr(provider, name, _serialized(getattr(provider, name), guard))
            self._metrics_patched.append(name)

    @classmethod
    def missing(cls) -> list[str]:
        """What the local stack needs of Powertools' internals and this release lacks."""
        provider = getattr(metrics, "provider", None)
        return [f"Logger.{n}" for n in cls._LOGGER_METHODS if not hasattr(logger, n)] + [
            f"metrics provider .{n}"
            for n in cls._METRICS_METHODS
            if not callable(getattr(provider, n, None))
        ]

    def restore(self) -> None:
        if self._logger_patched:
            for name in ("append_keys", "remove_keys"):
                vars(logger).pop(name, None)
            self._logger_patched = False
        provider = getattr(metrics, "provider", None)
        for name in self._metrics_patched:
            vars(provider).pop(name, None)
        self._metrics_patched.clear()


def _serialized(method: Callable[..., Any], guard: threading.RLock) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        with guard:
            return method(*args, **kwargs)

    return call


@dataclass
class FunctionStats:
    invocations: int = 0
    errors: int = 0
    #: Seconds its invocations held the invocation lock, and waited for it.
    seconds: float = 0.0
    waited: float = 0.0


class LocalFunctions:
    def __init__(
        self,
        root: Path,
        *,
        clear_metrics: bool = True,
        environments: Mapping[str, int] | None = ENVIRONMENTS,
    ) -> None:
        """`environments`: how many per function (one each when None)."""
        #: Guards the counters and the injected faults (never held while invoking).
        self._lock = threading.Lock()
        self.gate = ColdStartGate()
        self._clear_metrics = clear_metrics
        self._pools: dict[str, EnvironmentPool] = {}
        for function, (folder, module) in ENTRY_POINTS.items():
            path = root / folder / f"{module}.py"
            if not path.is_file():
                raise FileNotFoundError(f"no {path}: is this a Frolic checkout?")
            count = max(1, environments.get(function, 1)) if environments else 1
            loaded = [load_entry_point(path) for _ in range(count)]
            self._pools[function] = EnvironmentPool(
                [Environment(module, module.lambda_handler) for module in loaded]
            )
        self._faults: dict[str, int] = {}
        self.stats = {function: FunctionStats() for function in ENTRY_POINTS}
        self._powertools = SharedPowertools()
        #: One REST invocation at a time (see the module's docstring).
        self._routing = threading.Lock()
        self._routing_waiting = 0

    def routing_waiting(self) -> int:
        """REST invocations waiting for the one being routed."""
        with self._lock:
            return self._routing_waiting

    @contextmanager
    def _one_route_at_a_time(self, event: Mapping[str, Any]) -> Iterator[None]:
        if "httpMethod" not in event:  # an API Gateway REST proxy event routes
            yield
            return
        with self._lock:
            self._routing_waiting += 1
        self._routing.acquire()
        with self._lock:
            self._routing_waiting -= 1
        try:
            yield
        finally:
            self._routing.release()

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """Run the function on the event and return its answer, or FunctionError."""
        request_id = str(uuid.uuid4())
        pool = self._pools[function]
        asked = time.monotonic()
        try:
            environment = pool.take()
        except FunctionsClosedError as error:
            log.debug("%s not invoked: %s", function, error)
            raise FunctionError(function, error) from error
        try:
            cold = not environment.warm
            with self.gate.cold_start() if cold else contextlib.nullcontext():
                started = time.monotonic()
                try:
                    if self._take_fault(function):
                        raise InjectedFailureError(f"{function}: failure injected by a test")
                    with self._one_route_at_a_time(event):
                        return environment.handler(event, LocalContext(function, request_id))
                except Exception as error:
                    self._count(function, errors=1)
                    if isinstance(error, InjectedFailureError):
                        log.warning("%s", error)
                    else:
                        log.exception("%s raised (request %s)", function, request_id)
                    raise FunctionError(function, error) from error
                finally:
                    environment.warm = True
                    if self._clear_metrics:
                        # Not published locally; dropped so that they do not pile up.
                        metrics.clear_metrics()
                    took = time.monotonic() - started
                    self._count(function, invocations=1, seconds=took, waited=started - asked)
                    log.debug("%s took %.1f ms", function, 1000 * took)
        finally:
            pool.give_back(environment)

    def _take_fault(self, function: str) -> bool:
        with self._lock:
            if self._faults.get(function, 0) > 0:
                self._faults[function] -= 1
                return True
            return False

    def _count(
        self,
        function: str,
        *,
        invocations: int = 0,
        errors: int = 0,
        seconds: float = 0.0,
        waited: float = 0.0,
    ) -> None:
        with self._lock:
            stats = self.stats[function]
            stats.invocations += invocations
            stats.errors += errors
            stats.seconds += seconds
            stats.waited += waited

    def fail_next(self, function: str, count: int) -> None:
        """Make the function's next `count` invocations fail before its code runs: a
        test's way to see the event-source mapping retry."""
        if function not in ENTRY_POINTS:
            raise KeyError(function)
        with self._lock:
            self._faults[function] = self._faults.get(function, 0) + count

    def environments(self, function: str) -> int:
        """How many execution environments the function has."""
        return len(self._pools[function].environments)

    def waiting(self, function: str) -> int:
        """How many invocations of the function wait for an environment."""
        return self._pools[function].waiting

    def close(self) -> None:
        """Invoke nothing more: waiting and later invocations fail at once (as the
        functions of a stack that is going away); those under way finish."""
        for pool in self._pools.values():
            pool.close()

    def unload(self) -> None:
        for pool in self._pools.values():
            for environment in pool.environments:
                sys.modules.pop(environment.module.__name__, None)
        self._powertools.restore()

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per function: invocations, errors, its environments, and the seconds its
        invocations ran and waited for an environment."""
        with self._lock:
            return {
                name: {
                    "invocations": s.invocations,
                    "errors": s.errors,
                    "environments": len(self._pools[name].environments),
                    "waiting": self._pools[name].waiting,
                    "seconds": round(s.seconds, 3),
                    "waited": round(s.waited, 3),
                }
                for name, s in self.stats.items()
            }
