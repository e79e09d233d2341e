"""The deployed shape of Frolic: what must hold in the template for the invariants and
the security posture the code relies on (keys, streams, retries, least privilege)."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, cast

import grimp
import pytest
from aws_cdk import App, CfnElement, Stack
from aws_cdk.assertions import Match, Template
from constructs import IConstruct

from frolic.dal.exports import EXPORT_DAYS
from frolic.dal.tables import (
    RESULTS_KEY,
    SESSIONS_KEY,
    STATE_PARTITION_KEY,
    STATE_SORT_KEY,
    SWEEP_INDEX,
    SWEEP_PARTITION,
    SWEEP_SORT,
    TTL_ATTRIBUTE,
    WALLET_INDEX,
    WALLET_PARTITION,
    WALLET_PROJECTION,
    WALLET_SORT,
)
from frolic.exports import EXPORTS_FOLDER
from frolic.settings import FUNCTION_NEEDS
from frolic.sweep import RUN_SECONDS as SWEEP_RUN_SECONDS
from frolic_tools.local.routes import REST_ROUTES
from frolic_tools.schema import local_settings, table_definitions
from infra.app import build
from infra.build_layer import LOCK, pip_command, requirements
from infra.constructs.apis import (
    GAME_LIST_BURST_LIMIT,
    GAME_LIST_RATE_LIMIT,
    PUBLIC_ROUTES,
    REST_RATE_LIMIT,
)
from infra.constructs.functions import METRICS_NAMESPACE, SERVICE_NAME, DepsLayerMissingError
from infra.constructs.monitoring import SWEPT
from infra.constructs.stream import PlayStream
from infra.stack import EXPIRY_GRACE_SECONDS, REEL_SECONDS
from tests.infra.conftest import STAGE, Synth

#: Actions AWS authorizes only on Resource "*" (no resource-level permissions).
RESOURCE_STAR_ALLOWED = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "cloudwatch:PutMetricData",
        "dynamodb:ListStreams",
    }
)

ROOT = Path(__file__).resolve().parents[2]


def logical_id(stack: Stack, construct: IConstruct) -> str:
    return stack.get_logical_id(cast(CfnElement, construct.node.default_child))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(synth: Synth, function_name: str) -> list[dict[str, Any]]:
    """All statements of the inline policies attached to one function's role."""
    function = synth.stack.functions.all[function_name]
    assert function.role is not None
    role_id = logical_id(synth.stack, function.role)
    statements: list[dict[str, Any]] = []
    for policy in synth.of_type("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions_of(synth: Synth, function_name: str) -> set[str]:
    return {a for s in policy_statements(synth, function_name) for a in as_list(s["Action"])}


# --- data -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "keys"),
    [
        ("results", [{"AttributeName": RESULTS_KEY, "KeyType": "HASH"}]),
        (
            "state",
            [
                {"AttributeName": STATE_PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": STATE_SORT_KEY, "KeyType": "RANGE"},
            ],
        ),
        ("sessions", [{"AttributeName": SESSIONS_KEY, "KeyType": "HASH"}]),
    ],
)
def test_tables_use_the_dal_key_schema_and_are_protected(
    synth: Synth, table: str, keys: list[dict[str, str]]
) -> None:
    construct = getattr(synth.stack.data, table)
    properties = synth.resources[logical_id(synth.stack, construct)]["Properties"]
    assert properties["KeySchema"] == keys
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert properties["TimeToLiveSpecification"] == {
        "AttributeName": TTL_ATTRIBUTE,
        "Enabled": True,
    }


def test_the_results_table_has_the_sweep_index_and_the_wallet_index_as_run_locally(
    synth: Synth,
) -> None:
    properties = synth.resources[logical_id(synth.stack, synth.stack.data.results)]["Properties"]
    assert properties["GlobalSecondaryIndexes"] == [
        {
            "IndexName": SWEEP_INDEX,
            "KeySchema": [
                {"AttributeName": SWEEP_PARTITION, "KeyType": "HASH"},
                {"AttributeName": SWEEP_SORT, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        },
        {
            "IndexName": WALLET_INDEX,
            "KeySchema": [
                {"AttributeName": WALLET_PARTITION, "KeyType": "HASH"},
                {"AttributeName": WALLET_SORT, "KeyType": "RANGE"},
            ],
            "Projection": {
                "ProjectionType": "INCLUDE",
                "NonKeyAttributes": list(WALLET_PROJECTION),
            },
        },
    ]
    types = {a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]}
    assert types == {
        RESULTS_KEY: "S",
        SWEEP_PARTITION: "S",
        SWEEP_SORT: "N",
        WALLET_PARTITION: "S",
        WALLET_SORT: "N",
    }
    # The local stack's table (frolic_tools.schema) is the same
    [local] = [t for t in table_definitions(local_settings()) if t["TableName"].endswith("results")]
    assert local["GlobalSecondaryIndexes"] == properties["GlobalSecondaryIndexes"]


def test_only_the_results_table_streams_new_and_old_images(synth: Synth) -> None:
    streams = {
        name: synth.resources[logical_id(synth.stack, getattr(synth.stack.data, name))][
            "Properties"
        ].get("StreamSpecification")
        for name in ("results", "state", "sessions")
    }
    assert streams == {
        "results": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
        "state": None,
        "sessions": None,
    }


def test_tables_and_secrets_are_retained_unless_asked(synth: Synth) -> None:
    for resource_type in ("AWS::DynamoDB::Table", "AWS::SecretsManager::Secret"):
        for resource in synth.of_type(resource_type).values():
            assert resource["DeletionPolicy"] == "Retain"


def test_the_draw_key_is_a_generated_secret(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {"GenerateSecretString": Match.object_like({"PasswordLength": 64})},
    )


# --- streams ----------------------------------------------------------------------------


def test_play_stream_is_encrypted_and_on_demand_by_default(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
        },
    )


def test_a_shard_count_provisions_the_play_stream() -> None:
    stack = Stack(App(), "Streams")
    PlayStream(stack, "PlayStream", shard_count=4)
    Template.from_stack(stack).has_resource_properties(
        "AWS::Kinesis::Stream",
        {"ShardCount": 4, "StreamModeDetails": {"StreamMode": "PROVISIONED"}},
    )


def mapping_of(synth: Synth, function_name: str) -> dict[str, Any]:
    function_id = logical_id(synth.stack, synth.stack.functions.all[function_name])
    found = [
        m["Properties"]
        for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert len(found) == 1, f"{function_name} should have exactly one event-source mapping"
    mapping: dict[str, Any] = found[0]
    return mapping


def test_allocate_reads_the_play_stream_with_bounded_retries(synth: Synth) -> None:
    mapping = mapping_of(synth, "allocate")
    stream_id = logical_id(synth.stack, synth.stack.plays.stream)
    queue_id = logical_id(synth.stack, synth.stack.processing.allocate_failures)
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [stream_id, "Arn"]}
    assert mapping["BatchSize"] == 100
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 3
    assert mapping["MaximumRecordAgeInSeconds"] == 60
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ParallelizationFactor"] == 1
    assert mapping["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}
    }


def test_failure_queues_are_encrypted_and_keep_records_14_days(synth: Synth) -> None:
    # The three mappings' on-failure queues, and the CRM rules' dead-letter queue
    queues = synth.of_type("AWS::SQS::Queue")
    assert len(queues) == 4
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def filter_patterns(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]


def test_deliver_sees_only_final_results(synth: Synth) -> None:
    mapping = mapping_of(synth, "deliver")
    results_id = logical_id(synth.stack, synth.stack.data.results)
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [results_id, "StreamArn"]}
    assert filter_patterns(mapping) == [
        {"dynamodb": {"NewImage": {"status": {"S": ["won", "lost", "rejected", "expired"]}}}}
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert "OnFailure" in mapping["DestinationConfig"]


def test_expiry_sees_only_inserted_pending_plays(synth: Synth) -> None:
    mapping = mapping_of(synth, "expiry")
    results_id = logical_id(synth.stack, synth.stack.data.results)
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [results_id, "StreamArn"]}
    assert filter_patterns(mapping) == [
        {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": ["pending"]}}}}
    ]
    assert 0 < mapping["MaximumBatchingWindowInSeconds"] <= 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "OnFailure" in mapping["DestinationConfig"]


# --- functions --------------------------------------------------------------------------


def test_every_function_is_arm64_traced_with_both_layers(synth: Synth) -> None:
    ours = {logical_id(synth.stack, f) for f in synth.stack.functions.all.values()}
    every = synth.of_type("AWS::Lambda::Function")
    functions = {name: every[name] for name in ours}
    layer_ids = sorted(logical_id(synth.stack, layer) for layer in synth.stack.functions.layers)
    assert len(functions) == 8
    # Besides ours, only the CDK's: the page deployment and the site bucket's emptying.
    (deployment, auto_delete) = sorted(set(every) - ours)
    assert deployment.startswith("CustomCDKBucketDeployment")
    assert auto_delete.startswith("CustomS3AutoDeleteObjects")
    assert len(layer_ids) == 2
    for function in functions.values():
        properties = function["Properties"]
        assert properties["Architectures"] == ["arm64"]
        assert properties["Runtime"] == "python3.12"
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert sorted(layer["Ref"] for layer in properties["Layers"]) == layer_ids
        variables = properties["Environment"]["Variables"]
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == METRICS_NAMESPACE
        assert variables["POWERTOOLS_SERVICE_NAME"] == SERVICE_NAME
        assert variables["LOG_LEVEL"] == "INFO"
        assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
        assert variables["REEL_SECONDS"] == str(REEL_SECONDS)


def test_each_function_has_a_role_of_its_own(synth: Synth) -> None:
    roles = [f["Properties"]["Role"] for f in synth.of_type("AWS::Lambda::Function").values()]
    assert len(roles) == len({json.dumps(r) for r in roles})


def function_properties(synth: Synth, name: str) -> dict[str, Any]:
    function = synth.stack.functions.all[name]
    properties: dict[str, Any] = synth.resources[logical_id(synth.stack, function)]["Properties"]
    return properties


def test_every_function_has_a_folder_of_its_own(synth: Synth) -> None:
    handlers = {name: function_properties(synth, name)["Handler"] for name in ("deliver", "expiry")}
    assert handlers == {"deliver": "handler.lambda_handler", "expiry": "handler.lambda_handler"}
    deliver, expiry = (function_properties(synth, n)["Code"] for n in ("deliver", "expiry"))
    assert deliver != expiry, "expiry ships its own folder, not deliver's"
    assert expiry_timeout(synth) > REEL_SECONDS + EXPIRY_GRACE_SECONDS + 10


def test_allocate_is_updated_before_ingest(synth: Synth) -> None:
    """An ingest may put records with a field its allocator must know (issue 13: the
    game status ingest saw); CloudFormation updates what a resource depends on first."""
    ingest = synth.resources[logical_id(synth.stack, synth.stack.functions.ingest)]
    allocate_id = logical_id(synth.stack, synth.stack.functions.allocate)
    assert allocate_id in ingest.get("DependsOn", [])


def test_the_sweeper_runs_every_minute_once_per_event(synth: Synth) -> None:
    rules = synth.of_type("AWS::Events::Rule").values()
    (rule,) = [r for r in rules if "ScheduleExpression" in r["Properties"]]
    properties = rule["Properties"]
    assert properties["ScheduleExpression"] == "rate(1 minute)"
    assert properties["State"] == "ENABLED"
    (target,) = properties["Targets"]
    sweep_id = logical_id(synth.stack, synth.stack.functions.sweep)
    assert target["Arn"] == {"Fn::GetAtt": [sweep_id, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 0}
    permissions = [
        p["Properties"]
        for p in synth.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [sweep_id, "Arn"]}
    ]
    assert [p["Principal"] for p in permissions] == ["events.amazonaws.com"]
    sweep = function_properties(synth, "sweep")
    assert sweep["Handler"] == "handler.lambda_handler"
    assert sweep["Timeout"] > SWEEP_RUN_SECONDS + 10
    assert invoke_retries(synth)[sweep_id] == 0


def invoke_retries(synth: Synth) -> dict[str, int]:
    """Logical id of each function with an asynchronous-invoke config → its retries."""
    return {
        config["Properties"]["FunctionName"]["Ref"]: config["Properties"]["MaximumRetryAttempts"]
        for config in synth.of_type("AWS::Lambda::EventInvokeConfig").values()
    }


def expiry_timeout(synth: Synth) -> int:
    timeout: int = function_properties(synth, "expiry")["Timeout"]
    return timeout


def test_environment_wiring(synth: Synth) -> None:
    env = {
        n: function_properties(synth, n)["Environment"]["Variables"]
        for n in synth.stack.functions.all
    }
    for variables in env.values():
        assert {"RESULTS_TABLE", "STATE_TABLE", "SESSIONS_TABLE"} <= variables.keys()
    assert {n for n, v in env.items() if "WEBSOCKET_CALLBACK_URL" in v} == {"ingest", "deliver"}
    assert {n for n, v in env.items() if "PLAY_STREAM" in v} == {"ingest"}
    assert {n for n, v in env.items() if "DRAW_KEY_SECRET_ARN" in v} == {"allocate"}
    assert all("DRAW_KEY" not in v for v in env.values()), "the key itself never in env"
    secret_id = logical_id(synth.stack, synth.stack.data.draw_key)
    assert env["allocate"]["DRAW_KEY_SECRET_ARN"] == {"Ref": secret_id}
    # And each function is given what it refuses to start without
    assert env.keys() == FUNCTION_NEEDS.keys()
    for name, needs in FUNCTION_NEEDS.items():
        for alternatives in needs:
            assert any(setting in env[name] for setting in alternatives), (name, alternatives)


def test_metric_names_match_the_code() -> None:
    from frolic.observability import NAMESPACE

    assert NAMESPACE == METRICS_NAMESPACE


# --- least privilege --------------------------------------------------------------------


@pytest.mark.parametrize(
    "function_name",
    ["ingest", "allocate", "deliver", "expiry", "sweep", "ws_connect", "admin", "export"],
)
def test_no_wildcard_actions_and_resource_star_only_where_aws_requires(
    synth: Synth, function_name: str
) -> None:
    statements = policy_statements(synth, function_name)
    assert statements
    for statement in statements:
        actions = as_list(statement["Action"])
        assert all("*" not in action for action in actions), statement
        if "*" in as_list(statement["Resource"]):
            assert set(actions) <= RESOURCE_STAR_ALLOWED, statement


def test_no_managed_policies_on_function_roles(synth: Synth) -> None:
    for function in synth.stack.functions.all.values():
        assert function.role is not None
        role = synth.resources[logical_id(synth.stack, function.role)]
        assert "ManagedPolicyArns" not in role["Properties"]


def test_grants_follow_what_each_function_does(synth: Synth) -> None:
    actions = {name: actions_of(synth, name) for name in synth.stack.functions.all}
    assert {n for n, a in actions.items() if "secretsmanager:GetSecretValue" in a} == {"allocate"}
    assert {n for n, a in actions.items() if "kinesis:PutRecord" in a} == {"ingest"}
    assert {n for n, a in actions.items() if "kinesis:GetRecords" in a} == {"allocate"}
    assert {n for n, a in actions.items() if "execute-api:ManageConnections" in a} == {
        "ingest",
        "deliver",
        "ws_connect",
    }
    assert {n for n, a in actions.items() if "dynamodb:ListStreams" in a} == {"deliver", "expiry"}
    assert actions["expiry"] >= {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    assert "dynamodb:DeleteItem" not in actions["expiry"]
    assert "dynamodb:PutItem" in actions["ingest"]
    # The sweeper reads the indexes and makes the consumers' own conditional updates; to
    # return stranded ordinals it lists the catalog, reads counters and coupons, and
    # voids in one transaction (whose items need PutItem, UpdateItem, ConditionCheckItem).
    assert {a for a in actions["sweep"] if a.startswith("dynamodb:")} == {
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:ConditionCheckItem",
    }
    results_id = logical_id(synth.stack, synth.stack.data.results)
    state_id = logical_id(synth.stack, synth.stack.data.state)
    assert table_resources(synth, "sweep", "dynamodb:Query") == {results_id, state_id}
    assert table_resources(synth, "sweep", "dynamodb:PutItem") == {state_id}
    # It may scan the results' sparse index, and nothing else.
    scans = [
        s for s in policy_statements(synth, "sweep") if "dynamodb:Scan" in as_list(s["Action"])
    ]
    assert [as_list(s["Resource"]) for s in scans] == [
        [{"Fn::Join": ["", [{"Fn::GetAtt": [results_id, "Arn"]}, f"/index/{SWEEP_INDEX}"]]}]
    ]


def table_resources(synth: Synth, function_name: str, action: str) -> set[str]:
    """Logical ids of the tables on which a function may perform `action`."""
    found: set[str] = set()
    for statement in policy_statements(synth, function_name):
        if action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                if isinstance(resource, dict) and "Fn::GetAtt" in resource:
                    found.add(resource["Fn::GetAtt"][0])
    return found


def test_who_writes_which_table(synth: Synth) -> None:
    ids = {
        n: logical_id(synth.stack, getattr(synth.stack.data, n))
        for n in ("results", "state", "sessions")
    }
    writers = {
        name: {
            t for t, i in ids.items() if i in table_resources(synth, name, "dynamodb:UpdateItem")
        }
        for name in synth.stack.functions.all
    }
    assert writers == {
        "ingest": {"sessions"},
        "allocate": {"results", "state"},
        "deliver": {"state", "sessions", "results"},
        "expiry": {"results"},
        "sweep": {"results", "state"},
        "ws_connect": {"sessions"},
        "admin": {"state"},
        "export": {"state"},
    }


def test_the_exports_bucket_is_private_and_forgets_files_with_their_jobs(synth: Synth) -> None:
    bucket_id = logical_id(synth.stack, synth.stack.exports.bucket)
    bucket = synth.resources[bucket_id]
    properties = bucket["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert properties["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }
    (rule,) = properties["LifecycleConfiguration"]["Rules"]
    assert rule["Prefix"] == f"{EXPORTS_FOLDER}/"
    assert rule["ExpirationInDays"] == EXPORT_DAYS
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    logs_id = logical_id(synth.stack, synth.stack.web.access_logs)
    assert properties["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_id}
    assert bucket["DeletionPolicy"] == "Retain"
    # SSL only: the bucket policy denies any request without TLS.
    (policy,) = [
        p
        for p in synth.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_exports_are_started_by_admin_and_written_by_export_alone(synth: Synth) -> None:
    bucket_id = logical_id(synth.stack, synth.stack.exports.bucket)
    export_id = logical_id(synth.stack, synth.stack.functions.export)
    files = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{EXPORTS_FOLDER}/*"]]}

    def s3_grants(function_name: str) -> list[tuple[list[str], list[Any]]]:
        return [
            (sorted(as_list(s["Action"])), as_list(s["Resource"]))
            for s in policy_statements(synth, function_name)
            if any(a.startswith("s3:") for a in as_list(s["Action"]))
        ]

    assert s3_grants("export") == [(["s3:AbortMultipartUpload", "s3:PutObject"], [files])]
    assert s3_grants("admin") == [(["s3:GetObject"], [files])]
    others = set(synth.stack.functions.all) - {"admin", "export"}
    assert all(s3_grants(name) == [] for name in others)
    invokes = {
        name: [
            as_list(s["Resource"])
            for s in policy_statements(synth, name)
            if "lambda:InvokeFunction" in as_list(s["Action"])
        ]
        for name in synth.stack.functions.all
    }
    assert {n for n, found in invokes.items() if found} == {"admin"}
    assert invokes["admin"] == [[{"Fn::GetAtt": [export_id, "Arn"]}]]
    # The export reads what a walk needs and writes only its job item in the state table.
    assert {a for a in actions_of(synth, "export") if a.startswith("dynamodb:")} == {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:UpdateItem",
    }
    export = function_properties(synth, "export")
    assert export["Timeout"] == 900
    assert export["Environment"]["Variables"]["EXPORT_BUCKET"] == {"Ref": bucket_id}
    admin = function_properties(synth, "admin")["Environment"]["Variables"]
    assert admin["EXPORT_BUCKET"] == {"Ref": bucket_id}
    assert admin["EXPORT_FUNCTION"] == {"Ref": export_id}
    assert invoke_retries(synth)[export_id] == 1


def test_manage_connections_is_scoped_to_the_websocket_stage(synth: Synth) -> None:
    api_id = logical_id(synth.stack, synth.stack.apis.websocket_api)
    for name in ("ingest", "deliver", "ws_connect"):
        (statement,) = [
            s
            for s in policy_statements(synth, name)
            if "execute-api:ManageConnections" in as_list(s["Action"])
        ]
        parts = statement["Resource"]["Fn::Join"][1]
        assert {"Ref": api_id} in parts
        assert parts[-1] == f"/{STAGE}/*/@connections/*"


# --- APIs -------------------------------------------------------------------------------


def rest_paths(synth: Synth) -> dict[str, str]:
    """Logical id of each REST resource → its full path."""
    resources = synth.of_type("AWS::ApiGateway::Resource")

    def path(resource_id: str) -> str:
        properties = resources[resource_id]["Properties"]
        parent = properties["ParentId"]
        prefix = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{properties['PathPart']}"

    return {resource_id: path(resource_id) for resource_id in resources}


def rest_methods(synth: Synth) -> dict[tuple[str, str], dict[str, Any]]:
    """(HTTP method, path) → the method's properties."""
    paths = rest_paths(synth)
    found = {}
    for method in synth.of_type("AWS::ApiGateway::Method").values():
        properties = method["Properties"]
        resource = properties["ResourceId"]
        path = paths[resource["Ref"]] if "Ref" in resource else "/"
        found[(properties["HttpMethod"], path)] = properties
    return found


def test_rest_routes_all_need_a_cognito_token_but_the_contract_and_the_game_list(
    synth: Synth,
) -> None:
    methods = rest_methods(synth)
    routes = {route for route in methods if route[0] != "OPTIONS"}
    public = {("GET", "/openapi.json"), ("GET", "/games")}
    assert routes == {
        ("POST", "/plays"),
        ("GET", "/plays/{playId}"),
        ("POST", "/ws-ticket"),
        ("GET", "/me/coupons"),
        ("ANY", "/admin/{proxy+}"),
        *public,
    }
    authorizer = {"Ref": logical_id(synth.stack, synth.stack.apis.authorizer)}
    for route in routes - public:
        assert methods[route]["AuthorizationType"] == "COGNITO_USER_POOLS", route
        assert methods[route]["AuthorizerId"] == authorizer, route


def test_the_openapi_contract_is_public_and_served_by_the_admin_function(synth: Synth) -> None:
    properties = rest_methods(synth)[("GET", "/openapi.json")]
    assert properties["AuthorizationType"] == "NONE"
    assert "AuthorizerId" not in properties
    admin_id = logical_id(synth.stack, synth.stack.functions.admin)
    assert admin_id in json.dumps(properties["Integration"]["Uri"])
    from frolic.admin.app import OPENAPI_PATH, PUBLIC_PATHS

    assert {OPENAPI_PATH} == PUBLIC_PATHS, "the admin app serves the same path untokened"


def test_the_local_gateway_opens_the_routes_the_stack_opens() -> None:
    local = {(r.method, r.resource): r.function for r in REST_ROUTES if r.public}
    assert local == {route: public.function for route, public in PUBLIC_ROUTES.items()}


def test_the_game_list_has_a_throttle_of_its_own_below_the_stages(synth: Synth) -> None:
    [stage] = [
        s["Properties"]
        for s in synth.of_type("AWS::ApiGateway::Stage").values()
        if "MethodSettings" in s["Properties"]
        and any(m.get("ResourcePath") == "/~1games" for m in s["Properties"]["MethodSettings"])
    ]
    [games] = [m for m in stage["MethodSettings"] if m["ResourcePath"] == "/~1games"]
    assert games["HttpMethod"] == "GET"
    assert games["ThrottlingRateLimit"] == GAME_LIST_RATE_LIMIT < REST_RATE_LIMIT
    assert games["ThrottlingBurstLimit"] == GAME_LIST_BURST_LIMIT


def test_the_game_list_is_public_and_served_by_the_players_function(synth: Synth) -> None:
    properties = rest_methods(synth)[("GET", "/games")]
    assert properties["AuthorizationType"] == "NONE"
    assert "AuthorizerId" not in properties
    ingest_id = logical_id(synth.stack, synth.stack.functions.ingest)
    assert ingest_id in json.dumps(properties["Integration"]["Uri"])


def test_there_is_no_dev_token_route(synth: Synth) -> None:
    for path in rest_paths(synth).values():
        assert "/dev" not in path
        assert "token" not in path
    for route in synth.of_type("AWS::ApiGatewayV2::Route").values():
        assert "dev" not in route["Properties"]["RouteKey"]
    assert "dev/token" not in synth.template_path.read_text()


def test_post_plays_body_is_validated(synth: Synth) -> None:
    paths = rest_paths(synth)
    (plays_id,) = [i for i, p in paths.items() if p == "/plays"]
    synth.template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {
            "HttpMethod": "POST",
            "ResourceId": {"Ref": plays_id},
            "RequestValidatorId": Match.any_value(),
            "RequestModels": {"application/json": Match.any_value()},
        },
    )
    synth.template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator",
        {"ValidateRequestBody": True, "ValidateRequestParameters": True},
    )
    (model,) = synth.of_type("AWS::ApiGateway::Model").values()
    assert model["Properties"]["Schema"]["required"] == ["playId", "gameId"]
    assert model["Properties"]["Schema"]["properties"]["playId"]["maxLength"] == 64


def test_rest_stage_logs_throttles_and_never_traces_data(synth: Synth) -> None:
    (stage,) = synth.of_type("AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]
    assert properties["StageName"] == STAGE
    assert "DestinationArn" in properties["AccessLogSetting"]
    # The stage's settings, and the game list's own throttle, which restates the logging
    assert {s["ResourcePath"] for s in properties["MethodSettings"]} == {"/*", "/~1games"}
    for settings in properties["MethodSettings"]:
        assert settings["DataTraceEnabled"] is False
        assert settings["LoggingLevel"] == "ERROR"
        assert settings["ThrottlingRateLimit"] > 0
        assert settings["ThrottlingBurstLimit"] > 0


def test_api_gateway_logging_role_survives_the_stack(synth: Synth) -> None:
    # Given the one account-level logging setting of the region
    ((account_id, account),) = synth.of_type("AWS::ApiGateway::Account").items()
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    # Then the setting and its role outlive the stack, and both stages wait for them
    assert synth.resources[role_id]["DeletionPolicy"] == "Retain"
    assert account["DeletionPolicy"] == "Retain"
    stages = {
        **synth.of_type("AWS::ApiGateway::Stage"),
        **synth.of_type("AWS::ApiGatewayV2::Stage"),
    }
    assert len(stages) == 2
    for stage in stages.values():
        assert account_id in stage.get("DependsOn", [])


def test_waf_rate_limits_the_rest_stage(synth: Synth) -> None:
    (acl_id, acl) = next(iter(synth.of_type("AWS::WAFv2::WebACL").items()))
    assert acl["Properties"]["Scope"] == "REGIONAL"
    rate_rules = [r for r in acl["Properties"]["Rules"] if "RateBasedStatement" in r["Statement"]]
    assert rate_rules and rate_rules[0]["Action"] == {"Block": {}}
    (association,) = synth.of_type("AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    stage_id = logical_id(synth.stack, synth.stack.apis.rest_api.deployment_stage)
    assert {"Ref": stage_id} in association["Properties"]["ResourceArn"]["Fn::Join"][1]


def test_websocket_routes_and_stage(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::ApiGatewayV2::Api",
        {"ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"},
    )
    integrations = synth.of_type("AWS::ApiGatewayV2::Integration")
    target_of: dict[str, str] = {}
    for route in synth.of_type("AWS::ApiGatewayV2::Route").values():
        integration_id = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        uri = json.dumps(integrations[integration_id]["Properties"]["IntegrationUri"])
        target_of[route["Properties"]["RouteKey"]] = next(
            name
            for name in ("ws_connect", "ingest")
            if logical_id(synth.stack, synth.stack.functions.all[name]) in uri
        )
    assert target_of == {
        "$connect": "ws_connect",
        "$disconnect": "ws_connect",
        "$default": "ws_connect",
        "play": "ingest",
    }
    # The play route answers the socket itself (the local gateway's ROUTE_RESPONSES).
    answering = {
        route["Properties"]["RouteKey"]
        for route in synth.of_type("AWS::ApiGatewayV2::Route").values()
        if route["Properties"].get("RouteResponseSelectionExpression") == "$default"
    }
    assert answering == {"play"}
    (response,) = synth.of_type("AWS::ApiGatewayV2::RouteResponse").values()
    assert response["Properties"]["RouteResponseKey"] == "$default"
    (stage,) = synth.of_type("AWS::ApiGatewayV2::Stage").values()
    properties = stage["Properties"]
    assert properties["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
    assert "DestinationArn" in properties["AccessLogSettings"]


def test_user_pool_has_the_groups_the_code_checks(synth: Synth) -> None:
    from frolic.auth import STAFF_GROUPS

    groups = synth.of_type("AWS::Cognito::UserPoolGroup").values()
    assert sorted(g["Properties"]["GroupName"] for g in groups) == sorted(STAFF_GROUPS)
    synth.template.has_resource_properties(
        "AWS::Cognito::UserPoolClient", {"GenerateSecret": False}
    )


def test_only_an_operator_writes_a_users_brands(synth: Synth) -> None:
    from frolic.auth import BRANDS_CLAIM

    # Given the pool's brands attribute
    (pool,) = synth.of_type("AWS::Cognito::UserPool").values()
    attribute = BRANDS_CLAIM.removeprefix("custom:")
    (schema,) = [a for a in pool["Properties"]["Schema"] if a["Name"] == attribute]
    assert (schema["AttributeDataType"], schema["Mutable"]) == ("String", True)
    # Then the app client reads it into the ID token and cannot write it: sign-up and a
    # signed-in user write the address alone
    ((_, client),) = synth.of_type("AWS::Cognito::UserPoolClient").items()
    assert BRANDS_CLAIM in client["Properties"]["ReadAttributes"]
    assert client["Properties"]["WriteAttributes"] == ["email"]


def test_pages_sign_in_through_managed_login_with_the_code_flow(synth: Synth) -> None:
    # Given the app client the pages use
    ((_, client),) = synth.of_type("AWS::Cognito::UserPoolClient").items()
    properties = client["Properties"]
    # Then it is public, runs the authorization-code flow only, and refreshes
    assert properties["GenerateSecret"] is False
    assert properties["AllowedOAuthFlows"] == ["code"]
    assert properties["AllowedOAuthFlowsUserPoolClient"] is True
    assert set(properties["AllowedOAuthScopes"]) == {"openid", "email", "profile"}
    assert properties["SupportedIdentityProviders"] == ["COGNITO"]
    assert properties["EnableTokenRevocation"] is True
    # and no browser sends it a password: the one password flow needs AWS credentials
    assert set(properties["ExplicitAuthFlows"]) == {
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }
    # And Cognito sends people back only to the site's two pages
    site = synth.stack.web.origin
    assert properties["CallbackURLs"] == [
        synth.stack.resolve(f"{site}/"),
        synth.stack.resolve(f"{site}/admin"),
    ]
    assert properties["LogoutURLs"] == properties["CallbackURLs"]
    # And the managed login has its domain, the newer version, and Cognito's style
    (domain,) = synth.of_type("AWS::Cognito::UserPoolDomain").values()
    assert domain["Properties"]["ManagedLoginVersion"] == 2
    (branding,) = synth.of_type("AWS::Cognito::ManagedLoginBranding").values()
    assert branding["Properties"]["UseCognitoProvidedValues"] is True


def test_managed_login_sends_people_back_only_where_cognito_allows() -> None:
    from infra.constructs.auth import page_urls

    urls = page_urls(["https://site.example", "http://localhost:8000", "http://10.0.0.1:80"])
    assert urls == [
        "https://site.example/",
        "https://site.example/admin",
        "http://localhost:8000/",
        "http://localhost:8000/admin",
    ]


# --- monitoring and outputs -------------------------------------------------------------


def alarm_metric_names(alarm: dict[str, Any]) -> set[str]:
    properties = alarm["Properties"]
    if "MetricName" in properties:
        return {properties["MetricName"]}
    return {
        query["MetricStat"]["Metric"]["MetricName"]
        for query in properties.get("Metrics", [])
        if "MetricStat" in query
    }


def test_alarms_cover_lag_errors_throttles_queues_and_dynamodb(synth: Synth) -> None:
    alarms = synth.of_type("AWS::CloudWatch::Alarm").values()
    names = [alarm_metric_names(a) for a in alarms]
    count = {
        metric: sum(metric in n for n in names)
        for metric in (
            "IteratorAge",
            "Errors",
            "Throttles",
            "ApproximateNumberOfMessagesVisible",
            "ThrottledRequests",
        )
    }
    functions = len(synth.stack.functions.all)  # export's among them
    assert functions == 8
    assert count == {
        "IteratorAge": 3,
        "Errors": functions,
        "Throttles": functions,
        "ApproximateNumberOfMessagesVisible": 3,
        "ThrottledRequests": 3,
    }
    assert all(a["Properties"]["AlarmActions"] for a in alarms)


def test_the_sweeper_acting_raises_an_alarm(synth: Synth) -> None:
    """The metrics the code emits only when a stream consumer left work undone."""
    from frolic import sweep
    from frolic.dal import stranded

    source = Path(sweep.__file__).read_text() + Path(stranded.__file__).read_text()
    alarmed = {
        metric: a["Properties"]
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
        for metric in alarm_metric_names(a)
        if metric in SWEPT
    }
    assert alarmed.keys() == {"PlaysSweptExpired", "CouponsSweptIssued", "CouponsReturned"}
    for metric, alarm in alarmed.items():
        assert f'name="{metric}"' in source
        assert alarm["Namespace"] == METRICS_NAMESPACE
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_dashboard_shows_plays_and_wins(synth: Synth) -> None:
    (dashboard,) = synth.of_type("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for name in ("PlaysAllocated", "PlaysWon", "IteratorAge", "Duration", METRICS_NAMESPACE):
        assert name in body


def test_outputs(synth: Synth) -> None:
    outputs = synth.template.to_json()["Outputs"]
    assert {
        "RestApiUrl",
        "WebSocketUrl",
        "UserPoolId",
        "UserPoolClientId",
        "ResultsTableName",
        "StateTableName",
        "SessionsTableName",
        "PlayStreamName",
        "ExportsBucketName",
    } <= outputs.keys()


# --- checks -----------------------------------------------------------------------------


def test_cdk_nag_aws_solutions_has_nothing_unacknowledged(synth: Synth) -> None:
    pattern = Match.string_like_regexp("AwsSolutions-.*")
    findings = synth.annotations.find_error("*", pattern) + synth.annotations.find_warning(
        "*", pattern
    )
    assert [f"{f.id}: {f.entry.data}" for f in findings] == []


def test_cfn_lint_finds_no_errors(synth: Synth) -> None:
    from cfnlint.api import lint_file  # type: ignore[import-untyped]

    matches = lint_file(synth.template_path)
    errors = [f"{m.rule.id} {m.message} ({m.path})" for m in matches if m.rule.id.startswith("E")]
    assert errors == []


# --- app and build ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "context",
    [{"parallelizationFactor": "11"}, {"shardCount": "0"}, {"stage": "no/slashes"}],
)
def test_bad_context_is_refused(context: dict[str, str], deps_layer_stand_in: Path) -> None:
    with pytest.raises(SystemExit):
        build(App(context=context), deps_layer_dir=deps_layer_stand_in)


def test_synth_without_the_deps_layer_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(DepsLayerMissingError, match="make layers"):
        build(App(), deps_layer_dir=tmp_path / "missing")


def test_layer_requirements_leave_out_what_the_runtime_ships() -> None:
    names = [r.split(">")[0].split("=")[0] for r in requirements()]
    assert "boto3" not in names
    # Powertools with the X-Ray SDK its Tracer imports
    assert {"aws-lambda-powertools[tracer]", "pydantic"} <= set(names)


def test_the_layer_is_built_at_the_versions_of_the_lock(tmp_path: Path) -> None:
    command = pip_command(tmp_path / "python")
    assert command[command.index("--constraint") + 1] == str(LOCK)
    assert command[command.index("--platform") + 1] == "manylinux2014_aarch64"
    assert command[command.index("--python-version") + 1] == "3.12"
    assert "--only-binary=:all:" in command


def test_the_shared_layer_holds_the_runtime_and_nothing_else(synth: Synth) -> None:
    # Given the staged asset of the shared layer
    staged = synth.template_path.parent
    layers = [path.parents[2] for path in staged.glob("asset.*/python/frolic/__init__.py")]
    assert len(layers) == 1, "the shared layer's asset was not staged once"
    python = layers[0] / "python"
    # Then it holds the runtime package alone, and every module in it is one that some
    # function's entry point imports, directly or through other modules
    assert sorted(entry.name for entry in python.iterdir()) == ["frolic"]
    shipped = {
        ".".join(path.relative_to(python).with_suffix("").parts).removesuffix(".__init__")
        for path in python.rglob("*.py")
    }
    assert shipped == modules_the_functions_import()


def modules_the_functions_import() -> set[str]:
    graph = grimp.build_graph("frolic", cache_dir=None)
    entry_imports: set[str] = set()
    for handler in (ROOT / "functions").glob("*/handler.py"):
        for node in ast.walk(ast.parse(handler.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in graph.modules:
                named = {f"{node.module}.{alias.name}" for alias in node.names}
                entry_imports |= {node.module, *(named & graph.modules)}
    reached = set(entry_imports)
    for module in entry_imports:
        reached |= graph.find_upstream_modules(module)
    with_packages = set(reached)
    for module in reached:
        parts = module.split(".")
        with_packages |= {".".join(parts[:depth]) for depth in range(1, len(parts))}
    return with_packages
