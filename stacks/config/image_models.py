"""The `platform:images` section: the platform's base image, and the rules that tie each
workload's image to a registry its cluster pulls from.

Workload images are named in `platform:workloads` by repository and tag; the program
resolves each tag to its digest in the cluster's registry at deploy time (stacks/images.py).
EKS pulls from the stack's ECR repositories, so an EKS workload's repository must be one of
them; GKE pulls from the stack's Artifact Registry repository, which holds any image path.
"""

from pydantic import Field

from stacks.config.data_models import RepositoryName
from stacks.config.types import Section, Switch
from stacks.config.workload_models import WorkloadConfig


class ImagesConfig(Section):
    """The hardened base image of images/base/Dockerfile (the HEAL7 design's heal7-base)."""

    build_base: Switch = Field(
        description="Build images/base/Dockerfile and push it to the stack's ECR repository and Artifact Registry "
        "with pulumi-docker, tagged by content; needs a Docker engine on the deploying machine (tier: false in dev, "
        "true in staging and prod)."
    )
    base_repository: RepositoryName = Field(
        default="base",
        description="The base image's repository: an ECR repository of platform:aws.ecr.repositories, and its "
        "image path in Artifact Registry.",
    )


def image_problems(
    images: ImagesConfig, workloads: dict[str, WorkloadConfig], ecr_repositories: list[str]
) -> list[str]:
    """Every image must live in a registry its cluster pulls from."""
    known = ", ".join(sorted(ecr_repositories))
    problems = []
    for name, workload in workloads.items():
        repository = workload.image.repository
        if "eks" in workload.placement and repository not in ecr_repositories:
            # ECR holds one image per repository and the program creates only the listed
            # ones: a digest lookup elsewhere would fail at `pulumi up`, after other changes.
            problems.append(
                f"platform:workloads.{name}.image.repository: expected one of platform:aws.ecr.repositories "
                f"({known}) for a workload placed on eks, got {repository!r}"
            )
    if images.build_base and images.base_repository not in ecr_repositories:
        problems.append(
            f"platform:images.baseRepository: expected one of platform:aws.ecr.repositories ({known}), where "
            f"the base image is pushed (platform:images.buildBase is true), got {images.base_repository!r}"
        )
    return problems
