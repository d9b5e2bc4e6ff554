"""EcrRepositories: one private ECR repository per workload, sharing a customer KMS key.

Tags are immutable (AWS Security Hub ECR.2), images are scanned on push (ECR.1) and
every repository has a lifecycle policy (ECR.3), so the registry neither keeps unscanned
images nor lets a pushed tag silently point at different code, nor grows without bound.
"""

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws._context import AwsContext
from components.aws._kms import customer_key

UNTAGGED_EXPIRE_DAYS = 7
"""Untagged images are leftovers of re-pushed builds or failed pushes; a week covers a rollback."""


@dataclass
class EcrRepositoriesArgs:
    """Inputs of EcrRepositories. Defaults favour immutability and protection."""

    repositories: list[str]
    """Required: workload names, each a repository `<name_prefix>/<workload>`; names are the stable keys of the
    repositories' resources."""
    name_prefix: str
    """Required: namespace of the repositories (e.g. the project), so IAM can grant `<prefix>/*`."""
    keep_last_images: int = 30
    """How many images each repository keeps, in images, of any tag status; older ones expire (room for rollbacks).
    Default 30."""
    protect: bool = True
    """`protect` the repositories and their key: deleting either loses every image. Default true."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags for every resource (a Name tag is added per resource). Default none."""


def lifecycle_policy(keep_last_images: int) -> str:
    """ECR lifecycle policy: untagged images go after a week, and only the newest N stay.

    ECR evaluates rules by ascending priority and requires a `tagStatus: any` rule to
    have the highest priority, so the catch-all count rule comes last.
    """
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Expire untagged images after {UNTAGGED_EXPIRE_DAYS} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": UNTAGGED_EXPIRE_DAYS,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"Keep only the last {keep_last_images} images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": keep_last_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        }
    )


class EcrRepositories(pulumi.ComponentResource):
    """Immutable, scanned, KMS-encrypted repositories with lifecycle policies."""

    repository_urls: pulumi.Output[dict[str, str]]
    repository_url_of: dict[str, pulumi.Output[str]]
    """Repository name -> its URL, each depending on its own repository only (an image
    reference built from it is not touched when another repository goes)."""
    repository_arns: pulumi.Output[dict[str, str]]
    key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: EcrRepositoriesArgs, opts: pulumi.ResourceOptions | None = None):
        if not args.repositories:
            raise ValueError(f"EcrRepositories {name}: repositories is empty")
        duplicates = sorted({w for w in args.repositories if args.repositories.count(w) > 1})
        if duplicates:
            raise ValueError(f"EcrRepositories {name}: duplicate repositories {duplicates}")
        if args.keep_last_images < 1:
            raise ValueError(f"EcrRepositories {name}: keep_last_images must be at least 1")
        super().__init__("platform:aws:EcrRepositories", name, None, opts)
        aws_context = AwsContext.of(self)

        # A customer key rather than the AWS-managed one: its policy and its CloudTrail
        # usage are ours, and rotation is on (CIS AWS 3.6). ECR uses it through grants.
        key = customer_key(
            name,
            description=f"Encrypts the ECR repositories of {name}",
            context=aws_context,
            parent=self,
            protect=args.protect,
            tags=args.tags,
        )
        policy = lifecycle_policy(args.keep_last_images)

        urls: dict[str, pulumi.Output[str]] = {}
        arns: dict[str, pulumi.Output[str]] = {}
        for workload in args.repositories:
            repository = aws.ecr.Repository(
                f"{name}-{workload}",
                name=f"{args.name_prefix}/{workload}",
                # A released tag must always mean the same image (ECR.2): deployments
                # and rollbacks pin tags, and an overwritten tag breaks provenance.
                image_tag_mutability="IMMUTABLE",
                # Basic scanning on every push (ECR.1), before anything can deploy it.
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=key.arn)
                ],
                # Protected stacks never delete a repository that still holds images; an
                # unprotected (dev) stack must be able to tear itself down.
                force_delete=not args.protect,
                tags={**args.tags, "Name": f"{name}-{workload}"},
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-{workload}-lifecycle",
                repository=repository.name,
                policy=policy,
                opts=pulumi.ResourceOptions(parent=self),
            )
            urls[workload] = repository.repository_url
            arns[workload] = repository.arn

        self.repository_urls = pulumi.Output.all(**urls)
        self.repository_url_of = urls
        self.repository_arns = pulumi.Output.all(**arns)
        self.key_arn = key.arn
        self.register_outputs(
            {
                "repository_urls": self.repository_urls,
                "repository_arns": self.repository_arns,
                "key_arn": self.key_arn,
            }
        )
