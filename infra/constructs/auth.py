"""Who may call Frolic: one Cognito user pool for players, marketers and brand staff.

Players sign themselves up. An operator adds staff to a group, whose name is the one
`frolic.auth` checks in the token's `cognito:groups`: `admin` (marketers: everything),
`brand-manager` (their brands' budgets, pools, report lines and exports) or `till`
(redeeming their brands' coupons). Which brands is the `custom:brands` attribute, which
the ID token carries and the app client may read but never write: only an operator with
AWS credentials (AdminUpdateUserAttributes) sets it, so nobody grants themselves a brand.

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

from frolic.auth import ADMIN_GROUP, BRANDS_CLAIM, MANAGER_GROUP, TILL_GROUP

#: Where the pages live under each origin (CloudFront serves /admin from admin.html):
#: managed login sends people back to the page they signed in from.
PAGE_PATHS = ("/", "/admin")
#: The custom attribute naming a staff user's brands (`custom:brands` in the token).
BRANDS_ATTRIBUTE = BRANDS_CLAIM.removeprefix("custom:")
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
            custom_attributes={
                BRANDS_ATTRIBUTE: cognito.StringAttribute(mutable=True, max_len=2048)
            },
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
            # Sign-up writes the address; the brands attribute is read into the ID
            # token, and only an administrator of the pool may write it.
            read_attributes=cognito.ClientAttributes()
            .with_standard_attributes(email=True, email_verified=True)
            .with_custom_attributes(BRANDS_ATTRIBUTE),
            write_attributes=cognito.ClientAttributes().with_standard_attributes(email=True),
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
        self.user_pool.add_group(
            "BrandManagerGroup",
            group_name=MANAGER_GROUP,
            description="Brand managers: their brands' budgets, pools, report and exports",
        )
        self.user_pool.add_group(
            "TillGroup",
            group_name=TILL_GROUP,
            description="Brand tills: redeem their brands' coupons",
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
