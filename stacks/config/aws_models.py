"""Config of the AWS primary region: network, EKS and (via data_models) the data stores."""

import ipaddress
import itertools
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, StringConstraints, field_validator, model_validator

from components.aws._context import role_key
from stacks.config.data_models import BackupsConfig, EcrConfig, RdsConfig, RedisConfig
from stacks.config.types import (
    AwsAvailabilityZone,
    Ec2InstanceType,
    Ipv4Cidr,
    NodeCount,
    PrefixLength,
    RetentionDays,
    Section,
    unique,
)

NatGatewayMode = Literal["single", "perAz"]

# Standard support as of late 2026: 1.35 runs to March 2027; 1.34's ends December 2026.
# Anything older is in paid extended support, so the config refuses it.
DEFAULT_EKS_VERSION = "1.35"
MIN_EKS_VERSION = "1.34"
# EKS's service quota "nodes per managed node group".
EKS_MAX_NODES_PER_GROUP = 450
# An IAM role name (resolved in the deploying account) or a full role ARN.
IamRole = Annotated[
    str,
    StringConstraints(
        max_length=2048, pattern=r"^(arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]+|[A-Za-z0-9_+=,.@-]{1,64})$"
    ),
]


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def _quoted_version(value: object) -> object:
    """YAML reads an unquoted 1.30 as the number 1.3; insist on the string."""
    if isinstance(value, (int, float)):
        raise ValueError(f'expected a quoted version such as "1.35" (YAML turns 1.30 into 1.3), got {value!r}')
    return value


KubernetesVersion = Annotated[str, BeforeValidator(_quoted_version), StringConstraints(pattern=r"^1\.\d{2}$")]


class ScalingConfig(Section):
    """A node group's instance types and size range."""

    instance_types: Annotated[list[Ec2InstanceType], unique("instance types")] = Field(
        min_length=1, description="EC2 instance types, e.g. m6i.2xlarge; the first is preferred."
    )
    min_size: NodeCount = Field(ge=0, le=EKS_MAX_NODES_PER_GROUP, description="Fewest nodes.")
    desired_size: NodeCount = Field(ge=0, le=EKS_MAX_NODES_PER_GROUP, description="Nodes at creation.")
    max_size: NodeCount = Field(ge=1, le=EKS_MAX_NODES_PER_GROUP, description="Most nodes the autoscaler may add.")

    @model_validator(mode="after")
    def _ordered(self) -> "ScalingConfig":
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(
                "expected minSize <= desiredSize <= maxSize, got "
                f"minSize={self.min_size}, desiredSize={self.desired_size}, maxSize={self.max_size}"
            )
        return self


class EksNodeGroupsConfig(Section):
    general: ScalingConfig = Field(description="General-purpose managed node group.")
    high_cpu: ScalingConfig = Field(description="Tainted compute-optimised group for the CPU-heavy engine.")


RFC1918 = tuple(ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


class EksConfig(Section):
    version: KubernetesVersion = Field(
        default=DEFAULT_EKS_VERSION,
        description=f"Kubernetes minor version, at least {MIN_EKS_VERSION}.",
    )
    # EKS's own default service range; it sits outside every VPC and GCP range we use,
    # which the overlap rule in config.py checks.
    service_cidr: Ipv4Cidr = Field(
        default=ipaddress.IPv4Network("172.20.0.0/16"),
        description="Kubernetes Service ClusterIP range of the EKS cluster.",
    )
    # Empty by default: the API server is reachable only from inside the VPC (and over
    # the VPN). CIS EKS 5.4.1-5.4.2: private endpoint on; a public one only for known ranges.
    public_access_cidrs: Annotated[list[Ipv4Cidr], unique("ranges")] = Field(
        default=[], description="Public ranges allowed to reach the API server; empty turns public access off."
    )
    admin_roles: Annotated[list[IamRole], unique("roles")] = Field(
        min_length=1,
        description="IAM roles (name in the deploying account, or full ARN) given cluster admin.",
    )
    node_groups: EksNodeGroupsConfig

    @field_validator("version")
    @classmethod
    def _supported(cls, value: str) -> str:
        if _minor(value) < _minor(MIN_EKS_VERSION):
            raise ValueError(f"expected an EKS version >= {MIN_EKS_VERSION} (standard support), got {value!r}")
        return value

    @field_validator("admin_roles")
    @classmethod
    def _one_entry_per_role_name(cls, value: list[str]) -> list[str]:
        # Each admin's access entry is named by the role name (EksCluster keys them so that
        # removing one never renames another); a name and an ARN of the same role collide,
        # and IAM role names are unique regardless of case.
        seen: dict[str, str] = {}
        for role in value:
            key = role_key(role)
            if key in seen:
                raise ValueError(f"expected each role name once (IAM ignores case), got {seen[key]!r} and {role!r}")
            seen[key] = role
        return value

    @field_validator("service_cidr")
    @classmethod
    def _service_range(cls, value: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        # EKS takes a service range of /12 to /24 inside the RFC 1918 blocks.
        if not 12 <= value.prefixlen <= 24 or not any(value.subnet_of(block) for block in RFC1918):
            raise ValueError(f"expected a /12 to /24 inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, got {value}")
        return value

    @field_validator("public_access_cidrs")
    @classmethod
    def _restricted(cls, value: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network]:
        for cidr in value:
            if cidr.prefixlen == 0:
                raise ValueError(f"CIS EKS 5.4.1: the public endpoint must not be open to the internet, got {cidr}")
            if not cidr.is_global:
                raise ValueError(f"expected public ranges (private access already covers the VPC), got {cidr}")
        return value


class AwsNetworkConfig(Section):
    vpc_cidr: Ipv4Cidr = Field(description="The VPC's IPv4 range (AWS allows /16 to /28).")
    # /19 private subnets: the VPC CNI gives every pod a VPC address, so pods need room.
    private_subnet_prefix: PrefixLength = Field(default=19, ge=16, le=28)
    # /24 public subnets: they only hold NAT gateways and load balancer interfaces.
    public_subnet_prefix: PrefixLength = Field(default=24, ge=16, le=28)
    nat_gateways: NatGatewayMode = Field(description="'single' NAT gateway, or one per AZ ('perAz').")
    flow_log_retention_days: RetentionDays = Field(description="CloudWatch retention of VPC flow logs, in days.")

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_size(cls, value: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if not 16 <= value.prefixlen <= 28:
            raise ValueError(f"AWS VPCs must be between /16 and /28, got /{value.prefixlen}")
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


def plan_subnets(vpc: ipaddress.IPv4Network, zones: list[str], private_prefix: int, public_prefix: int) -> SubnetPlan:
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
    public_blocks = (
        list(itertools.islice(public_block.subnets(new_prefix=public_prefix), slot_count)) if public_fits else []
    )
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


class AwsConfig(Section):
    availability_zones: Annotated[list[AwsAvailabilityZone], unique("AZs")] = Field(
        min_length=1,
        max_length=len(AZ_SLOTS),
        description="AZs to spread subnets, NAT and nodes across, e.g. ap-northeast-2a.",
    )
    network: AwsNetworkConfig
    # Service logs (EKS control plane, PostgreSQL, Redis slow log); the HEAL7 design keeps 90 days.
    log_retention_days: RetentionDays = Field(description="CloudWatch retention of service logs, in days.")
    eks: EksConfig
    rds: RdsConfig
    redis: RedisConfig
    ecr: EcrConfig = Field(default_factory=EcrConfig)
    backups: BackupsConfig

    def subnet_plan(self) -> SubnetPlan:
        """The subnet ranges for these AZs; raises SubnetPlanError if they do not fit the VPC."""
        return plan_subnets(
            self.network.vpc_cidr,
            list(self.availability_zones),
            self.network.private_subnet_prefix,
            self.network.public_subnet_prefix,
        )
