"""Workload images pinned by digest, and the platform's base image (pulumi-docker).

Config names each workload's image by repository and tag (`platform:workloads.<name>.image`).
At every preview and update the program asks the registry the cluster pulls from (ECR for
EKS, Artifact Registry for GKE) which digest the tag points to, with pulumi-docker's
`getRegistryImage`, and every pod spec pins `<repository url>@sha256:<digest>`. A tag moved
in the registry therefore shows up as a changed Deployment in the next preview instead of
silently changing what a restarted pod runs; both registries keep tags immutable besides.

The registry credentials are short-lived and come from the clouds at run time: an ECR
authorization token (valid 12 hours) from the AWS provider, and the GCP provider's OAuth
access token (valid 1 hour) as Artifact Registry's `oauth2accesstoken` user. Each registry
gets its own explicit Docker provider holding them as secrets; the lookups need no Docker
engine. Only the base image build (`platform:images.buildBase`) needs one.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker
import pulumi_gcp as gcp

from components.multicloud.base_image import BaseImage, BaseImageArgs, RegistryPushSpec
from stacks.aws_platform import AwsPrimary
from stacks.config.models import PlatformConfig
from stacks.gcp_platform import GcpSecondary

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The base image's build context, relative to the project root (where `pulumi up` runs).
BASE_IMAGE_CONTEXT = "images/base"
# Artifact Registry takes a Google OAuth access token as the password of this fixed user.
ARTIFACT_REGISTRY_USER = "oauth2accesstoken"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class RegistryLogin:
    """Short-lived credentials for one registry host."""

    address: pulumi.Output[str]
    username: pulumi.Output[str]
    password: pulumi.Output[str]
    """Always a secret Output."""


def registry_host(url: str) -> str:
    """`613420769954.dkr.ecr.ap-northeast-2.amazonaws.com/heal7-prod/web-main` -> its host."""
    return url.split("/", 1)[0]


def ecr_login(aws_provider: pulumi.ProviderResource) -> RegistryLogin:
    """An ECR authorization token of the deploying identity's account in aws:region: the
    registry every repository of the stack lives in (`<account>.dkr.ecr.<region>.amazonaws.com`)."""
    token = aws.ecr.get_authorization_token_output(opts=pulumi.InvokeOutputOptions(provider=aws_provider))
    return RegistryLogin(
        address=token.proxy_endpoint.apply(lambda endpoint: endpoint.removeprefix("https://")),
        username=token.user_name,
        password=pulumi.Output.secret(token.password),
    )


def artifact_registry_login(host: pulumi.Input[str], gcp_provider: pulumi.ProviderResource) -> RegistryLogin:
    """The GCP provider's own access token, as Artifact Registry's token user."""
    client = gcp.organizations.get_client_config_output(opts=pulumi.InvokeOutputOptions(provider=gcp_provider))
    return RegistryLogin(
        address=pulumi.Output.from_input(host),
        username=pulumi.Output.from_input(ARTIFACT_REGISTRY_USER),
        password=pulumi.Output.secret(client.access_token),
    )


def registry_provider(name: str, login: RegistryLogin) -> docker.Provider:
    """A Docker provider that only reads one registry: no engine needed."""
    return docker.Provider(
        name,
        registry_auth=[
            docker.ProviderRegistryAuthArgs(address=login.address, username=login.username, password=login.password)
        ],
        # Digest lookups talk to the registry's API only; the deploying machine may have no engine.
        disable_docker_daemon_check=True,
    )


def pin(repository_url: str, tag: str, digest: str | None) -> str:
    """`<repository url>@sha256:<digest>`, or an error naming the image if the registry's answer is not a digest."""
    if not digest or not DIGEST.match(digest):
        raise ValueError(
            f"{repository_url}:{tag}: expected the registry to answer a digest sha256:<64 hex digits>, got {digest!r}"
        )
    return f"{repository_url}@{digest}"


def pinned(repository_url: pulumi.Input[str], tag: str, provider: docker.Provider) -> pulumi.Output[str]:
    """The digest `repository_url:tag` points to now, as a pinned reference."""
    url = pulumi.Output.from_input(repository_url)
    found = docker.get_registry_image_output(
        name=url.apply(lambda value: f"{value}:{tag}"), opts=pulumi.InvokeOutputOptions(provider=provider)
    )
    return pulumi.Output.all(url, found.sha256_digest).apply(lambda values: pin(values[0], tag, values[1]))


def eks_images(
    config: PlatformConfig, primary: AwsPrimary, aws_provider: pulumi.ProviderResource
) -> dict[str, pulumi.Input[str]]:
    """Workload name -> its image in the stack's ECR, pinned by digest, for each workload on EKS.

    The config rules guarantee each repository is one of platform:aws.ecr.repositories."""
    placed = {name: w.image for name, w in config.workloads.items() if "eks" in w.placement}
    if not placed:
        return {}
    urls = primary.registries.repository_url_of
    provider = registry_provider(f"{config.resource_prefix}-ecr-docker", ecr_login(aws_provider))
    return {name: pinned(urls[image.repository], image.tag, provider) for name, image in placed.items()}


def gke_images(
    config: PlatformConfig, secondary: GcpSecondary, gcp_provider: pulumi.ProviderResource
) -> dict[str, pulumi.Input[str]]:
    """Workload name -> its image in the stack's Artifact Registry repository, pinned by digest, for each
    workload on GKE."""
    placed = {name: w.image for name, w in config.workloads.items() if "gke" in w.placement}
    if not placed:
        return {}
    registry_url = secondary.registry.repository_url
    login = artifact_registry_login(registry_url.apply(registry_host), gcp_provider)
    provider = registry_provider(f"{config.resource_prefix}-registry-docker", login)
    return {
        name: pinned(
            registry_url.apply(lambda url, repository=image.repository: f"{url}/{repository}"), image.tag, provider
        )
        for name, image in placed.items()
    }


def build_base_image(
    config: PlatformConfig,
    primary: AwsPrimary,
    secondary: GcpSecondary,
    aws_provider: pulumi.ProviderResource,
    gcp_provider: pulumi.ProviderResource,
) -> dict[str, Any]:
    """Build images/base and push it to the stack's ECR repository and Artifact Registry when
    platform:images.buildBase is on; return the stack exports that name it (none when off)."""
    images = config.images
    if not images.build_base:
        return {}
    prefix, repository = config.resource_prefix, images.base_repository
    ecr_url = primary.registries.repository_url_of[repository]
    registry_url = secondary.registry.repository_url.apply(lambda url: f"{url}/{repository}")
    ecr = ecr_login(aws_provider)
    artifact_registry = artifact_registry_login(registry_url.apply(registry_host), gcp_provider)
    # The deploying machine's engine (DOCKER_HOST, or the default socket): only stacks that
    # build the base image need one.
    engine = docker.Provider(f"{prefix}-docker-build")
    base = BaseImage(
        f"{prefix}-base-image",
        BaseImageArgs(
            context=BASE_IMAGE_CONTEXT,
            root=PROJECT_ROOT,
            targets={
                "ecr": RegistryPushSpec(ecr_url, ecr.username, ecr.password),
                "artifact-registry": RegistryPushSpec(
                    registry_url, artifact_registry.username, artifact_registry.password
                ),
            },
        ),
        opts=pulumi.ResourceOptions(providers=[engine]),
    )
    # Workload builds start FROM one of these digests (README: Images).
    return {"baseImageTag": base.tag, "baseImageDigests": base.repo_digests}
