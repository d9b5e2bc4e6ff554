"""Compose the platform from components, in dependency order.

Order: explicit providers, then the AWS primary region (`stacks/aws_platform.py`), then
the GCP secondary region (`stacks/gcp_platform.py`), then the cross-cloud link between
the two VPCs, then the Cloudflare front door over both clouds' ingress addresses
(`stacks/cloudflare_platform.py`). The Kubernetes layer on both clusters
(`stacks/kubernetes_platform.py`) comes after the clusters and before the front door.
Components never read config: everything they need arrives here as typed args.
"""

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_cloudflare as cloudflare
import pulumi_gcp as gcp
import pulumi_random as random

from components.cloudflare.dns_alias import DnsAlias, DnsAliasArgs
from components.kubernetes._ingress_specs import check_security_group_rules
from components.multicloud.cross_cloud_vpn import CrossCloudVpn, CrossCloudVpnArgs
from stacks.aws_platform import build_aws
from stacks.cloudflare_platform import build_cloudflare
from stacks.config.models import PlatformConfig
from stacks.config.rules import replica_source_hostname
from stacks.gcp_platform import build_gcp
from stacks.images import build_base_image
from stacks.kubernetes_platform import build_kubernetes
from stacks.workload_secrets import build_workload_secrets


def build_platform(config: PlatformConfig) -> dict[str, Any]:
    """Register every resource of the stack; return the values the stack exports."""
    prefix = config.resource_prefix
    aws_config, gcp_config = config.aws, config.gcp

    # Explicit providers: the stack files disable default providers, so a resource that
    # forgets `providers=` fails at preview instead of landing in the wrong region.
    # default_tags stamps project/environment/owner on every taggable AWS resource.
    aws_provider = aws.Provider(
        f"{prefix}-aws",
        region=config.aws_region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=config.common_tags),
    )
    random_provider = random.Provider(f"{prefix}-random")
    # default_labels puts the AWS tags' ownership labels on every labelable GCP resource,
    # so cost reports of both clouds group by the same keys.
    gcp_provider = gcp.Provider(
        f"{prefix}-gcp",
        project=config.gcp_project,
        region=config.gcp_region,
        default_labels=config.common_tags,
    )
    # The token is a secret from `pulumi config set --secret cloudflare:apiToken`; when it
    # is absent the provider reads CLOUDFLARE_API_TOKEN from the environment.
    cloudflare_provider = cloudflare.Provider(f"{prefix}-cloudflare", api_token=config.cloudflare_api_token)

    primary = build_aws(config, pulumi.ResourceOptions(providers=[aws_provider, random_provider]))
    # Cloud SQL takes a source host of at most 60 characters and the RDS endpoint is longer:
    # the replica connects through a short DNS-only alias in the stack's zone. It resolves
    # from Google's producer network like the RDS name does (public DNS answering with the
    # private IP, reached over the VPN); a Route 53 private zone would not resolve there.
    database_alias = DnsAlias(
        f"{prefix}-postgres-alias",
        DnsAliasArgs(
            zone_id=config.cloudflare.zone_id,
            hostname=replica_source_hostname(config),
            target=primary.database.address,
            purpose=f"{prefix}: the RDS primary for the Cloud SQL replica (Cloud SQL limits the source host length)",
        ),
        opts=pulumi.ResourceOptions(providers=[cloudflare_provider]),
    )
    secondary = build_gcp(
        config,
        pulumi.ResourceOptions(providers=[gcp_provider, random_provider]),
        source_host=database_alias.hostname,
    )

    # The cross-cloud link: four BGP tunnels between the two VPCs. Google's side
    # advertises the Cloud SQL private-services range so RDS's subnets route replies to it.
    vpn_config = gcp_config.vpn
    vpn = CrossCloudVpn(
        f"{prefix}-vpn",
        CrossCloudVpnArgs(
            gcp_region=config.gcp_region,
            gcp_network_id=secondary.network.network_id,
            aws_vpc_id=primary.network.vpc_id,
            aws_private_route_table_ids=primary.network.private_route_table_ids,
            # AwsNetwork has one private route table per AZ, in zone order.
            aws_private_route_table_keys=list(aws_config.availability_zones),
            inside_cidrs=[str(c) for c in vpn_config.inside_cidrs],
            gcp_asn=vpn_config.gcp_asn,
            aws_asn=vpn_config.aws_asn,
            # The Cloud SQL range (the replica connects to RDS from it) and the GKE pods range
            # (the pods reach RDS and ElastiCache from their own IPs): AWS's private route
            # tables learn both by route propagation, so the replies find their way back.
            gcp_advertised_ranges=[
                str(gcp_config.network.private_service_access_cidr),
                str(gcp_config.network.pods_cidr),
            ],
            log_retention_days=aws_config.log_retention_days,
            protect=config.protect,
        ),
        opts=pulumi.ResourceOptions(providers=[aws_provider, gcp_provider, random_provider]),
    )

    # Only Cloudflare reaches the origins: the ingress load balancers admit Cloudflare's
    # published IPv4 ranges, read from its API at every preview (never a copied list, which
    # would go stale when Cloudflare adds a range). IPv4 only: both load balancers and the
    # pools' origins are IPv4 addresses, so Cloudflare connects to them over IPv4.
    # One list for both clouds, checked once against the tighter bound (the rules an NLB
    # security group holds): too many ranges fail the preview before either gateway's
    # Service registers, so the two clouds never admit different sets.
    edge_ranges = cloudflare.get_ip_ranges_output(opts=pulumi.InvokeOutputOptions(provider=cloudflare_provider))
    source_ranges = edge_ranges.ipv4_cidrs.apply(lambda ranges: check_security_group_rules(list(ranges)))
    # The workloads' connection URLs, built from the data stores' endpoints, in the secret
    # store of each cloud whose cluster reads them.
    workload_secrets = build_workload_secrets(
        config,
        primary,
        secondary,
        pulumi.ResourceOptions(providers=[aws_provider, gcp_provider, random_provider]),
    )
    clusters = build_kubernetes(
        config, primary, secondary, aws_provider, gcp_provider, random_provider, source_ranges, workload_secrets
    )
    # The hardened base image in both clouds' registries, when this stack builds it.
    base_image = build_base_image(config, primary, secondary, aws_provider, gcp_provider)

    edge = build_cloudflare(
        config,
        pulumi.ResourceOptions(providers=[cloudflare_provider]),
        primary.network,
        secondary.network,
        # The load balancers take the hostnames only once both gateways can answer: their
        # Services have an address and a ready endpoint, their certificates are Ready.
        origins_ready=[resource for cluster in clusters for resource in cluster.gateway_ready],
    )

    return {
        "environment": config.environment,
        "awsRegion": config.aws_region,
        **primary.exports(),
        **secondary.exports(config),
        "vpnGcpGatewayIps": vpn.gcp_gateway_ips,
        "vpnAwsTunnelAddresses": vpn.aws_tunnel_addresses,
        **base_image,
        **edge,
    }
