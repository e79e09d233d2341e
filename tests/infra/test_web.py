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
from aws_cdk import App, Environment, Stack
from constructs import Construct

from frolic_tools.local.routes import PAGES as LOCAL_PAGES
from frolic_tools.local.routes import page_redirect
from infra.app import build
from infra.constructs.apis import CORS_ALLOWED_HEADERS, CORS_ALLOWED_METHODS
from infra.constructs.web import (
    OAC_NAME_LIMIT,
    PAGE_PATHS_FUNCTION,
    RESPONSE_HEADERS_POLICY_NAME_LIMIT,
    WEB_DIR,
    PageConfigError,
    PageSettings,
    account_wide_name,
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
    # Only CloudFront reads objects, and only for this distribution (Origin Access Control);
    # the one other grant is the CDK's auto-delete function's, which empties the bucket.
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allows) == 2
    (read,) = [s for s in allows if s["Principal"] == {"Service": "cloudfront.amazonaws.com"}]
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


def rendered(value: Any, region: str) -> str:
    """A name as CloudFormation makes it, with `region` for the stack's region."""
    if isinstance(value, str):
        return value
    parts = value["Fn::Join"][1]
    return "".join(region if part == {"Ref": "AWS::Region"} else part for part in parts)


#: The longest region name today, and one more: a region name is not in the name's budget.
REGIONS = ("us-isof-south-1", "eu-west-1")


def test_cloudfront_names_carry_the_stack_and_region(synth: Synth) -> None:
    """CloudFront names are account-wide: the same stage in two regions must not clash."""
    (oac,) = synth.of_type("AWS::CloudFront::OriginAccessControl").values()
    (policy,) = synth.of_type("AWS::CloudFront::ResponseHeadersPolicy").values()
    named = {
        OAC_NAME_LIMIT: oac["Properties"]["OriginAccessControlConfig"]["Name"],
        RESPONSE_HEADERS_POLICY_NAME_LIMIT: policy["Properties"]["ResponseHeadersPolicyConfig"][
            "Name"
        ],
    }
    for limit, name in named.items():
        for region in REGIONS:
            text = rendered(name, region)
            assert text.startswith(f"Frolic-{STAGE}-{region}-"), text
            assert len(text) <= limit
            assert re.fullmatch(r"[A-Za-z0-9-]+", text), text
    assert rendered(named[OAC_NAME_LIMIT], "r") != rendered(
        named[RESPONSE_HEADERS_POLICY_NAME_LIMIT], "r"
    )


@pytest.mark.parametrize("limit", [OAC_NAME_LIMIT, RESPONSE_HEADERS_POLICY_NAME_LIMIT])
def test_a_long_stack_name_is_cut_to_fit_and_stays_distinct(limit: int) -> None:
    app = App()
    # Stack names may have 128 characters, CloudFront names 64 or 128 with the region.
    long_names = [f"Frolic-{'a' * 110}-{end}" for end in ("one", "two")]
    names = []
    for stack_name in long_names:
        stack = Stack(app, stack_name, env=Environment(region="us-isof-south-1"))
        names.append(account_wide_name(Construct(stack, "Web"), "site", limit))
    for name in names:
        assert len(name) <= limit
        assert name.startswith("Frolic-aaa") and name.endswith("-us-isof-south-1-site"), name
    assert names[0] != names[1]
    short = Stack(app, "Frolic-dev", env=Environment(region="eu-west-1"))
    assert account_wide_name(short, "site", limit) == "Frolic-dev-eu-west-1-site"


def test_a_missing_file_is_a_404_with_a_page_not_s3s_refusal(synth: Synth) -> None:
    """Only CloudFront reads the bucket and it may not list it, so S3 answers a missing
    key with 403; both that and a 404 become a 404 with the site's own page."""
    answers = {
        answer["ErrorCode"]: answer for answer in distribution_config(synth)["CustomErrorResponses"]
    }
    assert set(answers) == {403, 404}
    for answer in answers.values():
        assert answer["ResponseCode"] == 404
        assert answer["ResponsePagePath"] == "/404.html"
        assert answer["ErrorCachingMinTTL"] <= 300, "a file a deploy adds shows up soon"
    page = (WEB_DIR / "404.html").read_text()
    assert "<script" not in page, "nothing to run on a page that is served anywhere"
    # Served at whatever path was asked for: only root-relative URLs still resolve.
    assert re.findall(r'(?:href|src)="([^"]*)"', page) == [
        "/favicon.svg",
        "/style.css",
        "/",
        "/admin",
    ]


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
        "https://*.auth.<region>.amazoncognito.com",
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


def run_page_paths(
    requests: list[tuple[str, dict[str, Any]]],
) -> list[dict[str, Any]]:
    """The CloudFront Function's handler, run in Node on viewer requests, each a `uri` and
    its `querystring` as CloudFront hands it over; what it returns for each."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed for this test (and for `make synth`)", pytrace=False)
    script = PAGE_PATHS_FUNCTION.read_text() + (
        f"\nconst requests = {json.dumps(requests)};\n"
        "process.stdout.write(JSON.stringify(requests.map(([uri, querystring]) =>"
        " handler({ request: { method: 'GET', uri, querystring, headers: {} } }))));\n"
    )
    done = subprocess.run(
        [node, "-e", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    returned: list[dict[str, Any]] = json.loads(done.stdout)
    return returned


def rewrites(uris: list[str]) -> dict[str, str]:
    return {
        uri: answer["uri"]
        for uri, answer in zip(uris, run_page_paths([(uri, {}) for uri in uris]), strict=True)
    }


def test_cloudfront_serves_the_pages_at_the_paths_the_local_gateway_does() -> None:
    others = ["/style.css", "/common.js", "/admin.html", "/admin/x", "/index.html", "/404.html"]
    rewritten = rewrites([*LOCAL_PAGES, *others])
    assert {path: rewritten[path] for path in LOCAL_PAGES} == {
        path: f"/{file}" for path, file in LOCAL_PAGES.items()
    }
    assert {path: rewritten[path] for path in others} == {path: path for path in others}


def test_cloudfront_and_the_local_gateway_redirect_the_same_paths() -> None:
    uris = ["/", "/admin", "/admin/", "/index.html/", "/admin/x/", "/style.css"]
    answers = run_page_paths([(uri, {}) for uri in uris])
    cloudfront = {
        uri: answer.get("headers", {}).get("location", {}).get("value")
        for uri, answer in zip(uris, answers, strict=True)
    }
    assert cloudfront == {uri: page_redirect(uri) for uri in uris}
    assert cloudfront["/admin/"] == "/admin"


@pytest.mark.parametrize(
    ("querystring", "location"),
    [
        ({}, "/admin"),
        ({"game": {"value": "g-1"}}, "/admin?game=g-1"),
        (
            {
                "a": {"value": "1", "multiValue": [{"value": "1"}, {"value": "2"}]},
                "b": {"value": ""},
            },
            "/admin?a=1&a=2&b=",
        ),
    ],
)
def test_a_page_path_with_a_trailing_slash_is_redirected_not_served(
    querystring: dict[str, Any], location: str
) -> None:
    """Served at /admin/, the page's relative style.css and admin.js would be looked up
    under /admin/ and miss; the query (?game=…) goes along."""
    (answer,) = run_page_paths([("/admin/", querystring)])
    assert answer == {
        "statusCode": 301,
        "statusDescription": "Moved Permanently",
        "headers": {"location": {"value": location}},
    }


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
    assert "max-age=0" in properties["SystemMetadata"]["cache-control"]


def test_the_site_bucket_is_emptied_and_deleted_with_the_stack(synth: Synth) -> None:
    """The deployment's own delete skips a bucket tagged aws-cdk:cr-owned, and it tags
    the bucket itself (aws/aws-cdk#33397): the CDK's auto-delete resource empties it."""
    site_id = logical_id(synth.stack, synth.stack.web.bucket)
    site = synth.resources[site_id]
    assert site["DeletionPolicy"] == "Delete"
    (auto_delete,) = synth.of_type("Custom::S3AutoDeleteObjects").values()
    assert auto_delete["Properties"]["BucketName"] == {"Ref": site_id}
    # Its handler empties only a bucket that carries this tag.
    assert {"Key": "aws-cdk:auto-delete-objects", "Value": "true"} in site["Properties"]["Tags"]
    # The access logs are evidence: never emptied by the stack.
    logs_id = logical_id(synth.stack, synth.stack.web.access_logs)
    assert "Tags" not in synth.resources[logs_id]["Properties"]


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
        f"clientId={ref(auth.client)}; "
        f'domain=https://{ref(auth.domain)}.auth.{{"Ref": "AWS::Region"}}.amazoncognito.com'
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


def test_sign_in_ignores_how_the_email_address_is_capitalised(synth: Synth) -> None:
    pool_id = logical_id(synth.stack, synth.stack.auth.user_pool)
    properties = synth.resources[pool_id]["Properties"]
    assert properties["UsernameConfiguration"] == {"CaseSensitive": False}


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
    from frolic_tools.openapi import generate

    served = {m.upper() for item in generate()["paths"].values() for m in item}
    assert served == set(CORS_ALLOWED_METHODS)


def gateway_responses(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGateway::GatewayResponse"
    }


def test_gateway_errors_are_readable_by_every_allowed_origin(synth: Synth) -> None:
    """API Gateway's own answers echo the caller's Origin (a gateway response cannot pick
    from a list): pages on an extra origin must see an expired token's 401 as a 401, not
    as a network error. Safe: these answers carry no data and allow no credentials."""
    responses = gateway_responses(synth.resources)
    # 401 from the authorizer, WAF 403, throttling 429, and whatever else API Gateway says
    assert {"UNAUTHORIZED", "WAF_FILTERED", "THROTTLED", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(
        responses
    )
    for response_type, properties in responses.items():
        headers = properties["ResponseParameters"]
        assert headers == {
            "gatewayresponse.header.Access-Control-Allow-Origin": "method.request.header.Origin",
            "gatewayresponse.header.Vary": "'Origin'",
        }, response_type
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
        # Hosts in capitals: browsers send them lowercased, so the stack must too.
        context={
            "stage": STAGE,
            "allowedOrigins": "https://Play.Example.COM, HTTP://localhost:8000",
        },
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
    assert "Example" not in json.dumps(resources) and "HTTP:" not in json.dumps(resources)
    # The gateway's own errors do not depend on the list: they echo whoever asked.
    for properties in gateway_responses(resources).values():
        origin = properties["ResponseParameters"][
            "gatewayresponse.header.Access-Control-Allow-Origin"
        ]
        assert origin == "method.request.header.Origin"


@pytest.mark.parametrize(
    "origins", ["https://play.example.com/", "play.example.com", "https://a.example/path"]
)
def test_an_allowed_origin_must_be_an_origin(origins: str, deps_layer_stand_in: Path) -> None:
    with pytest.raises(SystemExit, match="allowedOrigins"):
        build(App(context={"allowedOrigins": origins}), deps_layer_dir=deps_layer_stand_in)
