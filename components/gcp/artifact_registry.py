"""ArtifactRegistry: the GCP side's Docker registry, immutable and self-cleaning.

One Docker-format repository holds every workload image the GKE cluster runs (an
Artifact Registry repository stores many images, unlike an ECR repository). Tags are
immutable, so a deployed tag always means the same digest. Cleanup policies keep the most
recent versions of each image and delete untagged layers after a few days.
"""

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp


@dataclass
class ArtifactRegistryArgs:
    """Inputs of ArtifactRegistry. Defaults: immutable tags, scanning on, protected."""

    location: str
    """Required: the region of the repository (the GKE cluster's, so pulls stay regional)."""
    repository_id: str
    """Required: the repository's id, unique in the project and location."""
    keep_last_versions: int = 30
    """Most recent versions of each image that cleanup never deletes, in versions. Default 30."""
    untagged_expire_days: int = 7
    """Untagged versions older than this are deleted, in days. Default 7 (a week covers a rollback)."""
    readers: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """IAM members that may pull, on this repository only, by a stable key (`gke-nodes` ->
    `serviceAccount:<node SA>`). The key names the grant, so removing one reader never
    renames the others'. Default none."""
    protect: bool = True
    """`protect` the repository: deleting it loses every image. Default true."""


class ArtifactRegistry(pulumi.ComponentResource):
    repository_id: pulumi.Output[str]
    repository_url: pulumi.Output[str]
    """`<location>-docker.pkg.dev/<project>/<repository>`: the prefix of every image name."""

    def __init__(self, name: str, args: ArtifactRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        if args.keep_last_versions < 1:
            raise ValueError(f"ArtifactRegistry {name}: keep_last_versions must be >= 1, got {args.keep_last_versions}")
        if args.untagged_expire_days < 1:
            raise ValueError(
                f"ArtifactRegistry {name}: untagged_expire_days must be >= 1, got {args.untagged_expire_days}"
            )
        super().__init__("platform:gcp:ArtifactRegistry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        repository = gcp.artifactregistry.Repository(
            f"{name}-docker",
            location=args.location,
            repository_id=args.repository_id,
            format="DOCKER",
            description=f"Workload images of {name}",
            # A pushed tag can never be moved to another digest (supply-chain integrity).
            docker_config=gcp.artifactregistry.RepositoryDockerConfigArgs(immutable_tags=True),
            # Container Analysis scans every pushed image when the API is on for the project.
            vulnerability_scanning_config=gcp.artifactregistry.RepositoryVulnerabilityScanningConfigArgs(
                enablement_config="INHERITED",
            ),
            # KEEP outranks DELETE: the newest versions survive even when they are old.
            cleanup_policies=[
                gcp.artifactregistry.RepositoryCleanupPolicyArgs(
                    id="keep-most-recent",
                    action="KEEP",
                    most_recent_versions=gcp.artifactregistry.RepositoryCleanupPolicyMostRecentVersionsArgs(
                        keep_count=args.keep_last_versions,
                    ),
                ),
                gcp.artifactregistry.RepositoryCleanupPolicyArgs(
                    id="delete-untagged",
                    action="DELETE",
                    condition=gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs(
                        tag_state="UNTAGGED",
                        older_than=f"{args.untagged_expire_days * 86400}s",
                    ),
                ),
            ],
            cleanup_policy_dry_run=False,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        for reader_key, member in args.readers.items():
            gcp.artifactregistry.RepositoryIamMember(
                f"{name}-reader-{reader_key}",
                repository=repository.name,
                location=repository.location,
                role="roles/artifactregistry.reader",
                member=member,
                opts=child,
            )

        self.repository_id = repository.id
        self.repository_url = repository.registry_uri
        self.register_outputs({"repository_id": self.repository_id, "repository_url": self.repository_url})
