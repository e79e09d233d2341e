"""The whole system on one machine: moto's server (a child process), the local gateway,
the functions, the stream mappings and the schedule rules, started and stopped together.

    with LocalStack("127.0.0.1", 0) as stack:   # port 0: any free port
        stack.base_url, stack.ws_url, stack.moto_url

The handlers read their settings from the environment, once, as in Lambda. So the
stack sets the environment first (moto's endpoint, fake credentials, the callback URL,
a fresh draw key), clears the caches that hold settings and clients, and only then
loads the functions; `stop` puts the environment and the caches back (and ends moto's
process). One stack runs per process at a time: the environment is process-wide.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self

import boto3
import botocore

from frolic.dal import clients
from frolic.observability import logger as handler_logger
from frolic.settings import Settings, settings
from frolic_tools.local.aws_doors import LAMBDA_PREFIX, S3_PREFIX, AsyncInvokes, ExportLinks
from frolic_tools.local.devauth import DevTokens
from frolic_tools.local.events_out import EventForwarder, EventsOut, subscribe_queue
from frolic_tools.local.functions import (
    ENTRY_POINTS,
    ENVIRONMENTS,
    REGION,
    LocalFunctions,
    SerialClientSession,
)
from frolic_tools.local.gateway import WS_PATH, Gateway
from frolic_tools.local.lanes import Lanes, result_socket_or_key
from frolic_tools.local.mappings import (
    ALLOCATE,
    DELIVER,
    EXPIRY,
    BatchRunner,
    Doorbell,
    DynamoStreamShard,
    FailureList,
    KinesisShard,
    MappingConfig,
    MappingStats,
    Runner,
    ShardCoordinates,
    ShardPoller,
    ShardSource,
    SharedShard,
    StreamRecord,
    Turns,
    play_deadline,
)
from frolic_tools.local.moto_server import MotoServer, MotoStats
from frolic_tools.local.paths import FUNCTIONS_ROOT, WEB_ROOT
from frolic_tools.local.schedules import SCHEDULES, ScheduledRule
from frolic_tools.schema import LOCAL_RESOURCES, LOCAL_STREAM, create_event_bus, create_tables

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger("frolic_tools.local")

DEFAULT_SHARDS: Final = 4
FAKE_CREDENTIAL: Final = "testing"
#: Deliver's batches at once on the results stream's one shard (see `lanes`): as
#: many as its environments.
RESULTS_LANES: Final = ENVIRONMENTS["deliver"]
#: botocore's names (hyphenized service ids) of what the functions call moto for.
UNSIGNED_SERVICES: Final = ("dynamodb", "dynamodb-streams", "kinesis")
_single_stack = threading.Lock()


class LocalStackError(RuntimeError):
    """The stack cannot start; the message says why in one line."""


def _url_host(host: str) -> str:
    """Where clients reach a server bound to `host` (a wildcard means this machine)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class LocalStack:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        functions_root: Path = FUNCTIONS_ROOT,
        web_root: Path | None = WEB_ROOT,
        shards: int = DEFAULT_SHARDS,
        environment: Mapping[str, str] | None = None,
        handler_log_level: str = "WARNING",
        poll_seconds: float = 0.2,
        events_out: EventsOut | None = None,
    ) -> None:
        """`environment` adds settings for the functions (REEL_SECONDS, say);
        `handler_log_level` is the functions' Powertools log level; `events_out`, where
        the bus's events are copied and posted (`frolic local --events-to`)."""
        self._events_out = events_out
        self._forwarder: EventForwarder | None = None
        self._host = host
        self._port = port
        self._functions_root = functions_root
        self._web_root = web_root if web_root is not None and web_root.is_dir() else None
        self._shards = shards
        self._extra_environment = dict(environment or {})
        self._handler_log_level = handler_log_level
        self._poll_seconds = poll_seconds
        self.tokens = DevTokens()
        self.failures = FailureList()
        self._moto = MotoServer("127.0.0.1", 0, on_stream_write=self._ring)
        #: Each shard's doorbells, by (stream ARN, shard id): moto rings them on writes.
        self._doorbells: dict[tuple[str, str], list[Doorbell]] = {}
        self._gateway: Gateway | None = None
        self._functions: LocalFunctions | None = None
        self._pollers: list[ShardPoller] = []
        self._schedules: list[ScheduledRule] = []
        self._stats: dict[str, MappingStats] = {}
        self._turns: dict[str, Turns] = {}
        self._lanes: list[Lanes] = []
        self._stop_polling = threading.Event()
        self._saved_environment: dict[str, str | None] = {}
        self._saved_log_level: int | None = None
        self._owns_process = False
        self._started = False

    # -- addresses ----------------------------------------------------------------------

    def _gateway_or_fail(self) -> Gateway:
        if self._gateway is None:
            raise RuntimeError("the local stack is not running")
        return self._gateway

    @property
    def port(self) -> int:
        return self._gateway_or_fail().port

    @property
    def base_url(self) -> str:
        """The REST API (and the pages): http://host:port, no stage in the path."""
        return f"http://{_url_host(self._host)}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The WebSocket API; add `?ticket=…` from POST /ws-ticket."""
        return f"ws://{_url_host(self._host)}:{self.port}{WS_PATH}"

    @property
    def moto_url(self) -> str:
        return self._moto.url

    @property
    def moto_pid(self) -> int | None:
        """moto's server process (the stack's other process)."""
        return self._moto.pid

    def moto_stats(self) -> MotoStats:
        """What moto's server has served so far (requests, time per operation, CPU)."""
        return self._moto.stats()

    @property
    def settings(self) -> Settings:
        """The functions' settings, as they read them."""
        return settings()

    @property
    def functions(self) -> LocalFunctions:
        if self._functions is None:
            raise RuntimeError("the local stack is not running")
        return self._functions

    def endpoints(self) -> dict[str, str]:
        return {
            "REST API": self.base_url,
            "WebSocket": f"{self.ws_url}?ticket=…",
            "player page": f"{self.base_url}/",
            "admin page": f"{self.base_url}/admin",
            "moto": self.moto_url,
        }

    def boto3_session(self) -> boto3.session.Session:
        """A session with the stack's fake credentials: clients need endpoint_url=moto_url."""
        return boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIAL,
            aws_secret_access_key=FAKE_CREDENTIAL,
            region_name=REGION,
        )

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Self:
        if self._started:
            raise RuntimeError("this stack has already been started")
        if not _single_stack.acquire(blocking=False):
            raise LocalStackError("another local stack is running in this process")
        self._owns_process = True
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        if not (self._functions_root / "ingest" / "handler.py").is_file():
            raise LocalStackError(f"no Lambda functions under {self._functions_root}")
        try:
            self._gateway = Gateway(
                self._host,
                self._port,
                tokens=self.tokens,
                web_root=self._web_root,
                status=self.status,
            )
        except OSError as error:
            raise LocalStackError(
                f"cannot listen on {self._host}:{self._port}: {error.strerror or error}"
            ) from None
        try:
            self._moto.start()
        except RuntimeError as error:
            raise LocalStackError(str(error)) from None
        self._set_environment()
        config = settings()
        session = self._moto_session(self.boto3_session())
        dynamodb: DynamoDBClient = session.client("dynamodb", endpoint_url=self.moto_url)
        kinesis: KinesisClient = session.client("kinesis", endpoint_url=self.moto_url)
        create_tables(dynamodb, config)
        session.client("s3", endpoint_url=self.moto_url).create_bucket(
            Bucket=LOCAL_RESOURCES["EXPORT_BUCKET"]
        )
        events: EventBridgeClient = session.client("events", endpoint_url=self.moto_url)
        create_event_bus(events, config)
        if self._events_out is not None:
            sqs: SQSClient = session.client("sqs", endpoint_url=self.moto_url)
            self._forwarder = self._events_out.forwarder(sqs, subscribe_queue(events, sqs, config))
            self._forwarder.start()
        kinesis.create_stream(StreamName=LOCAL_STREAM, ShardCount=self._shards)
        kinesis.get_waiter("stream_exists").wait(StreamName=LOCAL_STREAM)
        self._functions = LocalFunctions(self._functions_root)
        self._gateway.attach(
            self._functions,
            invokes=AsyncInvokes(self._functions, known=lambda name: name in ENTRY_POINTS),
            links=ExportLinks(self.moto_url, LOCAL_RESOURCES["EXPORT_BUCKET"]),
        )
        self._gateway.start()
        self._start_mappings(session, dynamodb, kinesis, config)
        self._start_schedules()
        log.info("local stack up at %s (moto at %s)", self.base_url, self.moto_url)

    def _set_environment(self) -> None:
        callback = f"http://{_url_host(self._host)}:{self.port}"
        environment = {
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIAL,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            # Nothing from the user's AWS setup may point the functions elsewhere.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": "127.0.0.1,localhost,::1",
            "no_proxy": "127.0.0.1,localhost,::1",
            **LOCAL_RESOURCES,
            "WEBSOCKET_CALLBACK_URL": callback,
            "LAMBDA_ENDPOINT_URL": f"{callback}{LAMBDA_PREFIX}",
            "EXPORT_LINK_ENDPOINT_URL": f"{callback}{S3_PREFIX.rstrip('/')}",
            "DRAW_KEY": secrets.token_hex(32),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "Frolic",
            "POWERTOOLS_METRICS_DISABLED": "true",
            **self._extra_environment,
        }
        removed = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "DRAW_KEY_SECRET_ARN")
        for name in (*environment, *removed):
            self._saved_environment.setdefault(name, os.environ.get(name))
        for name in removed:
            os.environ.pop(name, None)
        os.environ.update(environment)
        _clear_caches()
        # The handlers build their clients from boto3's default session.
        boto3.DEFAULT_SESSION = self._moto_session(SerialClientSession())
        self._saved_log_level = handler_logger.log_level
        handler_logger.setLevel(self._handler_log_level)

    def _moto_session(self, session: boto3.session.Session) -> boto3.session.Session:
        """The session, its requests to moto's DynamoDB, Streams and Kinesis unsigned.

        moto checks no signature, and signing was a fifth of each call's CPU in this
        process. moto finds an unsigned request's service by its X-Amz-Target, which
        only the `moto_dispatch` patch does, so this waits for moto to say it is
        patched. The Management API calls to the gateway stay signed: it serves only
        those, so that a web page cannot push to players."""
        if self._moto.patched:
            for service in UNSIGNED_SERVICES:
                session.events.register(f"choose-signer.{service}", _unsigned)
        return session

    def _restore_environment(self) -> None:
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment.clear()
        _clear_caches()
        if self._saved_log_level is not None:
            handler_logger.setLevel(self._saved_log_level)
            self._saved_log_level = None

    def _start_mappings(
        self,
        session: boto3.session.Session,
        dynamodb: DynamoDBClient,
        kinesis: KinesisClient,
        config: Settings,
    ) -> None:
        stream = kinesis.describe_stream_summary(StreamName=LOCAL_STREAM)
        stream_arn = stream["StreamDescriptionSummary"]["StreamARN"]
        for shard in kinesis.list_shards(StreamName=LOCAL_STREAM)["Shards"]:
            coordinates = ShardCoordinates("kinesis", stream_arn, shard["ShardId"])
            source = KinesisShard(kinesis, stream_name=LOCAL_STREAM, coordinates=coordinates)
            self._add_poller(ALLOCATE, source, doorbell=True)

        streams: Any = session.client("dynamodbstreams", endpoint_url=self.moto_url)
        table = dynamodb.describe_table(TableName=config.results_table)["Table"]
        results_arn = table["LatestStreamArn"]
        description = streams.describe_stream(StreamArn=results_arn)["StreamDescription"]
        for shard in description["Shards"]:
            # One reader for both mappings of the shard (see SharedShard).
            coordinates = ShardCoordinates("dynamodb", results_arn, shard["ShardId"])
            reader = SharedShard(
                DynamoStreamShard(
                    streams, coordinates=coordinates, follow_iterators=self._moto.patched
                )
            )
            self._add_poller(DELIVER, reader.subscribe(), doorbell=True, lanes=RESULTS_LANES)
            self._add_poller(
                EXPIRY, reader.subscribe(), due_at=play_deadline(config.expiry_seconds)
            )
        for poller in self._pollers:
            poller.start()

    def _start_schedules(self) -> None:
        """The deployed stack's schedule rules (the sweeper), each on a thread that
        stops with the pollers."""
        functions = self.functions
        for config in SCHEDULES:
            rule = ScheduledRule(config, functions.invoke, self._stop_polling)
            self._schedules.append(rule)
            rule.start()

    def _add_poller(
        self,
        config: MappingConfig,
        source: ShardSource,
        *,
        due_at: Callable[[StreamRecord], float] | None = None,
        doorbell: bool = False,
        lanes: int = 1,
    ) -> None:
        functions = self.functions
        stats = self._stats.setdefault(config.name, MappingStats())
        mapping = dataclasses.replace(
            config, poll_seconds=max(self._poll_seconds, config.poll_seconds)
        )
        bell: Doorbell | None = None
        if doorbell:
            bell = Doorbell()
            where = (source.coordinates.stream_arn, source.coordinates.shard_id)
            self._doorbells.setdefault(where, []).append(bell)

        def invoke(event: dict[str, Any]) -> Any:
            return functions.invoke(mapping.function, event)

        # The mapping's pollers take turns at the function's environments (see mappings).
        turns = self._turns.setdefault(
            config.name, Turns(functions.environments(mapping.function), self._stop_polling)
        )
        runners = [
            BatchRunner(
                mapping,
                source.coordinates,
                invoke=invoke,
                failures=self.failures,
                stats=stats,
                pause=turns.pause if lanes == 1 else self._pause,
            )
            for _ in range(lanes)
        ]
        runner: Runner = runners[0]
        if lanes > 1:
            runner = Lanes(runners, result_socket_or_key, name=f"frolic-local-{config.name}-lane")
            self._lanes.append(runner)
        self._pollers.append(
            ShardPoller(
                mapping,
                source,
                runner,
                stats,
                self._stop_polling,
                due_at=due_at,
                doorbell=bell,
                turns=turns,
            )
        )

    def _pause(self, seconds: float) -> bool:
        return not self._stop_polling.wait(seconds)

    def _ring(self, stream_arn: str, shard_id: str) -> None:
        """moto's server says a request added records to this shard."""
        for bell in self._doorbells.get((stream_arn, shard_id), ()):
            bell.ring()

    def stop(self) -> None:
        """Stop everything this stack started, in reverse; safe to call more than once."""
        if not self._owns_process:
            return
        try:
            self._stop_polling.set()
            for bells in self._doorbells.values():
                for bell in bells:
                    bell.close()
            if self._functions is not None:
                self._functions.close()  # what still waits for a function gives up now
            for poller in self._pollers:
                poller.join(timeout=10)
            self._pollers.clear()
            for lanes in self._lanes:
                lanes.close()
            self._lanes.clear()
            for rule in self._schedules:
                rule.join(timeout=10)
            self._schedules.clear()
            if self._gateway is not None:
                self._gateway.stop()
            if self._functions is not None:
                self._functions.unload()
            if self._forwarder is not None:
                self._forwarder.stop()
            self._moto.stop()
        finally:
            self._restore_environment()
            self._owns_process = False
            _single_stack.release()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- observing ----------------------------------------------------------------------

    def connection_ids(self) -> list[str]:
        """The open WebSocket connections' ids, as the Management API knows them."""
        return self._gateway.connections.ids() if self._gateway is not None else []

    def status(self) -> dict[str, Any]:
        """What GET /dev/status answers: counters, backlogs and the on-failure list."""
        backlog: dict[str, int] = {}
        for poller in list(self._pollers):
            backlog[poller.config.name] = backlog.get(poller.config.name, 0) + poller.backlog
        gateway = self._gateway
        try:
            moto: str | None = self.moto_url
        except RuntimeError:
            moto = None
        return {
            "moto": moto,
            "connections": len(gateway.connections) if gateway is not None else 0,
            "functions": self._functions.summary() if self._functions is not None else {},
            "mappings": {
                name: {**stats.snapshot(), "backlog": backlog.get(name, 0)}
                for name, stats in self._stats.items()
            },
            "schedules": {
                rule.config.name: {"runs": rule.runs, "errors": rule.errors}
                for rule in list(self._schedules)
            },
            "onFailure": self.failures.entries(),
            "onFailureTotal": self.failures.total,
        }


def _unsigned(**_: Any) -> Any:
    return botocore.UNSIGNED


def _clear_caches() -> None:
    """Settings, shared clients and boto3's default session are built once per process
    from the environment: drop them so the next use reads the environment as it is."""
    boto3.DEFAULT_SESSION = None
    settings.cache_clear()
    clients.forget_clients()
