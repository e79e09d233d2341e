"""The deployed pages: a private bucket only CloudFront reads, HTTPS with security
headers, `/admin` served as admin.html, the pages configured with this stack's URLs and
Cognito client at deploy time, and the REST API open to them cross-origin (and to
nothing else)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from frolic.local.routes import PAGES as LOCAL_PAGES
from infra.app import build
from infra.constructs.apis import CORS_ALLOWED_HEADERS, CORS_ALLOWED_METHODS
from infra.constructs.web import (
    PAGE_PATHS_FUNCTION,
    PageConfigError,
    PageSettings,
    render_page,
)
from tests.infra.conftest import STAGE, Synth
from tests.infra.test_stack import logical_id, rest_methods

EXTRA_ORIGIN = "https://play.example.com"
PAGE_META = ("frolic-api", "frolic-ws", "frolic-auth")


def site_origin(synth: Synth) -> dict[str, Any]:
    """The site's origin as the template spells it: https:// + the distribution's domain."""
    distribution_id = logical_id(synth.stack, synth.stack.web.distribution)
    return {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}]]}


def quoted(value: dict[str, Any]) -> dict[str, Any]:
    """An API Gateway header value: the same join, in single quotes."""
    parts = value["Fn::Join"][1]
    return {"Fn::Join": ["", ["'" + parts[0], *parts[1:], "'"]]}


def bucket_policy(synth: Synth, bucket_id: str) -> list[dict[str, Any]]:
    (policy,) = [
        p
        for p in synth.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


# --- bucket and distribution -------------------------------------------------------------


def test_the_site_bucket_is_private_encrypted_ssl_only_and_logged(synth: Synth) -> None:
    web = synth.stack.web
    site_id = logical_id(synth.stack, web.bucket)
    logs_id = logical_id(synth.stack, web.access_logs)
    properties = synth.resources[site_id]["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }
    assert "WebsiteConfiguration" not in properties, "CloudFront reads it, not browsers"
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert properties["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_id}

    statements = bucket_policy(synth, site_id)
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert [s["Condition"] for s in denies] == [{"Bool": {"aws:SecureTransport": "false"}}]
    # Only CloudFront reads objects, and only for this distribution (Origin Access Control)
    (read,) = [s for s in statements if s["Effect"] == "Allow"]
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Action"] == "s3:GetObject"
    distribution_id = logical_id(synth.stack, web.distribution)
    source = json.dumps(read["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert distribution_id in source


def test_the_access_log_bucket_is_private_and_expires_logs(synth: Synth) -> None:
    logs_id = logical_id(synth.stack, synth.stack.web.access_logs)
    bucket = synth.resources[logs_id]
    properties = bucket["Properties"]
    assert all(properties["PublicAccessBlockConfiguration"].values())
    assert properties["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 90
    assert bucket["DeletionPolicy"] == "Retain", "logs are kept like the log groups"
    denies = [s for s in bucket_policy(synth, logs_id) if s["Effect"] == "Deny"]
    assert denies and denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def distribution_config(synth: Synth) -> dict[str, Any]:
    (distribution,) = synth.of_type("AWS::CloudFront::Distribution").values()
    config: dict[str, Any] = distribution["Properties"]["DistributionConfig"]
    return config


def test_the_distribution_reads_the_bucket_through_origin_access_control(synth: Synth) -> None:
    config = distribution_config(synth)
    (origin,) = config["Origins"]
    site_id = logical_id(synth.stack, synth.stack.web.bucket)
    assert origin["DomainName"] == {"Fn::GetAtt": [site_id, "RegionalDomainName"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    (oac_id, oac) = next(iter(synth.of_type("AWS::CloudFront::OriginAccessControl").items()))
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert oac["Properties"]["OriginAccessControlConfig"]["OriginAccessControlOriginType"] == "s3"


def test_viewers_get_https_the_root_page_and_access_logs(synth: Synth) -> None:
    config = distribution_config(synth)
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert config["DefaultRootObject"] == "index.html"
    logs_id = logical_id(synth.stack, synth.stack.web.access_logs)
    assert config["Logging"]["Bucket"] == {"Fn::GetAtt": [logs_id, "RegionalDomainName"]}


def test_every_page_answer_carries_the_security_headers(synth: Synth) -> None:
    behavior = distribution_config(synth)["DefaultCacheBehavior"]
    (policy_id, policy) = next(
        iter(synth.of_type("AWS::CloudFront::ResponseHeadersPolicy").items())
    )
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": policy_id}
    security = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 365 * 24 * 3600
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    parts = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Join"][1]
    csp = "".join(p if isinstance(p, str) else "<region>" for p in parts)
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'", "no inline or remote scripts"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["connect-src"].split() == [
        "'self'",
        "https://*.execute-api.<region>.amazonaws.com",
        "wss://*.execute-api.<region>.amazonaws.com",
        "https://cognito-idp.<region>.amazonaws.com",
    ]


# --- /admin -----------------------------------------------------------------------------


def test_the_page_paths_function_runs_on_viewer_requests(synth: Synth) -> None:
    (function_id, function) = next(iter(synth.of_type("AWS::CloudFront::Function").items()))
    assert function["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert function["Properties"]["FunctionCode"] == PAGE_PATHS_FUNCTION.read_text()
    (association,) = distribution_config(synth)["DefaultCacheBehavior"]["FunctionAssociations"]
    assert association == {
        "EventType": "viewer-request",
        "FunctionARN": {"Fn::GetAtt": [function_id, "FunctionARN"]},
    }


def run_page_paths(uris: list[str]) -> dict[str, str]:
    """The CloudFront Function's handler, run in Node on viewer requests for `uris`."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed for this test (and for `make synth`)", pytrace=False)
    script = PAGE_PATHS_FUNCTION.read_text() + (
        f"\nconst uris = {json.dumps(uris)};\n"
        "process.stdout.write(JSON.stringify(Object.fromEntries(uris.map((uri) =>"
        " [uri, handler({ request: { uri: uri, querystring: {}, headers: {} } }).uri]))));\n"
    )
    done = subprocess.run(
        [node, "-e", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    rewritten: dict[str, str] = json.loads(done.stdout)
    return rewritten


def test_cloudfront_serves_the_pages_at_the_paths_the_local_gateway_does() -> None:
    others = ["/style.css", "/common.js", "/admin.html", "/admin/", "/admin/x", "/index.html"]
    rewritten = run_page_paths([*LOCAL_PAGES, *others])
    assert {path: rewritten[path] for path in LOCAL_PAGES} == {
        path: f"/{file}" for path, file in LOCAL_PAGES.items()
    }
    assert {path: rewritten[path] for path in others} == {path: path for path in others}


# --- the deployment ---------------------------------------------------------------------


def deployment(synth: Synth) -> dict[str, Any]:
    (resource,) = synth.of_type("Custom::CDKBucketDeployment").values()
    properties: dict[str, Any] = resource["Properties"]
    return properties


def staged_sources(synth: Synth) -> list[tuple[Path, dict[str, Any]]]:
    """Each deployment source: its staged folder in cdk.out and its deploy-time markers."""
    properties = deployment(synth)
    outdir = synth.template_path.parent
    return [
        (outdir / f"asset.{key.removesuffix('.zip')}", markers)
        for key, markers in zip(
            properties["SourceObjectKeys"], properties["SourceMarkers"], strict=True
        )
    ]


def test_the_pages_are_deployed_to_the_site_bucket_and_cloudfront_refreshed(
    synth: Synth,
) -> None:
    properties = deployment(synth)
    web = synth.stack.web
    assert properties["DestinationBucketName"] == {"Ref": logical_id(synth.stack, web.bucket)}
    assert properties["DistributionId"] == {"Ref": logical_id(synth.stack, web.distribution)}
    assert properties["DistributionPaths"] == ["/*"]
    assert properties["Prune"] is True
    assert properties["RetainOnDelete"] is False, "so the bucket can go with the stack"
    assert "max-age=0" in properties["SystemMetadata"]["cache-control"]
    site = synth.resources[logical_id(synth.stack, web.bucket)]
    assert site["DeletionPolicy"] == "Delete"


def test_the_static_files_ship_as_they_are_and_nothing_else(synth: Synth) -> None:
    web_dir = Path(__file__).resolve().parents[2] / "web"
    site_files = {
        path.name
        for path in web_dir.iterdir()
        if path.is_file() and path.name != "README.md" and not path.name.startswith(".")
    }
    assert {"index.html", "admin.html", "common.js", "player.js", "admin.js"} <= site_files
    folders = [folder for folder, _ in staged_sources(synth)]
    shipped = [path for folder in folders for path in folder.iterdir()]
    assert sorted(path.name for path in shipped) == sorted(site_files), "each file once"
    for path in shipped:
        if path.suffix != ".html":
            assert path.read_bytes() == (web_dir / path.name).read_bytes()


def meta_contents(page: str) -> dict[str, str]:
    found = dict(re.findall(r'<meta name="(frolic-[a-z]+)" content="([^"]*)"', page))
    return {name: found[name] for name in PAGE_META}


def resolved(content: str, markers: dict[str, Any]) -> str:
    """A meta value with each deploy-time marker replaced by what CloudFormation puts there."""
    return re.sub(r"<<marker:0xbaba:\d+>>", lambda m: json.dumps(markers[m[0]]), content)


@pytest.mark.parametrize("page", ["index.html", "admin.html"])
def test_each_page_is_configured_with_this_stacks_urls_and_cognito_client(
    synth: Synth, page: str
) -> None:
    [(folder, markers)] = [(f, m) for f, m in staged_sources(synth) if (f / page).exists()]
    rendered = (folder / page).read_text()
    contents = {name: resolved(value, markers) for name, value in meta_contents(rendered).items()}
    apis, auth = synth.stack.apis, synth.stack.auth

    def ref(construct: Any) -> str:
        return json.dumps({"Ref": logical_id(synth.stack, construct)})

    stage = ref(apis.rest_api.deployment_stage)
    assert contents["frolic-api"] == (
        f"https://{ref(apis.rest_api)}.execute-api."
        '{"Ref": "AWS::Region"}.{"Ref": "AWS::URLSuffix"}/'
        f"{stage}/"
    )
    assert contents["frolic-ws"] == (
        f"wss://{ref(apis.websocket_api)}.execute-api."
        f'{{"Ref": "AWS::Region"}}.{{"Ref": "AWS::URLSuffix"}}/{STAGE}'
    )
    assert contents["frolic-auth"] == (
        f'region={{"Ref": "AWS::Region"}}; clientId={ref(auth.client)}'
    )
    # Everything but the three tags is the page in web/, byte for byte.
    source = (Path(__file__).resolve().parents[2] / "web" / page).read_text()
    assert re.sub(r'(name="frolic-[a-z]+" content=")[^"]*', r"\1", rendered) == source


def test_render_page_refuses_a_page_without_its_tags() -> None:
    settings = PageSettings(api_url="https://a/", websocket_url="wss://w", sign_in="s")
    page = '<meta name="frolic-api" content="" /><meta name="frolic-ws" content="" />'
    with pytest.raises(PageConfigError, match="frolic-auth"):
        render_page(page, settings)
    twice = page + '<meta name="frolic-auth" content="" />' * 2
    with pytest.raises(PageConfigError, match="found 2"):
        render_page(twice, settings)


def test_render_page_escapes_what_it_writes_into_an_attribute() -> None:
    settings = PageSettings(api_url='https://a/"x<', websocket_url="wss://w", sign_in="a&b")
    page = "".join(f'<meta name="{name}" content="" />' for name in PAGE_META)
    rendered = render_page(page, settings)
    assert meta_contents(rendered) == {
        "frolic-api": "https://a/&quot;x&lt;",
        "frolic-ws": "wss://w",
        "frolic-auth": "a&amp;b",
    }


def test_the_app_client_allows_the_pages_password_sign_in(synth: Synth) -> None:
    client_id = logical_id(synth.stack, synth.stack.auth.client)
    properties = synth.resources[client_id]["Properties"]
    assert "ALLOW_USER_PASSWORD_AUTH" in properties["ExplicitAuthFlows"]
    assert properties["GenerateSecret"] is False, "a browser cannot keep a secret"


def test_the_site_url_and_its_log_bucket_are_outputs(synth: Synth) -> None:
    outputs = synth.template.to_json()["Outputs"]
    parts = outputs["SiteUrl"]["Value"]["Fn::Join"][1]
    assert parts == [*site_origin(synth)["Fn::Join"][1], "/"]
    logs_id = logical_id(synth.stack, synth.stack.web.access_logs)
    assert outputs["WebAccessLogBucketName"]["Value"] == {"Ref": logs_id}


# --- CORS on the REST API ---------------------------------------------------------------


def test_api_gateway_answers_preflights_for_the_site(synth: Synth) -> None:
    methods = rest_methods(synth)
    routes = {path for method, path in methods if method != "OPTIONS" and path != "/"}
    preflights = {path for method, path in methods if method == "OPTIONS"}
    assert routes <= preflights
    origin = quoted(site_origin(synth))
    for path in routes:
        properties = methods[("OPTIONS", path)]
        assert properties["AuthorizationType"] == "NONE", path
        assert properties["Integration"]["Type"] == "MOCK", "no function runs for a preflight"
        (answer,) = properties["Integration"]["IntegrationResponses"]
        headers = {
            name.removeprefix("method.response.header."): value
            for name, value in answer["ResponseParameters"].items()
        }
        assert headers["Access-Control-Allow-Origin"] == origin
        assert headers["Access-Control-Allow-Headers"] == f"'{','.join(CORS_ALLOWED_HEADERS)}'"
        assert headers["Access-Control-Allow-Methods"] == f"'{','.join(CORS_ALLOWED_METHODS)}'"
        assert headers["Vary"] == "'Origin'"
        assert "Access-Control-Allow-Credentials" not in headers


def test_the_methods_allowed_cross_origin_are_the_ones_the_api_serves(synth: Synth) -> None:
    from frolic.admin.openapi import generate

    served = {m.upper() for item in generate()["paths"].values() for m in item}
    assert served == set(CORS_ALLOWED_METHODS)


def test_gateway_errors_are_readable_by_the_site(synth: Synth) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in synth.of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    # 401 from the authorizer, WAF 403, throttling 429, and whatever else API Gateway says
    assert {"UNAUTHORIZED", "WAF_FILTERED", "THROTTLED", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(
        responses
    )
    origin = quoted(site_origin(synth))
    for response_type, properties in responses.items():
        headers = properties["ResponseParameters"]
        assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == origin, (
            response_type
        )
        assert headers["gatewayresponse.header.Vary"] == "'Origin'"
        body = properties["ResponseTemplates"]["application/json"]
        assert body.startswith('{"error":"'), "the same JSON shape as the functions' errors"


def test_only_the_rest_functions_learn_the_allowed_origins(synth: Synth) -> None:
    for name, function in synth.stack.functions.all.items():
        variables = synth.resources[logical_id(synth.stack, function)]["Properties"]["Environment"][
            "Variables"
        ]
        if name in {"ingest", "admin"}:
            assert variables["CORS_ALLOWED_ORIGINS"] == site_origin(synth), name
        else:
            assert "CORS_ALLOWED_ORIGINS" not in variables, name


# --- more origins through context -------------------------------------------------------


@pytest.fixture(scope="module")
def with_extra_origin(deps_layer_stand_in: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    app = App(
        outdir=str(tmp_path_factory.mktemp("cdk.out.origins")),
        context={"stage": STAGE, "allowedOrigins": f"{EXTRA_ORIGIN}, http://localhost:8000"},
    )
    stack = build(app, deps_layer_dir=deps_layer_stand_in)
    from aws_cdk.assertions import Template

    return stack, Template.from_stack(stack).to_json()["Resources"]


def test_allowed_origins_from_context_reach_preflights_and_functions(
    with_extra_origin: Any,
) -> None:
    stack, resources = with_extra_origin
    ingest = resources[logical_id(stack, stack.functions.ingest)]
    allowed = json.dumps(ingest["Properties"]["Environment"]["Variables"]["CORS_ALLOWED_ORIGINS"])
    assert f",{EXTRA_ORIGIN},http://localhost:8000" in allowed
    preflights = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGateway::Method" and r["Properties"]["HttpMethod"] == "OPTIONS"
    ]
    assert preflights
    for preflight in preflights:
        # API Gateway echoes the caller's origin when it is one of the list
        template = json.dumps(preflight["Integration"]["IntegrationResponses"][0])
        assert EXTRA_ORIGIN in template and "http://localhost:8000" in template


@pytest.mark.parametrize(
    "origins", ["https://play.example.com/", "play.example.com", "https://a.example/path"]
)
def test_an_allowed_origin_must_be_an_origin(origins: str, deps_layer_stand_in: Path) -> None:
    with pytest.raises(SystemExit, match="allowedOrigins"):
        build(App(context={"allowedOrigins": origins}), deps_layer_dir=deps_layer_stand_in)
