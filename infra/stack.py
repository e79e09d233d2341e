"""FrolicStack: composes the constructs and grants each function what its code does.

Every right a function has is granted here, in one place a reviewer can read against
the handlers: ingest writes pending plays and enqueues them, allocate decides, deliver
issues coupons and pushes, the expiry watcher expires, the sweeper finishes what those
two left undone, ws_connect keeps sockets, admin manages campaigns and starts exports,
which the export function writes. Stream reads and
failure-queue sends come with the event-source mappings (infra/constructs/stream.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from aws_cdk import Aws, CfnOutput, Fn, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from frolic.dal.tables import SWEEP_INDEX
from infra.build_layer import DEPS_LAYER_DIR
from infra.constructs.apis import Apis
from infra.constructs.auth import Auth
from infra.constructs.data import Data
from infra.constructs.events_out import EventsOut
from infra.constructs.exports import Exports
from infra.constructs.functions import Functions
from infra.constructs.monitoring import (
    ALLOCATE_LAG_ALARM_MS,
    DELIVER_LAG_ALARM_MS,
    Monitoring,
)
from infra.constructs.schedule import Schedule
from infra.constructs.stream import Consumers, PlayStream, StreamProcessing
from infra.constructs.web import PageSettings, Web, cognito_sign_in

REEL_SECONDS: Final = 10
EXPIRY_GRACE_SECONDS: Final = 5
#: The expiry watcher lags by design (it holds plays until their deadline): it is
#: behind only when its records are older than a deadline plus a minute.
EXPIRY_LAG_ALARM_MS: Final = (REEL_SECONDS + EXPIRY_GRACE_SECONDS + 60) * 1000


class FrolicStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage_name: str,
        shard_count: int | None = None,
        parallelization_factor: int = 1,
        deps_layer_dir: Path = DEPS_LAYER_DIR,
        alarm_email: str | None = None,
        retain_data: bool = True,
        extra_origins: Sequence[str] = (),
        sign_in_domain_prefix: str | None = None,
        crm_endpoint: str | None = None,
        crm_with_codes: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        removal = RemovalPolicy.RETAIN if retain_data else RemovalPolicy.DESTROY

        # The pages' own origin first: the REST API's CORS rules name it.
        self.web = web = Web(self, "Web")
        cors_origins = [web.origin, *extra_origins]

        self.data = data = Data(self, "Data", removal_policy=removal)
        self.plays = plays = PlayStream(self, "PlayStream", shard_count=shard_count)
        self.auth = auth = Auth(
            self,
            "Auth",
            removal_policy=removal,
            page_origins=cors_origins,
            # Unique in the region: the stage and the account.
            domain_prefix=sign_in_domain_prefix
            or Fn.join("-", ["frolic", stage_name.lower(), Aws.ACCOUNT_ID]),
        )
        self.functions = functions = Functions(
            self,
            "Functions",
            environment={
                "RESULTS_TABLE": data.results.table_name,
                "STATE_TABLE": data.state.table_name,
                "SESSIONS_TABLE": data.sessions.table_name,
            },
            reel_seconds=REEL_SECONDS,
            expiry_grace_seconds=EXPIRY_GRACE_SECONDS,
            deps_layer_dir=deps_layer_dir,
        )
        self.apis = apis = Apis(
            self,
            "Apis",
            stage_name=stage_name,
            user_pool=auth.user_pool,
            ingest=functions.ingest,
            admin=functions.admin,
            ws_connect=functions.ws_connect,
            cors_origins=cors_origins,
        )
        web.publish(
            PageSettings(
                api_url=apis.rest_api.url,
                websocket_url=apis.websocket_stage.url,
                sign_in=cognito_sign_in(
                    client_id=auth.client.user_pool_client_id, domain_url=auth.domain.base_url()
                ),
            )
        )
        self.processing = processing = StreamProcessing(
            self,
            "StreamProcessing",
            play_stream=plays.stream,
            results_table=data.results,
            consumers=Consumers(
                allocate=functions.allocate,
                deliver=functions.deliver,
                expiry=functions.expiry,
            ),
            parallelization_factor=parallelization_factor,
        )

        # ingest: the pending result (put, read back), games (read), WebSocket tickets
        # and connections, the play stream, and answers on the player's socket.
        data.results.grant_read_data(functions.ingest)
        data.results.grant(functions.ingest, "dynamodb:PutItem")
        data.state.grant_read_data(functions.ingest)
        data.sessions.grant_read_write_data(functions.ingest)
        plays.stream.grant_write(functions.ingest)
        functions.ingest.add_environment("PLAY_STREAM", plays.stream.stream_name)
        # allocate: leases coupons (budget counters) and writes decided results.
        data.results.grant_read_write_data(functions.allocate)
        data.state.grant_read_write_data(functions.allocate)
        data.draw_key.grant_read(functions.allocate)
        functions.allocate.add_environment("DRAW_KEY_SECRET_ARN", data.draw_key.secret_arn)
        # deliver: coupons → ISSUED, the player's connections, pushes. It reads results
        # only from the stream images, and updates one to take it out of the index of
        # wins awaiting issue.
        data.state.grant_read_write_data(functions.deliver)
        data.sessions.grant_read_write_data(functions.deliver)
        data.results.grant(functions.deliver, "dynamodb:UpdateItem")
        # expiry: a consistent read, then an update conditioned on `pending`.
        data.results.grant(functions.expiry, "dynamodb:GetItem", "dynamodb:UpdateItem")
        # sweep: the results' sparse index read (wins Queried per shard, pending plays in
        # one Scan), then expiry's and deliver's own conditional writes (a coupon's code
        # looked up, the coupon issued).
        data.results.grant(
            functions.sweep, "dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"
        )
        iam.Grant.add_to_principal(
            grantee=functions.sweep,
            actions=["dynamodb:Scan"],
            resource_arns=[f"{data.results.table_arn}/index/{SWEEP_INDEX}"],
        )
        # ... and stranded ordinals returned: the catalog listed, counters and coupons read,
        # each void one transaction (frolic.dal.stranded).
        data.state.grant(
            functions.sweep,
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:ConditionCheckItem",
        )
        self.schedule = Schedule(self, "Schedule", sweep=functions.sweep)
        # ws_connect: tickets redeemed, connections opened and closed.
        data.sessions.grant_read_write_data(functions.ws_connect)
        # admin: campaigns, games, brands, budgets, pools; reports read results.
        data.state.grant_read_write_data(functions.admin)
        data.results.grant_read_data(functions.admin)
        # exports: admin creates and reads the job items (above), starts the export
        # function and signs links to its files; export walks the game's budgets,
        # counters and coupons, writes the file and settles the job.
        self.exports = exports = Exports(
            self, "Exports", access_logs=web.access_logs, removal_policy=removal
        )
        iam.Grant.add_to_principal(
            grantee=functions.admin,
            actions=["lambda:InvokeFunction"],
            resource_arns=[functions.export.function_arn],
        )
        exports.grant_links(functions.admin)
        data.state.grant(
            functions.export,
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:BatchGetItem",
            "dynamodb:UpdateItem",
        )
        exports.grant_write(functions.export)
        for exporter in (functions.admin, functions.export):
            exporter.add_environment("EXPORT_BUCKET", exports.bucket.bucket_name)
        functions.admin.add_environment("EXPORT_FUNCTION", functions.export.function_name)
        # deliver and sweep: wins and coupons issued; admin: redemptions, status changes.
        self.events_out = events_out = EventsOut(
            self,
            "EventsOut",
            crm_endpoint=crm_endpoint,
            crm_with_codes=crm_with_codes,
            removal_policy=removal,
        )
        for publisher in (functions.deliver, functions.sweep, functions.admin):
            events_out.grant_publish(publisher)
            publisher.add_environment("EVENT_BUS", events_out.bus.event_bus_name)
        for pusher in (functions.ingest, functions.deliver, functions.ws_connect):
            apis.grant_manage_connections(pusher)
        for pusher in (functions.ingest, functions.deliver):
            pusher.add_environment("WEBSOCKET_CALLBACK_URL", apis.websocket_callback_url)
        # The REST functions name an allowed origin on their answers (frolic.http).
        for rest in (functions.ingest, functions.admin):
            rest.add_environment("CORS_ALLOWED_ORIGINS", ",".join(cors_origins))

        self.monitoring = Monitoring(
            self,
            "Monitoring",
            functions=functions.all,
            stream_consumers={
                "allocate": (functions.allocate, ALLOCATE_LAG_ALARM_MS),
                "deliver": (functions.deliver, DELIVER_LAG_ALARM_MS),
                "expiry": (functions.expiry, EXPIRY_LAG_ALARM_MS),
            },
            play_stream=plays.stream,
            tables={
                "results": data.results,
                "state": data.state,
                "sessions": data.sessions,
            },
            failure_queues=processing.failure_queues,
            allocate=functions.allocate,
            alarm_email=alarm_email,
        )
        self._suppress_required_wildcards(functions)

        for output_id, value, description in (
            ("SiteUrl", web.url, "Player page (/) and marketer page (/admin)"),
            ("RestApiUrl", apis.rest_api.url, "Players' and marketers' REST API"),
            ("WebSocketUrl", apis.websocket_stage.url, "Results WebSocket (wss://)"),
            ("UserPoolId", auth.user_pool.user_pool_id, "Cognito user pool"),
            ("UserPoolClientId", auth.client.user_pool_client_id, "Cognito app client"),
            ("SignInUrl", auth.domain.base_url(), "Cognito managed login (sign-in, sign-up)"),
            ("ResultsTableName", data.results.table_name, "Results table"),
            ("StateTableName", data.state.table_name, "State table"),
            ("SessionsTableName", data.sessions.table_name, "Sessions table"),
            ("PlayStreamName", plays.stream.stream_name, "Kinesis play stream"),
            ("ExportsBucketName", exports.bucket.bucket_name, "Marketers' CSV exports (7 days)"),
            ("EventBusName", events_out.bus.event_bus_name, "Wins, coupons and status changes"),
            (
                "WebAccessLogBucketName",
                web.access_logs.bucket_name,
                "CloudFront and site-bucket access logs (kept after destroy)",
            ),
        ):
            CfnOutput(self, output_id, value=value, description=description)

    def _suppress_required_wildcards(self, functions: Functions) -> None:
        """The wildcards left in the function roles are the ones AWS requires, and the
        results table's own indexes; each is acknowledged by exact finding, per role,
        never for a whole action set."""
        for function in functions.all.values():
            role = function.role
            if role is None:  # pragma: no cover - every function gets a role above
                continue
            NagSuppressions.add_resource_suppressions(
                role,
                [
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason=(
                            "Only X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) "
                            "and DynamoDB ListStreams (the results-stream mappings) have "
                            "Resource *: neither action supports resource-level permissions. "
                            "tests/infra asserts that no other statement uses Resource *."
                        ),
                        applies_to=["Resource::*"],
                    ),
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason=(
                            "ManageConnections on this WebSocket API's own stage: connection "
                            "ids exist only at run time, so @connections/* (any method) is the "
                            "narrowest resource API Gateway offers."
                        ),
                        applies_to=[
                            RegexAppliesTo(
                                regex=r"/^Resource::arn:<AWS::Partition>:execute-api:"
                                r"<AWS::Region>:<AWS::AccountId>:<ApisWebSocket\w+>/"
                                r"[\w-]+/\*/@connections/\*$/"
                            ),
                        ],
                    ),
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason=(
                            "<results table ARN>/index/* is what CDK's table grants add for a "
                            "table with indexes: it names only the results table's own sparse "
                            "indexes (frolic.dal.tables), the keys-only sweep index the sweeper "
                            "reads and the wallet index ingest reads, which hold nothing the "
                            "role cannot already read from the table."
                        ),
                        applies_to=[
                            RegexAppliesTo(regex=r"/^Resource::<DataResults\w+\.Arn>/index/\*$/")
                        ],
                    ),
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason=(
                            "<exports bucket ARN>/exports/*: the files' names hold an export "
                            "id made at run time; the export function writes there and the "
                            "admin function signs GETs of it, nothing more (tests/infra)."
                        ),
                        applies_to=[
                            RegexAppliesTo(regex=r"/^Resource::<ExportsFiles\w+\.Arn>/exports/\*$/")
                        ],
                    ),
                ],
                apply_to_children=True,
            )
