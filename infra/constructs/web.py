"""The player (/) and marketer (/admin) pages: a private S3 bucket behind CloudFront.

The pages are the plain files in `web/`. Three `<meta>` tags tell them where the APIs and
the sign-in are (web/common.js): empty on the local stack (same origin, dev tokens), and
here the REST API's URL, the WebSocket URL and the Cognito app client. Those values exist
only once the stack is deployed, so the two HTML files are rendered at synth with CDK
tokens in the tags and shipped with `Source.data`, which substitutes them at deploy time.
Synth reads files only: no Docker, no AWS calls.

Only CloudFront reads the bucket (Origin Access Control); browsers get HTTPS, security
headers and a content security policy that lets the pages talk to this region's API
Gateway and Cognito endpoints and nothing else. A path with no file behind it gets a 404
and a small page (web/404.html), not S3's XML refusal.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

ROOT: Final = Path(__file__).resolve().parents[2]
WEB_DIR: Final = ROOT / "web"
PAGE_PATHS_FUNCTION: Final = Path(__file__).resolve().parent / "page_paths.js"
#: The pages whose `<meta>` tags carry the deployed URLs; the other files ship as they are.
PAGES: Final = ("index.html", "admin.html")
#: In web/ but not part of the site.
NOT_SHIPPED: Final = ("README.md", ".*")
LOG_RETENTION: Final = logs.RetentionDays.ONE_MONTH
#: CloudFront and S3 access logs are kept this long, then expire.
ACCESS_LOG_DAYS: Final = 90
#: Browsers revalidate every load (a deploy must reach players at once; an unchanged file
#: costs a 304), while CloudFront keeps its copy until the next deploy invalidates it.
CACHE_CONTROL: Final = (
    s3_deployment.CacheControl.set_public(),
    s3_deployment.CacheControl.max_age(Duration.seconds(0)),
    s3_deployment.CacheControl.s_max_age(Duration.days(1)),
    s3_deployment.CacheControl.must_revalidate(),
)
HSTS_MAX_AGE: Final = Duration.days(730)
#: What a path with no file behind it shows (S3 answers 403 for it: CloudFront may not list).
NOT_FOUND_PAGE: Final = "/404.html"
#: How long CloudFront keeps a 404 before asking the bucket again (deploys invalidate it).
NOT_FOUND_TTL: Final = Duration.minutes(1)
#: CloudFront's name limits: Origin Access Control 64 characters, response headers policy 128.
OAC_NAME_LIMIT: Final = 64
RESPONSE_HEADERS_POLICY_NAME_LIMIT: Final = 128
#: Room kept for the region, unknown until deploy (the longest today has 15 characters).
REGION_NAME_ROOM: Final = 20


class PageConfigError(ValueError):
    """A page lost one of the `<meta>` tags the deployed configuration goes into."""


@dataclass(frozen=True)
class PageSettings:
    """What web/common.js reads from the pages' `<meta>` tags once deployed."""

    #: `frolic-api`: the REST API's base URL.
    api_url: str
    #: `frolic-ws`: the results WebSocket's URL (wss://…/stage).
    websocket_url: str
    #: `frolic-auth`: the Cognito app client the pages sign in with, see `cognito_sign_in`.
    sign_in: str

    def meta_contents(self) -> dict[str, str]:
        return {
            "frolic-api": self.api_url,
            "frolic-ws": self.websocket_url,
            "frolic-auth": self.sign_in,
        }


def cognito_sign_in(*, client_id: str, domain_url: str) -> str:
    """The `frolic-auth` value: the app client and the managed login's base URL, whose
    /oauth2/authorize and /oauth2/token web/common.js uses."""
    return f"clientId={client_id}; domain={domain_url}"


def render_page(page: str, settings: PageSettings) -> str:
    """The page with each configuration tag's `content` set; every tag must be there,
    exactly once, or the deployed page would silently talk to the wrong place."""
    for name, value in settings.meta_contents().items():
        page, found = _set_meta_content(page, name, value)
        if found != 1:
            raise PageConfigError(f'expected one <meta name="{name}" content="…">, found {found}')
    return page


def _set_meta_content(page: str, name: str, value: str) -> tuple[str, int]:
    tag = re.compile(rf'(<meta\s+name="{re.escape(name)}"\s+content=")[^"]*(")')
    content = html.escape(value, quote=True)
    return tag.subn(lambda match: f"{match[1]}{content}{match[2]}", page)


def account_wide_name(scope: Construct, purpose: str, limit: int) -> str:
    """`<stack>-<region>-<purpose>` in at most `limit` characters. CloudFront names are
    unique per account, not per region, so the same stack in two regions needs both in
    its names. A stack name too long for the room left is cut and given a hash of the
    whole, so two long names still differ."""
    stack = Stack.of(scope)
    room = limit - REGION_NAME_ROOM - len(purpose) - 2
    name = stack.stack_name
    if len(name) > room:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[: room - len(digest) - 1]}-{digest}"
    return f"{name}-{stack.region}-{purpose}"


class Web(Construct):
    """Site bucket, access-log bucket, CloudFront distribution; `publish` ships the pages.

    Publishing is a separate step because the pages need the APIs' URLs while the APIs'
    CORS rules need the site's origin: the stack builds this first, hands `origin` to the
    APIs, then publishes with their URLs.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = self._access_log_bucket()
        # Nothing here but files rebuilt from web/ on every deploy: the bucket goes with
        # the stack. The CDK's auto-delete custom resource empties it first; the
        # deployment cannot (it skips buckets tagged aws-cdk:cr-owned, which it tags
        # itself: aws/aws-cdk#33397).
        self.bucket = s3.Bucket(
            self,
            "Site",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="site-bucket/",
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=True,
        )
        page_paths = cloudfront.Function(
            self,
            "PagePaths",
            comment="Frolic: /admin is admin.html",
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            code=cloudfront.FunctionCode.from_file(file_path=str(PAGE_PATHS_FUNCTION)),
        )
        access_control = cloudfront.S3OriginAccessControl(
            self,
            "SiteAccess",
            origin_access_control_name=account_wide_name(self, "site", OAC_NAME_LIMIT),
            description="Frolic: CloudFront reads the site bucket",
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Frolic player and marketer pages",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(
                    self.bucket,
                    origin_access_control=access_control,
                    origin_access_levels=[cloudfront.AccessLevel.READ],
                ),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self._security_headers(),
                compress=True,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=page_paths,
                        event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                    )
                ],
            ),
            # S3 refuses a missing key with 403 (CloudFront may not list the bucket).
            error_responses=[
                cloudfront.ErrorResponse(
                    http_status=status,
                    response_http_status=404,
                    response_page_path=NOT_FOUND_PAGE,
                    ttl=NOT_FOUND_TTL,
                )
                for status in (403, 404)
            ],
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            log_bucket=self.access_logs,
            log_file_prefix="cloudfront/",
        )
        self._acknowledge_distribution_findings()

    @property
    def origin(self) -> str:
        """The pages' origin (https://xyz.cloudfront.net), as browsers send it in `Origin`."""
        return f"https://{self.distribution.distribution_domain_name}"

    @property
    def url(self) -> str:
        return f"{self.origin}/"

    def publish(self, settings: PageSettings) -> s3_deployment.BucketDeployment:
        """Ship web/ to the bucket, the two pages configured, and refresh CloudFront."""
        pages = [
            s3_deployment.Source.data(name, render_page((WEB_DIR / name).read_text(), settings))
            for name in PAGES
        ]
        assets = s3_deployment.Source.asset(str(WEB_DIR), exclude=[*PAGES, *NOT_SHIPPED])
        deployment = s3_deployment.BucketDeployment(
            self,
            "Pages",
            destination_bucket=self.bucket,
            sources=[*pages, assets],
            cache_control=list(CACHE_CONTROL),
            distribution=self.distribution,
            distribution_paths=["/*"],
            log_group=logs.LogGroup(self, "PagesDeploymentLogs", retention=LOG_RETENTION),
        )
        self._acknowledge_deployment_findings(deployment)
        return deployment

    def _access_log_bucket(self) -> s3.Bucket:
        # CloudFront's standard logs are written with an ACL grant, so this bucket keeps
        # ACLs (object writer preferred by the bucket owner); it is never public. Logs are
        # evidence after an incident: kept when the stack goes, like its log groups.
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(ACCESS_LOG_DAYS))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        NagSuppressions.add_resource_suppressions(
            bucket,
            [
                NagPackSuppression(
                    id="AwsSolutions-S1",
                    reason=(
                        "This is the access-log bucket of the site bucket and the "
                        "distribution; logging its own accesses would need yet another "
                        "bucket with the same finding. It is private, encrypted, SSL-only "
                        "and its objects expire after 90 days."
                    ),
                )
            ],
        )
        return bucket

    def _security_headers(self) -> cloudfront.ResponseHeadersPolicy:
        """HSTS, no sniffing, no framing, no referrer, and a CSP as strict as the pages:
        their own scripts and styles, and calls to this region's API Gateway endpoints
        (REST over https, results over wss) and the managed login's token endpoint
        (any `*.auth.<region>.amazoncognito.com` domain, for the same reason as below).

        connect-src allows any `*.execute-api` host in the region, not only this stack's
        two APIs: naming their hosts here would make the distribution depend on the APIs,
        whose CORS rules already depend on the distribution's domain (a dependency loop).
        The cost: a script that got onto the page despite `script-src 'self'` could send
        what it reads to any API Gateway endpoint in the region (anyone can create one),
        so connect-src is no barrier to that; keeping scripts out is the pages' job
        (no inline code, no innerHTML, see web/README.md)."""
        region = Stack.of(self).region
        api_hosts = f"*.execute-api.{region}.amazonaws.com"
        policy = "; ".join(
            (
                "default-src 'self'",
                "script-src 'self'",
                "style-src 'self'",
                "img-src 'self'",
                f"connect-src 'self' https://{api_hosts} wss://{api_hosts} "
                f"https://*.auth.{region}.amazoncognito.com",
                "object-src 'none'",
                "base-uri 'none'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            )
        )
        return cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            response_headers_policy_name=account_wide_name(
                self, "pages", RESPONSE_HEADERS_POLICY_NAME_LIMIT
            ),
            comment="Frolic pages: HSTS, CSP, no framing, no sniffing, no referrer",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=policy, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
            ),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                custom_headers=[
                    cloudfront.ResponseCustomHeader(
                        header="Permissions-Policy",
                        value="camera=(), microphone=(), geolocation=(), payment=()",
                        override=True,
                    )
                ]
            ),
        )

    def _acknowledge_distribution_findings(self) -> None:
        NagSuppressions.add_resource_suppressions(
            self.distribution,
            [
                NagPackSuppression(
                    id="AwsSolutions-CFR1",
                    reason=(
                        "Who may play is the marketer's campaign rule, not a property of "
                        "this stack; the pages hold no data, and the REST API behind them "
                        "checks every caller's token."
                    ),
                ),
                NagPackSuppression(
                    id="AwsSolutions-CFR2",
                    reason=(
                        "The distribution serves only static pages from a private bucket. "
                        "The API they call, where the data is, has its own regional WAF "
                        "web ACL (rate limit, known bad inputs); a CloudFront web ACL must "
                        "be created in us-east-1, outside this regional stack."
                    ),
                ),
                NagPackSuppression(
                    id="AwsSolutions-CFR4",
                    reason=(
                        "The stack has no custom domain, so viewers reach the default "
                        "*.cloudfront.net certificate, whose security policy CloudFront "
                        "fixes; a minimum TLS version can be set only with an ACM "
                        "certificate and alias. Current browsers refuse anything below "
                        "TLS 1.2 themselves."
                    ),
                ),
            ],
        )

    def _acknowledge_deployment_findings(self, deployment: s3_deployment.BucketDeployment) -> None:
        """The CDK's own deployment function (one per stack), which runs only while
        CloudFormation deploys: its runtime and rights are the CDK's, acknowledged by
        exact finding."""
        function = deployment.handler_role.node.scope
        if function is None:  # pragma: no cover - the role always lives in the function
            raise RuntimeError("the BucketDeployment role has no function around it")
        copy = (
            "The CDK's BucketDeployment copies the staged assets into the site bucket and "
            "prunes stale files: "
        )
        NagSuppressions.add_resource_suppressions(
            function,
            [
                NagPackSuppression(
                    id="AwsSolutions-L1",
                    reason=(
                        "The CDK chooses the BucketDeployment function's runtime and moves "
                        "it with aws-cdk-lib releases; it runs only during deploys."
                    ),
                ),
                NagPackSuppression(
                    id="AwsSolutions-IAM4",
                    reason=(
                        "The CDK's BucketDeployment function logs through the AWS managed "
                        "AWSLambdaBasicExecutionRole; it runs only during deploys."
                    ),
                    applies_to=[
                        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                        "AWSLambdaBasicExecutionRole"
                    ],
                ),
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason=copy + "the object-level action groups the CDK grants, on the CDK asset "
                    "bucket (read) and on this stack's site bucket (read, write, delete).",
                    applies_to=[
                        "Action::s3:GetObject*",
                        "Action::s3:GetBucket*",
                        "Action::s3:List*",
                        "Action::s3:DeleteObject*",
                        "Action::s3:Abort*",
                        "Resource::arn:<AWS::Partition>:s3:::"
                        "cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
                        RegexAppliesTo(regex=r"/^Resource::<WebSite[0-9A-F]{8}\.Arn>\/\*$/"),
                    ],
                ),
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason=copy + "then it invalidates the distribution's cache. The CDK grants "
                    "cloudfront:CreateInvalidation/GetInvalidation on Resource *; the "
                    "function is only ever given this stack's distribution id.",
                    applies_to=["Resource::*"],
                ),
            ],
            apply_to_children=True,
        )
