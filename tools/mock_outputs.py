"""Realistic mock outputs for the offline synth.

The mock monitor asks these mocks for each resource's id and output state, and for the
result of each provider function (invoke). Values have the clouds' real shapes (ARNs,
`vpc-0…` ids, public IPs in the region's ranges) and are derived from the resource name,
so the same program gives the same inventory on every run and a diff shows only real
changes.

An invoke that has no mock raises, so a new data source cannot silently come back empty.
"""

import base64
import json
from typing import Any

import pulumi

from tools.mock_cloudflare_resources import CLOUDFLARE_RESOURCE_OUTPUTS
from tools.mock_gcp_resources import GCP_RESOURCE_OUTPUTS, project_number
from tools.mock_kubernetes_resources import kubernetes_builder
from tools.mock_resources import RESOURCE_OUTPUTS
from tools.mock_values import digest, hex_of, uuid_of
from tools.mock_vpn_resources import VPN_RESOURCE_OUTPUTS

# tools/mock_resources.py is full; the VPN builders live beside it.
AWS_RESOURCE_OUTPUTS = {**RESOURCE_OUTPUTS, **VPN_RESOURCE_OUTPUTS}


# Cloudflare's published ranges (https://www.cloudflare.com/ips-v4 and ips-v6, 15 and 7 of
# them as of 2026), which `cloudflare.get_ip_ranges` returns at deploy time.
CLOUDFLARE_IPV4_RANGES = (
    "173.245.48.0/20",
    "103.21.244.0/22",
    "103.22.200.0/22",
    "103.31.4.0/22",
    "141.101.64.0/18",
    "108.162.192.0/18",
    "190.93.240.0/20",
    "188.114.96.0/20",
    "197.234.240.0/22",
    "198.41.128.0/17",
    "162.158.0.0/15",
    "104.16.0.0/13",
    "104.24.0.0/14",
    "172.64.0.0/13",
    "131.0.72.0/22",
)
CLOUDFLARE_IPV6_RANGES = (
    "2400:cb00::/32",
    "2606:4700::/32",
    "2803:f800::/32",
    "2405:b500::/32",
    "2405:8100::/32",
    "2a06:98c0::/29",
    "2c0f:f248::/32",
)


# The registries' state, for tests: `<repository url>:<tag>` -> a label of the push that the
# tag now points to. A tag missing here points to its first push. The digest a registry
# answers is derived from the image name, the tag and this label, so a test that "moves" a
# tag (a label other than the first push) gets another digest for it.
MOVED_TAGS: dict[str, str] = {}


def registry_digest(image: str) -> str:
    """The digest the mock registry holds for `<repository url>:<tag>` (sha256:<64 hex>)."""
    return "sha256:" + digest("registry-image", image, MOVED_TAGS.get(image, "first-push"))


def ecr_password(account: str, region: str) -> str:
    """An ECR token's password: base64 of a JSON envelope around an encrypted payload, as ECR issues them."""
    envelope = {
        "payload": base64.b64encode(bytes.fromhex(digest("ecr-payload", account, region) * 4)).decode(),
        "datakey": base64.b64encode(bytes.fromhex(digest("ecr-datakey", account, region) * 2)).decode(),
        "version": "2",
        "type": "DATA_KEY",
        "expiration": 1767268800,
    }
    return base64.b64encode(json.dumps(envelope, separators=(",", ":")).encode()).decode()


def _image_build_outputs(name: str, inputs: dict[str, Any], _region: str, _owner: str) -> tuple[str, dict[str, Any]]:
    """docker.Image: the pushed image's digest, derived from its name (repository:tag)."""
    image_name = str(inputs["imageName"])
    repository = image_name.rsplit(":", 1)[0]
    build = inputs.get("build") or {}
    repo_digest = f"{repository}@sha256:{digest('image-build', image_name)}"
    return repo_digest, {
        "baseImageName": image_name,
        "repoDigest": repo_digest,
        "registryServer": repository.split("/", 1)[0],
        "context": build.get("context", "."),
        "dockerfile": build.get("dockerfile", "Dockerfile"),
        "platform": build.get("platform"),
    }


DOCKER_RESOURCE_OUTPUTS = {"docker:index/image:Image": _image_build_outputs}


class PlatformMocks(pulumi.runtime.Mocks):
    """Per-type ids and outputs for the AWS, GCP, Cloudflare and Kubernetes resources the platform registers."""

    def __init__(self, stack: str):
        self.stack = stack
        # A 12-digit fake account per stack, so ARNs have AWS's exact shape.
        self.account_id = str(int(digest(stack)[:12], 16) % 10**12).rjust(12, "0")
        # Provider reference ("urn::id") -> the provider's inputs, filled by the monitor,
        # so a resource's ARN carries its own provider's region.
        self.provider_inputs: dict[str, dict[str, Any]] = {}
        # (token, provider reference) of every invoke, in call order.
        self.invokes: list[tuple[str, str]] = []

    # -- resources ------------------------------------------------------------------

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        if args.typ.startswith("pulumi:providers:"):
            return f"{uuid_of(args.name)}", inputs
        if args.custom and not args.provider:
            # The stacks disable default providers, so the real engine would refuse this.
            raise ValueError(f"{args.typ} {args.name!r} has no explicit provider")
        # pulumi-aws 7 and GCP resources may name their own region; it overrides the provider's.
        region = str(inputs.get("region") or self._region(args.provider))
        if args.typ.startswith("gcp:"):
            builder, owner = GCP_RESOURCE_OUTPUTS.get(args.typ), self._project(args.provider)
        elif args.typ.startswith("cloudflare:"):
            builder, owner = CLOUDFLARE_RESOURCE_OUTPUTS.get(args.typ), str(inputs.get("accountId", ""))
        elif args.typ.startswith("docker:"):
            builder, owner = DOCKER_RESOURCE_OUTPUTS.get(args.typ), ""
        elif args.typ.startswith("kubernetes:"):
            # The provider's `namespace` is where a namespaced object without one lands.
            builder, owner = kubernetes_builder(args.typ), str(self._provider(args.provider).get("namespace") or "")
        else:
            builder, owner = AWS_RESOURCE_OUTPUTS.get(args.typ), self.account_id
        if builder is None:
            return f"{args.name}-{hex_of(args.name, 8)}", inputs
        resource_id, outputs = builder(args.name, inputs, region, owner)
        return resource_id, {**inputs, **outputs}

    def _provider(self, provider_ref: str | None) -> dict[str, Any]:
        return self.provider_inputs.get(provider_ref or "") or {}

    def _region(self, provider_ref: str | None) -> str:
        # Components and region-less providers (random) need no region for their ids.
        return str(self._provider(provider_ref).get("region", "ap-northeast-2"))

    def _project(self, provider_ref: str | None) -> str:
        inputs = self._provider(provider_ref)
        if "project" not in inputs:
            raise ValueError(f"GCP provider {provider_ref!r} has no project; the stack's gcp:project must reach it")
        return str(inputs["project"])

    # -- invokes --------------------------------------------------------------------

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if not args.provider:
            # With default providers disabled, a provider-less invoke fails for real.
            raise ValueError(f"invoke {args.token} has no explicit provider; pass opts with parent= or provider=")
        self.invokes.append((args.token, args.provider))
        region = self._region(args.provider)
        account = self.account_id
        results: dict[str, dict[str, Any]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": account,
                "arn": f"arn:aws:sts::{account}:assumed-role/platform-deployer/pulumi",
                "userId": "AROA" + hex_of(account, 17).upper(),
                "id": account,
            },
            "aws:index/getPartition:getPartition": {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
                "id": "aws",
            },
            "aws:index/getRegion:getRegion": {
                "region": region,
                "name": region,
                "id": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": f"AWS region {region}",
            },
        }
        if args.token == "aws:eks/getAddonVersion:getAddonVersion":
            results[args.token] = {
                "addonName": args.args["addonName"],
                "kubernetesVersion": args.args["kubernetesVersion"],
                "version": f"v1.{int(hex_of(args.args['addonName'], 2), 16) % 20}.0-eksbuild.1",
                "id": args.args["addonName"],
            }
        if args.token == "gcp:organizations/getProject:getProject":
            project = str(args.args.get("projectId") or self._project(args.provider))
            results[args.token] = {
                "projectId": project,
                "number": project_number(project),
                "name": project,
                "id": f"projects/{project}",
                "labels": {},
                "effectiveLabels": {},
            }
        if args.token == "docker:index/getRegistryImage:getRegistryImage":
            image = str(args.args["name"])
            results[args.token] = {
                "name": image,
                "sha256Digest": registry_digest(image),
                "insecureSkipVerify": bool(args.args.get("insecureSkipVerify", False)),
                "id": registry_digest(image),
            }
        if args.token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            password = ecr_password(account, region)
            results[args.token] = {
                "authorizationToken": base64.b64encode(f"AWS:{password}".encode()).decode(),
                "password": password,
                "userName": "AWS",
                "proxyEndpoint": f"https://{account}.dkr.ecr.{region}.amazonaws.com",
                # ECR tokens last 12 hours.
                "expiresAt": "2026-01-01T12:00:00Z",
                "registryId": account,
                "region": region,
                "id": region,
            }
        if args.token == "gcp:organizations/getClientConfig:getClientConfig":
            provider = self._provider(args.provider)
            project = self._project(args.provider)
            gcp_region = str(provider.get("region", ""))
            results[args.token] = {
                # An OAuth 2.0 access token of the provider's credentials (Google's ya29. form).
                "accessToken": f"ya29.c.{digest('gcp-access-token', project)}{hex_of(project, 40)}",
                "project": project,
                "region": gcp_region,
                "zone": "",
                # Provider inputs of map type reach the monitor JSON-encoded.
                "defaultLabels": json.loads(provider.get("defaultLabels") or "{}"),
                "id": f'projects/"{project}"/regions/"{gcp_region}"/zones/""',
            }
        if args.token == "cloudflare:index/getIpRanges:getIpRanges":
            results[args.token] = {
                "etag": "38f79d050aa027e3be3865e495dcc9bc",
                "ipv4Cidrs": list(CLOUDFLARE_IPV4_RANGES),
                "ipv6Cidrs": list(CLOUDFLARE_IPV6_RANGES),
                "jdcloudCidrs": [],
            }
        if args.token not in results:
            raise NotImplementedError(f"no mock for invoke {args.token}; add one in tools/mock_outputs.py")
        return results[args.token], []
