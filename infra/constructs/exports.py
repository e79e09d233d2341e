"""The exports bucket: marketers' CSV files of winners and of the audit trail.

The export function writes each file under `exports/` by multipart upload; the admin
function hands out a pre-signed GET of it (frolic.dal.exports). Nothing else reads it,
and a file lives as long as its job item: EXPORT_DAYS, then S3 deletes it. An upload
that died half way is aborted by S3 a day later, so no parts are paid for forever.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from frolic.dal.exports import EXPORT_DAYS
from frolic.exports import EXPORTS_FOLDER

#: Parts of an upload that never completed are dropped after this.
INCOMPLETE_UPLOAD_DAYS: Final = 1


class Exports(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        access_logs: s3.IBucket,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        # Exports hold players' ids and coupon codes: private, encrypted, SSL-only, and
        # gone after EXPORT_DAYS. Accesses are logged beside the site's.
        self.bucket = s3.Bucket(
            self,
            "Files",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="exports-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    prefix=f"{EXPORTS_FOLDER}/",
                    expiration=Duration.days(EXPORT_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(INCOMPLETE_UPLOAD_DAYS),
                )
            ],
            removal_policy=removal_policy,
        )

    @property
    def files_arn(self) -> str:
        """Every export file, and nothing else in the bucket."""
        return self.bucket.arn_for_objects(f"{EXPORTS_FOLDER}/*")

    def grant_write(self, writer: lambda_.IFunction) -> None:
        """Multipart upload needs PutObject (create, parts, complete) and the abort."""
        iam.Grant.add_to_principal(
            grantee=writer,
            actions=["s3:PutObject", "s3:AbortMultipartUpload"],
            resource_arns=[self.files_arn],
        )

    def grant_links(self, signer: lambda_.IFunction) -> None:
        """A pre-signed GET carries its signer's rights: the admin function reads files."""
        iam.Grant.add_to_principal(
            grantee=signer, actions=["s3:GetObject"], resource_arns=[self.files_arn]
        )
