"""Config of the GCP secondary region and of the cross-cloud link.

Sections: the VPC (`network`), GKE (`gke`), the Cloud SQL replica (`cloudSql`), Artifact
Registry (`artifactRegistry`) and the HA VPN to AWS (`vpn`). Values that differ by tier
come from `stacks/config/tiers.py`; rules that span AWS and GCP keys live in `stacks/config/rules.py`.
"""

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, field_validator, model_validator

# The VPN's address and ASN rules are the component's; config reports them per key.
from components.multicloud._tunnels import AWS_RESERVED_INSIDE_CIDRS, LINK_LOCAL, PRIVATE_ASNS, TUNNEL_COUNT
from stacks.config.data_models import DEFAULT_POSTGRES_MAJOR, MIN_POSTGRES_MAJOR
from stacks.config.types import (
    Asn,
    Count,
    Days,
    GcpZone,
    Ipv4Cidr,
    KeyedValueError,
    MachineType,
    MajorVersion,
    NodeCount,
    Section,
    SizeGib,
    Switch,
    unique,
)

# GPU accelerator types as Compute Engine names them, e.g. nvidia-l4, nvidia-tesla-t4.
AcceleratorType = Annotated[str, StringConstraints(max_length=63, pattern=r"^nvidia(-[a-z0-9]+)+$")]
# GKE takes up to 50 authorized networks per cluster.
MAX_AUTHORIZED_NETWORKS = 50
# Cloud SQL custom machine tiers: db-custom-<vCPUs>-<memory MiB> (the HEAL7 design's db-custom-4-16384).
CloudSqlTier = Annotated[str, StringConstraints(pattern=r"^db-custom-\d{1,2}-\d{4,6}$")]
# A 24-hour "HH:MM" start time (UTC).
StartTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
# PostgreSQL identifier that needs no quoting.
PgIdentifier = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]


def _not_reserved(name: str) -> str:
    # pg_ and rds prefixes are PostgreSQL's and RDS's own roles (CloudSqlReplica refuses them too).
    if name.startswith(("pg_", "rds")):
        raise ValueError(f"expected a role name that does not start with pg_ or rds (reserved), got {name!r}")
    return name


class GcpNetworkConfig(Section):
    subnet_cidr: Ipv4Cidr = Field(description="Primary range of the regional subnet (nodes).")
    pods_cidr: Ipv4Cidr = Field(description="Secondary range for GKE pods.")
    services_cidr: Ipv4Cidr = Field(description="Secondary range for GKE Services.")
    # The HEAL7 design's control-plane range. GKE requires exactly a private /28 for private clusters.
    master_cidr: Ipv4Cidr = Field(default=ipaddress.IPv4Network("172.16.0.0/28"))
    private_service_access_cidr: Ipv4Cidr = Field(
        description="Range Google allocates Cloud SQL private IPs from; RDS admits the replica from it.",
    )

    @field_validator("private_service_access_cidr")
    @classmethod
    def _psa_size(cls, value: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        # Private service access needs at least a /24 per allocation (Google recommends /16-/20).
        if value.prefixlen > 24:
            raise ValueError(f"private service access needs a /24 or larger, got /{value.prefixlen}")
        return value

    @field_validator("master_cidr")
    @classmethod
    def _master_is_28(cls, value: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if value.prefixlen != 28:
            raise ValueError(f"GKE private clusters need a /28 control-plane range, got /{value.prefixlen}")
        if not value.is_private:
            raise ValueError(f"GKE private clusters need a private control-plane range, got {value}")
        return value


class AuthorizedNetworkConfig(Section):
    cidr_block: Ipv4Cidr = Field(description="A range allowed to reach the control plane.")
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=64)]

    @field_validator("cidr_block")
    @classmethod
    def _not_everyone(cls, value: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if value.prefixlen == 0:
            raise ValueError(f"CIS GKE 5.6.3: authorized networks must not include the internet, got {value}")
        return value


class NodePoolConfig(Section):
    """One GKE node pool. Node counts are per zone: a regional pool runs in every zone."""

    machine_type: MachineType
    min_nodes_per_zone: NodeCount = Field(ge=0, le=100)
    max_nodes_per_zone: NodeCount = Field(ge=1, le=100)
    disk_size_gb: SizeGib = Field(default=100, ge=20, le=2000)
    node_locations: Annotated[list[GcpZone], unique("zones")] = Field(
        default=[], description="Zones of the pool; empty means every zone of the region."
    )
    accelerator_type: AcceleratorType | None = None
    accelerator_count: Count = Field(default=0, ge=0, le=16)

    @model_validator(mode="after")
    def _consistent(self) -> "NodePoolConfig":
        if self.min_nodes_per_zone > self.max_nodes_per_zone:
            raise ValueError(
                f"expected minNodesPerZone <= maxNodesPerZone, got {self.min_nodes_per_zone} > {self.max_nodes_per_zone}"
            )
        if (self.accelerator_type is None) != (self.accelerator_count == 0):
            raise ValueError(
                "expected acceleratorType and a positive acceleratorCount together, got "
                f"acceleratorType={self.accelerator_type!r}, acceleratorCount={self.accelerator_count}"
            )
        if self.accelerator_type is not None and not self.node_locations:
            # A GPU type exists only in some zones of a region (Seoul has T4s in b and c
            # only), and GKE refuses a pool placed where its GPU is not offered. The config
            # cannot know offline which zones offer it, so the stack file must say.
            raise KeyedValueError(
                "nodeLocations",
                f"expected the zones that offer {self.accelerator_type} (`gcloud compute accelerator-types list "
                f"--filter=name={self.accelerator_type}`), got none (every zone of the region)",
            )
        return self


class GpuNodePoolConfig(NodePoolConfig):
    # The ai-models pool exists to carry GPUs; a GPU-less one would be a silent misconfiguration.
    # Required (no default); a null is caught by _consistent, since the count is at least 1.
    accelerator_type: AcceleratorType | None = Field(
        description="GPU type, e.g. nvidia-tesla-t4; it must exist in the pool's zones."
    )
    accelerator_count: Count = Field(default=1, ge=1, le=16)


class GkeNodePoolsConfig(Section):
    general: NodePoolConfig = Field(description="General-purpose pool for the secondary web/api workloads.")
    gpu: GpuNodePoolConfig = Field(description="GPU pool for the ai-models workload (tainted).")


class GkeConfig(Section):
    # CIS GKE 5.5.4 (release channel): Google upgrades the control plane and nodes itself.
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = Field(description="GKE release channel.")
    # 18:00 UTC is 03:00 in Seoul and Tokyo, the platform's quietest hour.
    maintenance_start_time: StartTime = Field(default="18:00", description="Daily maintenance window start (UTC).")
    # CIS GKE 5.6.4: private endpoint. The API server is then reachable only from the VPC.
    public_endpoint: Switch = Field(default=False, description="Give the control plane a public endpoint.")
    master_authorized_networks: Annotated[
        list[AuthorizedNetworkConfig], unique("cidrBlock ranges", key=lambda network: network.cidr_block)
    ] = Field(
        default=[],
        max_length=MAX_AUTHORIZED_NETWORKS,
        description="Ranges allowed to reach the control plane (CIS GKE 5.6.3).",
    )
    node_pools: GkeNodePoolsConfig

    @model_validator(mode="after")
    def _endpoint_restricted(self) -> "GkeConfig":
        for index, network in enumerate(self.master_authorized_networks):
            if not self.public_endpoint and not network.cidr_block.is_private:
                # GKE rejects public ranges on a private-only endpoint.
                raise KeyedValueError(
                    f"masterAuthorizedNetworks[{index}].cidrBlock",
                    f"expected private ranges while publicEndpoint is false (the endpoint has only a private IP), "
                    f"got {network.cidr_block}",
                )
        if self.public_endpoint and not self.master_authorized_networks:
            raise KeyedValueError(
                "publicEndpoint",
                "CIS GKE 5.6.3: a public endpoint needs masterAuthorizedNetworks, got publicEndpoint=true and no networks",
            )
        return self


def _custom_tier_shape(tier: str) -> str:
    """Cloud SQL custom machines: 1 or an even number of vCPUs (up to 96), memory a
    multiple of 256 MiB between 0.9 and 6.5 GiB per vCPU."""
    vcpus, memory_mib = (int(part) for part in tier.split("-")[2:])
    if vcpus != 1 and (vcpus % 2 or vcpus > 96):
        raise ValueError(f"expected 1 or an even number of vCPUs up to 96, got {tier!r}")
    if memory_mib % 256 or not 0.9 * 1024 * vcpus <= memory_mib <= 6.5 * 1024 * vcpus:
        raise ValueError(f"expected memory in 256 MiB steps, 0.9-6.5 GiB per vCPU, got {tier!r}")
    return tier


class CloudSqlConfig(Section):
    # Must equal platform:aws.rds.engineMajorVersion: external-server replication needs
    # the same major on both sides (checked in stacks/config/rules.py).
    engine_major_version: MajorVersion = Field(
        default=DEFAULT_POSTGRES_MAJOR,
        ge=MIN_POSTGRES_MAJOR,
        description="PostgreSQL major of the replica; must equal the RDS primary's.",
    )
    tier: Annotated[CloudSqlTier, AfterValidator(_custom_tier_shape)] = Field(
        description="Machine tier, e.g. db-custom-4-16384 (the HEAL7 design's)."
    )
    disk_size_gb: SizeGib = Field(ge=10, description="Initial SSD size, GB; auto-resize grows it.")
    # The HEAL7 design's flag; the replica serves the same pool as the primary.
    max_connections: Count = Field(default=200, ge=20, le=5000)
    replication_username: Annotated[PgIdentifier, AfterValidator(_not_reserved)] = Field(
        default="cloudsql_replicator", description="RDS user the replica connects as (created by the runbook)."
    )


class ArtifactRegistryConfig(Section):
    repository_id: Annotated[str, StringConstraints(pattern=r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")] = Field(
        default="workloads", description="Docker repository for the GCP workload images (ai-models and the backups)."
    )
    keep_last_versions: Count = Field(default=30, ge=1, le=1000, description="Most recent versions of each image kept.")
    untagged_expire_days: Days = Field(default=7, ge=1, le=365, description="Age at which untagged images are deleted.")


class VpnConfig(Section):
    # Cloud Router and the AWS virtual private gateway each need their own private ASN;
    # 64512 is AWS's default amazon-side ASN.
    gcp_asn: Asn = Field(default=64514, description="Cloud Router's BGP ASN.")
    aws_asn: Asn = Field(default=64512, description="The AWS virtual private gateway's BGP ASN.")
    inside_cidrs: list[Ipv4Cidr] = Field(
        default=[
            ipaddress.IPv4Network(c)
            for c in ("169.254.21.0/30", "169.254.21.4/30", "169.254.22.0/30", "169.254.22.4/30")
        ],
        min_length=TUNNEL_COUNT,
        max_length=TUNNEL_COUNT,
        description="BGP /30 per tunnel, in 169.254.0.0/16: connection 1 tunnels 1-2, then connection 2.",
    )

    @field_validator("gcp_asn", "aws_asn")
    @classmethod
    def _private_asn(cls, value: int) -> int:
        if not any(value in private for private in PRIVATE_ASNS):
            raise ValueError(f"expected a private ASN (64512-65534 or 4200000000-4294967294), got {value}")
        return value

    @field_validator("inside_cidrs")
    @classmethod
    def _inside_ranges(cls, value: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network]:
        for cidr in value:
            if cidr.prefixlen != 30 or not cidr.subnet_of(LINK_LOCAL):
                raise ValueError(f"expected /30 ranges inside {LINK_LOCAL}, got {cidr}")
            if cidr in AWS_RESERVED_INSIDE_CIDRS:
                raise ValueError(f"AWS reserves {cidr} for its own use; pick another /30")
        for i, first in enumerate(value):
            for second in value[i + 1 :]:
                if first.overlaps(second):
                    raise ValueError(f"expected four distinct /30 ranges, got {first} twice")
        return value

    @model_validator(mode="after")
    def _distinct_asns(self) -> "VpnConfig":
        if self.gcp_asn == self.aws_asn:
            raise ValueError(f"expected gcpAsn and awsAsn to differ (eBGP between the clouds), got both {self.gcp_asn}")
        return self


class GcpConfig(Section):
    network: GcpNetworkConfig
    gke: GkeConfig
    cloud_sql: CloudSqlConfig
    artifact_registry: ArtifactRegistryConfig = Field(default_factory=ArtifactRegistryConfig)
    vpn: VpnConfig = Field(default_factory=VpnConfig)
