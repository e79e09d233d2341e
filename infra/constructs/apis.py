"""The two front doors: the REST API (players and marketers) and the WebSocket API
(results pushed to players).

REST: every route needs a Cognito user-pool token, except `GET /openapi.json` (the
published contract) and the CORS preflights; API Gateway refuses malformed plays before
a Lambda runs; a regional WAF web ACL rate-limits each client IP; access logs go to a
log group of their own. Data tracing stays off everywhere: it would write response
bodies, and so coupon codes, to the logs (invariant 6).

CORS: the pages are served from CloudFront, another origin. API Gateway answers the
preflights for the allowed origins; the functions name the origin on their own answers
(frolic.http), and the gateway's own error answers (401 from the authorizer, WAF 403,
throttling 429, 5xx) echo the caller's origin, so the pages can read every answer.

WebSocket: authorization happens once, on `$connect`, by the single-use ticket the
ws_connect function redeems (browsers cannot send headers on the handshake); API
Gateway only evaluates authorizers on `$connect` anyway.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import jsii
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct, IConstruct
from pydantic import TypeAdapter

from frolic.models import Identifier

#: Per stage, across all clients: well above a busy game (docs/architecture.md § Limits puts the
#: account at 10,000 requests/s shared with the WebSocket callbacks).
REST_RATE_LIMIT: Final = 2000
REST_BURST_LIMIT: Final = 1000
#: The public game list, on its own budget so an anonymous flood of it cannot spend the
#: stage's rate, which the plays need: a page asks once per visit.
GAME_LIST_RATE_LIMIT: Final = 200
GAME_LIST_BURST_LIMIT: Final = 100
WEBSOCKET_RATE_LIMIT: Final = 1000
WEBSOCKET_BURST_LIMIT: Final = 500
#: Requests per client IP per 5 minutes before WAF blocks it: a player spins at most
#: once per ~10 s reel (30 per 5 min); the margin covers reads and players sharing a
#: carrier NAT address.
WAF_RATE_LIMIT_PER_IP: Final = 2000
#: The fields API Gateway checks on POST /plays; the rest is the function's to judge
#: (it names the offending field, API Gateway cannot).
PLAY_REQUIRED_FIELDS: Final = ("playId", "gameId")
LOG_RETENTION: Final = logs.RetentionDays.ONE_MONTH
#: What the pages send cross-origin: the bearer token and JSON or CSV bodies.
CORS_ALLOWED_HEADERS: Final = ("Authorization", "Content-Type")
#: The methods the REST routes use (players: GET, POST; admin: also PUT and PATCH).
CORS_ALLOWED_METHODS: Final = ("GET", "POST", "PUT", "PATCH")
#: How long a browser may reuse a preflight answer.
CORS_MAX_AGE: Final = Duration.hours(1)
#: API Gateway's own error answers name the caller's origin, whichever it is.
GATEWAY_ERROR_ORIGIN: Final = "method.request.header.Origin"


@dataclass(frozen=True, slots=True)
class PublicRoute:
    function: str
    #: Why it has no authorizer: cdk-nag's acknowledgement of the method.
    why: str


#: Routes anyone may call, without a token.
PUBLIC_ROUTES: Final = {
    ("GET", "/openapi.json"): PublicRoute(
        "admin",
        "GET /openapi.json is the API's published contract (the same document as "
        "docs/openapi.json, no data): public by design, as the admin app and the README "
        "state. The admin function serves it without reading a token.",
    ),
    ("GET", "/games"): PublicRoute(
        "ingest",
        "GET /games lists the live and upcoming games (names, windows, brand names) that "
        "the player page shows before anyone signs in: public by design. The ingest "
        "function answers it from a short cache without reading a token.",
    ),
}


def _identifier_schema() -> apigw.JsonSchema:
    """The `Identifier` constraints of frolic.models, as API Gateway (draft 4) reads them."""
    schema = TypeAdapter(Identifier).json_schema()
    return apigw.JsonSchema(
        type=apigw.JsonSchemaType.STRING,
        min_length=schema.get("minLength"),
        max_length=schema.get("maxLength"),
        pattern=schema.get("pattern"),
    )


def _error_template(code: str, message: str = "$context.error.messageString") -> dict[str, str]:
    """Gateway errors in the same JSON shape the functions answer with (frolic.http)."""
    return {"application/json": f'{{"error":"{code}","message":{message}}}'}


@jsii.implements(apigw.IAuthorizer)
class _NoAuthorizer:
    """Opts one method out of the API's default Cognito authorizer, as the CDK's own CORS
    preflight methods do: an explicit NONE alone conflicts with the default authorizer."""

    @property
    def authorizer_id(self) -> str:
        return ""

    @property
    def authorization_type(self) -> apigw.AuthorizationType:
        return apigw.AuthorizationType.NONE


@jsii.implements(apigwv2.IAccessLogSettings)
class _WebSocketAccessLogs:
    """apigatewayv2 takes its access-log settings as an interface, not a struct."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.custom(
            json.dumps(
                {
                    "requestId": "$context.requestId",
                    "connectionId": "$context.connectionId",
                    "eventType": "$context.eventType",
                    "routeKey": "$context.routeKey",
                    "status": "$context.status",
                    "ip": "$context.identity.sourceIp",
                    "requestTime": "$context.requestTime",
                    "integrationLatency": "$context.integrationLatency",
                    "error": "$context.error.message",
                    "integrationError": "$context.integrationErrorMessage",
                },
                separators=(",", ":"),
            )
        )


class Apis(Construct):
    """REST API + WAF, WebSocket API, and API Gateway's account-level logging role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage_name: str,
        user_pool: cognito.IUserPool,
        ingest: lambda_.IFunction,
        admin: lambda_.IFunction,
        ws_connect: lambda_.IFunction,
        cors_origins: Sequence[str],
    ) -> None:
        """`cors_origins`: the web origins whose pages call the REST API, the site's
        first."""
        super().__init__(scope, construct_id)
        if not cors_origins:
            raise ValueError("cors_origins needs at least the site's origin")
        self.rest_api = self._rest_api(
            stage_name=stage_name,
            user_pool=user_pool,
            ingest=ingest,
            admin=admin,
            cors_origins=cors_origins,
        )
        self.web_acl = self._web_acl(self.rest_api.deployment_stage)
        self.websocket_api, self.websocket_stage = self._websocket_api(
            stage_name=stage_name, ingest=ingest, ws_connect=ws_connect
        )

    @property
    def websocket_callback_url(self) -> str:
        """The Management API endpoint of the stage (https://…/stage) for pushes."""
        return self.websocket_stage.callback_url

    def grant_manage_connections(self, grantee: iam.IGrantable) -> iam.Grant:
        """`execute-api:ManageConnections` on this stage's `@connections` only."""
        return self.websocket_stage.grant_management_api_access(grantee)

    def _suppress_logging_role_policy(self, role: IConstruct) -> None:
        NagSuppressions.add_resource_suppressions(
            role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM4",
                    reason=(
                        "AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS documents "
                        "for API Gateway's account-level logging role; API Gateway names "
                        "the log groups itself, so no narrower resource list exists."
                    ),
                    applies_to=[
                        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                        "AmazonAPIGatewayPushToCloudWatchLogs"
                    ],
                )
            ],
        )

    def _rest_api(
        self,
        *,
        stage_name: str,
        user_pool: cognito.IUserPool,
        ingest: lambda_.IFunction,
        admin: lambda_.IFunction,
        cors_origins: Sequence[str],
    ) -> apigw.RestApi:
        access_logs = logs.LogGroup(self, "RestAccessLogs", retention=LOG_RETENTION)
        self.authorizer = authorizer = apigw.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[user_pool]
        )
        api = apigw.RestApi(
            self,
            "Rest",
            description="Frolic: players' plays and results, marketers' admin",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # API Gateway writes execution and WebSocket access logs through one role
            # per account and region (AWS::ApiGateway::Account); both stages wait for
            # it. The setting outlives this stack, so role and setting are retained, or
            # every other API in the region would lose its logs on destroy.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                throttling_rate_limit=REST_RATE_LIMIT,
                throttling_burst_limit=REST_BURST_LIMIT,
                method_options={
                    # A method's settings replace the stage's: the logging is restated.
                    "/games/GET": apigw.MethodDeploymentOptions(
                        throttling_rate_limit=GAME_LIST_RATE_LIMIT,
                        throttling_burst_limit=GAME_LIST_BURST_LIMIT,
                        logging_level=apigw.MethodLoggingLevel.ERROR,
                        data_trace_enabled=False,
                        metrics_enabled=True,
                    )
                },
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                tracing_enabled=True,
            ),
            default_method_options=apigw.MethodOptions(
                authorizer=authorizer,
                authorization_type=apigw.AuthorizationType.COGNITO,
            ),
            # Preflights are answered by API Gateway (a mock integration per resource,
            # no authorizer): the allowed origin echoed back, Vary: Origin.
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=list(cors_origins),
                allow_methods=list(CORS_ALLOWED_METHODS),
                allow_headers=list(CORS_ALLOWED_HEADERS),
                allow_credentials=False,
                max_age=CORS_MAX_AGE,
            ),
        )
        self._account = api.node.find_child("Account")
        api.deployment_stage.node.add_dependency(self._account)
        self._suppress_logging_role_policy(api.node.find_child("CloudWatchRole"))

        # API Gateway's own answers carry no headers a page can use unless told. A
        # gateway response cannot pick an origin from a list, so it echoes the caller's:
        # pages on every allowed origin read them (an expired token's 401 included).
        # Safe: these answers carry no data and never allow credentials.
        gateway_cors = {
            "Access-Control-Allow-Origin": GATEWAY_ERROR_ORIGIN,
            "Vary": "'Origin'",
        }
        for response_type, code in (
            (apigw.ResponseType.BAD_REQUEST_BODY, "invalid_request"),
            (apigw.ResponseType.BAD_REQUEST_PARAMETERS, "invalid_request"),
            (apigw.ResponseType.UNAUTHORIZED, "unauthenticated"),
            (apigw.ResponseType.ACCESS_DENIED, "forbidden"),
            (apigw.ResponseType.THROTTLED, "throttled"),
            (apigw.ResponseType.WAF_FILTERED, "blocked"),
            (apigw.ResponseType.DEFAULT_4_XX, "request_refused"),
            (apigw.ResponseType.DEFAULT_5_XX, "internal_error"),
        ):
            api.add_gateway_response(
                response_type.response_type,
                type=response_type,
                templates=_error_template(code),
                response_headers=gateway_cors,
            )

        full_validation = api.add_request_validator(
            "BodyAndParameters", validate_request_body=True, validate_request_parameters=True
        )
        play_model = api.add_model(
            "PlayRequest",
            content_type="application/json",
            schema=apigw.JsonSchema(
                schema=apigw.JsonSchemaVersion.DRAFT4,
                title="PlayRequest",
                type=apigw.JsonSchemaType.OBJECT,
                required=list(PLAY_REQUIRED_FIELDS),
                properties={name: _identifier_schema() for name in PLAY_REQUIRED_FIELDS},
            ),
        )

        players = apigw.LambdaIntegration(ingest, allow_test_invoke=False)
        marketers = apigw.LambdaIntegration(admin, allow_test_invoke=False)
        plays = api.root.add_resource("plays")
        plays.add_method(
            "POST",
            players,
            request_validator=full_validation,
            request_models={"application/json": play_model},
        )
        plays.add_resource("{playId}").add_method(
            "GET",
            players,
            request_validator=full_validation,
            request_parameters={"method.request.path.playId": True},
        )
        api.root.add_resource("ws-ticket").add_method("POST", players)
        api.root.add_resource("me").add_resource("coupons").add_method("GET", players)
        api.root.add_resource("admin").add_proxy(default_integration=marketers, any_method=True)
        integrations = {"ingest": players, "admin": marketers}
        public = [
            (
                api.root.add_resource(path.lstrip("/")).add_method(
                    method,
                    integrations[route.function],
                    authorization_type=apigw.AuthorizationType.NONE,
                    authorizer=_NoAuthorizer(),
                ),
                route.why,
            )
            for (method, path), route in sorted(PUBLIC_ROUTES.items())
        ]
        preflights = [m for m in api.methods if m.http_method == "OPTIONS"]
        self._acknowledge_unauthorized(preflights, public)
        return api

    def _acknowledge_unauthorized(
        self,
        preflights: Sequence[apigw.Method],
        public: Sequence[tuple[apigw.Method, str]],
    ) -> None:
        """Acknowledged per method: any other method without a Cognito authorizer still
        fails cdk-nag (and tests/infra)."""
        reasons = [
            (
                preflights,
                "A CORS preflight: API Gateway answers it with a mock integration and "
                "reaches no function; browsers send preflights without credentials, so "
                "an authorizer would break every cross-origin call from the pages.",
            ),
            *(([method], why) for method, why in public),
        ]
        for methods, reason in reasons:
            for method in methods:
                NagSuppressions.add_resource_suppressions(
                    method,
                    [
                        NagPackSuppression(id=rule, reason=reason)
                        for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4")
                    ],
                )

    def _web_acl(self, stage: apigw.Stage) -> wafv2.CfnWebACL:
        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True,
                metric_name=name,
                sampled_requests_enabled=True,
            )

        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility("FrolicRestApi"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="RateLimitPerIp",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="IP",
                            limit=WAF_RATE_LIMIT_PER_IP,
                            evaluation_window_sec=300,
                        )
                    ),
                    visibility_config=visibility("RateLimitPerIp"),
                ),
                # Known exploit patterns (Log4j and the like) in headers, URI and body.
                wafv2.CfnWebACL.RuleProperty(
                    name="KnownBadInputs",
                    priority=1,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS", name="AWSManagedRulesKnownBadInputsRuleSet"
                        )
                    ),
                    visibility_config=visibility("KnownBadInputs"),
                ),
            ],
        )
        wafv2.CfnWebACLAssociation(
            self, "WebAclAssociation", resource_arn=stage.stage_arn, web_acl_arn=acl.attr_arn
        )
        return acl

    def _websocket_api(
        self, *, stage_name: str, ingest: lambda_.IFunction, ws_connect: lambda_.IFunction
    ) -> tuple[apigwv2.WebSocketApi, apigwv2.WebSocketStage]:
        sockets = integrations.WebSocketLambdaIntegration("Sockets", ws_connect)
        api = apigwv2.WebSocketApi(
            self,
            "WebSocket",
            description="Frolic: results pushed to players",
            route_selection_expression="$request.body.action",
            connect_route_options=apigwv2.WebSocketRouteOptions(integration=sockets),
            disconnect_route_options=apigwv2.WebSocketRouteOptions(integration=sockets),
            default_route_options=apigwv2.WebSocketRouteOptions(integration=sockets),
        )
        # A route response: ingest's answer (`queued`, or why not) goes back to the
        # socket as the integration's response, without a Management API call per play.
        api.add_route(
            "play",
            integration=integrations.WebSocketLambdaIntegration("Play", ingest),
            return_response=True,
        )
        access_logs = logs.LogGroup(self, "WebSocketAccessLogs", retention=LOG_RETENTION)
        stage = apigwv2.WebSocketStage(
            self,
            "WebSocketStage",
            web_socket_api=api,
            stage_name=stage_name,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=WEBSOCKET_RATE_LIMIT, burst_limit=WEBSOCKET_BURST_LIMIT
            ),
            access_log_settings=_WebSocketAccessLogs(access_logs),
        )
        stage.node.add_dependency(self._account)
        NagSuppressions.add_resource_suppressions(
            api,
            [
                NagPackSuppression(
                    id="AwsSolutions-APIG4",
                    reason=(
                        "$connect is authorized by the ws_connect function, which redeems "
                        "a single-use 30-second ticket issued over the Cognito-authorized "
                        "REST API and refuses the handshake (401) otherwise; API Gateway "
                        "evaluates no authorizer on the other routes of a WebSocket API, "
                        "which only an accepted connection can reach."
                    ),
                )
            ],
            apply_to_children=True,
        )
        return api, stage
