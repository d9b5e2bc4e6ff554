"""AwsNetwork: the primary region's VPC.

A public and a private subnet per AZ, an internet gateway, NAT gateways (one, or one per
AZ), per-AZ private route tables, an S3 gateway endpoint, VPC flow logs into a
KMS-encrypted CloudWatch log group, and the default security group stripped of rules.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.aws_policies import flow_logs_key_policy, flow_logs_role_policy, flow_logs_trust_policy


@dataclass
class AwsNetworkArgs:
    """Inputs of AwsNetwork. Defaults favour availability and protection."""

    vpc_cidr: str
    """The VPC's IPv4 range, e.g. 10.30.0.0/16."""
    availability_zones: list[str]
    """AZs, in the same order as the subnet lists."""
    private_subnet_cidrs: list[str]
    """One private range per AZ (nodes, pods, data stores)."""
    public_subnet_cidrs: list[str]
    """One public range per AZ (NAT gateways and internet-facing load balancers)."""
    nat_gateway_mode: Literal["single", "perAz"] = "perAz"
    """Default one NAT per AZ, so a zone loss does not cut the other zones' egress."""
    flow_log_retention_days: int = 365
    """CloudWatch retention of flow logs; a year by default for incident forensics."""
    protect: bool = True
    """`protect` the flow-log group and its key. Callers loosen this only for dev."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags for every resource (a Name tag is added per resource)."""


class AwsNetwork(pulumi.ComponentResource):
    """VPC with public/private subnets per AZ, NAT, flow logs and a locked default SG."""

    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]
    private_route_table_ids: pulumi.Output[list[str]]
    nat_public_ips: pulumi.Output[list[str]]
    flow_log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        zone_count = len(args.availability_zones)
        if not (len(args.private_subnet_cidrs) == len(args.public_subnet_cidrs) == zone_count):
            raise ValueError(f"{name}: need exactly one private and one public subnet CIDR per AZ ({zone_count})")
        super().__init__("platform:aws:AwsNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke)
        region = aws.get_region_output(opts=invoke)

        def tags(resource_name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
            return {**args.tags, "Name": resource_name, **(extra or {})}

        # EKS's private endpoint and the ingress NLBs need DNS resolution and hostnames on.
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=tags(f"{name}-vpc"),
            opts=child,
        )

        # CIS AWS Foundations 5.4 (Security Hub EC2.2): the default security group allows
        # nothing. Adopting it with no rules strips the rules AWS created.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags=tags(f"{name}-default-sg-do-not-use"),
            opts=child,
        )

        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tags(f"{name}-igw"), opts=child)

        public_subnets: list[aws.ec2.Subnet] = []
        private_subnets: list[aws.ec2.Subnet] = []
        for zone, public_cidr, private_cidr in zip(
            args.availability_zones, args.public_subnet_cidrs, args.private_subnet_cidrs
        ):
            public_subnets.append(aws.ec2.Subnet(
                f"{name}-public-{zone}",
                vpc_id=vpc.id,
                availability_zone=zone,
                cidr_block=public_cidr,
                # Nothing gets a public IP by accident (Security Hub EC2.15); NAT gateways
                # and the ingress NLB use Elastic IPs.
                map_public_ip_on_launch=False,
                # Discovery tag: the AWS Load Balancer Controller puts internet-facing LBs here.
                tags=tags(f"{name}-public-{zone}", {"kubernetes.io/role/elb": "1", "tier": "public"}),
                opts=child,
            ))
            private_subnets.append(aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=vpc.id,
                availability_zone=zone,
                cidr_block=private_cidr,
                # Discovery tag: internal load balancers go to the private subnets.
                tags=tags(f"{name}-private-{zone}", {"kubernetes.io/role/internal-elb": "1", "tier": "private"}),
                opts=child,
            ))

        public_routes = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc.id, tags=tags(f"{name}-public-rt"), opts=child)
        # Standalone routes, not inline ones: the VPN gateway later propagates routes into
        # these tables, and inline routes would fight those on every update.
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_routes.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )
        for zone, subnet in zip(args.availability_zones, public_subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone}", subnet_id=subnet.id, route_table_id=public_routes.id, opts=child
            )

        nat_zones = args.availability_zones if args.nat_gateway_mode == "perAz" else args.availability_zones[:1]
        nat_gateways: list[aws.ec2.NatGateway] = []
        nat_ips: list[aws.ec2.Eip] = []
        for index, zone in enumerate(nat_zones):
            eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags=tags(f"{name}-nat-{zone}"), opts=child)
            nat_ips.append(eip)
            nat_gateways.append(aws.ec2.NatGateway(
                f"{name}-nat-{zone}",
                allocation_id=eip.id,
                subnet_id=public_subnets[index].id,
                connectivity_type="public",
                tags=tags(f"{name}-nat-{zone}"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            ))

        # One private route table per AZ even with a single NAT, so moving to per-AZ NAT
        # changes one route per AZ instead of replacing tables and associations.
        private_tables: list[aws.ec2.RouteTable] = []
        for index, (zone, subnet) in enumerate(zip(args.availability_zones, private_subnets)):
            table = aws.ec2.RouteTable(
                f"{name}-private-{zone}", vpc_id=vpc.id, tags=tags(f"{name}-private-{zone}"), opts=child
            )
            private_tables.append(table)
            nat = nat_gateways[index if args.nat_gateway_mode == "perAz" else 0]
            aws.ec2.Route(
                f"{name}-private-{zone}-default",
                route_table_id=table.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat.id,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}", subnet_id=subnet.id, route_table_id=table.id, opts=child
            )

        # S3 gateway endpoint: free, keeps image layers (ECR stores them in S3) and
        # backups off the NAT gateways and inside the AWS network.
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=region.region.apply(lambda r: f"com.amazonaws.{r}.s3"),
            vpc_endpoint_type="Gateway",
            route_table_ids=[t.id for t in private_tables],
            tags=tags(f"{name}-s3"),
            opts=child,
        )

        self._flow_logs(name, args, vpc, identity.account_id, partition.partition, region.region, tags)

        self.vpc_id = vpc.id
        self.vpc_cidr = vpc.cidr_block
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets])
        self.private_route_table_ids = pulumi.Output.all(*[t.id for t in private_tables])
        self.nat_public_ips = pulumi.Output.all(*[ip.public_ip for ip in nat_ips])
        self.register_outputs({
            "vpc_id": self.vpc_id,
            "vpc_cidr": self.vpc_cidr,
            "public_subnet_ids": self.public_subnet_ids,
            "private_subnet_ids": self.private_subnet_ids,
            "private_route_table_ids": self.private_route_table_ids,
            "nat_public_ips": self.nat_public_ips,
            "flow_log_group_name": self.flow_log_group_name,
        })

    def _flow_logs(
        self,
        name: str,
        args: AwsNetworkArgs,
        vpc: aws.ec2.Vpc,
        account_id: pulumi.Output[str],
        partition: pulumi.Output[str],
        region: pulumi.Output[str],
        tags: Callable[[str], dict[str, str]],
    ) -> None:
        """All traffic of the VPC into a KMS-encrypted log group (CIS AWS Foundations 3.7)."""
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)
        # A fixed name, because the key policy must name the log group before it exists
        # (the key is created first, the group is encrypted with it).
        log_group_name = f"/aws/vpc-flow-logs/{name}"
        log_group_arn = pulumi.Output.concat(
            "arn:", partition, ":logs:", region, ":", account_id, ":log-group:", log_group_name
        )
        key = aws.kms.Key(
            f"{name}-flow-logs",
            description=f"Encrypts the VPC flow logs of {name}",
            enable_key_rotation=True,
            # The longest waiting period: a deleted key makes every log it wrapped unreadable.
            deletion_window_in_days=30,
            policy=flow_logs_key_policy(partition, region, account_id, log_group_arn),
            tags=tags(f"{name}-flow-logs"),
            opts=stateful,
        )
        aws.kms.Alias(f"{name}-flow-logs", name=f"alias/{name}-flow-logs", target_key_id=key.key_id,
                      opts=pulumi.ResourceOptions(parent=self))
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=log_group_name,
            retention_in_days=args.flow_log_retention_days,
            kms_key_id=key.arn,
            deletion_protection_enabled=args.protect,
            tags=tags(f"{name}-flow-logs"),
            opts=stateful,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            description=f"Lets VPC Flow Logs write {name}'s flow logs",
            assume_role_policy=flow_logs_trust_policy(partition, region, account_id),
            tags=tags(f"{name}-flow-logs-role"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-write",
            role=role.id,
            policy=flow_logs_role_policy(partition, region, account_id, log_group.arn),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            # 1-minute aggregation: rejected connections show up while an incident is live.
            max_aggregation_interval=60,
            tags=tags(f"{name}-flow-logs"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.flow_log_group_name = log_group.name
