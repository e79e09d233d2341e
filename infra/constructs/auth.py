"""Who may call Frolic: one Cognito user pool for players and marketers.

Players sign themselves up; marketers are players an operator adds to the `admin`
group, whose name is the one `frolic.auth` checks in the token's `cognito:groups`.

The pages never see a password: they send people to Cognito's managed login (sign-in,
sign-up, a new password, TOTP) with the authorization-code flow and PKCE, and keep the
session alive with the refresh token (web/common.js). No password flow is open to a
browser: the one password flow the client allows needs AWS credentials.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from frolic.auth import ADMIN_GROUP

#: Where the pages live under each origin (CloudFront serves /admin from admin.html):
#: managed login sends people back to the page they signed in from.
PAGE_PATHS = ("/", "/admin")
OAUTH_SCOPES = (cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE)


def page_urls(origins: Sequence[str]) -> list[str]:
    """The pages' URLs on every origin Cognito may send people back to: https, or
    http on localhost (Cognito refuses plain http anywhere else)."""
    allowed = [o for o in origins if o.startswith("https://") or o.startswith("http://localhost")]
    return [f"{origin}{path}" for origin in allowed for path in PAGE_PATHS]


class Auth(Construct):
    """User pool, its managed-login domain, a public app client (browser: no secret,
    authorization code with PKCE) and the admin group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: RemovalPolicy,
        page_origins: Sequence[str],
        domain_prefix: str,
    ) -> None:
        """`page_origins`: where the pages are served, the site's first;
        `domain_prefix`: the managed login's `<prefix>.auth.<region>.amazoncognito.com`,
        unique in the region."""
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "Users",
            self_sign_up_enabled=True,
            sign_in_aliases=cognito.SignInAliases(email=True),
            # Ann@Example.com and ann@example.com are one person: people do not keep
            # track of how they capitalised their address.
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            removal_policy=removal_policy,
        )
        urls = page_urls(page_origins)
        self.client = self.user_pool.add_client(
            "App",
            # Managed login runs its own flows. Besides refreshing, the client takes
            # ADMIN_USER_PASSWORD_AUTH, which needs AWS credentials (never a browser's):
            # operators get ID tokens for `frolic crowd` that way (README, Deploy).
            auth_flows=cognito.AuthFlow(user_srp=True, admin_user_password=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=list(OAUTH_SCOPES),
                callback_urls=urls,
                logout_urls=urls,
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            generate_secret=False,
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
            enable_token_revocation=True,
        )
        self.domain = self.user_pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix),
            managed_login_version=cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
        )
        # The newer managed login shows nothing until the client has a style: Cognito's own.
        cognito.CfnManagedLoginBranding(
            self,
            "Branding",
            user_pool_id=self.user_pool.user_pool_id,
            client_id=self.client.user_pool_client_id,
            use_cognito_provided_values=True,
        ).node.add_dependency(self.domain)
        self.admin_group = self.user_pool.add_group(
            "AdminGroup",
            group_name=ADMIN_GROUP,
            description="Marketers: the /admin routes",
        )
        NagSuppressions.add_resource_suppressions(
            self.user_pool,
            [
                NagPackSuppression(
                    id="AwsSolutions-COG2",
                    reason=(
                        "Players of a marketing game sign in from their phones; mandatory "
                        "MFA would turn most of them away. TOTP MFA is offered (optional), "
                        "and a player account can only spin and read its own results."
                    ),
                ),
                NagPackSuppression(
                    id="AwsSolutions-COG8",
                    reason=(
                        "The Plus feature plan is priced per monthly active user and a "
                        "campaign can bring a large one-off audience; threat protection "
                        "can be switched on per deployment where the budget allows. The "
                        "REST API is behind a WAF rate-based rule either way."
                    ),
                ),
            ],
        )
