"""Who may call Frolic: one Cognito user pool for players and marketers.

Players sign themselves up; marketers are players an operator adds to the `admin`
group, whose name is the one `frolic.auth` checks in the token's `cognito:groups`.

The pages sign in with no SDK and no build step: one `InitiateAuth` call with
`USER_PASSWORD_AUTH` over fetch (web/common.js), so the app client allows that flow
besides SRP. The password travels once, over TLS, to Cognito only.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from frolic.auth import ADMIN_GROUP


class Auth(Construct):
    """User pool, a public app client (browser and mobile: no secret) and the admin group."""

    def __init__(
        self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy
    ) -> None:
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
        self.client = self.user_pool.add_client(
            "App",
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
            prevent_user_existence_errors=True,
            generate_secret=False,
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
        )
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
