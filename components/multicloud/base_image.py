"""BaseImage: one Docker build context, built once and pushed to a registry on each cloud.

The platform's hardened base image (images/base/Dockerfile) must sit in ECR, where EKS
workload builds start FROM it, and in Artifact Registry, for the GKE side. One
`docker.Image` (pulumi-docker) per registry builds the same context; the second build is
served from the engine's layer cache, so both registries receive the same layers.

The tag is a hash of the build context's files, so a tag names exactly one Dockerfile and
its inputs: an unchanged context is never rebuilt or re-pushed (both registries keep tags
immutable), and any change gets a new tag. Pods and workload builds still pin the pushed
digest (`repo_digests`), never the tag.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

CONTENT_TAG_PREFIX = "ctx-"
# 16 hex digits (64 bits) of the context's hash: unique among any number of builds a
# registry keeps, and short enough to read in a listing.
CONTENT_TAG_HEX = 16


def context_tag(directory: Path) -> str:
    """`ctx-<16 hex>`: a hash of every file under `directory`, by relative path and bytes."""
    if not directory.is_dir():
        raise ValueError(f"build context {directory} is not a directory")
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    if not files:
        raise ValueError(f"build context {directory} holds no files")
    content = hashlib.sha256()
    for path in files:
        relative = path.relative_to(directory).as_posix().encode()
        data = path.read_bytes()
        # Lengths before each part: no two different trees hash the same stream.
        for part in (relative, data):
            content.update(len(part).to_bytes(8, "big"))
            content.update(part)
    return CONTENT_TAG_PREFIX + content.hexdigest()[:CONTENT_TAG_HEX]


@dataclass
class RegistryPushSpec:
    """One registry the image is pushed to, with short-lived credentials."""

    repository_url: pulumi.Input[str]
    """Required: the repository, `<registry host>/<path>` without a tag (an ECR repository URL, or an Artifact
    Registry repository URL and image path)."""
    username: pulumi.Input[str]
    """Required: the registry user (`AWS` for an ECR token, `oauth2accesstoken` for a Google access token)."""
    password: pulumi.Input[str]
    """Required: a short-lived registry password from the cloud, passed as a secret."""


@dataclass
class BaseImageArgs:
    """Inputs of BaseImage. Defaults: built for the clusters' x86-64 nodes, pushed everywhere."""

    context: str
    """Required: the build context as the Docker engine reads it, relative to `root` (e.g. `images/base`). A
    relative path keeps the stack's state the same on every deploying machine."""
    root: Path
    """Required: the directory `context` is relative to: the project root, where `pulumi up` runs the program.
    The content tag is hashed from `root / context`."""
    targets: dict[str, RegistryPushSpec]
    """Required: the registries to push to, by a stable key (`ecr`, `artifact-registry`) that names each push."""
    platform: str = "linux/amd64"
    """The image's OS and architecture. Default linux/amd64: every EKS and GKE node type the stacks use is
    x86-64, and a build on an arm64 laptop must still run there."""


class BaseImage(pulumi.ComponentResource):
    """The same build context, pushed under one content tag to each target registry."""

    tag: str
    """The content tag every target received (known at preview)."""
    image_names: pulumi.Output[dict[str, str]]
    """Target key -> `<repository url>:<tag>`."""
    repo_digests: pulumi.Output[dict[str, str]]
    """Target key -> `<repository url>@sha256:<digest>`: what workload builds start FROM."""

    def __init__(self, name: str, args: BaseImageArgs, opts: pulumi.ResourceOptions | None = None):
        if not args.targets:
            raise ValueError(f"BaseImage {name}: targets is empty; expected at least one registry")
        if Path(args.context).is_absolute():
            raise ValueError(f"BaseImage {name}: context must be relative to root, got {args.context}")
        super().__init__("platform:multicloud:BaseImage", name, None, opts)
        self.tag = context_tag(args.root / args.context)

        names: dict[str, pulumi.Output[str]] = {}
        digests: dict[str, pulumi.Output[str]] = {}
        for key, target in args.targets.items():
            image_name = pulumi.Output.concat(target.repository_url, ":", self.tag)
            image = docker.Image(
                f"{name}-{key}",
                image_name=image_name,
                build=docker.DockerBuildArgs(
                    context=args.context,
                    dockerfile=f"{args.context}/Dockerfile",
                    platform=args.platform,
                ),
                registry=docker.RegistryArgs(
                    # The registry host: the first segment of the repository URL.
                    server=pulumi.Output.from_input(target.repository_url).apply(lambda url: url.split("/", 1)[0]),
                    username=target.username,
                    # Short-lived, and not a cause to rebuild when it rotates (pulumi-docker's doc).
                    password=pulumi.Output.secret(target.password),
                ),
                skip_push=False,
                # Preview never builds: a preview must not need the engine's time or push rights.
                build_on_preview=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            names[key] = image.image_name
            digests[key] = image.repo_digest

        self.image_names = pulumi.Output.all(**names)
        self.repo_digests = pulumi.Output.all(**digests)
        self.register_outputs({"tag": self.tag, "image_names": self.image_names, "repo_digests": self.repo_digests})
