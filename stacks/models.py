"""The typed shape of a stack's configuration (pydantic v2).

Stack files use camelCase keys; Python code uses snake_case attributes. Every model
forbids unknown keys, so a typo in a stack file is an error, not a silently ignored
setting. Values that differ by tier have no default here: they come from
`stacks/tiers.py`. Values that are the same everywhere have a documented default here.
"""

import ipaddress
import itertools
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

Tier = Literal["dev", "staging", "prod"]
NatGatewayMode = Literal["single", "perAz"]

# Lowercase, digits, '_' and '-': the intersection of what AWS tags and GCP labels accept,
# so one value can tag resources on both clouds.
LabelValue = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,63}$")]
# Short workload name; it starts every resource name, so keep it DNS-safe and short.
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,14}[a-z0-9]$")]
AwsRegion = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")]
AwsAvailabilityZone = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$")]
GcpRegion = Annotated[str, StringConstraints(pattern=r"^[a-z]+-[a-z]+\d$")]
# GCP project ids: 6-30 chars, lowercase letter first, no trailing hyphen.
GcpProjectId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]


def _true_or_false(value: object) -> object:
    """Only true/false: pydantic's lax bool would also take 'yes', 'on' or 1 for a switch
    like `platform:protect`. Top-level scalars arrive from the engine as strings."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError(f"expected true or false, got {value!r}")


Switch = Annotated[bool, BeforeValidator(_true_or_false)]
DnsZone = Annotated[str, StringConstraints(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")]

# The only values CloudWatch Logs accepts for retention_in_days.
CLOUDWATCH_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)


class _Section(BaseModel):
    """Base for every nested section: camelCase keys, no unknown keys, immutable."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class TagsConfig(_Section):
    """Ownership tags stamped on every taggable resource (with project and environment)."""

    owner: LabelValue = Field(description="Team that owns the stack and answers its alerts.")
    cost_center: LabelValue = Field(description="Finance cost centre the spend is charged to.")


class ScalingConfig(_Section):
    """A node group's instance types and size range."""

    instance_types: list[str] = Field(min_length=1)
    min_size: int = Field(ge=0)
    desired_size: int = Field(ge=0)
    max_size: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> "ScalingConfig":
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(
                "expected minSize <= desiredSize <= maxSize, got "
                f"minSize={self.min_size}, desiredSize={self.desired_size}, maxSize={self.max_size}"
            )
        return self


class EksNodeGroupsConfig(_Section):
    general: ScalingConfig = Field(description="General-purpose managed node group.")
    high_cpu: ScalingConfig = Field(description="Tainted compute-optimised group for the CPU-heavy engine.")


class EksConfig(_Section):
    # EKS's own default service range; it sits outside every VPC and GCP range we use,
    # which the overlap rule in config.py checks.
    service_cidr: ipaddress.IPv4Network = Field(
        default=ipaddress.IPv4Network("172.20.0.0/16"),
        description="Kubernetes Service ClusterIP range of the EKS cluster.",
    )
    node_groups: EksNodeGroupsConfig


class AwsNetworkConfig(_Section):
    vpc_cidr: ipaddress.IPv4Network = Field(description="The VPC's IPv4 range (AWS allows /16 to /28).")
    # /19 private subnets: the VPC CNI gives every pod a VPC address, so pods need room.
    private_subnet_prefix: int = Field(default=19, ge=16, le=28)
    # /24 public subnets: they only hold NAT gateways and load balancer interfaces.
    public_subnet_prefix: int = Field(default=24, ge=16, le=28)
    nat_gateways: NatGatewayMode = Field(description="'single' NAT gateway, or one per AZ ('perAz').")
    flow_log_retention_days: int = Field(description="CloudWatch retention of VPC flow logs, in days.")

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_size(cls, value: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if not 16 <= value.prefixlen <= 28:
            raise ValueError(f"AWS VPCs must be between /16 and /28, got /{value.prefixlen}")
        return value

    @field_validator("flow_log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in CLOUDWATCH_RETENTION_DAYS:
            raise ValueError(f"expected one of CloudWatch's retention values {list(CLOUDWATCH_RETENTION_DAYS)}, got {value}")
        return value


# Each zone letter owns a fixed slot, so adding or removing an AZ never renumbers the
# subnets of the zones that stay: a changed cidr_block replaces the subnet, which AWS
# refuses while NAT gateways or nodes still live in it.
AZ_SLOTS = "abcdef"


class SubnetPlanError(ValueError):
    """The subnet layout does not fit; `key` is the path under `platform:aws` to change."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


@dataclass(frozen=True)
class SubnetPlan:
    """One private and one public subnet range per AZ, in AZ order."""

    private: list[ipaddress.IPv4Network]
    public: list[ipaddress.IPv4Network]


def plan_subnets(
    vpc: ipaddress.IPv4Network, zones: list[str], private_prefix: int, public_prefix: int
) -> SubnetPlan:
    """Give each zone the private block and the public block of its letter's slot.

    The VPC splits into blocks of `private_prefix`: block i is the private subnet of zone
    letter AZ_SLOTS[i]; the block after the last slot is split into the public subnets,
    again one per slot. Raises SubnetPlanError when the layout does not fit.
    """
    slot_count = len(AZ_SLOTS)
    if private_prefix < vpc.prefixlen:
        raise SubnetPlanError("network.privateSubnetPrefix", f"/{private_prefix} is larger than the VPC {vpc}")
    blocks = list(itertools.islice(vpc.subnets(new_prefix=private_prefix), slot_count + 1))
    if len(blocks) <= slot_count:
        raise SubnetPlanError(
            "network.vpcCidr",
            f"{vpc} holds fewer than {slot_count + 1} /{private_prefix} blocks (a private subnet per zone "
            f"slot {AZ_SLOTS[0]}-{AZ_SLOTS[-1]} plus one block of public subnets); "
            "use a larger VPC or a longer privateSubnetPrefix",
        )
    public_block = blocks[slot_count]
    # Checked first: subnets() itself raises when the new prefix is shorter than the block's.
    public_fits = public_prefix >= public_block.prefixlen
    public_blocks = list(itertools.islice(public_block.subnets(new_prefix=public_prefix), slot_count)) if public_fits else []
    if len(public_blocks) < slot_count:
        raise SubnetPlanError(
            "network.publicSubnetPrefix",
            f"the public block {public_block} cannot hold {slot_count} /{public_prefix} subnets",
        )
    slots = []
    for zone in zones:
        if zone[-1] not in AZ_SLOTS:
            raise SubnetPlanError("availabilityZones", f"zone letter of {zone!r} is not one of {AZ_SLOTS!r}")
        slots.append(AZ_SLOTS.index(zone[-1]))
    return SubnetPlan(private=[blocks[i] for i in slots], public=[public_blocks[i] for i in slots])


class AwsConfig(_Section):
    availability_zones: list[AwsAvailabilityZone] = Field(
        min_length=1, description="AZs to spread subnets, NAT and nodes across, e.g. ap-northeast-2a."
    )
    network: AwsNetworkConfig
    eks: EksConfig

    def subnet_plan(self) -> SubnetPlan:
        """The subnet ranges for these AZs; raises SubnetPlanError if they do not fit the VPC."""
        return plan_subnets(
            self.network.vpc_cidr,
            list(self.availability_zones),
            self.network.private_subnet_prefix,
            self.network.public_subnet_prefix,
        )


class GcpNetworkConfig(_Section):
    subnet_cidr: ipaddress.IPv4Network = Field(description="Primary range of the regional subnet (nodes).")
    pods_cidr: ipaddress.IPv4Network = Field(description="Secondary range for GKE pods.")
    services_cidr: ipaddress.IPv4Network = Field(description="Secondary range for GKE Services.")
    # The seed's control-plane range. GKE requires exactly a /28 for private clusters.
    master_cidr: ipaddress.IPv4Network = Field(default=ipaddress.IPv4Network("172.16.0.0/28"))

    @field_validator("master_cidr")
    @classmethod
    def _master_is_28(cls, value: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if value.prefixlen != 28:
            raise ValueError(f"GKE private clusters need a /28 control-plane range, got /{value.prefixlen}")
        return value


class GcpConfig(_Section):
    network: GcpNetworkConfig


class CloudflareConfig(_Section):
    zone: DnsZone = Field(description="The Cloudflare zone (apex domain) of the front door.")


class PlatformConfig(BaseModel):
    """The whole stack, keyed by the stack file's own config keys.

    Aliases are full config keys (`platform:aws`, `aws:region`), so a validation error's
    location is already the key path a user sees in `Pulumi.<stack>.yaml`.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    environment: Tier = Field(alias="platform:environment", description="Tier whose defaults apply.")
    name: Slug = Field(alias="platform:name", description="Workload name, the first part of every resource name.")
    protect: Switch = Field(alias="platform:protect", description="`protect` stateful resources (required in prod).")
    tags: TagsConfig = Field(alias="platform:tags")
    aws_region: AwsRegion = Field(alias="aws:region")
    gcp_project: GcpProjectId = Field(alias="gcp:project")
    gcp_region: GcpRegion = Field(alias="gcp:region")
    aws: AwsConfig = Field(alias="platform:aws")
    gcp: GcpConfig = Field(alias="platform:gcp")
    cloudflare: CloudflareConfig = Field(alias="platform:cloudflare")

    # The stack name, set by the loader (it is not a config key). Physical names such as
    # log groups and KMS aliases derive from it, so two stacks of one tier in one account
    # never collide.
    _stack: str = PrivateAttr(default="")

    @property
    def stack(self) -> str:
        return self._stack or self.environment

    @property
    def resource_prefix(self) -> str:
        """`heal7-prod`: the start of every logical and Name-tag resource name."""
        return f"{self.name}-{self.stack}"

    @property
    def common_tags(self) -> dict[str, str]:
        """Tags every taggable resource carries; valid as both AWS tags and GCP labels."""
        return {
            "project": self.name,
            "environment": self.environment,
            "owner": self.tags.owner,
            "cost-center": self.tags.cost_center,
            "managed-by": "pulumi",
        }
