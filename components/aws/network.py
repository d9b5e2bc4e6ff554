"""AwsNetwork: the primary region's VPC.

A public and a private subnet per AZ, an internet gateway, NAT gateways (one, or one per
AZ), per-AZ private route tables, an S3 gateway endpoint, VPC flow logs (VpcFlowLogs), the
default security group stripped of rules and the default network ACL closed to SSH.
It also reserves one Elastic IP per AZ for the internet-facing ingress NLB, so the front
door's origins exist before any Kubernetes object does.
"""

from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.aws.flow_logs import VpcFlowLogs, VpcFlowLogsArgs

# Administrative ports the default NACL denies from anywhere: SSH only. CIS AWS Foundations
# 5.1 (Security Hub EC2.21) asks that no NACL *allow* 22 or 3389 from 0.0.0.0/0; it does
# not require a deny. RDP stays refused where it is stateful, by every security group (CIS
# AWS 5.2/5.3, the policy pack's security-group-no-public-ingress). A deny on 3389 would
# break traffic: 3389 lies inside 1024-65535, the ports NAT gateways and load balancers
# draw for return traffic, so replies to flows that drew it would be dropped and outbound
# calls would time out at random. 22 lies below that range. A literal scanner (AWS Config
# nacl-no-unrestricted-ssh-rdp) may still flag the allow-all entry for 3389: accepted,
# since a stateless NACL cannot refuse a port that return traffic needs. Nothing here is
# administered over the network: operators reach nodes through SSM Session Manager (the
# node role carries AmazonSSMManagedInstanceCore).
ADMIN_PORTS = (22,)


@dataclass
class AwsNetworkArgs:
    """Inputs of AwsNetwork. Defaults favour availability and protection."""

    vpc_cidr: str
    """Required: the VPC's IPv4 range, e.g. 10.30.0.0/16."""
    availability_zones: list[str]
    """Required: AZs, in the same order as the subnet lists; each zone letter is the stable key of its resources."""
    private_subnet_cidrs: list[str]
    """Required: one private range per AZ (nodes, pods, data stores)."""
    public_subnet_cidrs: list[str]
    """Required: one public range per AZ (NAT gateways and internet-facing load balancers)."""
    nat_gateway_mode: Literal["single", "perAz"] = "perAz"
    """Default one NAT per AZ, so a zone loss does not cut the other zones' egress."""
    flow_log_retention_days: int = 365
    """CloudWatch retention of flow logs, in days. Default 365: a year for incident forensics."""
    protect: bool = True
    """`protect` the flow-log group, its key and the ingress addresses. Callers loosen this only for dev. Default
    true."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags for every resource (a Name tag is added per resource). Default none."""


class AwsNetwork(pulumi.ComponentResource):
    """VPC with public/private subnets per AZ, NAT, flow logs, locked default SG, NACL closed to SSH."""

    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]
    private_route_table_ids: pulumi.Output[list[str]]
    nat_public_ips: pulumi.Output[list[str]]
    ingress_addresses: dict[str, pulumi.Output[str]]
    """AZ -> the public IP the ingress NLB takes in that AZ (the front door's origins)."""
    ingress_allocation_ids: dict[str, pulumi.Output[str]]
    """AZ -> the Elastic IP allocation the ingress NLB's subnet mapping claims."""
    flow_log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        zone_count = len(args.availability_zones)
        if not (len(args.private_subnet_cidrs) == len(args.public_subnet_cidrs) == zone_count):
            raise ValueError(f"{name}: need exactly one private and one public subnet CIDR per AZ ({zone_count})")
        super().__init__("platform:aws:AwsNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
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
            args.availability_zones, args.public_subnet_cidrs, args.private_subnet_cidrs, strict=True
        ):
            public_subnets.append(
                aws.ec2.Subnet(
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
                )
            )
            private_subnets.append(
                aws.ec2.Subnet(
                    f"{name}-private-{zone}",
                    vpc_id=vpc.id,
                    availability_zone=zone,
                    cidr_block=private_cidr,
                    # Discovery tag: internal load balancers go to the private subnets.
                    tags=tags(f"{name}-private-{zone}", {"kubernetes.io/role/internal-elb": "1", "tier": "private"}),
                    opts=child,
                )
            )

        public_routes = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=vpc.id, tags=tags(f"{name}-public-rt"), opts=child
        )
        # Standalone routes, not inline `routes=`: the provider cannot mix the two on one
        # table, and later components (the VPN) add routes of their own.
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_routes.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )
        for zone, subnet in zip(args.availability_zones, public_subnets, strict=True):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone}", subnet_id=subnet.id, route_table_id=public_routes.id, opts=child
            )

        nat_zones = args.availability_zones if args.nat_gateway_mode == "perAz" else args.availability_zones[:1]
        nat_gateways: list[aws.ec2.NatGateway] = []
        nat_ips: list[aws.ec2.Eip] = []
        for index, zone in enumerate(nat_zones):
            eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags=tags(f"{name}-nat-{zone}"), opts=child)
            nat_ips.append(eip)
            nat_gateways.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{zone}",
                    allocation_id=eip.id,
                    subnet_id=public_subnets[index].id,
                    connectivity_type="public",
                    tags=tags(f"{name}-nat-{zone}"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )

        # The ingress NLB's addresses, one per AZ (an internet-facing NLB takes one EIP per
        # subnet). Reserved here, not by the load balancer, so they outlive any rebuild of
        # the ingress gateway and Cloudflare's pools never point at a stale address.
        ingress_ips = {
            zone: aws.ec2.Eip(
                f"{name}-ingress-{zone}",
                domain="vpc",
                tags=tags(f"{name}-ingress-{zone}", {"role": "ingress"}),
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            for zone in args.availability_zones
        }

        # One private route table per AZ even with a single NAT, so moving to per-AZ NAT
        # changes one route per AZ instead of replacing tables and associations.
        private_tables: list[aws.ec2.RouteTable] = []
        for index, (zone, subnet) in enumerate(zip(args.availability_zones, private_subnets, strict=True)):
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
        # backups off the NAT gateways and inside the AWS network. No endpoint policy yet:
        # nodes also fetch OS packages from AWS-owned regional buckets, and a bucket list
        # that misses one breaks node bootstrap. Bucket policies guard our own data.
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=pulumi.Output.concat(partition.reverse_dns_prefix, ".", region.region, ".s3"),
            vpc_endpoint_type="Gateway",
            route_table_ids=[t.id for t in private_tables],
            tags=tags(f"{name}-s3"),
            opts=child,
        )

        self._lock_default_network_acl(name, vpc, public_subnets + private_subnets, tags(f"{name}-default-nacl"))

        flow_logs = VpcFlowLogs(
            f"{name}-flow-logs",
            VpcFlowLogsArgs(
                vpc_id=vpc.id, retention_days=args.flow_log_retention_days, protect=args.protect, tags=args.tags
            ),
            opts=child,
        )

        self.vpc_id = vpc.id
        self.vpc_cidr = vpc.cidr_block
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets])
        self.private_route_table_ids = pulumi.Output.all(*[t.id for t in private_tables])
        self.nat_public_ips = pulumi.Output.all(*[ip.public_ip for ip in nat_ips])
        self.ingress_addresses = {zone: eip.public_ip for zone, eip in ingress_ips.items()}
        self.ingress_allocation_ids = {zone: eip.allocation_id for zone, eip in ingress_ips.items()}
        self.flow_log_group_name = flow_logs.log_group_name
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "vpc_cidr": self.vpc_cidr,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "private_route_table_ids": self.private_route_table_ids,
                "nat_public_ips": self.nat_public_ips,
                "ingress_addresses": self.ingress_addresses,
                "ingress_allocation_ids": self.ingress_allocation_ids,
                "flow_log_group_name": self.flow_log_group_name,
            }
        )

    def _lock_default_network_acl(
        self, name: str, vpc: aws.ec2.Vpc, subnets: list[aws.ec2.Subnet], tags: dict[str, str]
    ) -> None:
        """Adopt the default network ACL: deny SSH from anywhere, allow the rest.

        Stateless ACLs stay coarse on purpose; security groups do the fine-grained work.
        The VPC is IPv4-only, so there are no IPv6 rules to add.
        """
        deny_admin = [
            aws.ec2.DefaultNetworkAclIngressArgs(
                rule_no=100 + index, action="deny", protocol="tcp", cidr_block="0.0.0.0/0", from_port=port, to_port=port
            )
            for index, port in enumerate(ADMIN_PORTS)
        ]
        allow_rest = aws.ec2.DefaultNetworkAclIngressArgs(
            rule_no=200, action="allow", protocol="-1", cidr_block="0.0.0.0/0", from_port=0, to_port=0
        )
        aws.ec2.DefaultNetworkAcl(
            f"{name}-default-nacl",
            default_network_acl_id=vpc.default_network_acl_id,
            # Every subnet is listed: the provider treats an unlisted one as to be removed.
            subnet_ids=[s.id for s in subnets],
            ingress=[*deny_admin, allow_rest],
            egress=[
                aws.ec2.DefaultNetworkAclEgressArgs(
                    rule_no=100, action="allow", protocol="-1", cidr_block="0.0.0.0/0", from_port=0, to_port=0
                )
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
