"""The Lambda functions: thin handlers over the shared `frolic` layer.

Every function is arm64 on the Python version the dependencies layer is built for, has
active tracing, a log group of its own with a retention, and a role of its own that
starts with nothing but writing to that log group: the stack adds each grant it needs.

Code comes from plain asset folders (no bundling, so synth needs no Docker): each
function's own folder, the `layers/common` folder (which holds `python/frolic`) and
`build/layers/deps`, made by `infra/build_layer.py` (`make layers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from frolic.sweep import RUN_SECONDS as SWEEP_RUN_SECONDS
from infra.build_layer import DEPS_LAYER_DIR, PYTHON_VERSION

ROOT: Final = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR: Final = ROOT / "functions"
COMMON_LAYER_DIR: Final = ROOT / "layers" / "common"
RUNTIME: Final = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE: Final = lambda_.Architecture.ARM_64
#: The namespace and service name the code's Powertools Metrics use
#: (frolic.observability); the dashboard and alarms read metrics by these.
METRICS_NAMESPACE: Final = "Frolic"
SERVICE_NAME: Final = "frolic"
#: Not code: keep caches and bytecode out of the assets (and out of their hashes).
ASSET_EXCLUDES: Final = ["**/__pycache__", "**/*.pyc", "*.egg-info", ".mypy_cache", ".pytest_cache"]
LOG_RETENTION: Final = logs.RetentionDays.ONE_MONTH
#: The expiry watcher's slack beyond the deadline it sleeps until: reading and, for
#: the few plays still pending, expiring one batch.
EXPIRY_SLACK: Final = Duration.seconds(60)
#: The sweeper stops taking work after SWEEP_RUN_SECONDS; this finishes the item in hand.
SWEEP_SLACK: Final = Duration.seconds(30)

if RUNTIME.name != f"python{PYTHON_VERSION}":
    raise RuntimeError(f"{RUNTIME.name} does not match the layer's python{PYTHON_VERSION}")


class DepsLayerMissingError(FileNotFoundError):
    """Synth without the dependencies layer would deploy functions that cannot start."""


class Functions(Construct):
    """ingest, allocate, deliver, expiry, the sweeper, ws_connect, admin and export."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: Mapping[str, str],
        reel_seconds: int = 10,
        expiry_grace_seconds: int = 5,
        deps_layer_dir: Path = DEPS_LAYER_DIR,
        log_level: str = "INFO",
    ) -> None:
        super().__init__(scope, construct_id)
        if not (deps_layer_dir / "python").is_dir():
            raise DepsLayerMissingError(
                f"{deps_layer_dir}/python is missing: build the dependencies layer first "
                "with `make layers` (python infra/build_layer.py)"
            )
        self._environment = {
            **environment,
            "REEL_SECONDS": str(reel_seconds),
            "EXPIRY_GRACE_SECONDS": str(expiry_grace_seconds),
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            # Answers hold coupon codes and tickets: no traced return value goes to X-Ray,
            # whatever a decorator says (the decorators also say so).
            "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
            "LOG_LEVEL": log_level,
        }
        self.layers = [
            lambda_.LayerVersion(
                self,
                "CommonLayer",
                description="The frolic package shared by every function",
                code=lambda_.Code.from_asset(str(COMMON_LAYER_DIR), exclude=ASSET_EXCLUDES),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[ARCHITECTURE],
            ),
            lambda_.LayerVersion(
                self,
                "DepsLayer",
                description="Powertools, pydantic and the X-Ray SDK for arm64 CPython",
                code=lambda_.Code.from_asset(str(deps_layer_dir), exclude=ASSET_EXCLUDES),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[ARCHITECTURE],
            ),
        ]

        self.ingest = self._function(
            "Ingest",
            folder="ingest",
            description="Players' REST API and WebSocket play messages: validate, enqueue",
            memory_size=512,
            timeout=Duration.seconds(10),
        )
        self.allocate = self._function(
            "Allocate",
            folder="allocate",
            description="Kinesis batches of plays: pace, draw, reserve, record results",
            memory_size=1024,
            timeout=Duration.seconds(30),
        )
        # A stack update changes allocate before ingest: an allocator then knows every
        # field of the play records an ingest of its own version or an older one writes
        # (records are strict, so an older allocator would reject a newer field).
        self.ingest.node.add_dependency(self.allocate)
        self.deliver = self._function(
            "Deliver",
            folder="deliver",
            description="Final results: issue coupons, push to the player's WebSocket",
            memory_size=512,
            timeout=Duration.seconds(30),
        )
        #: Sleeps until each play's deadline (arrival + reel + grace), then expires the
        #: plays still pending: its timeout must cover that wait and the batch's work.
        self.expiry = self._function(
            "Expiry",
            folder="expiry",
            description="Pending plays: expire those still pending when the reel stops",
            memory_size=256,
            timeout=Duration.seconds(reel_seconds + expiry_grace_seconds).plus(EXPIRY_SLACK),
        )
        #: Run by a schedule every minute: a failed run is simply the next one, so the
        #: asynchronous invocation is not retried (a retry would overlap that run).
        self.sweep = self._function(
            "Sweep",
            folder="sweep",
            description="Every minute: expire stuck pending plays, issue stuck won coupons",
            memory_size=256,
            timeout=Duration.seconds(int(SWEEP_RUN_SECONDS)).plus(SWEEP_SLACK),
            retry_attempts=0,
        )
        self.ws_connect = self._function(
            "WsConnect",
            folder="ws_connect",
            description="WebSocket $connect (ticket check), $disconnect and $default",
            memory_size=256,
            timeout=Duration.seconds(10),
        )
        self.admin = self._function(
            "Admin",
            folder="admin",
            description="Marketers' REST API: campaigns, games, brands, budgets, reports",
            memory_size=512,
            timeout=Duration.seconds(29),
        )
        #: Invoked asynchronously by admin, one export a run: a walk of a big game's
        #: coupons takes minutes, not API Gateway's 29 s. One retry: a run that failed
        #: marks its job failed unless the retry finishes it.
        self.export = self._function(
            "Export",
            folder="export",
            description="Marketers' CSV exports of winners and the audit trail, to S3",
            memory_size=512,
            timeout=Duration.minutes(15),
            retry_attempts=1,
        )

    @property
    def all(self) -> dict[str, lambda_.Function]:
        return {
            "ingest": self.ingest,
            "allocate": self.allocate,
            "deliver": self.deliver,
            "expiry": self.expiry,
            "sweep": self.sweep,
            "ws_connect": self.ws_connect,
            "admin": self.admin,
            "export": self.export,
        }

    def _function(
        self,
        construct_id: str,
        *,
        folder: str,
        description: str,
        memory_size: int,
        timeout: Duration,
        retry_attempts: int | None = None,
    ) -> lambda_.Function:
        source = FUNCTIONS_DIR / folder
        module = source / "handler.py"
        if not module.is_file():
            raise FileNotFoundError(f"{module} is missing: the {construct_id} function needs it")
        log_group = logs.LogGroup(self, f"{construct_id}Logs", retention=LOG_RETENTION)
        # A role of its own, without the AWS managed basic-execution policy: logging to
        # its own group is the only right it starts with.
        role = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Frolic {construct_id} function",
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            construct_id,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.lambda_handler",
            code=lambda_.Code.from_asset(str(source), exclude=ASSET_EXCLUDES),
            layers=self.layers,
            memory_size=memory_size,
            timeout=timeout,
            environment=dict(self._environment),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
            retry_attempts=retry_attempts,
        )
        NagSuppressions.add_resource_suppressions(
            function,
            [
                NagPackSuppression(
                    id="AwsSolutions-L1",
                    reason=(
                        f"Pinned to python{PYTHON_VERSION}, the version the project is "
                        "tested on and the dependencies layer's compiled wheels are built "
                        "for; the runtime and PYTHON_VERSION in infra/build_layer.py move "
                        "together, deliberately, not whenever a newer runtime appears."
                    ),
                )
            ],
        )
        return function
