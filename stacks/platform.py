"""Compose the platform from components, in dependency order.

Order: explicit providers, then networks, then (later issues) clusters and data stores,
the cross-cloud link, the Kubernetes layer on each cluster, and the Cloudflare front
door. Components never read config: everything they need arrives here as typed args.
"""

from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws_network import AwsNetwork, AwsNetworkArgs
from stacks.models import PlatformConfig


def build_platform(config: PlatformConfig) -> dict[str, Any]:
    """Register every resource of the stack; return the values the stack exports."""
    prefix = config.resource_prefix

    # Explicit provider: the stack files disable default providers, so a resource that
    # forgets `providers=` fails at preview instead of landing in the wrong region.
    aws_provider = aws.Provider(f"{prefix}-aws", region=config.aws_region)
    on_aws = pulumi.ResourceOptions(providers=[aws_provider])

    subnets = config.aws.subnet_plan()
    network = AwsNetwork(
        f"{prefix}-network",
        AwsNetworkArgs(
            vpc_cidr=str(config.aws.network.vpc_cidr),
            availability_zones=list(config.aws.availability_zones),
            private_subnet_cidrs=[str(c) for c in subnets.private],
            public_subnet_cidrs=[str(c) for c in subnets.public],
            nat_gateway_mode=config.aws.network.nat_gateways,
            flow_log_retention_days=config.aws.network.flow_log_retention_days,
            protect=config.protect,
            tags=config.common_tags,
        ),
        opts=on_aws,
    )

    return {
        "environment": config.environment,
        "awsRegion": config.aws_region,
        "vpcId": network.vpc_id,
        "vpcCidr": network.vpc_cidr,
        "publicSubnetIds": network.public_subnet_ids,
        "privateSubnetIds": network.private_subnet_ids,
        "privateRouteTableIds": network.private_route_table_ids,
        "natPublicIps": network.nat_public_ips,
        "flowLogGroupName": network.flow_log_group_name,
    }
