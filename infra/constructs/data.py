"""Where Frolic keeps its state: the three DynamoDB tables and the draw key.

The key schema comes from `frolic.dal.tables`, the same constants the code, moto and
the local stack use, so a table deployed here always has the keys the code writes.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

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


class Data(Construct):
    """Tables (on demand, point-in-time recovery, AWS-managed KMS encryption, TTL) and
    the secret that keys every play's random draw."""

    def __init__(
        self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        #: One item per play; its change stream drives delivery and expiry, which
        #: compare the old and new images, hence NEW_AND_OLD_IMAGES.
        self.results = self._table(
            "Results",
            partition_key=RESULTS_KEY,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            removal_policy=removal_policy,
        )
        #: Sparse, keys only: pending plays and wins awaiting issue, for the sweeper.
        self.results.add_global_secondary_index(
            index_name=SWEEP_INDEX,
            partition_key=dynamodb.Attribute(
                name=SWEEP_PARTITION, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=SWEEP_SORT, type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        #: Sparse: won results by their winner, for the players' wallets.
        self.results.add_global_secondary_index(
            index_name=WALLET_INDEX,
            partition_key=dynamodb.Attribute(
                name=WALLET_PARTITION, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=WALLET_SORT, type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=list(WALLET_PROJECTION),
        )
        #: Campaigns, games, budgets, coupon pools, counters, audit.
        self.state = self._table(
            "State",
            partition_key=STATE_PARTITION_KEY,
            sort_key=STATE_SORT_KEY,
            removal_policy=removal_policy,
        )
        #: WebSocket connections and single-use tickets: short-lived by design.
        self.sessions = self._table(
            "Sessions", partition_key=SESSIONS_KEY, removal_policy=removal_policy
        )

        # Players choose their playIds: without this key they could search for ids
        # that draw a win. Generated here, never in source or in an environment value.
        self.draw_key = secretsmanager.Secret(
            self,
            "DrawKey",
            description="Secret key of the allocator's keyed per-play random draw",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=removal_policy,
        )
        NagSuppressions.add_resource_suppressions(
            self.draw_key,
            [
                NagPackSuppression(
                    id="AwsSolutions-SMG4",
                    reason=(
                        "The draw key is read once per allocator cold start; rotating it "
                        "during a live game would give a replayed play a different draw "
                        "than its first attempt. Rotate it between games by putting a new "
                        "value (see README, Deploy)."
                    ),
                )
            ],
        )

    def _table(
        self,
        construct_id: str,
        *,
        partition_key: str,
        removal_policy: RemovalPolicy,
        sort_key: str | None = None,
        stream: dynamodb.StreamViewType | None = None,
    ) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=dynamodb.Attribute(
                name=partition_key, type=dynamodb.AttributeType.STRING
            ),
            sort_key=(
                dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING)
                if sort_key
                else None
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            stream=stream,
            removal_policy=removal_policy,
        )
