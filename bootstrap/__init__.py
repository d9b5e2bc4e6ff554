"""The one-time bootstrap program: what the CI pipelines need before they can run.

A Pulumi project of its own (`bootstrap/Pulumi.yaml`, one stack `bootstrap`), run once by
an administrator with their own credentials: the S3 state backend and KMS secrets key
(`state_backend.py`), the AWS IAM OIDC provider and the roles GitHub Actions assume
(`aws_ci_identity.py`), and the GCP workload identity pool, provider and service accounts
(`gcp_ci_identity.py`). docs/ci.md has the steps.
"""
